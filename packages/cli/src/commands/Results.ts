/**
 * `batchfx results ID`: the output (and error) file of a batch that ended, written through a
 * temporary file and renamed, so no half file ever carries the final name.
 *
 * @since 0.1.0
 */
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import * as Batch from "@batchfx/core/Batch"
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { CommandFailed, type FileError } from "../CliError.js"
import { Api } from "../internal/api.js"
import { writeAtomically } from "../internal/atomic.js"
import * as Opts from "../internal/options.js"
import { withApi } from "../internal/root.js"
import * as Terminal from "../internal/terminal.js"

/**
 * `--output FILE`.
 *
 * @since 0.1.0
 * @category options
 */
export const output = Options.file("output").pipe(
  Options.withAlias("o"),
  Options.withDescription("Write the output file's lines here (default stdout)."),
  Options.optional
)

/**
 * `--errors FILE`.
 *
 * @since 0.1.0
 * @category options
 */
export const errors = Options.file("errors").pipe(
  Options.withDescription("Write the error file's lines (failed, expired or cancelled requests) here."),
  Options.optional
)

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/**
 * Downloads the results of a batch that ended: the output file to `output` (or stdout), the error
 * file to `errors` when given. A missing file is written empty (a batch whose requests all failed
 * has no output file). Fails with `CommandFailed` while the batch is still running.
 *
 * @since 0.1.0
 * @category internals
 */
export const download = (
  batch: Batch.Batch,
  options: { readonly output: Option.Option<string>; readonly errors: Option.Option<string> }
): Effect.Effect<void, BatchClientError | CommandFailed | FileError, Api | FileSystem.FileSystem | Path.Path> =>
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
      onNone: () => Stream.runForEach(bytesOf(outputFile), Terminal.outBytes),
      onSome: (path) =>
        Effect.flatMap(writeAtomically(path, bytesOf(outputFile)), (bytes) =>
          Terminal.errLine(
            Option.isSome(outputFile)
              ? `Wrote ${path} (${bytes} bytes${counts ? `, ${plural(counts.completed, "result")}` : ""}).`
              : `Batch ${batch.id} has no output file; wrote an empty ${path}.`
          ))
    })
    yield* Option.match(options.errors, {
      onNone: () =>
        Option.isSome(errorFile)
          ? Terminal.errLine(
            `Batch ${batch.id} has an error file (${
              counts ? plural(counts.failed, "failed request") : "failed requests"
            }); ` +
              `save it with --errors FILE.`
          )
          : Effect.void,
      onSome: (path) =>
        Effect.flatMap(writeAtomically(path, bytesOf(errorFile)), (bytes) =>
          Terminal.errLine(
            Option.isSome(errorFile)
              ? `Wrote ${path} (${bytes} bytes).`
              : `Batch ${batch.id} has no error file; wrote an empty ${path}.`
          ))
    })
  })

/**
 * The `results` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("results", {
  ...Opts.globalOptions,
  output,
  errors,
  id: Args.text({ name: "batch-id" }).pipe(Args.withDescription("A batch that ended."))
}, (config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const batch = yield* api.retrieve(config.id)
    yield* download(batch, { output: config.output, errors: config.errors })
  })).pipe(
    Command.withDescription(
      "Download the results of a batch that ended: the output file to --output (default stdout) and the error " +
        "file to --errors. Files are written to a temporary name and renamed when complete."
    ),
    withApi
  )
