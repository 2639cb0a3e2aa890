/**
 * What `batchfx create` does once parsed (loaded when it runs; the options are in
 * `commands/Create.ts`), and the checks it shares with `submit`.
 */
import type * as BatchClient from "@batchfx/client/BatchClient"
import * as BatchClientError from "@batchfx/client/BatchClientError"
import * as CreateBatchParams from "@batchfx/core/CreateBatchParams"
import * as ParseMessage from "@batchfx/core/ParseMessage"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { UsageError } from "../../CliError.js"
import type { Config } from "../../commands/Create.js"
import { Api } from "../api.js"
import * as Output from "../output.js"
import * as Render from "../render.js"

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

/** Creates the batch (uploading `--input` first) and prints it. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const expires = yield* expiry(config.outputExpiresAfter, "create")
    const metadata = Object.keys(config.metadata).length > 0 ? { metadata: config.metadata } : {}
    yield* checkBeforeUpload({ endpoint: config.endpoint, completion_window: "24h", ...metadata, ...expires })
    const inputFileId = yield* Option.match(config.inputFileId, {
      onSome: (id) =>
        Option.isSome(config.input)
          ? Effect.fail(
            new UsageError({ description: "give either --input-file-id or --input, not both", command: "create" })
          )
          : Effect.succeed(id),
      onNone: () =>
        Option.match(config.input, {
          onNone: () =>
            Effect.fail(
              new UsageError({
                description: "give the input with --input FILE.jsonl or --input-file-id FILE_ID",
                command: "create"
              })
            ),
          onSome: (path) =>
            api.upload(path, config.endpoint).pipe(
              Effect.tap((file) => Output.errLine(`Uploaded ${path} as ${file.id} (${file.bytes} bytes).`)),
              Effect.map((file) => file.id)
            )
        })
    })
    const batch = yield* api.create({
      input_file_id: inputFileId,
      endpoint: config.endpoint,
      completion_window: "24h",
      ...metadata,
      ...expires
    })
    yield* Render.printOne(batch, yield* Render.resolveFormat(config.format))
  })
