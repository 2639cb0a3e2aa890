/**
 * How a client is configured: explicit options, or the `OPENAI_*` environment variables.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Schedule from "effect/Schedule"
import type { BatchClientError } from "./BatchClientError.js"
import type * as Governor from "./Governor.js"

/**
 * The base URL of the OpenAI API.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.openai.com/v1"

/**
 * The default timeout of one JSON request, body included: 60 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(60)

/**
 * The longest wait the client accepts from a server (`retry-after`): 60 seconds. A longer one fails
 * at once with the wait attached to the error.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultServerWaitCap: Duration.Duration = Duration.seconds(60)

/**
 * The default number of retries after the first attempt: 2, as in the official SDKs.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxRetries = 2

/**
 * The default number of pages fetched ahead of the consumer while listing: 1.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLookAhead = 1

/**
 * A retry schedule: it sees each error and decides the wait before the next attempt. The client
 * applies its rules (what may be retried, the server's wait and its cap) around it.
 *
 * @since 0.1.0
 * @category models
 */
export type RetrySchedule = Schedule.Schedule<unknown, BatchClientError>

/**
 * The options of a client. Only `apiKey` is required.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The API key, kept `Redacted` so it never prints. */
  readonly apiKey: Redacted.Redacted
  /** The API root, default `https://api.openai.com/v1`. */
  readonly baseUrl?: string | undefined
  /** Sent as `OpenAI-Organization`. */
  readonly organization?: string | undefined
  /** Sent as `OpenAI-Project`. */
  readonly project?: string | undefined
  /** The retry schedule of every call; default `Retry.defaultSchedule` bounded by `maxRetries`. */
  readonly retry?: RetrySchedule | undefined
  /** Retries after the first attempt when `retry` is not given; default 2. */
  readonly maxRetries?: number | undefined
  /** Timeout of one JSON request attempt, body included; default 60 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Pages fetched ahead of the consumer while listing; default 1, 0 fetches only on demand. */
  readonly lookAhead?: number | undefined
  /** The longest server-asked wait to honour; a longer one fails at once. Default 60 seconds. */
  readonly serverWaitCap?: Duration.DurationInput | undefined
  /**
   * Whether `create` tags its batch with a client token in `metadata` (key `batchfx_client_token`)
   * so that a create retried after an ambiguous failure never makes a second batch. Default true.
   */
  readonly clientToken?: boolean | undefined
  /**
   * The rate-limit governor shared by every request of the client: requests in flight (default
   * 16), an optional `requestsPerMinute` budget, and the reserve kept of the server's budget.
   */
  readonly governor?: Governor.Options | undefined
  /** The largest JSON answer read, in bytes; a longer one is a `ResponseDecodeError` (`TooLarge`). Default 64 MiB. */
  readonly maxJsonBytes?: number | undefined
}

/**
 * Options a caller may give to one call: a retry schedule and a timeout that replace the client's.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Replaces the client's retry schedule for this call (`Retry.never` for none). */
  readonly retry?: RetrySchedule | undefined
  /** Replaces the client's timeout of each attempt of this call. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * Why an API key cannot be sent, if it cannot: empty, or holding a character an HTTP header cannot
 * carry (a control character, a space, a non-ASCII character). The sentence names the position,
 * never the key. Check the key after `normalizeApiKey`.
 *
 * @since 0.1.0
 * @category utils
 */
export const apiKeyProblem = (key: string): string | undefined => {
  if (key.trim() === "") return "is empty"
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i)
    if (code > 0x20 && code < 0x7f) continue
    const kind = code === 0x20
      ? "a space"
      : code < 0x20 || code === 0x7f
      ? "a control character"
      : "a non-ASCII character"
    return `has ${kind} at position ${i + 1} of ${key.length}, which an HTTP header cannot carry`
  }
  return undefined
}

/**
 * An API key as a user most likely meant it: without the trailing CR/LF that a `.env` file saved
 * with Windows line ends (or `$(cat key.txt)` on some shells) leaves. Any other bad character is
 * left for `apiKeyProblem` to refuse, since guessing more could send a different key.
 *
 * @since 0.1.0
 * @category utils
 */
export const normalizeApiKey = (key: Redacted.Redacted): Redacted.Redacted => {
  const value = Redacted.value(key)
  const trimmed = value.replace(/[\r\n]+$/, "")
  return trimmed === value ? key : Redacted.make(trimmed)
}

/**
 * Options read from the environment: `OPENAI_API_KEY` (required, read as `Redacted`; a trailing
 * CR/LF is dropped and a key a header cannot carry is a `ConfigError` that names no character of it),
 * `OPENAI_BASE_URL` (default `https://api.openai.com/v1`; one with a user name or password is a
 * `ConfigError` that shows it as `***`), `OPENAI_ORG_ID` and
 * `OPENAI_PROJECT_ID` (optional).
 *
 * @since 0.1.0
 * @category constants
 */
export const config: Config.Config<Options> = Config.all({
  apiKey: Config.redacted("OPENAI_API_KEY").pipe(Config.map(normalizeApiKey)),
  baseUrl: Config.string("OPENAI_BASE_URL").pipe(Config.withDefault(defaultBaseUrl)),
  organization: Config.option(Config.string("OPENAI_ORG_ID")),
  project: Config.option(Config.string("OPENAI_PROJECT_ID"))
}).pipe(
  Config.map(({ apiKey, baseUrl, organization, project }): Options => ({
    apiKey,
    baseUrl,
    organization: Option.getOrUndefined(organization),
    project: Option.getOrUndefined(project)
  })),
  Config.mapOrFail((options) => {
    const problem = apiKeyProblem(Redacted.value(options.apiKey))
    if (problem !== undefined) {
      return Either.left(ConfigError.InvalidData(["OPENAI_API_KEY"], `OPENAI_API_KEY ${problem}`))
    }
    const url = options.baseUrl ?? defaultBaseUrl
    return hasUserinfo(url)
      ? Either.left(ConfigError.InvalidData(
        ["OPENAI_BASE_URL"],
        `OPENAI_BASE_URL must not carry a user name or password (${
          url.replace(/^([^/]*\/\/)[^/@]*@/, "$1***@")
        }): the API key is the credential`
      ))
      : Either.right(options)
  })
)

/** Whether a URL has a user name or password (`https://user:pass@host`), which errors would print. */
const hasUserinfo = (url: string): boolean => /^[^/]*\/\/[^/@]*@/.test(url)
