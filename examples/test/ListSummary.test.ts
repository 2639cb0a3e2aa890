import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { listSummary, samplePage } from "../src/ListSummary.js"

describe("ListSummary example", () => {
  it.effect("summarises the sample page by status in lifecycle order", () =>
    Effect.gen(function*() {
      const text = yield* listSummary(samplePage)
      assert.deepStrictEqual(text.split("\n"), [
        "6 batches on this page, more pages after batch_1",
        "validating       1",
        "in_progress      1",
        "cancelled        1  (final)",
        "completed        2  (final)",
        "paused           1"
      ])
    }))

  it.effect("names the path of what is wrong with a bad page", () =>
    Effect.gen(function*() {
      const bad = JSON.parse(samplePage)
      bad.data[2].created_at = "2025-11-28T00:00:00Z"
      const message = yield* Effect.flip(listSummary(JSON.stringify(bad)))
      assert.include(message, "data[2].created_at: Expected number")
    }))
})
