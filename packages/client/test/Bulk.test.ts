import { BatchClient, Bulk } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream, TestClock } from "effect"
import { inMemory } from "./utils.js"

const settle = Effect.repeatN(Effect.yieldNow(), 20)

/** Runs the effect while TestClock time passes in small steps, until it ends. */
const withTimePassing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      yield* TestClock.adjust("100 millis")
      yield* settle
    }
    return yield* Fiber.join(fiber)
  })

/** Seeds `n` batches, lists their ids, and clears the counters. */
const seededIds = (n: number) =>
  Effect.gen(function*() {
    const fake = yield* FakeOpenAi.FakeOpenAi
    const client = yield* BatchClient.BatchClient
    yield* fake.seedBatches(n)
    const ids = yield* Stream.runCollect(Stream.map(client.list({ limit: 100 }), (b) => b.id))
    yield* fake.resetCounters
    return Chunk.toReadonlyArray(ids)
  })

const retrieveAnswers = (status?: number) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) =>
    Effect.map(fake.counters, (counters) =>
      counters
        .filter((c) => c.route === "GET /v1/batches/{id}" && (status === undefined || c.status === status))
        .reduce((n, c) => n + c.count, 0)))

const assertOneOutcomePerId = (ids: ReadonlyArray<string>, outcomes: ReadonlyArray<Bulk.Outcome<unknown>>) => {
  assert.strictEqual(outcomes.length, ids.length)
  assert.deepStrictEqual(outcomes.map((o) => o.id), ids)
}

describe("bulk operations under the governor", () => {
  it.effect(
    "800 retrieves at concurrency 32 against a rate limit with headers: all succeed, 429s at most 2%",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const ids = yield* seededIds(800)
        yield* fake.configure({ rateLimit: { requests: 100, window: "1 second" } })
        const outcomes = yield* withTimePassing(
          Stream.runCollect(Bulk.retrieveMany(ids, { concurrency: 32 })).pipe(Effect.map(Chunk.toReadonlyArray))
        )
        assertOneOutcomePerId(ids, outcomes)
        assert.isTrue(outcomes.every((o) => o._tag === "Succeeded"), "every retrieve succeeded")
        const rateLimited = yield* retrieveAnswers(429)
        assert.isAtMost(rateLimited, 16, `${rateLimited} answers were 429`)
      }).pipe(Effect.provide(inMemory())),
    { timeout: 60_000 }
  )

  it.effect(
    "429s with retry-after but no rate-limit headers: bounded by the concurrency plus a small constant",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const ids = yield* seededIds(800)
        yield* fake.configure({ rateLimit: { requests: 100, window: "1 second", headers: false } })
        const outcomes = yield* withTimePassing(
          Stream.runCollect(Bulk.retrieveMany(ids, { concurrency: 32 })).pipe(Effect.map(Chunk.toReadonlyArray))
        )
        assertOneOutcomePerId(ids, outcomes)
        assert.isTrue(outcomes.every((o) => o._tag === "Succeeded"), "every retrieve succeeded")
        const rateLimited = yield* retrieveAnswers(429)
        assert.isAtMost(rateLimited, 32 + 16, `${rateLimited} answers were 429`)
      }).pipe(Effect.provide(inMemory())),
    { timeout: 60_000 }
  )

  it.effect("quota exhausted: the operation ends early and no id is asked for twice", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const ids = yield* seededIds(200)
      yield* fake.configure({ quotaExhausted: true })
      const outcomes = yield* withTimePassing(
        Stream.runCollect(Bulk.cancelMany(ids, { concurrency: 8 })).pipe(Effect.map(Chunk.toReadonlyArray))
      )
      assertOneOutcomePerId(ids, outcomes)
      const asked = (yield* fake.counters)
        .filter((c) => c.route === "POST /v1/batches/{id}/cancel")
        .reduce((n, c) => n + c.count, 0)
      assert.isAtMost(asked, 8, "at most the calls already in flight were made")
      assert.strictEqual(outcomes.filter((o) => o._tag === "Failed").length, asked, "one answer per asked id")
      for (const outcome of outcomes) {
        assert.notStrictEqual(outcome._tag, "Succeeded")
        if (outcome._tag !== "Succeeded") assert.strictEqual(outcome.error._tag, "QuotaExhausted")
      }
    }).pipe(Effect.provide(inMemory())), { timeout: 60_000 })

  it.effect("each id gets exactly one outcome under injected faults", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const ids = yield* seededIds(300)
      yield* fake.configure({
        randomFaults: { rate: 0.3, seed: 7, faults: [Fault.status(500), Fault.status(503), Fault.htmlBadGateway] }
      })
      const outcomes = yield* withTimePassing(
        Stream.runCollect(Bulk.retrieveMany(Stream.fromIterable(ids), { concurrency: 16, unordered: true })).pipe(
          Effect.map(Chunk.toReadonlyArray)
        )
      )
      assert.strictEqual(outcomes.length, ids.length)
      assert.deepStrictEqual(outcomes.map((o) => o.id).sort(), [...ids].sort())
      for (const outcome of outcomes) {
        if (outcome._tag === "Succeeded") assert.strictEqual(outcome.value.id, outcome.id)
        else assert.strictEqual(outcome.error._tag, "ServerError")
      }
      assert.isAbove(outcomes.filter((o) => o._tag === "Succeeded").length, 250)
    }).pipe(Effect.provide(inMemory())), { timeout: 60_000 })
})
