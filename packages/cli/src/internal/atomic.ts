/** Writing a file so that no half file ever carries its final name. */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"
import { FileError } from "../CliError.js"

/**
 * Streams bytes into a temporary file next to `path` (same directory, so the rename is atomic),
 * then renames it to `path`. On failure or interruption the temporary file is removed and `path`
 * is left as it was. Returns the bytes written.
 */
export const writeAtomically = <E, R>(
  path: string,
  bytes: Stream.Stream<Uint8Array, E, R>
): Effect.Effect<number, E | FileError, R | FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const paths = yield* Path.Path
    const target = paths.resolve(path)
    const temp = paths.join(
      paths.dirname(target),
      `.${paths.basename(target)}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.tmp`
    )
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
