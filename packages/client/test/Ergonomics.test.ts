// What a user's code looks like: each point here is one that tripped a user who installed the
// packages into an app of their own.
import { BatchClient, Bulk } from "@batchfx/client"
import type { BatchClientError } from "@batchfx/client"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { inMemory } from "./utils.js"

describe("bulk operations take the ids a user has", () => {
  it.effect("a listing's ids go straight into retrieveMany, its errors and needs passed through", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(12)
      const client = yield* BatchClient.BatchClient
      const ids = client.list({ limit: 5 }).pipe(Stream.map((batch) => batch.id))
      const outcomes: Stream.Stream<Bulk.Outcome<unknown>, BatchClientError.BatchClientError, BatchClient.BatchClient> =
        Bulk.retrieveMany(ids, { concurrency: 4 })
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(outcomes))
      assert.strictEqual(all.length, 12)
      assert.isTrue(all.every((o) => o._tag === "Succeeded"))
    }).pipe(Effect.provide(inMemory())))

  it.effect("a stream's own failure ends the bulk stream with that failure", () =>
    Effect.gen(function*() {
      class NoMoreIds {
        readonly _tag = "NoMoreIds"
      }
      const ids = Stream.concat(Stream.make("batch_unknown"), Stream.fail(new NoMoreIds()))
      const error = yield* Effect.flip(Stream.runDrain(Bulk.cancelMany(ids)))
      assert.instanceOf(error, NoMoreIds)
    }).pipe(Effect.provide(inMemory())))

  it.effect("an array of ids needs nothing more", () =>
    Effect.gen(function*() {
      const outcomes = yield* Stream.runCollect(Bulk.retrieveMany(["batch_missing"]))
      assert.strictEqual(Chunk.unsafeHead(outcomes)._tag, "Failed")
    }).pipe(Effect.provide(inMemory())))
})

describe("errors a user prints", () => {
  it.effect("QuotaExhausted says it in one sentence, with the request id; the API's text stays in apiMessage", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ quotaExhausted: true })
      const error = yield* Effect.flip(client.retrieve("batch_1"))
      assert.strictEqual(error._tag, "QuotaExhausted")
      if (error._tag !== "QuotaExhausted") return
      const [sentence, requestId] = error.message.split(" (request id ")
      assert.match(
        sentence!,
        /^The quota is exhausted; check the plan and billing details \(HTTP 429 on GET [^)]+\)\.$/
      )
      assert.match(requestId!, /^req_\w+\)$/)
      assert.isAbove((error.apiMessage ?? "").length, 0)
    }).pipe(Effect.provide(inMemory())))
})
