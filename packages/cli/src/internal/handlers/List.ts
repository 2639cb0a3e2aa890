/** What `batchfx list` does once parsed (loaded when it runs; the options are in `commands/List.ts`). */
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Config } from "../../commands/List.js"
import { Api } from "../api.js"
import { sinceSeconds } from "../options.js"
import * as Output from "../output.js"
import * as Render from "../render.js"

/** The API's largest page: a listing of everything takes the fewest requests with it. */
const largestPage = 100

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
    const filtered = statuses.size > 0 || Option.isSome(config.endpoint)
    // Without --limit: pages of 100, or just --max batches when that is fewer and nothing filters.
    const limit = Option.getOrElse(
      config.limit,
      () =>
        Option.match(config.max, {
          onNone: () => largestPage,
          onSome: (max) => filtered ? largestPage : Math.min(max, largestPage)
        })
    )
    // Unfiltered, --max says how many pages hold the answer: none is asked for after them.
    const maxPages = filtered
      ? undefined
      : Option.getOrUndefined(Option.map(config.max, (max) => Math.ceil(max / limit)))
    let batches = api.list({
      limit,
      ...Option.match(config.after, { onNone: () => ({}), onSome: (after) => ({ after }) })
    }, { maxPages })
    if (Option.isSome(config.since)) {
      // The list is newest first: the first older batch ends it, and no page after it is asked for.
      const since = sinceSeconds(config.since.value, yield* Clock.currentTimeMillis)
      batches = Stream.takeWhile(batches, (b) => b.created_at >= since)
    }
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
