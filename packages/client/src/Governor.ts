/**
 * One rate-limit governor per client, shared by every fiber that uses it, so that a burst of
 * requests meets the server's limit once instead of as one 429 storm per request.
 *
 * It admits each request when all of these allow it:
 * - the gate: closed after a 429 for the server's wait, so every fiber waits once;
 * - the server's budget: `x-ratelimit-remaining-requests` (and `-tokens`) at or under a reserve,
 *   counting the requests still in flight, holds new requests until the matching reset;
 * - the header pace: once an answer carries `x-ratelimit-limit-requests`, requests start evenly
 *   spaced at limit/60 per second, because the API may enforce a per-minute limit over one-second
 *   windows; with `x-ratelimit-limit-tokens` the token limit gives a second pace, from the tokens
 *   a request was seen to cost;
 * - the learned pace, for servers that send no such header (see below);
 * - the static budget: an optional `requestsPerMinute` as a token bucket;
 * - the bound on requests in flight (a `Semaphore`).
 *
 * Every pace is enforced as a minimum spacing between start times, never as a bucket that fills
 * while idle, and no second ever holds more starts than the pace's one-second quantum, even when
 * the process stalls and the requests whose slots passed wake together; such a late wake-up also
 * lets the answers that came during the stall be read first, so that a 429 among them is heeded.
 *
 * Learning without headers (AIMD). Until the server says anything, a request that would overlap
 * others waits for one of them to end unless the start pace allows it (it doubles every sixteen
 * successes, but stays within twice the successes of the last second), so the first 429 is met by
 * few requests in flight rather than a storm. The first 429 closes the gate
 * for the server's wait and, once the last window holds a few successes, sets the pace just under
 * them, which is what the server just allowed (a 429 after fewer is a penalty, not a rate). Each later 429 that begins a storm (its request started after the
 * last decrease) multiplies the pace by a factor under one, and caps it by that window's successes
 * again; each success multiplies it by a factor just over one; a cut also re-spaces the slots
 * already reserved. The increase is per success rather than per second, so a cycle from one decrease to
 * the next takes the same number of requests at any rate, and that number bounds the share of
 * 429s. It converges for the usual reason of AIMD: below the server's rate the pace only grows,
 * above it every storm cuts it by a fixed share, so it oscillates in a band just under the rate
 * whose width is the decrease; the gate makes each storm cost only the requests already in flight.
 *
 * Long holds. When a request would be held longer than `serverWaitCap` (a five-minute
 * `retry-after`, a daily limit), `run` given `onHeld` fails at once with the error it builds,
 * and requests already waiting are woken to fail too, unless `longWaits` is `"wait"`.
 *
 * All time is `Clock` time, so `TestClock` drives it.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Option from "effect/Option"

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
  /**
   * The longest hold a request waits through; a longer one makes `run` fail at once (when given
   * `onHeld`). Default 60 seconds; a client passes its own `serverWaitCap`.
   */
  readonly serverWaitCap?: Duration.DurationInput | undefined
  /** What a hold longer than `serverWaitCap` does: `"fail"` (the default) or `"wait"`. */
  readonly longWaits?: "fail" | "wait" | undefined
  /**
   * The pace, in requests per second, of requests started while others are in flight before the
   * server has said anything about its limit; it doubles every sixteen successes. Default 100;
   * `Infinity` turns it off.
   */
  readonly startPace?: number | undefined
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
  /** Whether the hold is longer than `serverWaitCap`, so that calls fail at once instead. */
  readonly refusing: boolean
  /** Requests in flight now. */
  readonly inFlight: number
  /** The pace in force in requests per second (headers, learned or both), once there is one. */
  readonly pace: Option.Option<number>
  /** The server's `x-ratelimit-limit-requests`, once an answer carried it. */
  readonly limitRequests: Option.Option<number>
  /** The server's last reported remaining request budget. */
  readonly remainingRequests: Option.Option<number>
  /**
   * Whether the server's last word on the quota was `insufficient_quota`; a later success clears
   * it. (Bulk operations stop asking after one, whatever this says.)
   */
  readonly quotaExhausted: boolean
  /** How many 429 answers this governor has seen. */
  readonly rateLimited: number
}
