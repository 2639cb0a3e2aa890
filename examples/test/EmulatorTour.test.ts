import { BatchStatus, ResultLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { program } from "../src/EmulatorTour.js"

describe("EmulatorTour", () => {
  it.live("walks one batch through its life on the emulator", () =>
    Effect.gen(function*() {
      const result = yield* program
      assert.strictEqual(result.statuses[0], "validating")
      assert.strictEqual(result.statuses[result.statuses.length - 1], "completed")
      const ranks = result.statuses.map((s) => BatchStatus.lifecycleRank(s) ?? -1)
      assert.deepStrictEqual(ranks, [...ranks].sort((a, b) => a - b))
      assert.deepStrictEqual(result.final.request_counts, { total: 5, completed: 4, failed: 1 })
      assert.strictEqual(result.output.length, 4)
      assert.isTrue(result.output.every(ResultLine.isSuccess))
      assert.deepStrictEqual(result.errors.map((l) => [l.custom_id, l.response?.status_code]), [["tour-5", 400]])
      assert.deepStrictEqual(
        [...result.output.map((l) => l.custom_id), "tour-5"].sort(),
        ["tour-1", "tour-2", "tour-3", "tour-4", "tour-5"]
      )
      assert.isTrue((result.final.usage?.total_tokens ?? 0) > 0)
    }))
})
