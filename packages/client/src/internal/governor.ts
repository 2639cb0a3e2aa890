/**
 * The governor's engine: what it admits when, from what answers said (the rules are in the module
 * comment of `Governor.ts`). One per client, made by the transport.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import type { Options, Reason, State } from "../Governor.js"
import * as Headers from "./headers.js"

/** A hold longer than `serverWaitCap`: until when and why. */
export interface Held {
  /** When requests go again (Unix milliseconds). */
  readonly until: number
  /** How long from now. */
  readonly retryAfter: Duration.Duration
  readonly reason: Reason
}

/** What a response told the governor. */
export interface Observation {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The answer was a 429 `insufficient_quota`. */
  readonly quotaExhausted?: boolean | undefined
}

/** A governor. */
export interface Governor {
  /**
   * Runs one request when the governor admits it; `observe` must be called with what its answer
   * said. The admission is given back when the effect ends, however it ends. With `onHeld`, a hold
   * longer than `serverWaitCap` fails with the error it builds instead of waiting.
   */
  readonly run: <A, E, R, E2 = never>(
    request: (observe: (observation: Observation) => Effect.Effect<void>) => Effect.Effect<A, E, R>,
    onHeld?: ((held: Held) => E2) | undefined
  ) => Effect.Effect<A, E | E2, R>
  /** The governor's state now. */
  readonly state: Effect.Effect<State>
}

interface Internal {
  readonly inFlight: number
  readonly gateUntil: number
  readonly remaining: Option.Option<{ readonly requests: number; readonly until: number }>
  /** The pace learned from 429s. */
  readonly learned: Option.Option<number>
  /** The pace from `x-ratelimit-limit-requests`. */
  readonly headerPace: Option.Option<number>
  readonly limitRequests: Option.Option<number>
  /** The pace from `x-ratelimit-limit-tokens` and the tokens a request was seen to cost. */
  readonly tokenPace: Option.Option<number>
  readonly tokenCost: Option.Option<number>
  readonly lastRemainingTokens: Option.Option<number>
  readonly nextSlot: number
  /** Changed when the pace is cut, so that slots reserved at the old pace are taken again. */
  readonly epoch: number
  /** Requests started so far; each request's number tells which storm its answer belongs to. */
  readonly admissions: number
  /** The requests started when the learned pace was last cut. */
  readonly lastDecrease: number
  /** Successes before anything was known of the limit, which speed up the start pace. */
  readonly startSuccesses: number
  readonly tokens: number
  readonly tokensAt: number
  readonly consecutive429: number
  readonly rateLimited: number
  readonly quotaExhausted: boolean
}

type Decision =
  | { readonly _tag: "Go"; readonly at: number; readonly reason: Reason }
  | { readonly _tag: "Wait"; readonly until: number; readonly reason: Reason; readonly onRelease?: boolean }

// Successes remembered to estimate the rate the server allowed before a 429.
const successWindowMillis = 60_000
const minPace = 0.2
// The successes in a 429's window needed before it teaches a pace.
const minEvidence = 3
// The successes over which the start pace doubles: slow enough that requests in flight when the
// first limit is met stay few on a real network.
const startDoubling = 16
// AIMD on the learned pace: a cut on each storm, a small rise on each success, so that a cycle
// between two storms is long enough in requests for the 429s to be a small share.
const decrease = 0.9
const increasePerSuccess = 1.0005
// A hair of slack on every spacing so that rounding never puts one start too many into a window.
const slack = 1 + 1e-6

// How late a timer may fire before the process counts as having been busy.
const lateMillis = 2

// One turn of the event loop: I/O that arrived while the process was busy is handled first.
const yieldToEventLoop: Effect.Effect<void> = Effect.async<void>((resume) => {
  const timer = setTimeout(() => resume(Effect.void), 0)
  return Effect.sync(() => clearTimeout(timer))
})

const minOption = (a: Option.Option<number>, b: Option.Option<number>): Option.Option<number> =>
  Option.isNone(a) ? b : Option.isNone(b) ? a : Option.some(Math.min(a.value, b.value))

/**
 * The most starts in one second at `pace`: a server stating its limit per minute allows its whole
 * share of a second and no fraction more, so a stated pace rounds down; a learned pace is only an
 * estimate under the rate, so it rounds up (a second over it costs one 429, which cuts it).
 */
const quantumOf = (s: Internal, pace: number): number => {
  const stated = minOption(s.headerPace, s.tokenPace)
  return Math.max(1, Option.isSome(stated) && stated.value <= pace ? Math.floor(pace) : Math.ceil(pace))
}

/** The pace in force: the smallest of the header, token and learned paces. */
const paceOf = (s: Internal): Option.Option<number> => minOption(minOption(s.headerPace, s.tokenPace), s.learned)

/**
 * Makes a governor. Its time is the `Clock` of the fiber that makes it (a client's, when its
 * layer is built), for every request it governs.
 */
export const make = (options: Options = {}): Effect.Effect<Governor> =>
  Effect.gen(function*() {
    const maxInFlight = Math.max(1, Math.floor(options.maxInFlight ?? 16))
    const reserve = Math.max(0, options.reserve ?? 1)
    const defaultPause = Duration.toMillis(options.defaultPause ?? "1 second")
    const waitCap = Duration.toMillis(options.serverWaitCap ?? "60 seconds")
    const failLong = options.longWaits !== "wait"
    const rpm = options.requestsPerMinute
    const startPace = options.startPace ?? 100
    const bucketSize = rpm === undefined ? 0 : Math.max(1, rpm / 60)
    // The governor's time is the clock of the fiber that made it (`TestClock` in tests), read
    // synchronously so that deciding, observing and releasing are one atomic step each.
    const clock = yield* Effect.clock
    const now0 = clock.unsafeCurrentTimeMillis()
    // The state is a variable changed only inside synchronous steps, so each change is atomic.
    let state: Internal = {
      inFlight: 0,
      gateUntil: 0,
      remaining: Option.none(),
      learned: Option.none(),
      headerPace: Option.none(),
      limitRequests: Option.none(),
      tokenPace: Option.none(),
      tokenCost: Option.none(),
      lastRemainingTokens: Option.none(),
      nextSlot: 0,
      epoch: 0,
      admissions: 0,
      lastDecrease: 0,
      startSuccesses: 0,
      tokens: bucketSize,
      tokensAt: now0,
      consecutive429: 0,
      rateLimited: 0,
      quotaExhausted: false
    }

    // The bound on requests in flight.
    const permits = yield* Effect.makeSemaphore(maxInFlight)

    // Completed (and replaced) when a hold longer than the cap begins, so that requests already
    // waiting for a shorter one wake up and fail at once instead of running into it.
    let longHold = Deferred.unsafeMake<void>(FiberId.none)

    // The times of the last minute's successes, oldest first, kept outside the immutable state so a
    // success costs an append rather than a copy of the whole window.
    const successes: Array<number> = []
    let oldest = 0
    const recordSuccess = (now: number): void => {
      successes.push(now)
      while (oldest < successes.length && successes[oldest]! < now - successWindowMillis) oldest++
      if (oldest > 1024 && oldest * 2 > successes.length) {
        successes.splice(0, oldest)
        oldest = 0
      }
    }
    // The start times of the last second, oldest first: after a stall the requests whose slots
    // passed would all go at once, so each start also waits until the pace's one-second quantum
    // has room, and no second ever holds more than it (a quantized limit counts exactly that).
    const starts: Array<number> = []
    let firstStart = 0
    const recordStart = (now: number): void => {
      starts.push(now)
      while (firstStart < starts.length && starts[firstStart]! <= now - 1000) firstStart++
      if (firstStart > 1024 && firstStart * 2 > starts.length) {
        starts.splice(0, firstStart)
        firstStart = 0
      }
    }
    /** When the quantum next has room: a second after the start a quantum back, or now. */
    const quantumEdge = (quantum: number, now: number): number => {
      const back = starts.length - quantum
      if (back < firstStart) return now
      const edge = starts[back]! + 1000
      return edge > now ? edge : now
    }

    const successesSince = (time: number): number => {
      let count = 0
      for (let i = successes.length - 1; i >= oldest && successes[i]! > time; i--) count++
      return count
    }

    /**
     * Decides in one atomic step: wait for the gate or the server's budget and decide again, or take
     * an admission now with a reserved start time (the next pace slot, the next rpm token), so each
     * fiber sleeps once for its slot instead of the waiters waking in a herd at every slot.
     */
    const decide = (s: Internal, now: number): [Decision, Internal] => {
      if (now < s.gateUntil) return [{ _tag: "Wait", until: s.gateUntil, reason: "rate-limited" }, s]
      if (Option.isSome(s.remaining)) {
        const budget = s.remaining.value
        if (now < budget.until && budget.requests - s.inFlight <= reserve) {
          return [{ _tag: "Wait", until: budget.until, reason: "budget-exhausted" }, s]
        }
      }
      let at = now
      let reason: Reason = "paced"
      let next: Internal = {
        ...s,
        inFlight: s.inFlight + 1,
        remaining: Option.filter(s.remaining, (b) => now < b.until)
      }
      const pace = paceOf(s)
      if (Option.isSome(pace)) {
        at = Math.max(at, s.nextSlot, quantumEdge(quantumOf(s, pace.value), now))
        next = { ...next, nextSlot: at + (1000 / pace.value) * slack }
      } else if (Number.isFinite(startPace) && startPace > 0) {
        // Nothing known yet: a request that would overlap others before the start pace allows it
        // waits for one of them to end, so that the first 429 is seen before a storm is sent.
        if (s.inFlight > 0 && now < s.nextSlot) {
          return [{ _tag: "Wait", until: s.nextSlot, reason: "paced", onRelease: true }, s]
        }
        // It doubles every sixteen successes, but never beyond twice the successes of the last
        // second: on a fast network sixteen successes take milliseconds, and a pace far above the
        // rate sends a storm of requests in flight into the first full window.
        const grown = startPace * 2 ** (s.startSuccesses / startDoubling)
        const pace = Math.min(grown, Math.max(startPace, 2 * successesSince(now - 1000)))
        next = { ...next, nextSlot: now + 1000 / pace }
      }
      if (rpm !== undefined) {
        const tokens = Math.min(bucketSize, s.tokens + ((now - s.tokensAt) * rpm) / 60_000) - 1
        if (tokens < 0 && now + (-tokens * 60_000) / rpm > at) {
          at = now + (-tokens * 60_000) / rpm
          reason = "requests-per-minute"
        }
        next = { ...next, tokens, tokensAt: now }
      }
      return [{ _tag: "Go", at, reason }, next]
    }

    // A timer that fires late means the process was busy: answers that came meanwhile (a 429
    // among them) wait in the event loop behind the timers that just fired, so a request woken
    // late lets them be read before it decides, rather than going out on stale news.
    const sleepUntil = (until: number, now: number) =>
      Effect.zipRight(
        clock.sleep(Duration.millis(Math.max(1, until - now))),
        Effect.suspend(() => clock.unsafeCurrentTimeMillis() - until > lateMillis ? yieldToEventLoop : Effect.void)
      )

    // The requests waiting for a request to end or the start pace's next slot, first come first:
    // each end and each slot wakes one of them, so that a wake-up costs one decision, not one per
    // waiter.
    const waiters: Array<Deferred.Deferred<void>> = []
    const wakeOne = (): void => {
      const next = waiters.shift()
      if (next !== undefined) Deferred.unsafeDone(next, Exit.void)
    }
    // The time of the one timer that wakes a waiter at the next slot, if one is pending.
    let wakeAt = Number.POSITIVE_INFINITY
    const wakeOneAt = (until: number, now: number): Effect.Effect<void> => {
      if (until >= wakeAt) return Effect.void
      wakeAt = until
      return Effect.asVoid(Effect.forkDaemon(Effect.zipRight(
        sleepUntil(until, now),
        Effect.sync(() => {
          if (wakeAt === until) wakeAt = Number.POSITIVE_INFINITY
          wakeOne()
        })
      )))
    }

    const release = Effect.sync(() => {
      state = { ...state, inFlight: state.inFlight - 1 }
      wakeOne()
    })

    // Waits in line until a request ends or the time `until` comes; a request woken before that
    // waits again at the front. Interrupted after being woken, it hands the wake-up on.
    const awaitTurn = (until: number, now: number, front: boolean): Effect.Effect<void> =>
      Effect.suspend(() => {
        const turn = Deferred.unsafeMake<void>(FiberId.none)
        if (front) waiters.unshift(turn)
        else waiters.push(turn)
        return Effect.zipRight(wakeOneAt(until, now), Deferred.await(turn)).pipe(
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              const at = waiters.indexOf(turn)
              if (at >= 0) waiters.splice(at, 1)
              else wakeOne()
            })
          )
        )
      })

    // After a request is admitted, the next in line may go too: at once when a pace reserves
    // slots, else when the start pace's next slot comes.
    const passTurn = (now: number): Effect.Effect<void> =>
      waiters.length === 0
        ? Effect.void
        : Option.isSome(paceOf(state))
        ? Effect.sync(wakeOne)
        : wakeOneAt(state.nextSlot, now)

    // A wait that ends early (with `true`) when a hold longer than the cap begins.
    const waitUntil = (until: number, now: number): Effect.Effect<boolean> =>
      failLong
        ? Effect.raceFirst(Effect.as(sleepUntil(until, now), false), Effect.as(Deferred.await(longHold), true))
        : Effect.as(sleepUntil(until, now), false)

    const heldOf = (until: number, now: number, reason: Reason): Held => ({
      until,
      retryAfter: Duration.millis(until - now),
      reason
    })

    // The hold a request would meet now, if it is longer than the cap.
    const longHoldNow = (now: number): Held | undefined => {
      if (!failLong) return undefined
      const [decision] = decide(state, now)
      const until = decision._tag === "Wait" ? decision.until : decision.at
      return until - now > waitCap ? heldOf(until, now, decision.reason) : undefined
    }

    // Numbers a request as it starts, after any wait for its slot.
    const start = (): number => {
      recordStart(clock.unsafeCurrentTimeMillis())
      state = { ...state, admissions: state.admissions + 1 }
      return state.admissions
    }

    // Taking an admission is atomic with the decision; only the waits are interruptible, and an
    // admission interrupted while it waits for its slot is given back, so none is ever leaked.
    const admit = <E2>(
      restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
      onHeld: ((held: Held) => E2) | undefined,
      woken = false
    ): Effect.Effect<number, E2> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        if (onHeld !== undefined) {
          const held = longHoldNow(now)
          if (held !== undefined) {
            // Woken in line, it hands the wake-up on, so the next one fails at once too.
            if (woken) wakeOne()
            return Effect.fail(onHeld(held))
          }
        }
        const [decision, next] = decide(state, now)
        state = next
        if (decision._tag === "Wait") {
          // A wait for a request to end also ends at the start pace's next slot: on a slow network
          // the requests in flight may not end for long, and the pace alone allows the next one then.
          return decision.onRelease === true
            ? Effect.zipRight(restore(awaitTurn(decision.until, now, woken)), admit(restore, onHeld, true))
            : Effect.zipRight(restore(waitUntil(decision.until, now)), admit(restore, onHeld, woken))
        }
        const pass = woken ? passTurn(now) : Effect.void
        if (decision.at <= now) return Effect.zipRight(pass, Effect.sync(start))
        const epoch = state.epoch
        return Effect.zipRight(pass, restore(waitUntil(decision.at, now))).pipe(
          Effect.onInterrupt(() => release),
          // A 429 that closed the gate while this request waited for its slot, or a second already
          // full of starts (the process was busy and woke late): decide again.
          Effect.flatMap((woken) => {
            const later = clock.unsafeCurrentTimeMillis()
            const pace = paceOf(state)
            return woken || later < state.gateUntil || epoch !== state.epoch ||
                (Option.isSome(pace) && quantumEdge(quantumOf(state, pace.value), later) > later)
              ? Effect.zipRight(release, admit(restore, onHeld))
              : Effect.sync(start)
          })
        )
      })

    // What the token headers tell: the tokens a request costs (from the fall of the remaining
    // budget between answers) and so the pace the token limit allows.
    const observeTokens = (s: Internal, headers: Observation["headers"]): Internal => {
      const limit = Headers.parseNumber(headers["x-ratelimit-limit-tokens"])
      const remaining = Headers.parseNumber(headers["x-ratelimit-remaining-tokens"])
      if (Option.isNone(remaining)) return s
      let cost = s.tokenCost
      if (Option.isSome(s.lastRemainingTokens) && s.lastRemainingTokens.value > remaining.value) {
        const sample = s.lastRemainingTokens.value - remaining.value
        cost = Option.some(Option.match(cost, { onNone: () => sample, onSome: (c) => c * 0.8 + sample * 0.2 }))
      }
      const tokenPace = Option.isSome(limit) && Option.isSome(cost) && limit.value > 0
        ? Option.some(Math.max(minPace, limit.value / 60 / cost.value))
        : s.tokenPace
      return { ...s, tokenCost: cost, tokenPace, lastRemainingTokens: remaining }
    }

    // What an answer tells: the server's budget, limits and resets, a 429's wait and the pace.
    const observed = (s: Internal, now: number, admission: number, observation: Observation): Internal => {
      const { headers, status } = observation
      let next: Internal = observeTokens(s, headers)
      const limitRequests = Headers.parseNumber(headers["x-ratelimit-limit-requests"])
      if (Option.isSome(limitRequests) && limitRequests.value > 0) {
        next = {
          ...next,
          limitRequests,
          headerPace: Option.some(limitRequests.value / 60)
        }
      }
      const remainingRequests = Headers.parseNumber(headers["x-ratelimit-remaining-requests"])
      const remainingTokens = Headers.parseNumber(headers["x-ratelimit-remaining-tokens"])
      const resetRequests = Headers.resetMillis(headers, "x-ratelimit-reset-requests")
      const resetTokens = Headers.resetMillis(headers, "x-ratelimit-reset-tokens")
      if (Option.isSome(remainingRequests) && Option.isSome(resetRequests)) {
        next = {
          ...next,
          remaining: Option.some({ requests: remainingRequests.value, until: now + resetRequests.value })
        }
      }
      if (
        Option.isSome(remainingTokens) && Option.isSome(resetTokens) &&
        remainingTokens.value < Option.getOrElse(next.tokenCost, () => 1)
      ) {
        next = { ...next, gateUntil: Math.max(next.gateUntil, now + resetTokens.value) }
      }
      if (observation.quotaExhausted === true) return { ...next, quotaExhausted: true }
      if (status === 429) {
        const pause = Option.getOrElse(
          Option.orElse(Option.map(Headers.serverWait(headers, now), Duration.toMillis), () => resetRequests),
          () => defaultPause * 2 ** Math.min(next.consecutive429, 5)
        )
        next = {
          ...next,
          gateUntil: Math.max(next.gateUntil, now + pause),
          consecutive429: next.consecutive429 + 1,
          rateLimited: next.rateLimited + 1
        }
        // One decrease per storm: answers to requests admitted before the last decrease are
        // the same storm. A wait beyond the cap says nothing about the rate.
        const window = Math.max(pause, 1000)
        const recent = successesSince(now - window)
        // A 429 after too few successes to show a rate (a penalty, a one-off) only closes the gate.
        const evidence = Option.isSome(next.learned) || recent >= minEvidence
        if (admission > next.lastDecrease && pause <= waitCap && evidence) {
          const learned = Option.match(next.learned, {
            // The first storm: the server just allowed the successes of the last window.
            onNone: () => Math.max(minPace, (recent * 1000 * decrease) / window),
            // A later storm: a cut, and no more than the last window's successes allowed either.
            onSome: (pace) =>
              Math.max(
                minPace,
                Math.min(
                  Math.min(pace, Option.getOrElse(paceOf(next), () => pace)) * decrease,
                  recent === 0 ? Number.POSITIVE_INFINITY : (recent * 1000 * decrease) / window
                )
              )
          })
          next = {
            ...next,
            learned: Option.some(learned),
            lastDecrease: next.admissions,
            epoch: next.epoch + 1,
            nextSlot: Math.min(next.nextSlot, next.gateUntil)
          }
        }
        return next
      }
      if (status >= 200 && status < 300) {
        recordSuccess(now)
        // A success means the quota is there again (topped up, or a new billing period).
        next = { ...next, consecutive429: 0, startSuccesses: next.startSuccesses + 1, quotaExhausted: false }
        if (Option.isSome(next.learned)) {
          next = { ...next, learned: Option.some(next.learned.value * increasePerSuccess) }
        }
      }
      return next
    }

    const observe = (admission: number, observation: Observation): Effect.Effect<void> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const wasLong = state.gateUntil - now > waitCap
        state = observed(state, now, admission, observation)
        if (!wasLong && longHoldNow(now) !== undefined) {
          const woken = longHold
          longHold = Deferred.unsafeMake<void>(FiberId.none)
          // Those waiting in line for an end wake up to meet the long hold too.
          while (waiters.length > 0) wakeOne()
          return Deferred.succeed(woken, undefined)
        }
        return Effect.void
      })

    // Taking an admission is atomic with its decision; only the waits and the request are
    // interruptible, and what was taken is given back however the request ends.
    const run: Governor["run"] = (request, onHeld) =>
      permits.withPermits(1)(Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          admit(restore, onHeld),
          (admission) =>
            restore(request((observation) => observe(admission, observation))).pipe(Effect.ensuring(release))
        )
      ))

    const current: Effect.Effect<State> = Effect.sync((): State => {
      const now = clock.unsafeCurrentTimeMillis()
      const s = state
      const [decision] = decide(s, now)
      const until = decision._tag === "Wait" ? decision.until : decision.at
      const reason: Option.Option<Reason> = until > now
        ? Option.some(decision.reason)
        : s.inFlight >= maxInFlight
        ? Option.some("in-flight")
        : Option.none()
      return {
        status: Option.isNone(reason) ? "open" : "waiting",
        until: until > now ? Option.some(until) : Option.none(),
        reason,
        refusing: failLong && until - now > waitCap,
        inFlight: s.inFlight,
        pace: paceOf(s),
        limitRequests: s.limitRequests,
        remainingRequests: Option.map(s.remaining, (b) => b.requests),
        quotaExhausted: s.quotaExhausted,
        rateLimited: s.rateLimited
      }
    })

    return { run, state: current }
  })
