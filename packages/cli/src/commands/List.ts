/**
 * `batchfx list`: every batch, newest first, streamed as it is fetched.
 *
 * @since 0.1.0
 */
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Api } from "../internal/api.js"
import { format, globalOptions } from "../internal/options.js"
import * as Options_ from "../internal/options.js"
import * as Render from "../internal/render.js"
import { withApi } from "../internal/root.js"
import * as Terminal from "../internal/terminal.js"

const limit = Options.integer("limit").pipe(
  Options.withAlias("n"),
  Options.withDescription("Page size of each request, 1 to 100 (default the server's, 20)."),
  Options.mapEffect((n) =>
    n >= 1 && n <= 100
      ? Effect.succeed(n)
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--limit must be between 1 and 100, got ${n}`)))
  ),
  Options.optional
)

/**
 * The `list` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("list", {
  ...globalOptions,
  limit,
  after: Options.text("after").pipe(
    Options.withPseudoName("BATCH_ID"),
    Options.withDescription("Start after this batch id (a cursor from an earlier listing)."),
    Options.optional
  ),
  max: Options_.positiveInt("max").pipe(
    Options.withDescription("Stop after this many batches (counted after filtering)."),
    Options.optional
  ),
  status: Options.text("status").pipe(
    Options.withPseudoName("STATUS"),
    Options.withDescription(`Only batches in this status; repeat for several (${BatchStatus.known.join(", ")}).`),
    Options.repeated
  ),
  endpoint: Options.text("endpoint").pipe(
    Options.withPseudoName("ENDPOINT"),
    Options.withDescription("Only batches of this endpoint, e.g. /v1/chat/completions."),
    Options.optional
  ),
  format
}, (config) =>
  Effect.gen(function*() {
    const api = yield* Api
    for (const status of config.status) {
      if (!BatchStatus.isKnown(status)) {
        yield* Terminal.errLine(
          `batchfx: warning: '${status}' is not a status this version knows (${BatchStatus.known.join(", ")})`
        )
      }
    }
    const statuses = new Set(config.status)
    // Without --limit, a small --max and no filter asks for just that many per page.
    const limit = Option.orElse(
      config.limit,
      () =>
        statuses.size === 0 && Option.isNone(config.endpoint)
          ? Option.map(config.max, (max) => Math.min(max, 100))
          : Option.none()
    )
    let batches = api.list({
      ...Option.match(limit, { onNone: () => ({}), onSome: (limit) => ({ limit }) }),
      ...Option.match(config.after, { onNone: () => ({}), onSome: (after) => ({ after }) })
    })
    if (statuses.size > 0) batches = Stream.filter(batches, (b) => statuses.has(b.status))
    if (Option.isSome(config.endpoint)) {
      const endpoint = config.endpoint.value
      batches = Stream.filter(batches, (b) => b.endpoint === endpoint)
    }
    if (Option.isSome(config.max)) batches = Stream.take(batches, config.max.value)
    const format = Render.resolveFormat(config.format)
    const printed = yield* Render.printBatches(batches, format)
    if (printed === 0 && format === "table") yield* Terminal.errLine("No batch matches.")
  })).pipe(
    Command.withDescription(
      "List batches, newest first, as they are fetched (the API pages through every batch of the organisation; " +
        "--status and --endpoint filter on the way)."
    ),
    withApi
  )
