import { ApiError } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema, TestClock } from "effect"
import * as Flags from "../src/internal/flags.js"
import { getJson } from "./helpers.js"

// Each rate-limit mode of the emulator over HTTP (the in-memory client runs the same app as the
// socket), with time driven by TestClock: what it allows, what it refuses, and what it says.

const decodeError = Schema.decodeUnknownSync(ApiError.ApiErrorBody)

/** The statuses of `n` GETs sent one after another at the same instant. */
const burst = (n: number) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.map(getJson("/batches?limit=1"), (r) => r.status))

const inMemory = (rateLimit: FakeOpenAi.RateLimit) => FakeOpenAi.layerInMemory({ rateLimit })

describe("rate-limit modes", () => {
  it.effect("per-minute window: the whole minute's limit at once, then 429 until the minute ends", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* burst(6), [200, 200, 200, 200, 200, 200])
      yield* TestClock.adjust("20 seconds")
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after-ms"], "40000")
      assert.strictEqual(limited.headers["retry-after"], "40")
      assert.strictEqual(limited.headers["x-ratelimit-limit-requests"], "6")
      assert.strictEqual(limited.headers["x-ratelimit-remaining-requests"], "0")
      assert.strictEqual(limited.headers["x-ratelimit-reset-requests"], "40s")
      assert.include(decodeError(limited.json).error.message, "on requests per 1m0s: Limit 6")
      yield* TestClock.adjust("39999 millis")
      assert.strictEqual((yield* getJson("/batches")).status, 429)
      yield* TestClock.adjust("1 millis")
      const next = yield* getJson("/batches")
      assert.strictEqual(next.status, 200)
      assert.strictEqual(next.headers["x-ratelimit-remaining-requests"], "5")
    }).pipe(Effect.provide(inMemory({ requests: 6, window: "1 minute" }))))

  it.effect("quantized: a per-minute limit enforced as its share of each second, and the minute too", () =>
    Effect.gen(function*() {
      // 180 a minute is 3 a second.
      assert.deepStrictEqual(yield* burst(4), [200, 200, 200, 429])
      yield* TestClock.adjust("400 millis")
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after-ms"], "600")
      // The headers speak of the minute: 177 left of 180, as the API's do.
      assert.strictEqual(limited.headers["x-ratelimit-limit-requests"], "180")
      assert.strictEqual(limited.headers["x-ratelimit-remaining-requests"], "177")
      assert.include(decodeError(limited.json).error.message, "on requests per 1s: Limit 180")
      yield* TestClock.adjust("600 millis")
      assert.deepStrictEqual(yield* burst(4), [200, 200, 200, 429])
      // Second after second, 3 each: 180 in the minute and no more, though each second has room.
      let allowed = 6
      for (let second = 2; second < 60; second++) {
        yield* TestClock.adjust("1 second")
        allowed += (yield* burst(4)).filter((s) => s === 200).length
      }
      assert.strictEqual(allowed, 180)
      yield* TestClock.adjust("999 millis")
      assert.strictEqual((yield* getJson("/batches")).status, 429)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* getJson("/batches")).status, 200)
    }).pipe(Effect.provide(inMemory({ requests: 180, window: "1 minute", mode: "quantized" }))))

  it.effect("token bucket: a burst of its size, then one request per refill, and it refills while idle", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* burst(6), [200, 200, 200, 200, 200, 429])
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      // 10 a second: the next token in 100 ms.
      assert.strictEqual(limited.headers["retry-after-ms"], "100")
      assert.strictEqual(limited.headers["x-ratelimit-limit-requests"], "600")
      assert.strictEqual(limited.headers["x-ratelimit-remaining-requests"], "0")
      assert.strictEqual(limited.headers["x-ratelimit-reset-requests"], "500ms")
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(yield* burst(2), [200, 429])
      // Steady at the rate: one every 100 ms, never refused.
      for (let i = 0; i < 20; i++) {
        yield* TestClock.adjust("100 millis")
        assert.strictEqual((yield* getJson("/batches")).status, 200)
      }
      // Idle for long, it holds no more than its size.
      yield* TestClock.adjust("1 minute")
      const full = yield* getJson("/batches")
      assert.strictEqual(full.headers["x-ratelimit-remaining-requests"], "4")
      assert.deepStrictEqual(yield* burst(5), [200, 200, 200, 200, 429])
    }).pipe(Effect.provide(inMemory({ requests: 10, window: "1 second", mode: "token-bucket", burst: 5 }))))

  it.effect("daily: the day's limit, then 429 until midnight UTC, then a new day", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("23 hours")
      assert.deepStrictEqual(yield* burst(4), [200, 200, 200, 429])
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after"], "3600")
      assert.strictEqual(limited.headers["retry-after-ms"], "3600000")
      assert.include(decodeError(limited.json).error.message, "on requests per day: Limit 3")
      // A limit of only a day states no per-minute limit.
      assert.isUndefined(limited.headers["x-ratelimit-limit-requests"])
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* burst(4), [200, 200, 200, 429])
    }).pipe(Effect.provide(inMemory({ requests: Number.POSITIVE_INFINITY, window: "1 minute", daily: 3 }))))

  it.effect("a long retry-after on the n-th request only, the requests around it answered", () =>
    Effect.gen(function*() {
      const statuses: Array<number> = []
      for (let i = 1; i <= 5; i++) {
        const r = yield* getJson("/batches")
        statuses.push(r.status)
        if (i === 3) {
          assert.strictEqual(r.headers["retry-after"], "300")
          assert.strictEqual(r.headers["retry-after-ms"], "300000")
          assert.strictEqual(decodeError(r.json).error.code, "rate_limit_exceeded")
        }
      }
      assert.deepStrictEqual(statuses, [200, 200, 429, 200, 200])
    }).pipe(
      Effect.provide(inMemory({ requests: 1000, window: "1 second", longRetryAfter: { nth: 3, wait: "5 minutes" } }))
    ))

  it.effect("headers off: no x-ratelimit-* on answers or 429s, which keep retry-after", () =>
    Effect.gen(function*() {
      const ok = yield* getJson("/batches")
      assert.strictEqual(ok.status, 200)
      assert.isFalse(Object.keys(ok.headers).some((k) => k.startsWith("x-ratelimit-")))
      assert.deepStrictEqual(yield* burst(2), [200, 429])
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      assert.isFalse(Object.keys(limited.headers).some((k) => k.startsWith("x-ratelimit-")))
      assert.strictEqual(limited.headers["retry-after-ms"], "1000")
    }).pipe(Effect.provide(inMemory({ requests: 120, window: "1 minute", mode: "quantized", headers: false }))))
})

describe("batchfx-fake-server rate-limit flags", () => {
  const rateLimit = (args: ReadonlyArray<string>) => Either.map(Flags.parse(args), (parsed) => parsed.options.rateLimit)

  it("each mode, the burst, the headers, a daily limit and a long retry-after", () => {
    assert.deepStrictEqual(
      rateLimit([
        "--rate-limit",
        "12000/1m",
        "--rate-limit-mode",
        "quantized",
        "--no-rate-limit-headers",
        "--daily-limit",
        "100000",
        "--long-retry-after",
        "5=5m"
      ]),
      Either.right({
        requests: 12000,
        window: 60_000,
        headers: false,
        mode: "quantized",
        daily: 100000,
        longRetryAfter: { nth: 5, wait: 300_000 }
      })
    )
    assert.deepStrictEqual(
      rateLimit(["--rps", "200", "--rate-limit-mode", "token-bucket", "--rate-limit-burst", "50"]),
      Either.right({ requests: 200, window: 1000, headers: true, mode: "token-bucket", burst: 50 })
    )
    assert.deepStrictEqual(
      rateLimit(["--rate-limit", "60/60000", "--rate-limit-mode", "fixed-window"]),
      Either.right({ requests: 60, window: 60_000, headers: true, mode: "fixed-window" })
    )
    // A daily limit alone counts nothing per window.
    assert.deepStrictEqual(
      rateLimit(["--daily-limit", "3"]),
      Either.right({ requests: Number.POSITIVE_INFINITY, window: 60_000, headers: true, daily: 3 })
    )
    assert.deepStrictEqual(rateLimit([]), Either.right(undefined))
  })

  it("a bad or incomplete rate-limit flag is one sentence", () => {
    const error = (args: ReadonlyArray<string>) => Either.getLeft(Flags.parse(args))
    assert.deepStrictEqual(
      error(["--rate-limit-mode", "leaky"]),
      Either.getLeft(Either.left("--rate-limit-mode needs one of fixed-window, quantized, token-bucket, got 'leaky'"))
    )
    assert.deepStrictEqual(
      error(["--rate-limit-mode", "quantized"]),
      Either.getLeft(Either.left("--rate-limit-mode needs --rps or --rate-limit"))
    )
    assert.deepStrictEqual(
      error(["--rps", "5", "--rate-limit-burst", "3"]),
      Either.getLeft(
        Either.left("--rate-limit-burst is the size of a token bucket: add --rate-limit-mode token-bucket")
      )
    )
    assert.deepStrictEqual(
      error(["--rps", "5", "--rate-limit", "5/1s"]),
      Either.getLeft(Either.left("give --rps or --rate-limit, not both"))
    )
    assert.deepStrictEqual(
      error(["--long-retry-after", "5m"]),
      Either.getLeft(Either.left("--long-retry-after needs <n>=<duration>, e.g. 5=5m, got '5m'"))
    )
    assert.deepStrictEqual(
      error(["--rate-limit", "10/soon"]),
      Either.getLeft(Either.left("--rate-limit needs <requests>/<window>, e.g. 60/60000 or 3000/1m, got '10/soon'"))
    )
    assert.deepStrictEqual(
      error(["--daily-limit", "1.5"]),
      Either.getLeft(Either.left("--daily-limit needs a whole number"))
    )
  })

  it("the usage names every rate-limit flag", () => {
    for (
      const flag of [
        "--rps",
        "--rate-limit ",
        "--rate-limit-mode",
        "--rate-limit-burst",
        "--no-rate-limit-headers",
        "--daily-limit",
        "--long-retry-after"
      ]
    ) assert.include(Flags.usage, flag)
  })
})
