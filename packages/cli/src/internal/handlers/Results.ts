/**
 * What `batchfx results` does once parsed (loaded when it runs; the options are in
 * `commands/Results.ts`), and the download that `submit` and `demo` share.
 */
import { type BatchClientError, IncompleteDownload } from "@batchfx/client/BatchClientError"
import * as Batch from "@batchfx/core/Batch"
import * as BatchStatus from "@batchfx/core/BatchStatus"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { CommandFailed, type FileError, type UsageError } from "../../CliError.js"
import type { Config } from "../../commands/Results.js"
import { Api } from "../api.js"
import { write } from "../atomic.js"
import { type Destination, plan } from "../destination.js"
import * as Ids from "../ids.js"
import * as Output from "../output.js"
import * as Render from "../render.js"

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** What went through a download: bytes, lines (a last line without newline included), and the last byte. */
interface Tally {
  bytes: number
  lines: number
  last: number | undefined
}

/**
 * The bytes of a result file, counted as they pass; once they end, a file with fewer lines than
 * `expected` (the batch's `request_counts`) fails with `IncompleteDownload`, so that it is never
 * renamed into place.
 */
const counted = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  tally: Tally,
  check: { readonly fileId: string; readonly kind: string; readonly expected: number | undefined }
): Stream.Stream<Uint8Array, E | IncompleteDownload, R> =>
  Stream.concat(
    Stream.map(bytes, (chunk) => {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) tally.lines++
      if (chunk.length > 0) tally.last = chunk[chunk.length - 1]
      tally.bytes += chunk.length
      return chunk
    }),
    Stream.suspend(() => {
      const lines = linesOf(tally)
      return check.expected === undefined || lines >= check.expected
        ? Stream.empty
        : Stream.fail(
          new IncompleteDownload({
            fileId: check.fileId,
            received: tally.bytes,
            lines,
            expectedLines: check.expected,
            reason: `the ${check.kind} file has ${plural(lines, "line")}, and the batch's request_counts ${
              check.kind === "output" ? "say" : "say at least"
            } ${check.expected}`
          })
        )
    })
  )

/** Lines in what was counted: each newline ends one, and a last line without newline counts too. */
const linesOf = (tally: Tally): number => tally.lines + (tally.last !== undefined && tally.last !== 10 ? 1 : 0)

/**
 * Downloads the results of a batch that ended to planned destinations: the output file to
 * `output`, the error file to `errors` when given. A missing file is written empty (a batch whose
 * requests all failed has no output file). Fails with `CommandFailed` while the batch is still
 * running, and, once the files are written, when it ended other than `completed`.
 */
export const downloadTo = (
  batch: Batch.Batch,
  destinations: { readonly output: Option.Option<Destination>; readonly errors: Option.Option<Destination> }
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
    const outputFile = Batch.outputFileId(batch)
    const errorFile = Batch.errorFileId(batch)
    const counts = batch.request_counts ?? undefined
    // The output file has a line per completed request; the error file one per failed request, and
    // on an expired or cancelled batch one more per request that never ran (counted in neither).
    const bytesOf = (file: Option.Option<string>, kind: "output" | "error", tally: Tally) =>
      Option.match(file, {
        onNone: () => Stream.empty,
        onSome: (id) => {
          const expected = counts === undefined ? undefined : kind === "output" ? counts.completed : counts.failed
          return counted(api.content(id, { expectedLines: expected }), tally, { fileId: id, kind, expected })
        }
      })
    const wrote = (destination: Destination, tally: Tally) =>
      `Wrote ${destination._tag === "Stream" ? destination.stream : destination.path} (${
        plural(tally.bytes, "byte")
      }, ${plural(linesOf(tally), "line")}).`
    const save = (destination: Destination, file: Option.Option<string>, kind: "output" | "error") => {
      const tally: Tally = { bytes: 0, lines: 0, last: undefined }
      return Effect.flatMap(write(destination, bytesOf(file, kind, tally)), () =>
        destination._tag === "Stream"
          ? Effect.void
          : Output.errLine(
            Option.isSome(file)
              ? wrote(destination, tally)
              : `Batch ${batch.id} has no ${kind} file; wrote an empty ${destination.path}.`
          ))
    }
    yield* Option.match(destinations.output, {
      onNone: () => Effect.void,
      onSome: (destination) => save(destination, outputFile, "output")
    })
    yield* Option.match(destinations.errors, {
      onNone: () =>
        Option.isSome(errorFile)
          ? Output.errLine(
            `Batch ${batch.id} has an error file (${
              counts ? plural(counts.failed, "failed request") : "failed requests"
            }); ` +
              `save it with --errors FILE.`
          )
          : Effect.void,
      onSome: (destination) => save(destination, errorFile, "error")
    })
    if (batch.status !== "completed") return yield* new CommandFailed({ description: endedSentence(batch) })
  })

/**
 * Why a batch that ended did not complete, in one sentence: `Batch b ended expired: 3 of 10
 * requests completed, 7 did not.` (a failed batch names its first error instead).
 */
export const endedSentence = (batch: Batch.Batch): string => {
  const counts = batch.request_counts ?? undefined
  const reason = Option.match(Render.firstError(batch), {
    onNone: () =>
      counts === undefined || counts.total === 0
        ? ""
        : `: ${counts.completed} of ${plural(counts.total, "request")} completed, ${
          counts.total - counts.completed
        } did not`,
    onSome: (e) => `: ${e}`
  })
  return `Batch ${batch.id} ended ${Output.escapeControl(batch.status)}${reason}.`
}

/**
 * Downloads the results of a batch that ended to the files at these paths (replaced if they
 * exist), the output to stdout when no path is given; as `downloadTo`.
 */
export const download = (
  batch: Batch.Batch,
  options: { readonly output: Option.Option<string>; readonly errors: Option.Option<string> }
): Effect.Effect<
  void,
  BatchClientError | CommandFailed | FileError | UsageError,
  Api | FileSystem.FileSystem | Path.Path | Output.Output
> =>
  Effect.flatMap(
    plan({
      command: "results",
      force: true,
      inputs: [],
      outputs: [["--output", options.output], ["--errors", options.errors]],
      stdoutDefault: "--output"
    }),
    (planned) =>
      downloadTo(batch, {
        output: planned["--output"] ?? Option.none(),
        errors: planned["--errors"] ?? Option.none()
      })
  )

/**
 * Decides where the files go (before any request: see `Destination.plan`), fetches the batch and
 * downloads its results; a batch that ended other than completed exits 1 once its files are written.
 */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    yield* Ids.check([config.id], { command: "results", operation: "retrieve" })
    const planned = yield* plan({
      command: "results",
      force: config.force,
      inputs: [],
      outputs: [["--output", config.output], ["--errors", config.errors]],
      stdoutDefault: "--output"
    })
    const batch = yield* api.retrieve(config.id)
    yield* downloadTo(batch, {
      output: planned["--output"] ?? Option.none(),
      errors: planned["--errors"] ?? Option.none()
    })
  })
