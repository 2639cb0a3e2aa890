import { Batch, Jsonl, ResultLine } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { chatLines, content, createBatch, getJson, upload } from "./helpers.js"

const inMemory = (options: FakeOpenAi.Options = {}) => FakeOpenAi.layerInMemory(options)

const retrieve = (id: string) =>
  Effect.map(getJson(`/batches/${id}`), (r) => Schema.decodeUnknownSync(Batch.Batch)(r.json))

describe("lifecycle under TestClock (in memory)", () => {
  it.effect("validating -> in_progress -> finalizing -> completed, with stamps, counts, usage and output", () =>
    Effect.gen(function*() {
      const ids = Array.from({ length: 10 }, (_, i) => `req-${i}`)
      const fileId = yield* upload(chatLines(ids))
      const created = yield* createBatch(fileId)
      assert.strictEqual(created.status, 200)
      const b0 = Schema.decodeUnknownSync(Batch.Batch)(created.json)
      assert.strictEqual(b0.status, "validating")
      assert.strictEqual(b0.model, null)
      assert.strictEqual(b0.expires_at, b0.created_at + 86400)
      assert.deepStrictEqual(b0.request_counts, { total: 0, completed: 0, failed: 0 })
      assert.strictEqual(b0.in_progress_at, null)

      yield* TestClock.adjust("1 second")
      const b1 = yield* retrieve(b0.id)
      assert.strictEqual(b1.status, "in_progress")
      assert.strictEqual(b1.in_progress_at, 1)
      assert.strictEqual(b1.model, "gpt-4o-mini")
      assert.strictEqual(b1.request_counts?.total, 10)
      assert.strictEqual(b1.request_counts?.completed, 0)

      yield* TestClock.adjust("2500 millis")
      const b2 = yield* retrieve(b0.id)
      assert.strictEqual(b2.status, "in_progress")
      assert.strictEqual(b2.request_counts?.completed, 5)
      assert.isTrue((b2.usage?.input_tokens ?? 0) > 0)

      yield* TestClock.adjust("2500 millis")
      const b3 = yield* retrieve(b0.id)
      assert.strictEqual(b3.status, "finalizing")
      assert.strictEqual(b3.finalizing_at, 6)
      assert.strictEqual(b3.output_file_id, null)

      yield* TestClock.adjust("1 second")
      const b4 = yield* retrieve(b0.id)
      assert.strictEqual(b4.status, "completed")
      assert.strictEqual(b4.completed_at, 7)
      assert.deepStrictEqual(b4.request_counts, { total: 10, completed: 10, failed: 0 })
      assert.strictEqual(b4.error_file_id, null)
      const usage = b4.usage!
      assert.strictEqual(usage.total_tokens, usage.input_tokens + usage.output_tokens)

      const outputId = Batch.outputFileId(b4)
      assert.isTrue(outputId._tag === "Some")
      if (outputId._tag !== "Some") return
      const file = yield* getJson(`/files/${outputId.value}`)
      assert.strictEqual(file.json.purpose, "batch_output")
      const lines = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(outputId.value))
      assert.strictEqual(lines.length, 10)
      assert.deepStrictEqual(lines.map((l) => l.custom_id).sort(), [...ids].sort())
      assert.notDeepEqual(lines.map((l) => l.custom_id), ids)
      assert.isTrue(lines.every(ResultLine.isSuccess))
    }).pipe(Effect.provide(inMemory())))
})
