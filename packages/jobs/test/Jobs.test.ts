import { Jobs } from "@batchfx/jobs"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import { chat, chatLines, count, drive, inMemory, tempStore, worker } from "./utils.js"

describe("Jobs", () => {
  it.effect("a job of 5 lines cut into 3 shards completes with every result joined to its input", () =>
    Effect.gen(function*() {
      const jobId = yield* Jobs.submit(chatLines(5), { endpoint: chat, name: "five" })
      const job = yield* drive(Jobs.awaitJob(jobId).pipe(Effect.provide(worker(2)), Effect.scoped))
      assert.strictEqual(job.status, "completed")
      const report = yield* Jobs.status(jobId)
      assert.strictEqual(report.shards.length, 3)
      assert.deepStrictEqual(report.shards.map((s) => s.lines), [2, 2, 1])
      assert.strictEqual(report.results, 5)
      const results = Chunk.toReadonlyArray(yield* Stream.runCollect(Jobs.results(jobId)))
      assert.deepStrictEqual(results.map((r) => r.customId), ["req-1", "req-2", "req-3", "req-4", "req-5"])
      for (const r of results) {
        assert.strictEqual(r._tag, "Succeeded")
        if (r._tag === "Succeeded") assert.strictEqual(r.result.custom_id, r.input.custom_id)
      }
      assert.strictEqual(yield* count("POST /v1/files"), 3)
      assert.strictEqual(yield* count("POST /v1/batches"), 3)
    }).pipe(Effect.provide(Layer.fresh(inMemory(tempStore())))))
})
