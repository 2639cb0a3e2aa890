import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Fiber, Option, Ref, TestClock } from "effect"
import * as Governor from "../src/internal/governor.js"

// The governor on its own, under TestClock: what it admits when, given what answers said.
// (Its behaviour against the emulator's real rate limit is in the bulk-operation tests.)

/** Runs one request through the governor that answers with `observation`, recording its start time. */
const request = (
  governor: Governor.Governor,
  starts: Ref.Ref<Array<number>>,
  observation: Governor.Observation = { status: 200, headers: {} }
) =>
  governor.run((observe) =>
    Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => Effect.zipRight(Ref.update(starts, (s) => [...s, now]), observe(observation))
    )
  )

describe("Governor", () => {
  it.effect("after a 429 with retry-after-ms every fiber waits once for the gate", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 8 })
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, { status: 429, headers: { "retry-after-ms": "5000" } })
      const state = yield* governor.state
      assert.strictEqual(state.status, "waiting")
      assert.deepStrictEqual(state.reason, Option.some("rate-limited"))
      assert.deepStrictEqual(state.until, Option.some(5000))
      const fibers = yield* Effect.forEach(Array.from({ length: 4 }), () => Effect.fork(request(governor, starts)))
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual((yield* Ref.get(starts)).length, 1)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.joinAll(fibers)
      const later = (yield* Ref.get(starts)).slice(1)
      assert.strictEqual(later.length, 4)
      assert.isTrue(later.every((t) => t >= 5000))
      assert.strictEqual((yield* governor.state).rateLimited, 1)
    }))

  it.effect("paces the requests after a gate instead of letting them all go at once", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 32 })
      const starts = yield* Ref.make<Array<number>>([])
      // 10 successes in the last second, then a 429 asking for one second: about 9 per second.
      yield* Effect.forEach(Array.from({ length: 10 }), () => request(governor, starts))
      yield* request(governor, starts, { status: 429, headers: { "retry-after": "1" } })
      const fibers = yield* Effect.forEach(Array.from({ length: 9 }), () => Effect.fork(request(governor, starts)))
      yield* TestClock.adjust("30 seconds")
      yield* Fiber.joinAll(fibers)
      const after = (yield* Ref.get(starts)).slice(11)
      assert.strictEqual(after[0], 1000)
      const gaps = after.slice(1).map((t, i) => t - after[i]!)
      assert.isTrue(gaps.every((gap) => gap >= 90), `gaps ${gaps}`)
      assert.isTrue(Option.isSome((yield* governor.state).pace))
    }))

  it.effect("holds new requests while the server's remaining budget is at the reserve, until the reset", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ reserve: 1 })
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, {
        status: 200,
        headers: { "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "6m0s" }
      })
      assert.deepStrictEqual((yield* governor.state).reason, Option.some("budget-exhausted"))
      const fiber = yield* Effect.fork(request(governor, starts))
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* Ref.get(starts)).length, 1)
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 360_000])
    }))

  it.effect("an unparseable reset header is ignored, not read as zero or forever", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ reserve: 1 })
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, {
        status: 200,
        headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "soon" }
      })
      yield* request(governor, starts)
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 0])
    }))

  it.effect("applies a static requests-per-minute budget as a token bucket", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ requestsPerMinute: 120 })
      const starts = yield* Ref.make<Array<number>>([])
      const fiber = yield* Effect.fork(Effect.forEach(Array.from({ length: 5 }), () => request(governor, starts)))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 0, 500, 1000, 1500])
    }))

  it.effect("before the server says anything, slow requests overlap at the start pace, not one at a time", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 16, startPace: 100 })
      const starts = yield* Ref.make<Array<number>>([])
      // Each request takes 200 ms, as over a slow network; nothing is known of the limit yet.
      const slow = governor.run((observe) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* Ref.update(starts, (s) => [...s, now])
          yield* Effect.sleep("200 millis")
          yield* observe({ status: 200, headers: {} })
        })
      )
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 8 }, () => slow), { concurrency: "unbounded" }))
      yield* TestClock.adjust("100 millis")
      // 100 a second: one every 10 ms, while the first is still in flight.
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 10, 20, 30, 40, 50, 60, 70])
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      assert.strictEqual((yield* governor.state).inFlight, 0)
    }))

  it.effect("before the server says anything, the start pace grows with the successes of the last second", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 32, startPace: 100 })
      const starts: Array<number> = []
      // Requests of 50 ms: 16 successes come in a fraction of a second.
      const one = governor.run((observe) =>
        Effect.gen(function*() {
          starts.push(yield* Clock.currentTimeMillis)
          yield* Effect.sleep("50 millis")
          yield* observe({ status: 200, headers: {} })
        })
      )
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 400 }, () => one), { concurrency: 32 }))
      yield* TestClock.adjust("1 second")
      const first = starts.length
      yield* TestClock.adjust("1 second")
      const second = starts.length - first
      yield* Fiber.interrupt(fiber)
      // Doubling every 16 successes alone would be at the bound of 32 in flight (640 a second) by now.
      assert.isAtMost(first, 200, `${first} in the first second`)
      assert.isAbove(second, first, `${second} in the second second`)
    }))

  it.effect("bounds the requests in flight", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 3, startPace: Infinity })
      const gate = yield* Deferred.make<void>()
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const one = governor.run((observe) =>
        Effect.gen(function*() {
          const now = yield* Ref.updateAndGet(running, (n) => n + 1)
          yield* Ref.update(peak, (p) => Math.max(p, now))
          yield* Deferred.await(gate)
          yield* observe({ status: 200, headers: {} })
          yield* Ref.update(running, (n) => n - 1)
        })
      )
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 10 }, () => one), { concurrency: "unbounded" }))
      yield* Effect.yieldNow().pipe(Effect.repeatN(50))
      assert.strictEqual((yield* governor.state).inFlight, 3)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* Ref.get(peak), 3)
      assert.strictEqual((yield* governor.state).inFlight, 0)
    }))

  it.effect("never has more than maxInFlight requests running, and runs every waiter", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 2, startPace: Infinity })
      let running = 0
      let most = 0
      const done: Array<number> = []
      const request = (n: number) =>
        governor.run((observe) =>
          Effect.gen(function*() {
            running++
            most = Math.max(most, running)
            yield* Effect.sleep("1 second")
            running--
            done.push(n)
            yield* observe({ status: 200, headers: {} })
          })
        )
      const all = yield* Effect.fork(Effect.forEach([1, 2, 3, 4, 5], request, { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(done.length, 2)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(all)
      assert.strictEqual(most, 2)
      assert.deepStrictEqual([...done].sort(), [1, 2, 3, 4, 5])
      assert.strictEqual((yield* governor.state).inFlight, 0)
    }))

  it.effect("an interrupted wait for a place leaves none taken", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 1 })
      const release = yield* Deferred.make<void>()
      const starts = yield* Ref.make<Array<number>>([])
      const holder = yield* Effect.fork(governor.run(() => Deferred.await(release)))
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      const waiting = yield* Effect.fork(request(governor, starts))
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      yield* Fiber.interrupt(waiting)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* request(governor, starts)
      assert.strictEqual((yield* Ref.get(starts)).length, 1)
      assert.strictEqual((yield* governor.state).inFlight, 0)
    }))

  it.effect("an interrupted wait leaves no admission taken", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 2 })
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, { status: 429, headers: { "retry-after": "60" } })
      const waiting = yield* Effect.fork(request(governor, starts))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(waiting)
      assert.strictEqual((yield* governor.state).inFlight, 0)
      yield* TestClock.adjust("60 seconds")
      yield* request(governor, starts)
      assert.strictEqual((yield* Ref.get(starts)).length, 2)
    }))

  it.effect("remembers an exhausted quota", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make()
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, { status: 429, headers: {}, quotaExhausted: true })
      const state = yield* governor.state
      assert.isTrue(state.quotaExhausted)
      assert.strictEqual(state.status, "open")
      yield* request(governor, starts, { status: 404, headers: {} })
      assert.isTrue((yield* governor.state).quotaExhausted, "an answer that is not a success says nothing of the quota")
    }))

  it.effect("a success after an exhausted quota clears it", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make()
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, { status: 429, headers: {}, quotaExhausted: true })
      yield* request(governor, starts)
      const state = yield* governor.state
      assert.isFalse(state.quotaExhausted)
      assert.strictEqual(state.rateLimited, 0, "insufficient_quota is not a rate limit")
      assert.deepStrictEqual(yield* Ref.get(starts), [0, 0])
    }))
  it.effect("paces evenly at limit/60 per second from x-ratelimit-limit-requests, with no burst", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 32 })
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, { status: 200, headers: { "x-ratelimit-limit-requests": "600" } })
      assert.deepStrictEqual((yield* governor.state).pace, Option.some(10))
      const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.fork(request(governor, starts)))
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.joinAll(fibers)
      const later = (yield* Ref.get(starts)).slice(1)
      assert.strictEqual(later.length, 20)
      const gaps = later.slice(1).map((t, i) => t - later[i]!)
      assert.isTrue(gaps.every((gap) => gap >= 100), `gaps ${gaps}`)
      // Never more than the per-second quantum in any one second.
      for (const t of later) assert.isAtMost(later.filter((u) => u >= t && u < t + 1000).length, 10)
    }))

  it.live(
    "after the process stalls, the requests whose slots passed never put more than the quantum into a second",
    () =>
      Effect.gen(function*() {
        // 6,000 a minute: 100 a second. Real time, because what is tested is timers firing late.
        const limit = { status: 200, headers: { "x-ratelimit-limit-requests": "6000" } }
        const governor = yield* Governor.make({ maxInFlight: 40 })
        const starts: Array<number> = []
        let n = 0
        const one = governor.run((observe) =>
          Effect.gen(function*() {
            starts.push(yield* Clock.currentTimeMillis)
            // The 30th request blocks the process for 300 ms, as a long GC or a busy CPU does.
            if (++n === 30) {
              const end = Date.now() + 300
              while (Date.now() < end) {
                // busy
              }
            }
            yield* observe(limit)
          })
        )
        yield* one
        yield* Effect.all(Array.from({ length: 200 }, () => one), { concurrency: 40 })
        // (A start is seen here a moment after the governor admits it: 999 ms absorbs that.)
        const busiest = Math.max(...starts.map((t) => starts.filter((u) => u >= t && u < t + 999).length))
        assert.isAtMost(busiest, 100, `starts ${starts.map((t) => t - starts[0]!).join(",")}`)
      }),
    { timeout: 20_000 }
  )

  it.effect("a hold longer than serverWaitCap fails new and waiting calls at once, and says until when", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 8, serverWaitCap: "60 seconds", startPace: Infinity })
      const starts = yield* Ref.make<Array<number>>([])
      const answer = yield* Deferred.make<Governor.Observation>()
      // A request still in flight whose answer comes later.
      const slow = yield* Effect.fork(governor.run((observe) => Effect.flatMap(Deferred.await(answer), observe)))
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      yield* request(governor, starts, { status: 429, headers: { "retry-after": "1" } })
      const held = (h: Governor.Held) => h
      const waiting = yield* Effect.fork(Effect.flip(governor.run(() => Effect.void, held)))
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      assert.isTrue(Option.isNone(yield* Fiber.poll(waiting)), "a short hold is waited through")
      yield* Deferred.succeed(answer, { status: 429, headers: { "retry-after": "300" } })
      yield* Fiber.join(slow)
      const woken = yield* Fiber.join(waiting)
      assert.strictEqual(woken.reason, "rate-limited")
      assert.strictEqual(woken.until, 300_000)
      assert.strictEqual(Duration.toMillis(woken.retryAfter), 300_000)
      const state = yield* governor.state
      assert.isTrue(state.refusing)
      assert.deepStrictEqual(state.until, Option.some(300_000))
      assert.deepStrictEqual(state.reason, Option.some("rate-limited"))
      const fresh = yield* Effect.flip(governor.run(() => Effect.void, held))
      assert.strictEqual(fresh.until, 300_000)
      assert.strictEqual((yield* governor.state).inFlight, 0)
    }))

  it.effect("requests waiting in line at the start for one to end fail at once when its answer is a long hold", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 8, serverWaitCap: "60 seconds" })
      const answer = yield* Deferred.make<Governor.Observation>()
      const first = yield* Effect.fork(governor.run((observe) => Effect.flatMap(Deferred.await(answer), observe)))
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      // Nothing is known yet: these wait in line for the first to end (or the start pace's slot).
      const held = (h: Governor.Held) => h
      const waiting = yield* Effect.forEach(
        Array.from({ length: 4 }),
        () => Effect.fork(Effect.flip(governor.run(() => Effect.void, held)))
      )
      yield* Effect.yieldNow().pipe(Effect.repeatN(10))
      assert.strictEqual((yield* governor.state).inFlight, 1)
      yield* Deferred.succeed(answer, { status: 429, headers: { "retry-after": "300" } })
      yield* Fiber.join(first)
      const failed = yield* Fiber.joinAll(waiting)
      assert.deepStrictEqual(failed.map((h) => h.until), [300_000, 300_000, 300_000, 300_000])
      assert.strictEqual((yield* governor.state).inFlight, 0)
    }))

  it.effect("with longWaits: \"wait\" a long hold is waited through", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ serverWaitCap: "60 seconds", longWaits: "wait" })
      const starts = yield* Ref.make<Array<number>>([])
      yield* request(governor, starts, { status: 429, headers: { "retry-after": "300" } })
      assert.isFalse((yield* governor.state).refusing)
      const fiber = yield* Effect.fork(governor.run(() => Effect.succeed("ran"), (h: Governor.Held) => h))
      yield* TestClock.adjust("300 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "ran")
    }))

  it.effect("without headers the learned pace falls on each storm and rises slowly with successes", () =>
    Effect.gen(function*() {
      const governor = yield* Governor.make({ maxInFlight: 8 })
      const starts = yield* Ref.make<Array<number>>([])
      yield* Effect.forEach(Array.from({ length: 50 }), () => request(governor, starts))
      yield* request(governor, starts, { status: 429, headers: { "retry-after-ms": "1000" } })
      const first = Option.getOrThrow((yield* governor.state).pace)
      assert.isTrue(first > 40 && first <= 50, `first pace ${first}`)
      const fiber = yield* Effect.fork(Effect.forEach(Array.from({ length: 100 }), () => request(governor, starts)))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(fiber)
      const risen = Option.getOrThrow((yield* governor.state).pace)
      assert.isTrue(risen > first && risen < first * 1.2, `risen pace ${risen}`)
    }))
})
