/**
 * The JSONL input of `submit FILE` and `create --input FILE`: a file, or `-` for stdin, which is
 * kept in a temporary file for the run (the input is read more than once: counted, checked,
 * uploaded; a pipe can be read only once).
 */
import * as Files from "@batchfx/client/Files"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { FileError, UsageError } from "../CliError.js"
import * as Output from "./output.js"

/** The input file: `path` is read, `name` is what messages call it (`stdin` for `-`). */
export interface Input {
  readonly path: string
  readonly name: string
}

/**
 * Checks that the input file exists (the parser lets `-` through, which names no file), before
 * anything else, as the parser checks a file argument.
 */
export const checkExists = (file: string, command: string) =>
  Effect.gen(function*() {
    if (file === "-") return
    const fs = yield* FileSystem.FileSystem
    if (!(yield* Effect.orElseSucceed(fs.exists(file), () => false))) {
      return yield* new UsageError({ command, description: `Path '${file}' must exist` })
    }
  })

/**
 * The input to read: the file given, or for `-` stdin copied to a temporary file removed when the
 * scope closes.
 */
export const inputOf = (file: string) =>
  Effect.gen(function*() {
    if (file !== "-") return { path: file, name: file }
    if (yield* Output.isTty("stdin")) yield* Output.errLine("Reading the requests from stdin (Ctrl-D ends them).")
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const cannot = (error: { readonly message: string }) =>
      new FileError({ path: "stdin", description: `cannot be kept in a temporary file (${error.message})` })
    const dir = yield* Effect.mapError(fs.makeTempDirectoryScoped({ prefix: "batchfx-stdin-" }), cannot)
    const path = paths.join(dir, "stdin.jsonl")
    yield* Effect.mapError(Stream.run(NodeStream.stdin, fs.sink(path)), cannot)
    return { path, name: "stdin" }
  })

/** An input error names the input as the user gave it, not the temporary file behind stdin. */
export const named = (input: Input) => <E>(error: E): E =>
  error instanceof Files.InputError && error.path === input.path
    ? new Files.InputError({ problems: error.problems, count: error.count, path: input.name }) as E
    : error
