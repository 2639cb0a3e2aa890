/**
 * `batchfx create`: a batch from an uploaded file (`--input-file-id`) or from a local JSONL file
 * (`--input`, checked line by line and uploaded first).
 *
 * @since 0.1.0
 */
import type * as BatchClient from "@batchfx/client/BatchClient"
import * as BatchClientError from "@batchfx/client/BatchClientError"
import * as CreateBatchParams from "@batchfx/core/CreateBatchParams"
import * as ParseMessage from "@batchfx/core/ParseMessage"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { UsageError } from "../CliError.js"
import { Api } from "../internal/api.js"
import * as Opts from "../internal/options.js"
import * as Render from "../internal/render.js"
import { withApi } from "../internal/root.js"
import * as Terminal from "../internal/terminal.js"

/**
 * `--endpoint`, required by `create` and `submit`.
 *
 * @since 0.1.0
 * @category options
 */
export const endpoint = Options.text("endpoint").pipe(
  Options.withAlias("e"),
  Options.withPseudoName("ENDPOINT"),
  Options.withDescription("The batch endpoint, e.g. /v1/chat/completions, /v1/embeddings, /v1/responses.")
)

/**
 * `--output-expires-after`: how long the output and error files are kept.
 *
 * @since 0.1.0
 * @category options
 */
export const outputExpiresAfter = Opts.duration("output-expires-after").pipe(
  Options.withDescription("Delete the output and error files this long after they are made: 1h to 30d, e.g. 7d."),
  Options.optional
)

/**
 * Checks `--output-expires-after` against the API's range and turns it into the request field.
 *
 * @since 0.1.0
 * @category internals
 */
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
 * The `create` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("create", {
  ...Opts.globalOptions,
  inputFileId: Options.text("input-file-id").pipe(
    Options.withPseudoName("FILE_ID"),
    Options.withDescription("An uploaded file (purpose batch) to run."),
    Options.optional
  ),
  input: Options.file("input", { exists: "yes" }).pipe(
    Options.withAlias("i"),
    Options.withDescription("A local JSONL file: checked line by line, uploaded, then run."),
    Options.optional
  ),
  endpoint,
  metadata: Opts.metadata("Metadata of the batch, key=value; repeat for several (at most 16)."),
  outputExpiresAfter,
  format: Opts.format
}, (config) =>
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
              Effect.tap((file) => Terminal.errLine(`Uploaded ${path} as ${file.id} (${file.bytes} bytes).`)),
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
    yield* Render.printOne(batch, Render.resolveFormat(config.format))
  })).pipe(
    Command.withDescription("Create a batch from an uploaded file or a local JSONL file; prints the new batch."),
    withApi
  )
