import { BatchClientError, Retry } from "@batchfx/client"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Option, Ref, TestClock } from "effect"
import * as Headers from "../src/internal/headers.js"

const info = { method: "GET", url: "http://127.0.0.1/v1/batches", attempt: 1 }

describe("the retry-after headers", () => {
  it("prefers retry-after-ms, then retry-after seconds, then an HTTP date", () => {
    assert.deepStrictEqual(
      Headers.serverWait({ "retry-after-ms": "1500", "retry-after": "9" }, 0),
      Option.some(Duration.millis(1500))
    )
    assert.deepStrictEqual(Headers.serverWait({ "retry-after": "2.5" }, 0), Option.some(Duration.millis(2500)))
    const now = Date.parse("Sat, 28 Nov 2026 12:00:00 GMT")
    assert.deepStrictEqual(
      Headers.serverWait({ "retry-after": "Sat, 28 Nov 2026 12:00:30 GMT" }, now),
      Option.some(Duration.millis(30_000))
    )
    assert.deepStrictEqual(
      Headers.serverWait({ "retry-after": "Sat, 28 Nov 2026 11:00:00 GMT" }, now),
      Option.some(Duration.zero)
    )
    assert.deepStrictEqual(Headers.serverWait({ "retry-after": "soon" }, now), Option.none())
    assert.deepStrictEqual(Headers.serverWait({}, now), Option.none())
  })

  it("reads only plain decimal numbers, for retries and the governor alike", () => {
    for (const text of ["0x10", "1e3", "-5", "Infinity", " "]) {
      assert.deepStrictEqual(Headers.serverWait({ "retry-after": text }, 0), Option.none(), text)
      assert.deepStrictEqual(Headers.serverWait({ "retry-after-ms": text }, 0), Option.none(), text)
    }
    assert.deepStrictEqual(Headers.serverWait({ "retry-after": " 3 " }, 0), Option.some(Duration.seconds(3)))
  })

  it("reads x-should-retry", () => {
    assert.deepStrictEqual(Headers.shouldRetry({ "x-should-retry": "true" }), Option.some(true))
    assert.deepStrictEqual(Headers.shouldRetry({ "x-should-retry": "FALSE" }), Option.some(false))
    assert.deepStrictEqual(Headers.shouldRetry({}), Option.none())
  })
})

describe("Retry.isRetryable", () => {
  it("retries 408, 429, 5xx, connection errors and timeouts, and no other 4xx", () => {
    assert.isTrue(Retry.isRetryable(new BatchClientError.RateLimited({ ...info, status: 429 })))
    assert.isTrue(Retry.isRetryable(new BatchClientError.ServerError({ ...info, status: 503 })))
    assert.isTrue(Retry.isRetryable(new BatchClientError.ServerError({ ...info, status: 408 })))
    assert.isFalse(Retry.isRetryable(new BatchClientError.ServerError({ ...info, status: 418 })))
    assert.isFalse(Retry.isRetryable(new BatchClientError.BadRequest({ ...info, status: 400 })))
    assert.isFalse(Retry.isRetryable(new BatchClientError.NotFound({ ...info, status: 404 })))
    assert.isTrue(
      Retry.isRetryable(
        new BatchClientError.ConnectionError({ ...info, description: "reset", maybeSent: true })
      )
    )
    assert.isTrue(Retry.isRetryable(new BatchClientError.TimeoutError({ ...info, timeout: Duration.seconds(1) })))
  })

  it("never retries quota exhausted or a conflict, even when the server says it should", () => {
    assert.isFalse(
      Retry.isRetryable(new BatchClientError.QuotaExhausted({ ...info, status: 429, shouldRetry: true }))
    )
    assert.isFalse(Retry.isRetryable(new BatchClientError.Conflict({ ...info, status: 409, shouldRetry: true })))
  })

  it("lets x-should-retry force or forbid a retry", () => {
    assert.isTrue(Retry.isRetryable(new BatchClientError.BadRequest({ ...info, status: 400, shouldRetry: true })))
    assert.isFalse(Retry.isRetryable(new BatchClientError.ServerError({ ...info, status: 500, shouldRetry: false })))
  })

  it("refuses a server wait above the cap and ambiguous failures when asked to", () => {
    const long = new BatchClientError.RateLimited({ ...info, status: 429, retryAfter: Duration.seconds(61) })
    assert.isFalse(Retry.isRetryable(long))
    assert.isTrue(Retry.isRetryable(long, { serverWaitCap: "2 minutes" }))
    const reset = new BatchClientError.ConnectionError({ ...info, description: "reset", maybeSent: true })
    assert.isFalse(Retry.isRetryable(reset, { retryAmbiguous: false }))
    const refused = new BatchClientError.ConnectionError({ ...info, description: "refused", maybeSent: false })
    assert.isTrue(Retry.isRetryable(refused, { retryAmbiguous: false }))
  })
})

describe("Retry.backoff", () => {
  it.effect("waits 0.5 s, 1 s, 2 s … capped at 8 s, for maxRetries retries", () =>
    Effect.gen(function*() {
      const calls = yield* Ref.make(0)
      const failing = Ref.updateAndGet(calls, (n) => n + 1).pipe(
        Effect.flatMap(() => Effect.fail(new BatchClientError.ServerError({ ...info, status: 500 })))
      )
      const fiber = yield* Effect.fork(
        Retry.retry(failing, Retry.backoff({ jitter: false, maxRetries: 6 }))
      )
      const expectCalls = (n: number) => Effect.map(Ref.get(calls), (c) => assert.strictEqual(c, n))
      yield* TestClock.adjust(0)
      yield* expectCalls(1)
      for (const [wait, after] of [[500, 2], [1000, 3], [2000, 4], [4000, 5], [8000, 6], [8000, 7]] as const) {
        yield* TestClock.adjust(wait - 1)
        yield* expectCalls(after - 1)
        yield* TestClock.adjust(1)
        yield* expectCalls(after)
      }
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(exit._tag === "Failure")
    }))

  it.effect("the default schedule retries twice, waiting 75–100 % of 0.5 s, then of 1 s", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const failing = Clock.currentTimeMillis.pipe(
        Effect.tap((now) => Effect.sync(() => times.push(now))),
        Effect.flatMap(() => Effect.fail(new BatchClientError.ServerError({ ...info, status: 500 })))
      )
      const fiber = yield* Effect.fork(Retry.retry(failing, Retry.defaultSchedule))
      yield* TestClock.adjust("1 hour")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(exit._tag === "Failure")
      assert.strictEqual(times.length, 3)
      const first = times[1]! - times[0]!
      const second = times[2]! - times[1]!
      assert.isTrue(first >= 375 && first <= 500, `first wait ${first}`)
      assert.isTrue(second >= 750 && second <= 1000, `second wait ${second}`)
    }))
})
