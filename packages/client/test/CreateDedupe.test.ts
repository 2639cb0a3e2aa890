/**
 * Issue 20, point 3: a create whose answer is lost is never doubled, even when the batch list shows
 * a new batch only 30 s after it was made (the emulator's `listLag`). Under `TestClock`, counted at
 * the server: the batches it holds and the create requests it answered.
 */
import { BatchClient, BatchClientError, Retry } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Logger, Ref, Stream, TestClock } from "effect"
import { inMemory, quickRetry } from "./utils.js"

const params = {
  input_file_id: "file-abc123",
  endpoint: "/v1/chat/completions",
  completion_window: "24h",
  metadata: { owner: "tests" }
} as const

const lagging = { listLag: "30 seconds" } as const

// Every batch the server holds, read once the lag has passed.
const serverBatches = Effect.gen(function*() {
  yield* TestClock.adjust("31 seconds")
  const client = yield* BatchClient.BatchClient
  return Chunk.toReadonlyArray(yield* Stream.runCollect(client.list({ limit: 100 })))
})

// Runs `self` in a fiber while the clock moves in steps of 5 s (each step lets the looks run).
const underClock = <A, E, R>(self: Effect.Effect<A, E, R>, seconds: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(self)
    for (let t = 0; t < seconds; t += 5) yield* TestClock.adjust("5 seconds")
    return yield* Fiber.join(fiber)
  })

describe("create with a lagging list (TestClock)", () => {
  it.effect("an answer lost after the batch was made, list lag 30 s: one batch, found by its token", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const created = yield* underClock(client.create(params), 45)
      const all = yield* serverBatches
      assert.deepStrictEqual(all.map((b) => b.id), [created.id], "exactly one batch at the server")
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1, "found, never sent again")
      assert.isAtLeast(yield* fake.requestCount("GET /v1/batches"), 4, "looked several times while the list lagged")
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }, lagging))))

  it.effect("an answer lost before the batch was made: looks for 60 s, then creates once more", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetBeforeResponse)
      const fiber = yield* Effect.fork(client.create(params))
      yield* TestClock.adjust("50 seconds")
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1, "still looking at 50 s")
      yield* TestClock.adjust("20 seconds")
      const created = yield* Fiber.join(fiber)
      const all = yield* serverBatches
      assert.deepStrictEqual(all.map((b) => b.id), [created.id])
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 2)
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }, lagging))))

  it.effect("with no retries allowed, a lost answer is still looked for: the batch is found, not lost", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const created = yield* underClock(client.create(params), 40)
      assert.deepStrictEqual((yield* serverBatches).map((b) => b.id), [created.id])
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1)
    }).pipe(Effect.provide(inMemory({ retry: Retry.never }, lagging))))

  it.effect("a look that fails does not count as a look: the batch is still looked for and found", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      yield* fake.scriptFault("GET /v1/batches", 1, Fault.status(400))
      const created = yield* underClock(client.create(params), 40)
      assert.deepStrictEqual((yield* serverBatches).map((b) => b.id), [created.id])
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1)
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }, lagging))))

  it.effect("lookupWindow bounds the looks: with 0 a lagging list is looked at once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      yield* underClock(client.create(params, { lookupWindow: 0 }), 5)
      // what the client did before this change: one look, then a second batch
      assert.strictEqual((yield* serverBatches).length, 2)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 2, "one look, one count")
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }, lagging))))

  it.effect("a later non-ambiguous failure does not hide an earlier ambiguous one: the error is ambiguous", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      yield* fake.scriptFault("POST /v1/batches", 2, Fault.status(400))
      const error = yield* Effect.flip(underClock(client.create(params, { lookupWindow: "10 seconds" }), 20))
      assert.strictEqual(error._tag, "ConnectionError")
      assert.isTrue(BatchClientError.isAmbiguous(error as BatchClientError.BatchClientError))
      assert.strictEqual((yield* serverBatches).length, 1, "the batch of the first attempt exists")
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }, lagging))))

  it.effect("without room for the token an ambiguous failure is not retried and a warning says how to look", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      const logs = yield* Ref.make<ReadonlyArray<string>>([])
      const logger = Logger.make(({ message }) =>
        Effect.runSync(Ref.update(logs, (all) => [...all, String(Array.isArray(message) ? message[0] : message)]))
      )
      const metadata = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, `v${i}`]))
      assert.isFalse(BatchClient.hasRoomForToken(metadata))
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const error = yield* Effect.flip(client.create({ ...params, metadata })).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      assert.isTrue(BatchClientError.isAmbiguous(error as BatchClientError.BatchClientError))
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1, "not retried")
      const warning = (yield* Ref.get(logs)).find((line) => line.includes("may have made a batch"))
      assert.include(warning, "input_file_id file-abc123")
      assert.include(warning, "batchfx list")
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }, lagging))))

  it.effect("a token given by the caller is the one sent and looked for", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      const token = yield* BatchClient.makeClientToken
      const sends = yield* Ref.make(0)
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const created = yield* underClock(
        client.create(params, { clientToken: token, onSend: () => Ref.update(sends, (n) => n + 1) }),
        40
      )
      assert.strictEqual(created.metadata?.[BatchClient.clientTokenKey], token)
      assert.strictEqual(yield* Ref.get(sends), 1)
      assert.strictEqual((yield* serverBatches).length, 1)
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }, lagging))))
})
