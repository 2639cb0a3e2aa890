/**
 * Retry as a value: the default backoff `Schedule` and the rules that decide which errors may be
 * retried and how long the server asked to wait.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Schedule from "effect/Schedule"
import { type BatchClientError, isAmbiguous, isApiStatusError, retryAfter as retryAfterOf } from "./BatchClientError.js"
import type { RetrySchedule } from "./ClientConfig.js"
import { defaultMaxRetries, defaultServerWaitCap } from "./ClientConfig.js"

/**
 * Options of an exponential backoff.
 *
 * @since 0.1.0
 * @category models
 */
export interface BackoffOptions {
  /** The first wait; default 0.5 seconds. */
  readonly base?: Duration.DurationInput | undefined
  /** The growth factor; default 2. */
  readonly factor?: number | undefined
  /** The longest wait; default 8 seconds. */
  readonly cap?: Duration.DurationInput | undefined
  /** How many retries after the first attempt; default 2. */
  readonly maxRetries?: number | undefined
  /** Whether each wait is shortened by up to a quarter at random; default true. */
  readonly jitter?: boolean | undefined
}

/**
 * An exponential backoff: `base × factor^n`, capped, shortened by up to 25 % at random (as the
 * official SDKs do), for at most `maxRetries` retries.
 *
 * @since 0.1.0
 * @category constructors
 */
export const backoff = (options: BackoffOptions = {}): RetrySchedule => {
  const cap = Duration.decode(options.cap ?? "8 seconds")
  const capped = Schedule.exponential(options.base ?? "500 millis", options.factor ?? 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, cap))
  )
  const jittered = options.jitter === false ? capped : Schedule.jitteredWith(capped, { min: 0.75, max: 1 })
  return jittered.pipe(Schedule.intersect(Schedule.recurs(options.maxRetries ?? defaultMaxRetries)))
}

/**
 * The default retry schedule: from 0.5 s, doubling, capped at 8 s, jittered, 2 retries.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSchedule: RetrySchedule = backoff()

/**
 * A schedule that never retries.
 *
 * @since 0.1.0
 * @category constants
 */
export const never: RetrySchedule = Schedule.stop

/**
 * The rules applied around a retry schedule.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  /** The longest server-asked wait to honour; a longer one fails at once. Default 60 seconds. */
  readonly serverWaitCap?: Duration.DurationInput | undefined
  /**
   * Whether a failure after which the server may have acted (a timeout, a reset, a 5xx) may be
   * retried. Default true; a create without a client token sets it to false.
   */
  readonly retryAmbiguous?: boolean | undefined
}

/**
 * Whether the error may be retried under the policy.
 *
 * - Never: local errors (invalid parameters, pagination), quota exhausted, 409 conflicts, and a
 *   server-asked wait above the cap (the error keeps the wait).
 * - `x-should-retry: true` forces a retry and `false` forbids one.
 * - Otherwise: 408, 429, 5xx, connection errors, timeouts, and bodies that were not JSON; no other
 *   4xx, no body of the wrong shape, and no request that could not be built (`errorCode`
 *   `InvalidUrl` or `Encode`).
 *
 * @since 0.1.0
 * @category utils
 */
export const isRetryable = (error: BatchClientError, policy: Policy = {}): boolean => {
  if (error._tag === "QuotaExhausted" || error._tag === "Conflict") return false
  if (error._tag === "InvalidParams" || error._tag === "PaginationError") return false
  if (policy.retryAmbiguous === false && isAmbiguous(error)) return false
  const wait = retryAfterOf(error)
  if (wait !== undefined && Duration.greaterThan(wait, policy.serverWaitCap ?? defaultServerWaitCap)) return false
  if (isApiStatusError(error) && error.shouldRetry !== undefined) return error.shouldRetry
  switch (error._tag) {
    case "ConnectionError":
      // A request that could not be built (a bad URL, a body that does not encode) fails the same way again.
      return error.errorCode !== "InvalidUrl" && error.errorCode !== "Encode"
    case "RateLimited":
    case "TimeoutError":
      return true
    case "ServerError":
      return error.status >= 500 || error.status === 408
    case "ResponseDecodeError":
      return error.reason === "InvalidJson"
    default:
      return false
  }
}

/**
 * Applies the server's wait to a schedule: when the error carries a `retryAfter` (within the cap),
 * the next attempt waits exactly that long instead of the schedule's own delay.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withServerWait = (schedule: RetrySchedule): RetrySchedule =>
  schedule.pipe(
    Schedule.intersect(Schedule.identity<BatchClientError>()),
    Schedule.modifyDelay(([, error], delay) => retryAfterOf(error) ?? delay)
  )

/**
 * Retries an effect with the schedule under the policy. The waits run on `Clock` (so `TestClock`
 * drives them) and are interruptible.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry: {
  (schedule: RetrySchedule, policy?: Policy): <A, E extends BatchClientError, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
  <A, E extends BatchClientError, R>(
    self: Effect.Effect<A, E, R>,
    schedule: RetrySchedule,
    policy?: Policy
  ): Effect.Effect<A, E, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E extends BatchClientError, R>(self: Effect.Effect<A, E, R>, schedule: RetrySchedule, policy?: Policy) =>
    retryImpl(self, schedule, policy)
)

const retryImpl = <A, E extends BatchClientError, R>(
  self: Effect.Effect<A, E, R>,
  schedule: RetrySchedule,
  policy: Policy = {}
): Effect.Effect<A, E, R> =>
  Effect.retry(self, {
    schedule: withServerWait(schedule),
    while: (error: E) => isRetryable(error, policy)
  })
