/** What `batchfx get` does once parsed (loaded when it runs; the options are in `commands/Get.ts`). */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Config } from "../../commands/Get.js"
import { Api } from "../api.js"
import { printOutcomes } from "../bulk.js"
import * as Ids from "../ids.js"
import * as Render from "../render.js"

/** Checks every id, then fetches the batches, several at a time, and prints each outcome. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const ids = yield* Ids.check(config.ids, { command: "get", operation: "retrieve" })
    yield* printOutcomes(
      api.retrieveMany(Stream.fromIterable(ids)),
      yield* Render.resolveFormat(config.format),
      "retrieved",
      { single: config.ids.length === 1 }
    )
  })
