/**
 * Writing to a `Destination` so that no half file ever carries its final name, and none is left
 * behind: a regular file is written to a temporary file in its real directory and renamed into
 * place once whole; stdout and non-regular files (FIFOs, devices) are written as they are.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { FileError } from "../CliError.js"
import { type Destination, fileError, plan } from "./destination.js"
import * as Output from "./output.js"

/**
 * The temporary file of one run for `target`: `.<name>.batchfx-<pid>-<random>.tmp` next to it,
 * so that a later run can recognise one left by a killed run (SIGKILL runs no cleanup).
 */
const temporaryName = (basename: string, pid: number): string =>
  `.${basename}.batchfx-${pid}-${Math.random().toString(36).slice(2, 10)}.tmp`

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** Whether a process with this id runs (EPERM: it does, under another user). */
const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Removes the temporary files for `target` left by runs that were killed: only ours (the name
 * says so) and only when their process is gone, so that a run writing the same file at this moment
 * keeps its own.
 */
const removeLeftovers = (dir: string, basename: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const ours = new RegExp(`^\\.${escape(basename)}\\.batchfx-(\\d+)-[a-z0-9]+\\.tmp$`)
    const names = yield* fs.readDirectory(dir)
    for (const name of names) {
      const pid = ours.exec(name)?.[1]
      if (pid !== undefined && Number(pid) !== process.pid && !isAlive(Number(pid))) {
        yield* fs.remove(paths.join(dir, name))
      }
    }
  }).pipe(Effect.ignore)

/** An open destination: bytes go in with `write`; `commit` makes a regular file whole under its name. */
export interface Writer {
  readonly write: (chunk: Uint8Array) => Effect.Effect<void, FileError>
  /** Once every byte is written: renames the temporary file into place (nothing for other destinations). */
  readonly commit: Effect.Effect<void, FileError>
  /** Bytes written so far. */
  readonly bytes: () => number
}

/**
 * Opens a destination for the scope. A regular file gets a temporary file beside its real path
 * (created with the replaced file's mode); if the scope closes before `commit` (a failure, Ctrl-C)
 * the temporary file is removed and the destination is as it was. A file that did not exist is put
 * in place with a hard link, which fails rather than replace a file that appeared meanwhile; a
 * replaced one (`--force`) with a rename.
 */
export const open = (
  destination: Destination
): Effect.Effect<Writer, FileError, Scope.Scope | FileSystem.FileSystem | Path.Path | Output.Output> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const failed = fileError(destination)
    let written = 0
    const count = (chunk: Uint8Array) => Effect.sync(() => void (written += chunk.length))
    const bytes = () => written
    switch (destination._tag) {
      case "Stream": {
        const target = (yield* Output.Output)[destination.stream]
        return {
          write: (chunk) => Effect.zipRight(target.write(chunk), count(chunk)),
          commit: Effect.void,
          bytes
        }
      }
      case "Direct": {
        // Appending: /dev/stderr on a log file must not overwrite what is already there.
        const file = yield* Effect.mapError(fs.open(destination.path, { flag: "a" }), failed)
        return {
          write: (chunk) => Effect.zipRight(Effect.mapError(file.writeAll(chunk), failed), count(chunk)),
          commit: Effect.void,
          bytes
        }
      }
      case "Replace": {
        const dir = paths.dirname(destination.real)
        const name = paths.basename(destination.real)
        yield* removeLeftovers(dir, name)
        const temp = paths.join(dir, temporaryName(name, process.pid))
        let committed = false
        yield* Effect.addFinalizer(() => committed ? Effect.void : Effect.ignore(fs.remove(temp)))
        const file = yield* Effect.mapError(fs.open(temp, { flag: "wx" }), failed)
        if (Option.isSome(destination.existing)) {
          yield* Effect.mapError(fs.chmod(temp, destination.existing.value.mode), failed)
        }
        const placeNew = fs.link(temp, destination.real).pipe(
          Effect.zipRight(Effect.ignore(fs.remove(temp))),
          Effect.catchAll((error) =>
            error._tag === "SystemError" && error.reason === "AlreadyExists"
              ? Effect.fail(
                new FileError({
                  path: destination.path,
                  description: "was created by someone else while the results were written; kept it " +
                    "(pass --force to replace it)"
                })
              )
              // A file system without hard links: a rename, which may replace a file made meanwhile.
              : Effect.mapError(fs.rename(temp, destination.real), failed)
          )
        )
        return {
          write: (chunk) => Effect.zipRight(Effect.mapError(file.writeAll(chunk), failed), count(chunk)),
          commit: Effect.mapError(file.sync, failed).pipe(
            Effect.zipRight(
              Option.isSome(destination.existing)
                ? Effect.mapError(fs.rename(temp, destination.real), failed)
                : placeNew
            ),
            Effect.tap(() => Effect.sync(() => void (committed = true)))
          ),
          bytes
        }
      }
    }
  })

/** Streams bytes to a destination and commits it; returns the bytes written. */
export const write = <E, R>(
  destination: Destination,
  bytes: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<number, E | FileError, R | FileSystem.FileSystem | Path.Path | Output.Output> =>
  Effect.scoped(Effect.gen(function*() {
    const writer = yield* open(destination)
    yield* Stream.runForEach(bytes, writer.write)
    yield* writer.commit
    return writer.bytes()
  }))

/**
 * Streams bytes into `path`, replacing it if it exists (through a temporary file and a rename, so
 * that a failed or interrupted write leaves `path` as it was; a symlink keeps pointing at it). `-`
 * is stdout. Returns where the bytes went, for a sentence: the path, or `stdout` or `stderr` when
 * written through the process's own stream (`-`, `/dev/stdout`, …).
 */
export const writeAtomically = <E, R>(
  path: string,
  bytes: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<string, E | FileError, R | FileSystem.FileSystem | Path.Path | Output.Output> =>
  Effect.gen(function*() {
    const planned = yield* plan({ command: "", force: true, inputs: [], outputs: [["file", Option.some(path)]] }).pipe(
      Effect.mapError((error) => new FileError({ path, description: error.description }))
    )
    return yield* Option.match(planned["file"] ?? Option.none<Destination>(), {
      onNone: () => Effect.succeed(path),
      onSome: (destination) =>
        Effect.as(write(destination, bytes), destination._tag === "Stream" ? destination.stream : path)
    })
  })
