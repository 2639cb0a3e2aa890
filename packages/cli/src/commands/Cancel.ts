/**
 * `batchfx cancel ID...` and `batchfx cancel --all [--status S] [--metadata k=v]`: asks before
 * touching more than one batch unless `--yes`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Opts from "../internal/options.js"
import { lazy, withApi } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

/**
 * The statuses `cancel --all` picks when `--status` is not given: the ones a cancel can still
 * change.
 *
 * @since 0.1.0
 * @category constants
 */
export const cancellable: ReadonlyArray<string> = ["validating", "in_progress", "finalizing"]

const options = {
  ...Opts.globalOptions,
  all: Options.boolean("all").pipe(
    Options.withDescription(`Cancel every batch that matches the filters (default: status ${cancellable.join(", ")}).`)
  ),
  status: Options.text("status").pipe(
    Options.withPseudoName("STATUS"),
    Options.withDescription("With --all: only batches in this status; repeat for several."),
    Options.repeated
  ),
  metadata: Opts.metadata("With --all: only batches whose metadata has key=value; repeat for several."),
  yes: Options.boolean("yes").pipe(
    Options.withAlias("y"),
    Options.withDescription("Do not ask before cancelling more than one batch.")
  ),
  format: Opts.format,
  ids: Args.text({ name: "batch-id" }).pipe(Args.withDescription("The batches to cancel."), Args.repeated)
}

/**
 * The parsed options and arguments of `cancel`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `cancel` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("cancel", options, lazy(() => import("../internal/handlers/Cancel.js"))).pipe(
  Spec.about({
    summary: "Cancel batches by id, or every batch that matches with --all.",
    details: [
      "Asks before cancelling more than one (--yes skips the question; without a terminal --yes is required). " +
      "Exit code 1 if any cancel failed."
    ],
    examples: [
      ["batchfx cancel batch_abc123", "Cancel one batch"],
      ["batchfx cancel --all --status validating --yes", "Cancel every batch still validating, without asking"]
    ]
  }),
  withApi
)
