import { BatchClient, Retry } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { Headers, HttpServerResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Stream, TestClock } from "effect"
import { inMemory, inMemoryEdited } from "./utils.js"

const withoutHeader = (name: string) => (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array"
    ? HttpServerResponse.uint8Array(response.body.body, {
      status: response.status,
      headers: Headers.remove(response.headers, name),
      contentType: response.body.contentType
    })
    : response

const retryAfterAsDate = (response: HttpServerResponse.HttpServerResponse) => {
  const seconds = response.headers["retry-after"]
  if (seconds === undefined) return response
  // TestClock starts at 0, so the date is the epoch plus the wait.
  return HttpServerResponse.setHeader(
    withoutHeader("retry-after-ms")(response),
    "retry-after",
    new Date(Number(seconds) * 1000).toUTCString()
  )
}

/** Waits until the fiber is suspended on its timer, so that `TestClock.adjust` reaches the wait. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

const requests = (status?: number) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) =>
    Effect.map(fake.counters, (counters) =>
      counters
        .filter((c) => c.route === "GET /v1/batches/{id}" && (status === undefined || c.status === status))
        .reduce((n, c) => n + c.count, 0)))

const newestId = Effect.flatMap(
  BatchClient.BatchClient,
  (client) => Effect.map(Stream.runHead(client.list({ limit: 1 })), (b) => Option.getOrThrow(b).id)
)

/**
 * One request allowed per 10 seconds: the second retrieve gets a 429 asking to wait 10 s. Without
 * rate-limit headers (as on the real batch endpoints), so the 429 is what tells the client to wait.
 */
const rateLimitedRetrieveWaits = Effect.gen(function*() {
  const fake = yield* FakeOpenAi.FakeOpenAi
  const client = yield* BatchClient.BatchClient
  yield* fake.seedBatches(2)
  const id = yield* newestId
  yield* fake.configure({ rateLimit: { requests: 1, window: "10 seconds", headers: false } })
  yield* client.retrieve(id)
  const fiber = yield* Effect.fork(client.retrieve(id))
  yield* settle
  assert.strictEqual(yield* requests(429), 1)
  yield* TestClock.adjust("9999 millis")
  yield* settle
  assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "still waiting just before the server's wait")
  assert.strictEqual(yield* requests(), 2)
  yield* TestClock.adjust("1 millis")
  const batch = yield* Fiber.join(fiber)
  assert.strictEqual(batch.id, id)
  assert.strictEqual(yield* requests(200), 2)
})

describe("retry waits and timeouts under TestClock", () => {
  it.effect("retry-after-ms is honoured", () => rateLimitedRetrieveWaits.pipe(Effect.provide(inMemory())))

  it.effect("retry-after in seconds is honoured", () =>
    rateLimitedRetrieveWaits.pipe(Effect.provide(inMemoryEdited(withoutHeader("retry-after-ms")))))

  it.effect("retry-after as an HTTP date is honoured", () =>
    rateLimitedRetrieveWaits.pipe(Effect.provide(inMemoryEdited(retryAfterAsDate))))

  it.effect("a server wait above the cap fails at once with the wait attached", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ rateLimit: { requests: 1, window: "2 minutes", headers: false } })
      yield* Effect.flip(client.retrieve("batch_x"))
      const fiber = yield* Effect.fork(client.retrieve("batch_x"))
      yield* settle
      const exit = yield* Fiber.poll(fiber)
      assert.isTrue(Option.isSome(exit), "failed without waiting")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "RateLimited")
      if (error._tag !== "RateLimited") return
      assert.deepStrictEqual(error.retryAfter, Duration.millis(120_000))
      assert.strictEqual(yield* requests(429), 1)
    }).pipe(Effect.provide(inMemory())))

  it.effect("a larger cap lets the client wait that long", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ rateLimit: { requests: 1, window: "2 minutes", headers: false } })
      yield* Effect.flip(client.retrieve("batch_x"))
      const fiber = yield* Effect.fork(client.retrieve("batch_x"))
      yield* settle
      yield* TestClock.adjust("2 minutes")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "NotFound", "the retry after the wait reached the server")
    }).pipe(Effect.provide(inMemory({ serverWaitCap: "5 minutes" }))))

  it.effect("interrupting the fiber ends a retry wait at once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ rateLimit: { requests: 1, window: "30 seconds", headers: false } })
      yield* Effect.flip(client.retrieve("batch_x"))
      const fiber = yield* Effect.fork(client.retrieve("batch_x"))
      yield* settle
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* requests(), 2, "no request after the interruption")
    }).pipe(Effect.provide(inMemory())))

  it.effect("x-should-retry: false forbids retrying a 500", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.status(500))
      const error = yield* Effect.flip(client.retrieve("batch_x"))
      assert.strictEqual(error._tag, "ServerError")
      assert.strictEqual(yield* requests(), 1)
    }).pipe(
      Effect.provide(inMemoryEdited((r) => HttpServerResponse.setHeader(r, "x-should-retry", "false")))
    ))

  it.effect("x-should-retry: true forces retrying a 404", () =>
    Effect.gen(function*() {
      const client = yield* BatchClient.BatchClient
      const fiber = yield* Effect.fork(Effect.flip(client.retrieve("batch_x")))
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "NotFound")
      assert.strictEqual(yield* requests(), 3, "the first attempt and the two default retries")
    }).pipe(
      Effect.provide(inMemoryEdited((r) => HttpServerResponse.setHeader(r, "x-should-retry", "true")))
    ))

  it.effect("the default backoff waits between 375 and 500 ms before the first retry of a 500", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.status(500))
      const fiber = yield* Effect.fork(Effect.flip(client.retrieve("batch_x")))
      yield* settle
      yield* TestClock.adjust("374 millis")
      yield* settle
      assert.strictEqual(yield* requests(), 1)
      yield* TestClock.adjust("126 millis")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "NotFound")
      assert.strictEqual(yield* requests(), 2)
    }).pipe(Effect.provide(inMemory())))

  it.effect("a slow answer fails with TimeoutError after the timeout (60 s by default)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ latency: "5 minutes" })
      const fiber = yield* Effect.fork(Effect.flip(client.retrieve("batch_x", { retry: Retry.never })))
      yield* settle
      yield* TestClock.adjust("59 seconds")
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TimeoutError")
      if (error._tag !== "TimeoutError") return
      assert.deepStrictEqual(error.timeout, Duration.seconds(60))
    }).pipe(Effect.provide(inMemory())))

  it.effect("time held at the client's rate-limit gate counts toward the timeout", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(2)
      const id = yield* newestId
      yield* fake.configure({ rateLimit: { requests: 2, window: "90 seconds", headers: false } })
      yield* client.retrieve(id)
      yield* client.retrieve(id)
      // The third request of the window is rate limited: the server asks for 90 s, the gate closes.
      const limited = yield* Effect.fork(client.retrieve(id))
      yield* settle
      assert.strictEqual(yield* requests(429), 1)
      const waiting = yield* Effect.fork(
        Effect.flip(client.retrieve(id, { timeout: "60 seconds", retry: Retry.never }))
      )
      for (let second = 1; second <= 59; second++) {
        yield* settle
        yield* TestClock.adjust("1 second")
      }
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "held at the gate for 59 s")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(waiting))._tag, "TimeoutError", "timed out while held")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* Fiber.join(limited)).id, id, "answered once the gate opened")
      assert.strictEqual(yield* requests(429), 1)
    }).pipe(Effect.provide(inMemory({ serverWaitCap: "5 minutes" }))))

  it.effect("a shorter timeout given while a longer one runs fires at its own deadline", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ latency: "5 minutes" })
      const long = yield* Effect.fork(Effect.flip(client.retrieve("batch_a", { retry: Retry.never })))
      yield* settle
      yield* TestClock.adjust("10 seconds")
      yield* settle
      const short = yield* Effect.fork(
        Effect.flip(client.retrieve("batch_b", { retry: Retry.never, timeout: "5 seconds" }))
      )
      yield* settle
      yield* TestClock.adjust("4 seconds")
      yield* settle
      assert.isTrue(Option.isNone(yield* Fiber.poll(short)), "not before its 5 seconds")
      yield* TestClock.adjust("1 second")
      const shortError = yield* Fiber.join(short)
      assert.strictEqual(shortError._tag, "TimeoutError")
      if (shortError._tag !== "TimeoutError") return
      assert.deepStrictEqual(shortError.timeout, Duration.seconds(5))
      assert.isTrue(Option.isNone(yield* Fiber.poll(long)), "the default 60 s one still waits, at 15 s")
      yield* TestClock.adjust("45 seconds")
      const longError = yield* Fiber.join(long)
      assert.strictEqual(longError._tag, "TimeoutError")
      if (longError._tag !== "TimeoutError") return
      assert.deepStrictEqual(longError.timeout, Duration.seconds(60))
    }).pipe(Effect.provide(inMemory())))

  it.effect("an attempt interrupted from outside is not reported as a timeout, and the next one still times out", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ latency: "5 minutes" })
      const first = yield* Effect.fork(client.retrieve("batch_a", { retry: Retry.never }))
      yield* settle
      const exit = yield* Fiber.interrupt(first)
      assert.isTrue(Exit.isInterrupted(exit))
      const second = yield* Effect.fork(
        Effect.flip(client.retrieve("batch_b", { retry: Retry.never, timeout: "2 seconds" }))
      )
      yield* settle
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual((yield* Fiber.join(second))._tag, "TimeoutError")
    }).pipe(Effect.provide(inMemory())))

  it.effect("a slow body counts against the timeout too", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(2)
      const id = yield* newestId
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.slowBody({ chunkBytes: 10, delay: "1 second" }))
      const fiber = yield* Effect.fork(Effect.flip(client.retrieve(id, { retry: Retry.never, timeout: "5 seconds" })))
      yield* settle
      yield* TestClock.adjust("5 seconds")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "TimeoutError")
    }).pipe(Effect.provide(inMemory())))
})

describe("bodies that cannot be read", () => {
  const cutBody = (response: HttpServerResponse.HttpServerResponse) =>
    response.status === 200 && response.body._tag === "Uint8Array"
      ? HttpServerResponse.text(new TextDecoder().decode(response.body.body).slice(0, 60), {
        status: 200,
        headers: response.headers,
        contentType: "application/json"
      })
      : response

  it.effect("a malformed JSON body is a ResponseDecodeError with the status and the first bytes", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(2)
      const error = yield* Effect.flip(Stream.runDrain(client.list({ limit: 1 }, { retry: Retry.never })))
      assert.strictEqual(error._tag, "ResponseDecodeError")
      if (error._tag !== "ResponseDecodeError") return
      assert.strictEqual(error.status, 200)
      assert.strictEqual(error.reason, "InvalidJson")
      assert.strictEqual(error.bodyPreview.length, 60)
      assert.isTrue(error.bodyPreview.startsWith("{"))
      assert.match(error.requestId ?? "", /^req_/)
    }).pipe(Effect.provide(inMemoryEdited(cutBody))))

  // The transport reads success bodies as bytes and decodes them itself: they must read as
  // `response.text` would, a byte order mark dropped and multi-byte characters kept.
  const withBomAndUnicode = (response: HttpServerResponse.HttpServerResponse) => {
    if (response.status !== 200 || response.body._tag !== "Uint8Array") return response
    const page = JSON.parse(new TextDecoder().decode(response.body.body))
    page.data[0].metadata = { note: "grüße ✓ 日本 🎉" }
    const json = new TextEncoder().encode(JSON.stringify(page))
    const body = new Uint8Array(json.length + 3)
    body.set([0xef, 0xbb, 0xbf])
    body.set(json, 3)
    return HttpServerResponse.uint8Array(body, {
      status: 200,
      headers: response.headers,
      contentType: "application/json"
    })
  }

  it.effect("a body with a byte order mark and multi-byte characters decodes as its text reads", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(2)
      const batches = yield* Stream.runCollect(client.list({ limit: 1 }).pipe(Stream.take(1)))
      assert.deepStrictEqual([...batches].map((batch) => batch.metadata?.["note"]), ["grüße ✓ 日本 🎉"])
    }).pipe(Effect.provide(inMemoryEdited(withBomAndUnicode))))

  it.effect("JSON of the wrong shape is a ResponseDecodeError that is not retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(2)
      const error = yield* Effect.flip(Stream.runDrain(client.list({ limit: 1 })))
      assert.strictEqual(error._tag, "ResponseDecodeError")
      if (error._tag !== "ResponseDecodeError") return
      assert.strictEqual(error.reason, "UnexpectedShape")
      assert.include(error.message, "expected shape")
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 1)
    }).pipe(Effect.provide(inMemoryEdited((response) =>
      response.status === 200
        ? HttpServerResponse.unsafeJson({ object: "list", data: [{ id: 1 }] }, { headers: response.headers })
        : response
    ))))
})
