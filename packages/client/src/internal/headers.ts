import { ResetDuration } from "@batchfx/core"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

/** Response headers by lower-case name. */
export type Headers = { readonly [name: string]: string | undefined }

/** A plain decimal number (`12`, `2.5`, `.5`); hex, exponents and signs are not a server's wait or count. */
export const parseNumber = (text: string | undefined): Option.Option<number> => {
  const trimmed = text?.trim()
  if (trimmed === undefined || !/^[0-9]*\.?[0-9]+$/.test(trimmed)) return Option.none()
  const n = Number(trimmed)
  return Number.isFinite(n) ? Option.some(n) : Option.none()
}

/**
 * The wait a response asks for: `retry-after-ms` (milliseconds) first, else `retry-after` (seconds,
 * or an HTTP date measured against `nowMillis`). A date in the past gives zero; anything
 * unreadable gives none. The one parser of these headers, for retries and the governor alike.
 */
export const serverWait = (headers: Headers, nowMillis: number): Option.Option<Duration.Duration> => {
  const ms = parseNumber(headers["retry-after-ms"])
  if (Option.isSome(ms)) return Option.some(Duration.millis(ms.value))
  const after = headers["retry-after"]
  if (after === undefined) return Option.none()
  const seconds = parseNumber(after)
  if (Option.isSome(seconds)) return Option.some(Duration.millis(seconds.value * 1000))
  const date = Date.parse(after)
  if (Number.isNaN(date)) return Option.none()
  return Option.some(Duration.millis(Math.max(0, date - nowMillis)))
}

/** The `x-should-retry` header: `true` or `false`, else none. */
export const shouldRetry = (headers: Headers): Option.Option<boolean> => {
  const value = headers["x-should-retry"]?.trim().toLowerCase()
  return value === "true" ? Option.some(true) : value === "false" ? Option.some(false) : Option.none()
}

/** A rate-limit reset header (`x-ratelimit-reset-requests: 6m0s`) in milliseconds. */
export const resetMillis = (headers: Headers, name: string): Option.Option<number> =>
  Option.flatMap(
    Option.fromNullable(headers[name]),
    (text) => Option.map(ResetDuration.parse(text), Duration.toMillis)
  )
