/** Writing a file so that no half file ever carries its final name, and none is left behind. */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { FileError } from "../CliError.js"

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

/**
 * Streams bytes into a temporary file next to `path` (same directory, so the rename is atomic),
 * then renames it to `path`. On failure or interruption (SIGINT, SIGTERM, SIGHUP) the temporary
 * file is removed and `path` is left as it was; the temporary files of killed runs for the same
 * `path` are removed first. Returns the bytes written.
 */
export const writeAtomically = <E, R>(
  path: string,
  bytes: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<number, E | FileError, R | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const target = paths.resolve(path)
    const dir = paths.dirname(target)
    yield* removeLeftovers(dir, paths.basename(target))
    const temp = paths.join(dir, temporaryName(paths.basename(target), process.pid))
    const fileError = (e: { readonly message: string }) => new FileError({ path, description: e.message })
    let written = 0
    return yield* Stream.run(
      Stream.tap(bytes, (chunk) => Effect.sync(() => void (written += chunk.length))),
      Sink.mapError(fs.sink(temp), fileError)
    ).pipe(
      Effect.zipRight(Effect.mapError(fs.rename(temp, target), fileError)),
      Effect.map(() => written),
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.ignore(fs.remove(temp)))
    )
  })
