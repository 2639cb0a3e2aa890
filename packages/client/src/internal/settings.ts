/** A client's options with every default filled in, as the transport and services read them. */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ClientConfig from "../ClientConfig.js"
import type * as Governor from "../Governor.js"

/** Options with every default filled in. */
export interface Settings {
  /** The API key. */
  readonly apiKey: Redacted.Redacted
  /** The API root, without a trailing slash. */
  readonly baseUrl: string
  /** Sent as `OpenAI-Organization` when present. */
  readonly organization: Option.Option<string>
  /** Sent as `OpenAI-Project` when present. */
  readonly project: Option.Option<string>
  /** The retry schedule; none means the default one, bounded by `maxRetries`. */
  readonly retry: Option.Option<ClientConfig.RetrySchedule>
  /** Retries after the first attempt for the default schedule. */
  readonly maxRetries: number
  /** Timeout of one JSON request attempt. */
  readonly timeout: Duration.Duration
  /** Pages fetched ahead while listing. */
  readonly lookAhead: number
  /** The longest server-asked wait to honour. */
  readonly serverWaitCap: Duration.Duration
  /** Whether creates carry a client token. */
  readonly clientToken: boolean
  /** The governor's settings. */
  readonly governor: Governor.Options
}

const nonNegativeInt = (name: string, n: number): number => {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`)
  return n
}

/**
 * Fills in the defaults of the options. Throws a `RangeError` for a negative `maxRetries` or
 * `lookAhead`, which are programming errors.
 */
export const settings = (options: ClientConfig.Options): Settings => ({
  apiKey: options.apiKey,
  baseUrl: (options.baseUrl ?? ClientConfig.defaultBaseUrl).replace(/\/+$/, ""),
  organization: Option.fromNullable(options.organization).pipe(Option.filter((s) => s !== "")),
  project: Option.fromNullable(options.project).pipe(Option.filter((s) => s !== "")),
  retry: Option.fromNullable(options.retry),
  maxRetries: nonNegativeInt("maxRetries", options.maxRetries ?? ClientConfig.defaultMaxRetries),
  timeout: options.timeout === undefined ? ClientConfig.defaultTimeout : Duration.decode(options.timeout),
  lookAhead: nonNegativeInt("lookAhead", options.lookAhead ?? ClientConfig.defaultLookAhead),
  serverWaitCap: options.serverWaitCap === undefined
    ? ClientConfig.defaultServerWaitCap
    : Duration.decode(options.serverWaitCap),
  clientToken: options.clientToken ?? true,
  governor: options.governor ?? {}
})
