import { BatchClient } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import type { Tracer } from "effect"
import { Chunk, Clock, Effect, Exit, Fiber, Option, Queue, Stream, TestClock } from "effect"
import { inMemory, quickRetry, recordSpans, wire } from "./utils.js"

const ids = <E, R>(stream: Stream.Stream<{ readonly id: string }, E, R>) =>
  Effect.map(Stream.runCollect(Stream.map(stream, (b) => b.id)), Chunk.toReadonlyArray)

// Under `TestClock` with the in-memory emulator: each list request takes one second of latency.
describe("BatchClient.list look-ahead", () => {
  // Takes pages one at a time on demand and says how many list requests the emulator has answered
  // or is answering after each take, once every request in flight has had its second.
  const requestsPerTake = (lookAhead: number, takes: number) =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(100)
      yield* fake.configure({ latency: "1 second" })
      const pull = yield* Stream.toPull(client.listPages({ limit: 2 }, { lookAhead }))
      const seen: Array<number> = []
      for (let i = 0; i < takes; i++) {
        const taking = yield* Effect.fork(pull)
        yield* TestClock.adjust("10 seconds")
        const page = yield* Fiber.join(taking)
        assert.strictEqual(Chunk.unsafeHead(page).data.length, 2)
        // The consumer holds the page: the fetches ahead run, nothing more is asked.
        yield* TestClock.adjust("10 seconds")
        seen.push(yield* fake.requestCount("GET /v1/batches"))
      }
      return seen
    }).pipe(Effect.scoped, Effect.provide(inMemory()))

  it.effect("look-ahead 1 fetches exactly one page beyond the one the consumer holds", () =>
    Effect.map(requestsPerTake(1, 4), (seen) => assert.deepStrictEqual(seen, [2, 3, 4, 5])))

  it.effect("look-ahead 0 fetches only the page the consumer asks for", () =>
    Effect.map(requestsPerTake(0, 4), (seen) => assert.deepStrictEqual(seen, [1, 2, 3, 4])))

  it.effect("look-ahead 2 keeps two pages on their way", () =>
    Effect.map(requestsPerTake(2, 3), (seen) => assert.deepStrictEqual(seen, [3, 4, 5])))

  it.effect("fetching overlaps the consumer's work: 10 pages of 1 s each with 1 s of work take 11 s", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(20)
      yield* fake.configure({ latency: "1 second" })
      const done = yield* Queue.unbounded<number>()
      const start = yield* Clock.currentTimeMillis
      const consumer = yield* client.listPages({ limit: 2 }).pipe(
        Stream.tap(() => Effect.sleep("1 second")),
        Stream.runCount,
        Effect.zipLeft(Effect.flatMap(Clock.currentTimeMillis, (now) => Queue.offer(done, now - start))),
        Effect.fork
      )
      // Past the last page (has_more false) nothing more is asked: 10 pages in all.
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(consumer), 10)
      // Without look-ahead it is 20 s (each page's second, then its work); 11 s is full overlap.
      assert.strictEqual(yield* Queue.take(done), 11_000)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 10)
    }).pipe(Effect.provide(inMemory())))

  it.effect("closing the stream early stops the fetch ahead and asks no more", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(100)
      yield* fake.configure({ latency: "1 second" })
      const taking = yield* Effect.fork(Stream.runCollect(client.list({ limit: 2 }).pipe(Stream.take(5))))
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      assert.strictEqual(Chunk.size(yield* Fiber.join(taking)), 5)
      // Pages 1-3 were needed; page 4, the look-ahead, may have been asked for before the stream
      // closed and interrupted it. Nothing after it, however long the listing stays open.
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      const requests = yield* fake.requestCount("GET /v1/batches")
      assert.isAtLeast(requests, 3)
      assert.isAtMost(requests, 4)
    }).pipe(Effect.provide(inMemory())))
})

describe("BatchClient.list over HTTP", () => {
  it.live("spans the listing once, with each page's request under it", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(250)
      const base = yield* Effect.tracer
      const spans: Array<Tracer.Span> = []
      const tracer = recordSpans(base, spans)
      const all = yield* ids(client.list({ limit: 100 })).pipe(Effect.withTracer(tracer))
      assert.strictEqual(all.length, 250)
      const listing = spans.filter((span) => span.name === "BatchClient.listPages")
      assert.strictEqual(listing.length, 1)
      const [span] = listing
      assert.isTrue(span!.status._tag === "Ended" && Exit.isSuccess(span!.status.exit), "the listing's span ended well")
      const pages = spans.filter((s) => s.name === "batchfx.batches.list")
      assert.strictEqual(pages.length, 3)
      for (const page of pages) {
        assert.strictEqual(Option.getOrUndefined(page.parent)?.spanId, span!.spanId)
      }
    }).pipe(Effect.provide(wire())), 30_000)

  it.live("pages follow the id of the last item, from `after`, in the server's order", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(25)
      const all = yield* ids(client.list({ limit: 100 }))
      assert.strictEqual(all.length, 25)
      const paged = yield* ids(client.list({ limit: 4 }))
      assert.deepStrictEqual(paged, all)
      const rest = yield* ids(client.list({ limit: 3, after: all[9]! }))
      assert.deepStrictEqual(rest, all.slice(10))
      const pages = yield* Stream.runCollect(client.listPages({ limit: 10 }))
      assert.deepStrictEqual(Chunk.toReadonlyArray(pages).map((p) => p.data.length), [10, 10, 5])
    }).pipe(Effect.provide(wire())), 30_000)

  it.live("maxPages ends the listing after that page, with no request ahead of it", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(25)
      yield* fake.resetCounters
      const first = yield* ids(client.list({ limit: 4 }, { maxPages: 2, lookAhead: 2 }))
      assert.strictEqual(first.length, 8)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 2)
    }).pipe(Effect.provide(wire())), 30_000)

  for (const [seed, limit] of [[42, 100], [7, 37], [2026, 100]] as const) {
    it.live(
      `exactly once: 5,000 batches through 20% faults (500s, resets, truncated bodies), seed ${seed}, limit ${limit}`,
      () =>
        Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          const client = yield* BatchClient.BatchClient
          yield* fake.seedBatches(5_000)
          const expected = yield* ids(client.list({ limit: 100 }))
          assert.strictEqual(expected.length, 5_000)
          yield* fake.resetCounters
          yield* fake.configure({
            randomFaults: {
              rate: 0.2,
              seed,
              routes: ["GET /v1/batches"],
              faults: [Fault.status(500), Fault.status(503), Fault.resetBeforeResponse, Fault.truncatedBody(300)]
            }
          })
          const got = yield* ids(client.list({ limit }, { retry: quickRetry(12) }))
          assert.strictEqual(got.length, 5_000)
          assert.strictEqual(new Set(got).size, 5_000)
          assert.deepStrictEqual(got, expected)
          const counters = yield* fake.counters
          const failed = counters.filter((c) => c.route === "GET /v1/batches" && c.status !== 200)
          assert.isAbove(failed.reduce((n, c) => n + c.count, 0), 0, "faults were injected")
        }).pipe(Effect.provide(wire())),
      60_000
    )
  }

  it.live("a stuck cursor fails with PaginationError", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(10)
      yield* fake.configure({ stuckCursor: true })
      const error = yield* Effect.flip(Stream.runDrain(client.list({ limit: 2 })))
      assert.strictEqual(error._tag, "PaginationError")
      if (error._tag !== "PaginationError") return
      assert.match(error.requestId ?? "", /^req_/)
      assert.include(error.message, error.requestId!)
      assert.isAtMost(yield* fake.requestCount("GET /v1/batches"), 3)
    }).pipe(Effect.provide(wire())), 30_000)

  it.live("a missing has_more lists on to the empty page", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(7)
      yield* fake.configure({ omitHasMore: true })
      const pages = Chunk.toReadonlyArray(yield* Stream.runCollect(client.listPages({ limit: 3 })))
      assert.deepStrictEqual(pages.map((p) => p.data.length), [3, 3, 1, 0])
      assert.isTrue(pages.every((p) => p.has_more === undefined))
      assert.strictEqual(new Set(pages.flatMap((p) => p.data.map((b) => b.id))).size, 7)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 4)
    }).pipe(Effect.provide(wire())), 30_000)

  it.live("an empty list is an empty stream after one request", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      assert.deepStrictEqual(yield* ids(client.list()), [])
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 1)
    }).pipe(Effect.provide(wire())), 30_000)

  it.live("invalid list parameters fail before any request", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      const error = yield* Effect.flip(Stream.runDrain(client.list({ limit: 500 })))
      assert.strictEqual(error._tag, "InvalidParams")
      assert.include(error.message, "limit")
      assert.strictEqual(yield* fake.requestCount(), 0)
    }).pipe(Effect.provide(wire())), 30_000)
})
