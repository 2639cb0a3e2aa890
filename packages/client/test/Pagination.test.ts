import { BatchClient } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import type { Tracer } from "effect"
import { Chunk, Effect, Exit, Option, Stream } from "effect"
import { quickRetry, recordSpans, wire } from "./utils.js"

const ids = <E, R>(stream: Stream.Stream<{ readonly id: string }, E, R>) =>
  Effect.map(Stream.runCollect(Stream.map(stream, (b) => b.id)), Chunk.toReadonlyArray)

describe("BatchClient.list over HTTP", () => {
  it.live("is lazy: 5 batches of 10,000 with limit 2 take at most 4 requests", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(10_000)
      const taken = yield* ids(client.list({ limit: 2 }).pipe(Stream.take(5)))
      assert.strictEqual(taken.length, 5)
      assert.strictEqual(new Set(taken).size, 5)
      const requests = yield* fake.requestCount("GET /v1/batches")
      assert.isAtMost(requests, 4)
      assert.isAtLeast(requests, 3)
    }).pipe(Effect.provide(wire())), 30_000)

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

  it.live("with look-ahead 0 fetches only the pages it needs", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(10_000)
      const taken = yield* ids(client.list({ limit: 2 }, { lookAhead: 0 }).pipe(Stream.take(5)))
      assert.strictEqual(taken.length, 5)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 3)
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
