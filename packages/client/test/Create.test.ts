import { BatchClient } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream, TestClock } from "effect"
import { inMemory, quickRetry, wire } from "./utils.js"

const params = {
  input_file_id: "file-abc123",
  endpoint: "/v1/chat/completions",
  completion_window: "24h",
  metadata: { owner: "tests" }
} as const

const allBatches = Effect.flatMap(
  BatchClient.BatchClient,
  (client) => Effect.map(Stream.runCollect(client.list({ limit: 100 })), Chunk.toReadonlyArray)
)

describe("BatchClient.create over HTTP", () => {
  it.live("creates, retrieves and cancels a batch; the create carries a client token", () =>
    Effect.gen(function*() {
      const client = yield* BatchClient.BatchClient
      const created = yield* client.create(params)
      assert.strictEqual(created.status, "validating")
      assert.strictEqual(created.metadata?.owner, "tests")
      assert.match(created.metadata?.[BatchClient.clientTokenKey] ?? "", /^bfx_[0-9a-f]{32}$/)
      const retrieved = yield* client.retrieve(created.id)
      assert.strictEqual(retrieved.id, created.id)
      const cancelled = yield* client.cancel(created.id)
      assert.include(["cancelling", "cancelled"], cancelled.status)
    }).pipe(Effect.provide(wire())))

  it.live("a create whose answer is lost after the batch was made leaves exactly one batch", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(150)
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const created = yield* client.create(params)
      const all = yield* allBatches
      const ours = all.filter((b) => b.metadata?.owner === "tests")
      assert.strictEqual(ours.length, 1)
      assert.strictEqual(ours[0]!.id, created.id)
      assert.strictEqual(all.length, 151)
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1, "found, not created again")
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.live("a create that failed with a 5xx before making the batch is tried again after a look", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.status(503))
      yield* fake.scriptFault("POST /v1/batches", 2, Fault.resetBeforeResponse)
      // one look each time: this list does not lag (CreateDedupe.test looks through a lagging one)
      const created = yield* client.create(params, { lookupWindow: 0 })
      const all = yield* allBatches
      assert.deepStrictEqual(all.map((b) => b.id), [created.id])
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 3)
      assert.isAtLeast(yield* fake.requestCount("GET /v1/batches"), 2, "looked before each new attempt")
    }).pipe(Effect.provide(wire({ retry: quickRetry(3) }))))

  it.live("without a client token an ambiguous failure is not retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const error = yield* Effect.flip(client.create(params, { clientToken: false }))
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual((yield* allBatches).length, 1, "the one batch the server made")
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1, "one request, not retried")
    }).pipe(Effect.provide(wire({ retry: quickRetry(3) }))))

  it.live("metadata with 16 pairs gets no token", () =>
    Effect.gen(function*() {
      const client = yield* BatchClient.BatchClient
      const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, `v${i}`]))
      const created = yield* client.create({ ...params, metadata })
      assert.deepStrictEqual(created.metadata, metadata)
    }).pipe(Effect.provide(wire())))

  it.live("a 429 on create is retried without a look (nothing was made)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.status(429))
      const created = yield* client.create(params)
      assert.strictEqual(created.metadata?.owner, "tests")
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 2)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 0)
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.effect("a create that times out after the batch was made finds it instead of creating another", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.slowBody({ chunkBytes: 16, delay: "10 seconds" }))
      const fiber = yield* Effect.fork(client.create(params, { timeout: "5 seconds" }))
      yield* TestClock.adjust("1 minute")
      const created = yield* Fiber.join(fiber)
      const all = yield* allBatches
      assert.deepStrictEqual(all.map((b) => b.id), [created.id])
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1)
    }).pipe(Effect.provide(inMemory())))
})
