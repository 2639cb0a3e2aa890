/**
 * One rate-limit governor per client, shared by every fiber that uses it, so that a burst of
 * requests meets the server's limit once instead of as one 429 storm per request.
 *
 * It admits each request when all of these allow it:
 * - the gate: closed after a 429 for the server's wait, so every fiber waits once;
 * - the server's budget: `x-ratelimit-remaining-requests` (and `-tokens`) at or under a reserve,
 *   counting the requests still in flight, holds new requests until the matching reset;
 * - the learned pace: after a 429 the governor paces requests at the rate the server was seen to
 *   allow, backs off by 15 % on each further 429 and creeps up by 10 % a second without one (AIMD),
 *   so that the requests after a gate are let go gradually;
 * - the static budget: an optional `requestsPerMinute` as a token bucket;
 * - the bound on requests in flight (a `Semaphore`).
 *
 * All time is `Clock` time, so `TestClock` drives it.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Headers from "./internal/headers.js"

/**
 * Settings of a governor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The most requests in flight at once; default 16. */
  readonly maxInFlight?: number | undefined
  /** A static budget of requests per minute, as a token bucket; default none. */
  readonly requestsPerMinute?: number | undefined
  /** How much of the server's remaining budget to leave unused; default 1 request. */
  readonly reserve?: number | undefined
  /** The wait after a 429 that names none (no `retry-after`, no reset header); default 1 second. */
  readonly defaultPause?: Duration.DurationInput | undefined
}

/**
 * Why the governor holds requests back.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = "rate-limited" | "budget-exhausted" | "paced" | "requests-per-minute" | "in-flight"

/**
 * What the governor is doing, for display: open, or waiting until a time and why.
 *
 * @since 0.1.0
 * @category models
 */
export interface State {
  /** `open` when a new request would go at once. */
  readonly status: "open" | "waiting"
  /** When requests go again (Unix milliseconds), if waiting. */
  readonly until: Option.Option<number>
  /** Why requests wait, if they do. */
  readonly reason: Option.Option<Reason>
  /** Requests in flight now. */
  readonly inFlight: number
  /** The learned pace in requests per second, once a 429 taught one. */
  readonly pace: Option.Option<number>
  /** The server's last reported remaining request budget. */
  readonly remainingRequests: Option.Option<number>
  /** Whether the server said the quota is exhausted; bulk operations stop asking then. */
  readonly quotaExhausted: boolean
  /** How many 429 answers this governor has seen. */
  readonly rateLimited: number
}

/**
 * What a response told the governor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Observation {
  readonly status: number
  readonly headers: Readonly<Record<string, string | undefined>>
  /** The answer was a 429 `insufficient_quota`. */
  readonly quotaExhausted?: boolean | undefined
}

/**
 * A governor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Governor {
  /**
   * Runs one request when the governor admits it; `observe` must be called with what its answer
   * said. The admission is given back when the effect ends, however it ends.
   */
  readonly run: <A, E, R>(
    request: (observe: (observation: Observation) => Effect.Effect<void>) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
  /** The governor's state now. */
  readonly state: Effect.Effect<State>
}

interface Internal {
  readonly inFlight: number
  readonly gateUntil: number
  readonly remaining: Option.Option<{ readonly requests: number; readonly until: number; readonly kind: Reason }>
  readonly pace: Option.Option<number>
  readonly nextSlot: number
  readonly lastDecrease: number
  readonly lastIncrease: number
  readonly tokens: number
  readonly tokensAt: number
  readonly consecutive429: number
  readonly rateLimited: number
  readonly quotaExhausted: boolean
}

type Decision =
  | { readonly _tag: "Go"; readonly at: number }
  | { readonly _tag: "Wait"; readonly until: number }

// Successes remembered to estimate the rate the server allowed before a 429.
const successWindowMillis = 60_000
const minPace = 0.2
// AIMD on the pace: down by 15 % on a 429, up by 10 % for each second without one.
const decrease = 0.85
const increase = 1.1

/**
 * Makes a governor. Its time is the `Clock` of the fiber that makes it (a client's, when its
 * layer is built), for every request it governs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Governor> =>
  Effect.gen(function*() {
    const maxInFlight = Math.max(1, Math.floor(options.maxInFlight ?? 16))
    const reserve = Math.max(0, options.reserve ?? 1)
    const defaultPause = Duration.toMillis(options.defaultPause ?? "1 second")
    const rpm = options.requestsPerMinute
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
      pace: Option.none(),
      nextSlot: 0,
      lastDecrease: 0,
      lastIncrease: now0,
      tokens: bucketSize,
      tokensAt: now0,
      consecutive429: 0,
      rateLimited: 0,
      quotaExhausted: false
    }

    // The bound on requests in flight.
    const permits = yield* Effect.makeSemaphore(maxInFlight)

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
      if (now < s.gateUntil) return [{ _tag: "Wait", until: s.gateUntil }, s]
      if (Option.isSome(s.remaining)) {
        const budget = s.remaining.value
        if (now < budget.until && budget.requests - s.inFlight <= reserve) {
          return [{ _tag: "Wait", until: budget.until }, s]
        }
      }
      let at = now
      let next: Internal = {
        ...s,
        inFlight: s.inFlight + 1,
        remaining: Option.filter(s.remaining, (b) => now < b.until)
      }
      if (Option.isSome(s.pace)) {
        at = Math.max(at, s.nextSlot)
        next = { ...next, nextSlot: at + 1000 / s.pace.value }
      }
      if (rpm !== undefined) {
        const tokens = Math.min(bucketSize, s.tokens + ((now - s.tokensAt) * rpm) / 60_000) - 1
        if (tokens < 0) {
          at = Math.max(at, now + (-tokens * 60_000) / rpm)
        }
        next = { ...next, tokens, tokensAt: now }
      }
      return [{ _tag: "Go", at }, next]
    }

    const release = Effect.sync(() => {
      state = { ...state, inFlight: state.inFlight - 1 }
    })

    const sleepUntil = (until: number, now: number) => clock.sleep(Duration.millis(Math.max(1, until - now)))

    // Taking an admission is atomic with the decision; only the waits are interruptible, and an
    // admission interrupted while it waits for its slot is given back, so none is ever leaked.
    const admit = (
      restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
    ): Effect.Effect<number> =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const [decision, next] = decide(state, now)
        state = next
        if (decision._tag === "Wait") {
          return Effect.zipRight(restore(sleepUntil(decision.until, now)), admit(restore))
        }
        if (decision.at <= now) return Effect.succeed(now)
        return restore(sleepUntil(decision.at, now)).pipe(
          Effect.onInterrupt(() => release),
          // A 429 that closed the gate while this request waited for its slot: decide again.
          Effect.flatMap(() => {
            const later = clock.unsafeCurrentTimeMillis()
            return later < state.gateUntil ? Effect.zipRight(release, admit(restore)) : Effect.succeed(later)
          })
        )
      })

    // What an answer tells: the server's budget and resets, a 429's wait and the pace it teaches.
    const observed = (s: Internal, now: number, admittedAt: number, observation: Observation): Internal => {
      const { headers, status } = observation
      let next: Internal = s
      const remainingRequests = Headers.parseNumber(headers["x-ratelimit-remaining-requests"])
      const remainingTokens = Headers.parseNumber(headers["x-ratelimit-remaining-tokens"])
      const resetRequests = Headers.resetMillis(headers, "x-ratelimit-reset-requests")
      const resetTokens = Headers.resetMillis(headers, "x-ratelimit-reset-tokens")
      if (Option.isSome(remainingRequests) && Option.isSome(resetRequests)) {
        next = {
          ...next,
          remaining: Option.some({
            requests: remainingRequests.value,
            until: now + resetRequests.value,
            kind: "budget-exhausted"
          })
        }
      }
      if (
        Option.isSome(remainingTokens) && Option.isSome(resetTokens) && remainingTokens.value <= 0
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
        // the same storm.
        if (admittedAt >= next.lastDecrease) {
          const window = Math.max(pause, 1000)
          const recent = successesSince(now - window)
          const pace = Option.match(next.pace, {
            // With nothing to learn from, start at one request a second.
            onNone: () => recent === 0 ? 1 : Math.max(minPace, (recent * 1000 * 0.95) / window),
            onSome: (pace) => Math.max(minPace, pace * decrease)
          })
          next = { ...next, pace: Option.some(pace), lastDecrease: now, lastIncrease: now }
        }
        return next
      }
      if (status >= 200 && status < 300) {
        recordSuccess(now)
        next = { ...next, consecutive429: 0 }
        if (Option.isSome(next.pace) && now - next.lastIncrease >= 1000) {
          next = { ...next, pace: Option.some(next.pace.value * increase), lastIncrease: now }
        }
      }
      return next
    }

    const observe = (admittedAt: number, observation: Observation): Effect.Effect<void> =>
      Effect.sync(() => {
        state = observed(state, clock.unsafeCurrentTimeMillis(), admittedAt, observation)
      })

    // Taking an admission is atomic with its decision; only the waits and the request are
    // interruptible, and what was taken is given back however the request ends.
    const run: Governor["run"] = (request) =>
      permits.withPermits(1)(Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          admit(restore),
          (admittedAt) =>
            restore(request((observation) => observe(admittedAt, observation))).pipe(Effect.ensuring(release))
        )
      ))

    const current: Effect.Effect<State> = Effect.sync((): State => {
      const now = clock.unsafeCurrentTimeMillis()
      const s = state
      const [decision] = decide(s, now)
      const until = decision._tag === "Wait" ? decision.until : decision.at
      const reason: Option.Option<Reason> = until > now
        ? Option.some(
          now < s.gateUntil
            ? "rate-limited"
            : decision._tag === "Wait"
            ? "budget-exhausted"
            : Option.isSome(s.pace) && s.nextSlot > now
            ? "paced"
            : "requests-per-minute"
        )
        : s.inFlight >= maxInFlight
        ? Option.some("in-flight")
        : Option.none()
      return {
        status: Option.isNone(reason) ? "open" : "waiting",
        until: until > now ? Option.some(until) : Option.none(),
        reason,
        inFlight: s.inFlight,
        pace: s.pace,
        remainingRequests: Option.map(s.remaining, (b) => b.requests),
        quotaExhausted: s.quotaExhausted,
        rateLimited: s.rateLimited
      }
    })

    return { run, state: current }
  })
