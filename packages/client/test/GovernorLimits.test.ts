import { BatchClient, Bulk } from "@batchfx/client"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Clock, Effect, FastCheck, Fiber, Option, Stream, TestClock } from "effect"
import { inMemory } from "./utils.js"

// The governor against each kind of limiter a server in front of the API may use, with and without
// rate-limit headers: every id answered, few 429s, and most of the allowed rate used. The cases are
// drawn from mode x concurrency x rate with a fixed seed, and run under TestClock.

type Mode = "fixed-window" | "per-minute" | "quantized" | "token-bucket"

interface Case {
  readonly mode: Mode
  readonly headers: boolean
  readonly concurrency: number
  readonly rate: number
}

/** The emulator's limit of `rate` requests a second in `mode`. */
const limitOf = ({ headers, mode, rate }: Case): FakeOpenAi.RateLimit => {
  switch (mode) {
    case "fixed-window":
      return { requests: rate, window: "1 second", headers }
    case "per-minute":
      return { requests: rate * 60, window: "1 minute", headers }
    case "quantized":
      return { requests: rate * 60, window: "1 minute", headers, mode: "quantized" }
    case "token-bucket":
      return { requests: rate, window: "1 second", headers, mode: "token-bucket" }
  }
}

const modes: ReadonlyArray<Mode> = ["fixed-window", "per-minute", "quantized", "token-bucket"]

const cases: ReadonlyArray<Case> = [
  // Every mode with and without headers, each at a drawn concurrency and rate.
  ...FastCheck.sample(
    FastCheck.record({
      concurrency: FastCheck.integer({ min: 1, max: 64 }),
      rate: FastCheck.integer({ min: 5, max: 500 })
    }),
    { seed: 21, numRuns: modes.length * 2 }
  ).map((drawn, i): Case => ({ ...drawn, mode: modes[i % modes.length]!, headers: i < modes.length })),
  // The corners.
  { mode: "quantized", headers: true, concurrency: 64, rate: 500 },
  { mode: "fixed-window", headers: false, concurrency: 64, rate: 5 }
]

const settle = Effect.repeatN(Effect.yieldNow(), 20)

/** Runs the effect while TestClock time passes in steps, until it ends. */
const withTimePassing = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      yield* TestClock.adjust("250 millis")
      yield* settle
    }
    return yield* Fiber.join(fiber)
  })

describe("the governor against the limiters of real servers", () => {
  for (const c of cases) {
    // Enough requests for a few seconds at the rate, and always more than one second's quantum.
    const n = Math.min(300, Math.max(200, c.rate * 4))
    it.effect(
      `${c.mode}, headers ${c.headers ? "on" : "off"}, concurrency ${c.concurrency}, ${c.rate}/s: ${n} ids`,
      () =>
        Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          const client = yield* BatchClient.BatchClient
          yield* fake.seedBatches(n)
          const ids = Chunk.toReadonlyArray(
            yield* Stream.runCollect(Stream.map(client.list({ limit: 100 }), (b) => b.id))
          )
          yield* fake.resetCounters
          yield* fake.configure({ rateLimit: limitOf(c) })
          const start = yield* Clock.currentTimeMillis
          const [outcomes, end] = yield* withTimePassing(Effect.zip(
            Stream.runCollect(Bulk.retrieveMany(ids, { concurrency: c.concurrency, unordered: true })),
            Clock.currentTimeMillis
          ))
          const failed = Chunk.toReadonlyArray(outcomes).filter((o) => o._tag !== "Succeeded")
          const answers = (yield* fake.counters).filter((k) => k.route === "GET /v1/batches/{id}")
          const total = answers.reduce((sum, k) => sum + k.count, 0)
          const limited = answers.filter((k) => k.status === 429).reduce((sum, k) => sum + k.count, 0)
          const seconds = (end - start) / 1000
          const throughput = seconds === 0 ? Number.POSITIVE_INFINITY : n / seconds
          const figures = `${limited} of ${total} answers were 429; ${n} in ${seconds} s (${
            throughput.toFixed(1)
          }/s of ${c.rate}/s)`
          assert.strictEqual(failed.length, 0, `failed ids: ${failed.map((o) => o.id).join(", ")}`)
          assert.strictEqual(Chunk.size(outcomes), n)
          assert.isAtMost(limited, total * 0.02, figures)
          assert.isAtLeast(throughput, c.rate * 0.9, figures)
        }).pipe(
          Effect.provide(inMemory({ governor: { maxInFlight: c.concurrency } }))
        ),
      { timeout: 60_000 }
    )
  }
})
