/** What `batchfx list` does once parsed (loaded when it runs; the options are in `commands/List.ts`). */
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Config } from "../../commands/List.js"
import { Api } from "../api.js"
import * as Output from "../output.js"
import * as Render from "../render.js"

/** Lists the batches that match, printing them as they come. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    for (const status of config.status) {
      if (!BatchStatus.isKnown(status)) {
        yield* Output.errLine(
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
    const format = yield* Render.resolveFormat(config.format)
    const printed = yield* Render.printBatches(batches, format)
    if (printed === 0 && format === "table") yield* Output.errLine("No batch matches.")
  })
