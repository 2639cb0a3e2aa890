import { BatchClient } from "@batchfx/client"
import * as Files from "@batchfx/client/Files"
import * as Watch from "@batchfx/client/Watch"
import { type Batch, BatchStatus, type RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, type Duration, Effect, Fiber, Schedule, Stream, TestClock } from "effect"
import { inMemory } from "./utils.js"

const endpoint = "/v1/chat/completions"

const requests = (n: number): Array<RequestLine.BatchRequestLine> =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `req-${i + 1}`,
    method: "POST",
    url: endpoint,
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i + 1}` }] }
  }))

const env = (fake: FakeOpenAi.Options = {}) => inMemory({}, fake)

const createBatch = (n: number) =>
  Effect.gen(function*() {
    const file = yield* Files.upload(requests(n), { endpoint })
    return yield* BatchClient.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
  })

/** Runs `effect` in a fiber while the TestClock moves forward in `step`s, at most `steps` times. */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.DurationInput, steps: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < steps; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

const collapse = (statuses: ReadonlyArray<string>) => statuses.filter((s, i) => i === 0 || statuses[i - 1] !== s)

const polls = Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.requestCount("GET /v1/batches/{id}"))

const allDistinctInARow = (batches: ReadonlyArray<Batch.Batch>) =>
  batches.every((b, i) => i === 0 || JSON.stringify(b) !== JSON.stringify(batches[i - 1]))

describe("Watch under TestClock", () => {
  it.effect("emits each change once and ends at completed", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(3)
      const seen = yield* drive(
        Stream.runCollect(Watch.watch(created.id, { schedule: Schedule.spaced("1 second") })),
        "1 second",
        60
      ).pipe(Effect.map(Chunk.toReadonlyArray))
      const statuses = seen.map((b) => b.status)
      assert.deepStrictEqual(collapse(statuses), ["validating", "in_progress", "finalizing", "completed"])
      assert.isTrue(allDistinctInARow(seen))
      // polled every second for about 9 seconds, but only changes were emitted
      const n = yield* polls
      assert.isTrue(n > seen.length, `${n} polls, ${seen.length} emitted`)
      assert.strictEqual(seen.filter((b) => BatchStatus.isTerminal(b.status)).length, 1)
      assert.deepStrictEqual(Watch.progress(seen[seen.length - 1]!), {
        status: "completed",
        total: 3,
        completed: 3,
        failed: 0,
        fraction: 1,
        terminal: true
      })
      for (const b of seen.filter((b) => b.status === "in_progress")) {
        const p = Watch.progress(b)
        assert.strictEqual(p.total, 3)
        assert.isTrue(p.fraction >= 0 && p.fraction <= 1 && !p.terminal)
      }
      // counts only ever grow
      const done = seen.map((b) => (b.request_counts?.completed ?? 0) + (b.request_counts?.failed ?? 0))
      assert.deepStrictEqual(done, [...done].sort((a, b) => a - b))
    }).pipe(
      Effect.provide(env({ durations: { validating: "3 seconds", inProgress: "3 seconds", finalizing: "3 seconds" } }))
    ))

  it.effect("the default schedule backs off from 2 seconds towards a minute", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(1)
      const final = yield* drive(Watch.awaitTerminal(created.id), "10 seconds", 400)
      assert.strictEqual(final.status, "completed")
      // 2, 3, 4.5, 6.75, 10.1, 15.2, 22.8, 34.2, 51.3, 60, 60, … seconds: about 25 polls in 20 minutes
      const n = yield* polls
      assert.isTrue(n >= 20 && n <= 30, `${n} polls`)
    }).pipe(Effect.provide(env({ durations: { validating: "5 minutes", inProgress: "10 minutes" } }))))

  it.effect("an expiring batch is watched to expired", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(4)
      const seen = yield* drive(Stream.runCollect(Watch.watch(created.id)), "1 minute", 300).pipe(
        Effect.map(Chunk.toReadonlyArray)
      )
      const statuses = collapse(seen.map((b) => b.status))
      assert.deepStrictEqual(statuses, ["validating", "in_progress", "finalizing", "expired"])
      const last = seen[seen.length - 1]!
      assert.isTrue((last.request_counts?.completed ?? 0) < 4)
      assert.isNotNull(last.error_file_id ?? null)
    }).pipe(
      Effect.provide(env({ durations: { inProgress: "2 hours", completionWindow: "1 hour", expiring: "10 minutes" } }))
    ))

  it.effect("a batch still not terminal long after expires_at fails with WatchTimeout(deadline)", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(2)
      const error = yield* drive(
        Effect.flip(Watch.awaitTerminal(created.id, { grace: "30 minutes" })),
        "1 minute",
        600
      )
      assert.strictEqual(error._tag, "WatchTimeout")
      if (error._tag !== "WatchTimeout") return
      assert.strictEqual(error.reason, "deadline")
      assert.strictEqual(error.status, "finalizing")
      assert.strictEqual(error.expiresAt, created.expires_at)
      assert.match(error.message, /still finalizing long after its expiry time/)
    }).pipe(
      Effect.provide(env({ durations: { inProgress: "2 hours", completionWindow: "1 hour", expiring: "5 hours" } }))
    ))

  it.effect("a finite schedule that ends first fails with WatchTimeout(schedule)", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(2)
      const error = yield* drive(
        Effect.flip(
          Watch.awaitTerminal(created.id, { schedule: Schedule.spaced("1 second").pipe(Schedule.upTo("3 seconds")) })
        ),
        "1 second",
        20
      )
      assert.strictEqual(error._tag, "WatchTimeout")
      if (error._tag === "WatchTimeout") assert.strictEqual(error.reason, "schedule")
    }).pipe(Effect.provide(env({ durations: { validating: "1 minute" } }))))

  it.effect("a cancelled batch is watched through cancelling to cancelled, starting from a known batch", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(5)
      yield* TestClock.adjust("2 seconds")
      const cancelling = yield* BatchClient.cancel(created.id)
      assert.strictEqual(cancelling.status, "cancelling")
      const before = yield* polls
      const seen = yield* drive(
        Stream.runCollect(Watch.watch(created.id, { initial: cancelling })),
        "1 minute",
        60
      ).pipe(Effect.map(Chunk.toReadonlyArray))
      assert.strictEqual(seen[0], cancelling)
      assert.deepStrictEqual(collapse(seen.map((b) => b.status)), ["cancelling", "cancelled"])
      assert.isTrue((yield* polls) > before)
    }).pipe(Effect.provide(env({ durations: { inProgress: "1 hour" } }))))

  it.effect("a failed batch (bad input on the server) ends the watch at failed", () =>
    Effect.gen(function*() {
      // the local check would refuse a bad line, so an unknown input file makes it fail on the server
      const created = yield* BatchClient.create({ input_file_id: "file-unknown", endpoint, completion_window: "24h" })
      const final = yield* drive(Watch.awaitTerminal(created.id), "1 second", 60)
      assert.strictEqual(final.status, "failed")
      assert.deepStrictEqual(Watch.progress(final).terminal, true)
    }).pipe(Effect.provide(env())))
})

/** Answers of the batch route that were failures: 5xx, resets (status 0) and 429s. */
const failedPolls = Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.counters).pipe(
  Effect.map((counters) =>
    counters
      .filter((c) => c.route === "GET /v1/batches/{id}" && (c.status === 0 || c.status === 429 || c.status >= 500))
      .reduce((n, c) => n + c.count, 0)
  )
)

/** Every poll of a batch fails with one of the transient faults until `outage(false)`. */
const outage = (on: boolean) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) =>
    fake.configure({
      randomFaults: on
        ? {
          rate: 1,
          faults: [Fault.status(503), Fault.resetBeforeResponse, Fault.status(429), Fault.status(500)],
          routes: ["GET /v1/batches/{id}"]
        }
        : undefined
    }))

describe("Watch through outages, under TestClock", () => {
  it.effect("an outage of several polls in the middle of a wait is ridden out, with no per-call retries", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(3)
      const fiber = yield* Effect.fork(Watch.awaitTerminal(created.id, { schedule: Schedule.spaced("1 second") }))
      yield* TestClock.adjust("2 seconds")
      yield* outage(true)
      // 20 s of 5xx, resets and 429s: the attempts back off 1, 2, 4, 8 s (+ up to a quarter)
      for (let i = 0; i < 20; i++) yield* TestClock.adjust("1 second")
      const failed = yield* failedPolls
      assert.isAtLeast(failed, 4, "the outage lasted several attempts")
      assert.isAtMost(failed, 6, "attempts backed off")
      assert.strictEqual((yield* Fiber.poll(fiber))._tag, "None", "still waiting through the outage")
      yield* outage(false)
      const final = yield* drive(Fiber.join(fiber), "1 second", 120)
      assert.strictEqual(final.status, "completed")
    }).pipe(
      Effect.provide(
        inMemory({ maxRetries: 0 }, {
          durations: { validating: "3 seconds", inProgress: "3 seconds", finalizing: "3 seconds" }
        })
      )
    ))

  it.effect("an outage that outlasts expires_at plus the grace fails with the last error", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(2)
      yield* outage(true)
      const error = yield* drive(
        Effect.flip(Watch.awaitTerminal(created.id, { initial: created, grace: "10 minutes" })),
        "1 minute",
        200
      )
      assert.include(["ServerError", "ConnectionError", "RateLimited"], error._tag)
      const now = yield* TestClock.currentTimeMillis
      // the window is one hour: it gave up after expires_at + 10 minutes, within a minute's backoff
      assert.isAtLeast(now, created.expires_at! * 1000 + 10 * 60_000)
      assert.isAtMost(now, created.expires_at! * 1000 + 12 * 60_000)
    }).pipe(
      Effect.provide(inMemory({ maxRetries: 0 }, { durations: { inProgress: "2 hours", completionWindow: "1 hour" } }))
    ))

  it.effect("an unknown batch fails at once: only transient failures are ridden out", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Watch.awaitTerminal("batch_nope", { schedule: Schedule.spaced("1 second") }))
      assert.strictEqual(error._tag, "NotFound")
      assert.strictEqual(yield* polls, 1)
    }).pipe(Effect.provide(inMemory({ maxRetries: 0 }))))

  it.effect("polls are at least a second apart whatever the schedule", () =>
    Effect.gen(function*() {
      const created = yield* createBatch(1)
      const fiber = yield* Effect.fork(Watch.awaitTerminal(created.id, { schedule: Schedule.spaced("10 millis") }))
      for (let i = 0; i < 50; i++) yield* TestClock.adjust("100 millis")
      // 5 s of a 10 ms schedule: the first poll and one a second after it
      assert.strictEqual(yield* polls, 6)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(env({ durations: { validating: "1 hour" } }))))
})
