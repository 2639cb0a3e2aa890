import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import OpenAI, { toFile } from "openai"
import { chatLines } from "./helpers.js"

// The official SDK (openai@6.49.0) against the emulator: proof that the wire matches what real clients expect.
// The server is built under the test's TestClock, so the lifecycle moves only when the test adjusts it.
describe("the official openai SDK against the emulator", () => {
  it.effect("uploads, creates, retrieves, cancels, lists with auto-pagination and downloads the output", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(250)
      const client = new OpenAI({ baseURL: fake.baseUrl, apiKey: fake.apiKey, maxRetries: 0 })
      const sdk = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => e })

      const ids = ["one", "two", "three"]
      const file = yield* sdk(async () =>
        client.files.create({ file: await toFile(Buffer.from(chatLines(ids)), "input.jsonl"), purpose: "batch" })
      )
      assert.strictEqual(file.purpose, "batch")
      assert.strictEqual(file.filename, "input.jsonl")

      const batch = yield* sdk(() =>
        client.batches.create({
          input_file_id: file.id,
          endpoint: "/v1/chat/completions",
          completion_window: "24h",
          metadata: { suite: "sdk" }
        })
      )
      assert.strictEqual(batch.status, "validating")
      assert.deepStrictEqual(batch.metadata, { suite: "sdk" })

      const toCancel = yield* sdk(() =>
        client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" })
      )
      const cancelled = yield* sdk(() => client.batches.cancel(toCancel.id))
      assert.strictEqual(cancelled.status, "cancelling")

      yield* TestClock.adjust("1 minute")
      const done = yield* sdk(() => client.batches.retrieve(batch.id))
      assert.strictEqual(done.status, "completed")
      assert.deepStrictEqual(done.request_counts, { total: 3, completed: 3, failed: 0 })

      const listed = yield* sdk(async () => {
        const seen: Array<string> = []
        for await (const b of client.batches.list({ limit: 100 })) seen.push(b.id)
        return seen
      })
      assert.strictEqual(listed.length, 252)
      assert.deepStrictEqual(listed.slice(0, 2), [toCancel.id, batch.id])
      assert.strictEqual(new Set(listed).size, 252)

      const output = yield* sdk(async () => (await client.files.content(done.output_file_id!)).text())
      const lines = output.trim().split("\n").map((l) => JSON.parse(l) as { custom_id: string })
      assert.deepStrictEqual(lines.map((l) => l.custom_id).sort(), [...ids].sort())

      const missing = yield* Effect.flip(sdk(() => client.batches.retrieve("batch_missing")))
      assert.instanceOf(missing, OpenAI.NotFoundError)
      if (missing instanceof OpenAI.NotFoundError) {
        assert.strictEqual(missing.status, 404)
        assert.strictEqual(missing.code, "batch_not_found")
        assert.match(missing.requestID ?? "", /^req_/)
      }
      const conflict = yield* Effect.flip(sdk(() => client.batches.cancel(batch.id)))
      assert.instanceOf(conflict, OpenAI.ConflictError)
    }).pipe(Effect.provide(FakeOpenAi.layer())))
})
