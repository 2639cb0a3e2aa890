/**
 * `batchfx get ID...`: several batches at once, with bounded concurrency.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import { format, globalOptions } from "../internal/options.js"
import { lazy, withApi } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

const options = {
  ...globalOptions,
  format,
  ids: Args.text({ name: "batch-id" }).pipe(
    Args.withDescription("The batches to show."),
    Args.atLeast(1)
  )
}

/**
 * The parsed options and arguments of `get`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `get` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("get", options, lazy(() => import("../internal/handlers/Get.js"))).pipe(
  Spec.about({
    summary: "Show batches by id, several fetched at a time.",
    details: [
      "With --format json one id prints the batch object, several print an array. Exit code 1 if any id failed."
    ],
    examples: [
      ["batchfx get batch_abc123", "One batch as a table (JSON lines in a pipe)"],
      ["batchfx get batch_abc123 batch_def456 -f json", "Two batches as a JSON array"]
    ]
  }),
  withApi
)
