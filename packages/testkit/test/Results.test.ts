import { Batch, BatchStatus, Jsonl, ResultLine } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck, Schema, TestClock } from "effect"
import { chatLines, content, createBatch, getJson, postEmpty, upload } from "./helpers.js"

const decodeBatch = Schema.decodeUnknownSync(Batch.Batch)
const decodeLines = Jsonl.decodeLines(ResultLine.BatchResultLine)

describe("result files law", () => {
  it.effect.prop(
    "every input line ends up exactly once in the output or error file, and the counts agree",
    {
      n: FastCheck.integer({ min: 1, max: 25 }),
      failing: FastCheck.integer({ min: 0, max: 2 ** 25 - 1 }),
      cancelAfterMs: FastCheck.option(FastCheck.integer({ min: 0, max: 8000 }), { nil: undefined }),
      runHours: FastCheck.constantFrom(0.001, 30)
    },
    ({ cancelAfterMs, failing, n, runHours }) => {
      const ids = Array.from({ length: n }, (_, i) => `line-${i}`)
      const fails = new Set(ids.filter((_, i) => (failing >> i) & 1))
      return Effect.gen(function*() {
        const fileId = yield* upload(chatLines(ids))
        const id = (yield* createBatch(fileId)).json.id as string
        if (cancelAfterMs !== undefined) {
          yield* TestClock.adjust(cancelAfterMs)
          yield* postEmpty(`/batches/${id}/cancel`)
        }
        yield* TestClock.adjust("3 days")
        const b = decodeBatch((yield* getJson(`/batches/${id}`)).json)
        assert.isTrue(BatchStatus.isTerminal(b.status))
        const out = b.output_file_id ? yield* decodeLines(yield* content(b.output_file_id)) : []
        const err = b.error_file_id ? yield* decodeLines(yield* content(b.error_file_id)) : []
        assert.deepStrictEqual([...out, ...err].map((l) => l.custom_id).sort(), [...ids].sort())
        assert.isTrue(out.every((l) => ResultLine.isSuccess(l) && !fails.has(l.custom_id)))
        const httpErrors = err.filter((l) => l.response !== null && l.response !== undefined)
        assert.isTrue(httpErrors.every((l) => fails.has(l.custom_id) && l.response!.status_code === 400))
        const neverRan = err.filter((l) => l.response === null)
        const expected = b.status === "expired" ? "batch_expired" : "batch_cancelled"
        assert.isTrue(neverRan.every((l) => l.error?.code === expected))
        if (b.status === "completed") assert.strictEqual(neverRan.length, 0)
        const counts = b.request_counts!
        assert.strictEqual(counts.completed, out.length)
        assert.strictEqual(counts.failed, httpErrors.length)
        assert.isAtMost(counts.completed + counts.failed, counts.total)
        if (b.in_progress_at !== null) assert.strictEqual(counts.total, n)
      }).pipe(Effect.provide(FakeOpenAi.layerInMemory({
        failLine: (r) => fails.has(r.customId),
        durations: { inProgress: `${runHours} hours` }
      })))
    },
    { timeout: 60_000, fastCheck: { numRuns: 40 } }
  )
})
