/**
 * `batchfx cancel ID...` and `batchfx cancel --all [--status S] [--metadata k=v]`: asks before
 * touching more than one batch unless `--yes`.
 *
 * @since 0.1.0
 */
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Prompt from "@effect/cli/Prompt"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { UsageError } from "../CliError.js"
import { Api } from "../internal/api.js"
import { printOutcomes } from "../internal/bulk.js"
import * as Opts from "../internal/options.js"
import * as Render from "../internal/render.js"
import { withApi } from "../internal/root.js"
import * as Terminal from "../internal/terminal.js"

/**
 * The statuses `cancel --all` picks when `--status` is not given: the ones a cancel can still
 * change.
 *
 * @since 0.1.0
 * @category constants
 */
export const cancellable: ReadonlyArray<string> = ["validating", "in_progress", "finalizing"]

/**
 * The `cancel` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("cancel", {
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
}, (config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const usage = (description: string) => new UsageError({ description, command: "cancel" })
    if (config.all && config.ids.length > 0) return yield* usage("give batch ids or --all, not both")
    if (!config.all && config.ids.length === 0) return yield* usage("give the batch ids to cancel, or --all")
    if (!config.all && (config.status.length > 0 || Object.keys(config.metadata).length > 0)) {
      return yield* usage("--status and --metadata select batches for --all; with ids, leave them out")
    }
    for (const status of config.status) {
      if (!BatchStatus.isKnown(status)) {
        return yield* usage(`'${status}' is not a batch status (${BatchStatus.known.join(", ")})`)
      }
    }
    const statuses = new Set(config.status.length > 0 ? config.status : cancellable)
    const wanted = Object.entries(config.metadata)
    const ids: ReadonlyArray<string> = config.all
      ? yield* api.list({ limit: 100 }).pipe(
        Stream.filter((b) => statuses.has(b.status) && wanted.every(([key, value]) => b.metadata?.[key] === value)),
        Stream.map((b) => b.id),
        Stream.runCollect,
        Effect.map((chunk) => Array.from(chunk))
      )
      : config.ids
    if (ids.length === 0) {
      yield* Terminal.errLine("No batch matches: nothing to cancel.")
      return
    }
    if (ids.length > 1 && !config.yes) {
      if (!Terminal.isTty("stdin") || !Terminal.isTty("stderr")) {
        return yield* usage(`refusing to cancel ${ids.length} batches without --yes (no terminal to ask on)`)
      }
      const go = yield* Prompt.confirm({
        message: `Cancel ${ids.length} batches (${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ", …" : ""})?`,
        initial: false
      })
      if (!go) {
        yield* Terminal.errLine("Nothing cancelled.")
        return
      }
    }
    yield* printOutcomes(
      api.cancelMany(Stream.fromIterable(ids)),
      Render.resolveFormat(config.format),
      "cancelled",
      { single: ids.length === 1 && !config.all }
    )
  })).pipe(
    Command.withDescription(
      "Cancel batches by id, or every batch matching filters with --all. Asks before cancelling more than " +
        "one (--yes skips the question; without a terminal --yes is required). Exit code 1 if any cancel failed."
    ),
    withApi
  )
