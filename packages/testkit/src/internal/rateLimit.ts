/**
 * The emulator's request-rate limiters, one per mode of `FakeOpenAi.RateLimit`: a fixed window
 * (the default), a per-window limit enforced over one-second windows as the API documents, and a
 * token bucket; plus a daily limit and one long `retry-after` on the n-th request.
 *
 * `x-ratelimit-limit-requests` always states the limit per minute, as the API's does, whatever the
 * window the emulator counts in; remaining and reset describe the window or bucket that counts.
 * `requests: Infinity` counts nothing per window (a daily limit or a long wait alone), and then no
 * `x-ratelimit-*` header is sent.
 */
import * as Ref from "effect/Ref"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import { millis } from "./knobs.js"
import { ApiFailure, goDuration } from "./wire.js"

/** What the limiter says about one request. */
export interface Limited {
  readonly allowed: boolean
  readonly headers: Record<string, string>
  readonly resetMs: number
  /** The 429 to answer with, when not allowed. */
  readonly failure: ApiFailure | undefined
}

interface State {
  /** The settings this state counts for; new settings start afresh. */
  readonly limit: FakeOpenAi.RateLimit | undefined
  readonly seen: number
  readonly windowStart: number
  readonly windowUsed: number
  readonly secondStart: number
  readonly secondUsed: number
  readonly tokens: number
  readonly tokensAt: number
  readonly day: number
  readonly dayUsed: number
}

const fresh = (limit: FakeOpenAi.RateLimit | undefined): State => ({
  limit,
  seen: 0,
  windowStart: Number.NEGATIVE_INFINITY,
  windowUsed: 0,
  secondStart: Number.NEGATIVE_INFINITY,
  secondUsed: 0,
  tokens: Number.POSITIVE_INFINITY,
  tokensAt: 0,
  day: Number.NaN,
  dayUsed: 0
})

const dayMillis = 86_400_000

const failure = (limit: FakeOpenAi.RateLimit, per: string, wait: number): ApiFailure =>
  new ApiFailure({
    status: 429,
    message: `Rate limit reached for requests in organization org-batchfx on requests per ${per}: Limit ${
      per === "day" ? limit.daily : limit.requests
    }, Used ${per === "day" ? limit.daily : limit.requests}, Requested 1. Please try again in ${
      goDuration(wait)
    }. Visit https://platform.openai.com/account/rate-limits to learn more.`,
    type: "requests",
    param: null,
    code: "rate_limit_exceeded",
    headers: { "retry-after": String(Math.ceil(wait / 1000)), "retry-after-ms": String(Math.round(wait)) }
  })

const decide = (s0: State, limit: FakeOpenAi.RateLimit, now: number): [Limited, State] => {
  const s = s0.limit === limit ? s0 : fresh(limit)
  const window = Math.max(1, millis(limit.window))
  const perMinute = (limit.requests * 60_000) / window
  const mode = limit.mode ?? "fixed-window"
  const seen = s.seen + 1
  const headersOf = (remaining: number, resetMs: number): Record<string, string> =>
    // A limit of only a day, or of only one long wait, counts nothing per minute to state.
    limit.headers === false || !Number.isFinite(perMinute) ? {} : {
      "x-ratelimit-limit-requests": String(Math.round(perMinute)),
      "x-ratelimit-remaining-requests": String(Math.max(0, Math.floor(remaining))),
      "x-ratelimit-reset-requests": goDuration(Math.max(0, resetMs))
    }
  const refuse = (next: State, per: string, wait: number, remaining: number, resetMs: number): [Limited, State] => {
    const resetAt = Math.max(1, wait)
    return [
      {
        allowed: false,
        headers: headersOf(remaining, resetMs),
        resetMs: resetAt,
        failure: failure(limit, per, resetAt)
      },
      { ...next, seen }
    ]
  }

  // One long wait asked of the n-th request, as a server under strain may ask.
  if (limit.longRetryAfter !== undefined && seen === limit.longRetryAfter.nth) {
    return refuse(s, goDuration(window), millis(limit.longRetryAfter.wait), 0, millis(limit.longRetryAfter.wait))
  }

  // The daily limit counts every allowed request of the UTC day of the `Clock`.
  const day = Math.floor(now / dayMillis)
  const dayUsed = day === s.day ? s.dayUsed : 0
  if (limit.daily !== undefined && dayUsed >= limit.daily) {
    return refuse(s, "day", (day + 1) * dayMillis - now, 0, (day + 1) * dayMillis - now)
  }
  const counted = { ...s, day, dayUsed: dayUsed + 1 }

  if (mode === "token-bucket") {
    const capacity = Math.max(1, limit.burst ?? limit.requests * 1000 / window)
    const rate = limit.requests / window
    const tokens = Math.min(
      capacity,
      s.tokens === Number.POSITIVE_INFINITY ? capacity : s.tokens + (now - s.tokensAt) * rate
    )
    if (tokens < 1) {
      return refuse(
        { ...s, tokens, tokensAt: now },
        goDuration(window),
        (1 - tokens) / rate,
        tokens,
        (capacity - tokens) / rate
      )
    }
    const left = tokens - 1
    return [
      {
        allowed: true,
        headers: headersOf(left, (capacity - left) / rate),
        resetMs: (capacity - left) / rate,
        failure: undefined
      },
      { ...counted, seen, tokens: left, tokensAt: now }
    ]
  }

  const windowStart = now >= s.windowStart + window ? now : s.windowStart
  const windowUsed = windowStart === s.windowStart ? s.windowUsed : 0
  const windowReset = windowStart + window - now
  if (windowUsed >= limit.requests) {
    return refuse({ ...s, windowStart, windowUsed }, goDuration(window), windowReset, 0, windowReset)
  }
  if (mode === "quantized") {
    // The per-window limit enforced as its share of each one-second window.
    const quantum = Math.max(1, Math.floor((limit.requests * 1000) / window))
    const secondStart = now >= s.secondStart + 1000 ? now : s.secondStart
    const secondUsed = secondStart === s.secondStart ? s.secondUsed : 0
    if (secondUsed >= quantum) {
      return refuse(
        { ...s, windowStart, windowUsed, secondStart, secondUsed },
        "1s",
        secondStart + 1000 - now,
        limit.requests - windowUsed,
        windowReset
      )
    }
    return [
      {
        allowed: true,
        headers: headersOf(limit.requests - windowUsed - 1, windowReset),
        resetMs: windowReset,
        failure: undefined
      },
      { ...counted, seen, windowStart, windowUsed: windowUsed + 1, secondStart, secondUsed: secondUsed + 1 }
    ]
  }
  return [
    {
      allowed: true,
      headers: headersOf(limit.requests - windowUsed - 1, windowReset),
      resetMs: windowReset,
      failure: undefined
    },
    { ...counted, seen, windowStart, windowUsed: windowUsed + 1 }
  ]
}

/** A limiter with its own count; `check` decides one request at the `Clock` time `now`. */
export const make = () => {
  const state = Ref.unsafeMake(fresh(undefined))
  return {
    check: (limit: FakeOpenAi.RateLimit | undefined, now: number) =>
      Ref.modify(
        state,
        (s): [Limited | undefined, State] => limit === undefined ? [undefined, s] : decide(s, limit, now)
      )
  }
}
