/**
 * What `batchfx create` does once parsed (loaded when it runs; the options are in
 * `commands/Create.ts`), and the checks it shares with `submit`.
 */
import * as BatchClient from "@batchfx/client/BatchClient"
import * as BatchClientError from "@batchfx/client/BatchClientError"
import type * as Files from "@batchfx/client/Files"
import * as Submit from "@batchfx/client/Submit"
import type * as Batch from "@batchfx/core/Batch"
import * as CreateBatchParams from "@batchfx/core/CreateBatchParams"
import * as ParseMessage from "@batchfx/core/ParseMessage"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { UsageError } from "../../CliError.js"
import type { Config } from "../../commands/Create.js"
import { Api } from "../api.js"
import * as Input from "../input.js"
import * as Output from "../output.js"
import * as Render from "../render.js"
import { verbose } from "../root.js"

/**
 * Checks the create parameters other than the input file before anything is uploaded, so that bad
 * metadata never leaves an orphan file on the server.
 */
export const checkBeforeUpload = (
  params: Omit<BatchClient.CreateParams, "input_file_id">
): Effect.Effect<void, BatchClientError.InvalidParams> =>
  Schema.decodeUnknown(CreateBatchParams.CreateBatchParams)({ ...params, input_file_id: "file-to-upload" }).pipe(
    Effect.mapError((error) =>
      new BatchClientError.InvalidParams({ operation: "create", description: ParseMessage.format(error) })
    ),
    Effect.asVoid
  )

/** Checks `--output-expires-after` against the API's range and turns it into the request field. */
export const expiry = (
  value: Option.Option<Duration.Duration>,
  command: string
): Effect.Effect<
  { readonly output_expires_after?: { readonly anchor: "created_at"; readonly seconds: number } },
  UsageError
> =>
  Option.match(value, {
    onNone: () => Effect.succeed({}),
    onSome: (duration) => {
      const seconds = Math.round(Duration.toSeconds(duration))
      const { maxSeconds, minSeconds } = CreateBatchParams.outputExpiry
      return seconds >= minSeconds && seconds <= maxSeconds
        ? Effect.succeed({ output_expires_after: { anchor: "created_at" as const, seconds } })
        : Effect.fail(
          new UsageError({ description: `--output-expires-after must be between 1h and 30d, got ${seconds}s`, command })
        )
    }
  })

/**
 * One line for stderr before anything is sent when the batch can carry no client token: a create
 * whose answer is lost then cannot be retried, nor its batch found by the token.
 */
export const noTokenWarning = (metadata: { readonly [key: string]: string } | undefined): Option.Option<string> =>
  BatchClient.hasRoomForToken(metadata)
    ? Option.none()
    : Option.some(
      `batchfx: warning: ${
        metadata !== undefined && BatchClient.clientTokenKey in metadata
          ? `the metadata sets ${BatchClient.clientTokenKey} itself`
          : "the metadata has 16 pairs, leaving no room for the client token"
      }; if the create's answer is lost it is not retried, and the batch may exist without batchfx knowing.`
    )

/**
 * Creates the batch of an input file and cleans up as `Submit.createFromUpload` does: when the
 * create fails for good an uploaded file is deleted (kept with `keepFile`, or while the batch may
 * exist) and the error names it; Ctrl-C during the create prints the client token and the file id.
 * The client's own warning about a batch that may exist stays out of the output (the error says it),
 * unless `--verbose`.
 */
export const createBatch = (
  params: BatchClient.CreateParams,
  options: { readonly uploaded: boolean; readonly keepFile: boolean }
): Effect.Effect<Batch.Batch, Submit.CreateFailed, BatchClient.BatchClient | Files.Files | Output.Output> =>
  Effect.gen(function*() {
    const quiet = !(yield* FiberRef.get(verbose))
    const output = yield* Output.Output
    return yield* Submit.createFromUpload(params, {
      uploaded: options.uploaded,
      keepFile: options.keepFile,
      onInterrupt: (info) =>
        Output.errLine(`batchfx: ${Submit.interruptedMessage(info)}`).pipe(
          Effect.provideService(Output.Output, output)
        )
    }).pipe(quiet ? Logger.withMinimumLogLevel(LogLevel.Error) : (self) => self)
  })

/** Creates the batch (uploading `--input` first) and prints it. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    if (Option.isSome(config.input)) yield* Input.checkExists(config.input.value, "create")
    const expires = yield* expiry(config.outputExpiresAfter, "create")
    const metadata = Object.keys(config.metadata).length > 0 ? { metadata: config.metadata } : {}
    yield* checkBeforeUpload({ endpoint: config.endpoint, completion_window: "24h", ...metadata, ...expires })
    if (Option.isSome(config.inputFileId) && Option.isSome(config.input)) {
      return yield* new UsageError({
        description: "give either --input-file-id or --input, not both",
        command: "create"
      })
    }
    if (Option.isNone(config.inputFileId) && Option.isNone(config.input)) {
      return yield* new UsageError({
        description: "give the input with --input FILE.jsonl or --input-file-id FILE_ID",
        command: "create"
      })
    }
    yield* Option.match(noTokenWarning(metadata.metadata), { onNone: () => Effect.void, onSome: Output.errLine })
    const inputFileId = yield* Option.match(config.input, {
      onNone: () => Effect.succeed(Option.getOrElse(config.inputFileId, () => "")),
      onSome: (given) =>
        Effect.flatMap(Input.inputOf(given), (input) =>
          api.upload(input.path, config.endpoint).pipe(
            Effect.mapError(Input.named(input)),
            Effect.tap((file) => Output.errLine(`Uploaded ${input.name} as ${file.id} (${file.bytes} bytes).`)),
            Effect.map((file) => file.id)
          ))
    })
    const batch = yield* createBatch({
      input_file_id: inputFileId,
      endpoint: config.endpoint,
      completion_window: "24h",
      ...metadata,
      ...expires
    }, { uploaded: Option.isSome(config.input), keepFile: config.keepFile })
    yield* Render.printOne(batch, yield* Render.resolveFormat(config.format))
  }).pipe(Effect.scoped)
