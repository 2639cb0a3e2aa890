/**
 * Where the files a command writes (`--output`, `--errors`) go, decided before any request: `-` is
 * stdout; a FIFO, a device or a handle of this process (`/dev/stderr`, `/dev/fd/63` of `>(gzip)`)
 * is written as it is; a regular file is written through a temporary file renamed over its real
 * path (a symlink stays and its target gets the bytes). A destination that is another destination
 * or an input (same path, or the same file by device and inode), or an existing file without
 * `--force`, is a usage error.
 */
import type * as PlatformError from "@effect/platform/Error"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { FileError, UsageError } from "../CliError.js"

/** Where one option's bytes go. */
export type Destination =
  /**
   * One of the process's own streams: stdout for `-` (or an output given no file), and for
   * `/dev/stdout`, `/dev/stderr` (and `/dev/fd/1`, `/dev/fd/2`), written through the stream itself
   * so that its offset is shared: a separate open of `/dev/stderr` on a `2>log` file would write
   * at its own offset, and the run's own messages would overwrite the results.
   */
  | { readonly _tag: "Stream"; readonly option: string; readonly stream: "stdout" | "stderr" }
  /**
   * A regular file, new or replaced: written to a temporary file next to `real` (the path with
   * every symlink resolved), then renamed to it. `mode` is the replaced file's, kept.
   */
  | {
    readonly _tag: "Replace"
    readonly option: string
    readonly path: string
    readonly real: string
    readonly existing: Option.Option<{ readonly mode: number }>
  }
  /** Not a regular file (a FIFO, a device, a handle of this process): opened for appending and written as it is. */
  | { readonly _tag: "Direct"; readonly option: string; readonly path: string; readonly device: boolean }

/** How an option names its destination in a sentence: `--output out.jsonl`. */
export const describe = (destination: Destination): string =>
  destination._tag === "Stream"
    ? `${destination.option} (${destination.stream})`
    : `${destination.option} ${destination.path}`

/** What a file is, to find two names of the same file. */
interface Identity {
  /** Device and inode when the file exists. */
  readonly inode: Option.Option<string>
  /** The path with every symlink resolved. */
  readonly real: string
}

const sameFile = (a: Identity, b: Identity): boolean =>
  a.real === b.real || (Option.isSome(a.inode) && Option.isSome(b.inode) && a.inode.value === b.inode.value)

const isNotFound = (error: PlatformError.PlatformError): boolean =>
  error._tag === "SystemError" && error.reason === "NotFound"

// The names of this process's stdout and stderr, written through the streams themselves.
const ownStreams: Record<string, "stdout" | "stderr"> = {
  "/dev/stdout": "stdout",
  "/dev/fd/1": "stdout",
  "/proc/self/fd/1": "stdout",
  "/dev/stderr": "stderr",
  "/dev/fd/2": "stderr",
  "/proc/self/fd/2": "stderr"
}

// Other handles of this process (`3>>log` makes /dev/fd/3 a regular file): written, appended to,
// never replaced.
const processHandles = /^\/(dev\/(stdin|stdout|stderr|fd\/\d+)|proc\/(self|thread-self|\d+)\/fd\/\d+)$/

// A chain of symlinks longer than this is a loop, as the kernel counts (ELOOP).
const maxLinks = 40

/** What a path is: its real path, and its stat when it exists (following symlinks). */
const inspect = (path: string, option: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const cannot = (why: string) => new UsageError({ description: `${option} ${path}: ${why}` })
    let current = paths.resolve(path)
    for (let links = 0; links <= maxLinks; links++) {
      const info = yield* Effect.either(fs.stat(current))
      if (info._tag === "Right") {
        const real = yield* fs.realPath(current).pipe(Effect.orElseSucceed(() => current))
        return { real, info: Option.some(info.right) }
      }
      if (!isNotFound(info.left)) return yield* cannot(info.left.description ?? info.left.message)
      // Missing: a dangling symlink is followed to the file it names, which will be created.
      const target = yield* Effect.option(fs.readLink(current))
      if (Option.isSome(target)) {
        current = paths.resolve(paths.dirname(current), target.value)
        continue
      }
      const dir = paths.dirname(current)
      const realDir = yield* fs.realPath(dir).pipe(
        Effect.mapError(() => cannot(`the directory ${dir} does not exist`))
      )
      return { real: paths.join(realDir, paths.basename(current)), info: Option.none<FileSystem.File.Info>() }
    }
    return yield* cannot("too many levels of symbolic links")
  })

const identity = (real: string, info: Option.Option<FileSystem.File.Info>): Identity => ({
  real,
  inode: Option.flatMap(info, (i) => Option.map(i.ino, (ino) => `${i.dev}:${ino}`))
})

/** What `plan` is given. */
export interface Request {
  /** For the `--help` pointer of a usage error. */
  readonly command: string
  readonly force: boolean
  /** Files the command reads; no destination may be one of them. */
  readonly inputs: ReadonlyArray<string>
  /** Each option and its value; `Option.none()` for one not given. */
  readonly outputs: ReadonlyArray<readonly [option: string, path: Option.Option<string>]>
  /** The option whose bytes go to stdout when it is not given (`--output` of `results`). */
  readonly stdoutDefault?: string | undefined
}

/**
 * Decides every destination before anything is sent, or fails with a `UsageError` (exit 2) that
 * says why in one sentence: two destinations that are one file (or both stdout), a destination
 * that is an input, an existing regular file without `--force`, a directory, a missing directory.
 * Character devices (`/dev/null`, a terminal) may be named twice.
 */
export const plan = (
  request: Request
): Effect.Effect<Record<string, Option.Option<Destination>>, UsageError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const usage = (description: string) => new UsageError({ description, command: request.command })
    const planned: Array<{ readonly destination: Destination; readonly identity: Option.Option<Identity> }> = []
    const result: Record<string, Option.Option<Destination>> = {}
    const inputs: Array<{ readonly path: string; readonly identity: Identity }> = []
    for (const input of request.inputs) {
      const absolute = paths.resolve(input)
      const info = yield* Effect.option(fs.stat(absolute))
      const real = yield* fs.realPath(absolute).pipe(Effect.orElseSucceed(() => absolute))
      inputs.push({ path: input, identity: identity(real, info) })
    }
    for (const [option, given] of request.outputs) {
      if (Option.isNone(given)) {
        result[option] = option === request.stdoutDefault
          ? Option.some({ _tag: "Stream", option, stream: "stdout" })
          : Option.none()
        if (option === request.stdoutDefault) {
          planned.push({ destination: { _tag: "Stream", option, stream: "stdout" }, identity: Option.none() })
        }
        continue
      }
      const path = given.value
      if (path === "") return yield* usage(`${option} needs a file name (or - for stdout)`)
      let destination: Destination
      let id: Option.Option<Identity> = Option.none()
      const stream = path === "-" ? "stdout" : ownStreams[paths.resolve(path)]
      if (stream !== undefined) {
        destination = { _tag: "Stream", option, stream }
      } else {
        const { info, real } = yield* inspect(path, option)
        const own = identity(real, info)
        id = Option.some(own)
        // Before the existence check, whose sentence would invite --force onto an input.
        for (const input of inputs) {
          if (sameFile(own, input.identity)) {
            return yield* usage(`${option} ${path} is the input ${input.path}; write the results to another file`)
          }
        }
        const type = Option.map(info, (i) => i.type)
        if (Option.contains(type, "Directory")) return yield* usage(`${option} ${path} is a directory`)
        if (processHandles.test(paths.resolve(path)) || (Option.isSome(type) && type.value !== "File")) {
          destination = { _tag: "Direct", option, path, device: Option.contains(type, "CharacterDevice") }
        } else {
          if (Option.isSome(info) && !request.force) {
            return yield* usage(`${option} ${path} exists; pass --force to replace it`)
          }
          // The temporary file goes beside the real path: its directory must take a new file.
          const dir = paths.dirname(real)
          yield* fs.access(dir, { writable: true }).pipe(
            Effect.mapError(() => usage(`${option} ${path}: the directory ${dir} is not writable`))
          )
          destination = {
            _tag: "Replace",
            option,
            path,
            real,
            existing: Option.map(info, (i) => ({ mode: i.mode & 0o7777 }))
          }
        }
      }
      for (const earlier of planned) {
        const both = [earlier.destination, destination]
        const clash = destination._tag === "Stream"
          ? earlier.destination._tag === "Stream" && earlier.destination.stream === destination.stream
          : Option.isSome(id) && Option.isSome(earlier.identity) && sameFile(id.value, earlier.identity.value) &&
            !both.every((d) => d._tag === "Direct" && d.device)
        if (clash) {
          return yield* usage(
            `${describe(earlier.destination)} and ${describe(destination)} are the same ${
              destination._tag === "Stream" ? "stream" : "file"
            }; give each its own`
          )
        }
      }
      planned.push({ destination, identity: id })
      result[option] = Option.some(destination)
    }
    return result
  })

/** One sentence for a file that could not be written. */
export const fileError = (destination: Destination) => (error: { readonly message: string }): FileError =>
  new FileError({
    path: destination._tag === "Stream" ? destination.stream : destination.path,
    description: error.message
  })
