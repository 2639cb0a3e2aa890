/** What `batchfx cancel` does once parsed (loaded when it runs; the options are in `commands/Cancel.ts`). */
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Prompt from "@effect/cli/Prompt"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { UsageError } from "../../CliError.js"
import { cancellable, type Config } from "../../commands/Cancel.js"
import { Api } from "../api.js"
import { printOutcomes } from "../bulk.js"
import * as Ids from "../ids.js"
import * as Output from "../output.js"
import * as Render from "../render.js"

/** Picks the batches, asks when there are several (unless `--yes`), cancels them and prints each outcome. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const usage = (description: string) => new UsageError({ description, command: "cancel" })
    yield* Ids.check(config.ids, { command: "cancel", operation: "cancel" })
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
      yield* Output.errLine("No batch matches: nothing to cancel.")
      return
    }
    if (ids.length > 1 && !config.yes) {
      if (!(yield* Output.isTty("stdin")) || !(yield* Output.isTty("stderr"))) {
        return yield* usage(`refusing to cancel ${ids.length} batches without --yes (no terminal to ask on)`)
      }
      const go = yield* Prompt.confirm({
        message: `Cancel ${ids.length} batches (${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ", …" : ""})?`,
        initial: false
      })
      if (!go) {
        yield* Output.errLine("Nothing cancelled.")
        return
      }
    }
    yield* printOutcomes(
      api.cancelMany(Stream.fromIterable(ids)),
      yield* Render.resolveFormat(config.format),
      "cancelled",
      { single: ids.length === 1 && !config.all }
    )
  })
