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
import { format, globalOptions } from "../internal/options.js"
import * as Options_ from "../internal/options.js"
import { lazy, withApi } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

const limit = Options.integer("limit").pipe(
  Options.withAlias("n"),
  Options.withDescription(
    "Page size of each request, 1 to 100 (default 100, or --max when smaller and nothing filters)."
  ),
  Options.mapEffect((n) =>
    n >= 1 && n <= 100
      ? Effect.succeed(n)
      : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--limit must be between 1 and 100, got ${n}`)))
  ),
  Options.optional
)

const options = {
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
  since: Options_.since("since").pipe(
    Options.withDescription(
      "Only batches created since then: an age (7d, 12h) or a date (2026-11-01, UTC); the listing stops at the first older one."
    ),
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
}

/**
 * The parsed options of `list`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `list` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("list", options, lazy(() => import("../internal/handlers/List.js"))).pipe(
  Spec.about({
    summary: "List batches, newest first, as they are fetched.",
    details: [
      "The API pages through every batch of the organisation, 100 at a time; --status and --endpoint filter on " +
      "the way, --since stops at the first older batch, --max after that many. A table on a terminal (cut to its " +
      "width), JSON lines in a pipe."
    ],
    examples: [
      ["batchfx list --status failed --since 7d", "The batches that failed in the last 7 days"],
      ["batchfx list -f json --max 5 | jq '.[].id'", "The ids of the 5 newest batches"]
    ]
  }),
  withApi
)
