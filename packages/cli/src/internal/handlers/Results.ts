/**
 * What `batchfx results` does once parsed (loaded when it runs; the options are in
 * `commands/Results.ts`), and the download that `submit` and `demo` share.
 */
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import * as Batch from "@batchfx/core/Batch"
import * as BatchStatus from "@batchfx/core/BatchStatus"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { CommandFailed, type FileError } from "../../CliError.js"
import type { Config } from "../../commands/Results.js"
import { Api } from "../api.js"
import { writeAtomically } from "../atomic.js"
import * as Output from "../output.js"

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/**
 * Downloads the results of a batch that ended: the output file to `output` (or stdout), the error
 * file to `errors` when given. A missing file is written empty (a batch whose requests all failed
 * has no output file). Fails with `CommandFailed` while the batch is still running.
 */
export const download = (
  batch: Batch.Batch,
  options: { readonly output: Option.Option<string>; readonly errors: Option.Option<string> }
): Effect.Effect<
  void,
  BatchClientError | CommandFailed | FileError,
  Api | FileSystem.FileSystem | Path.Path | Output.Output
> =>
  Effect.gen(function*() {
    const api = yield* Api
    if (!BatchStatus.isTerminal(batch.status)) {
      return yield* new CommandFailed({
        description:
          `Batch ${batch.id} is still ${batch.status}; its results exist once it ends (run \`batchfx wait ${batch.id}\` first).`
      })
    }
    const bytesOf = (file: Option.Option<string>) =>
      Option.match(file, { onNone: () => Stream.empty, onSome: (id) => api.content(id) })
    const outputFile = Batch.outputFileId(batch)
    const errorFile = Batch.errorFileId(batch)
    const counts = batch.request_counts
    yield* Option.match(options.output, {
      onNone: () => Stream.runForEach(bytesOf(outputFile), Output.outBytes),
      onSome: (path) =>
        Effect.flatMap(writeAtomically(path, bytesOf(outputFile)), (bytes) =>
          Output.errLine(
            Option.isSome(outputFile)
              ? `Wrote ${path} (${bytes} bytes${counts ? `, ${plural(counts.completed, "result")}` : ""}).`
              : `Batch ${batch.id} has no output file; wrote an empty ${path}.`
          ))
    })
    yield* Option.match(options.errors, {
      onNone: () =>
        Option.isSome(errorFile)
          ? Output.errLine(
            `Batch ${batch.id} has an error file (${
              counts ? plural(counts.failed, "failed request") : "failed requests"
            }); ` +
              `save it with --errors FILE.`
          )
          : Effect.void,
      onSome: (path) =>
        Effect.flatMap(writeAtomically(path, bytesOf(errorFile)), (bytes) =>
          Output.errLine(
            Option.isSome(errorFile)
              ? `Wrote ${path} (${bytes} bytes).`
              : `Batch ${batch.id} has no error file; wrote an empty ${path}.`
          ))
    })
  })

/** Fetches the batch and downloads its results. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const batch = yield* api.retrieve(config.id)
    yield* download(batch, { output: config.output, errors: config.errors })
  })
