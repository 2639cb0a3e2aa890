import { ApiError, ParseMessage } from "@batchfx/core"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Errors from "../BatchClientError.js"
import * as Headers from "./headers.js"

/** How many characters of a body an error keeps. */
export const previewLength = 200

/** Where an exchange happened, for error fields: never headers. */
export interface Exchange {
  readonly method: string
  readonly url: string
  readonly attempt: number
}

/**
 * Removes the API key (and anything that looks like an OpenAI key) from a text that goes into an
 * error, a log line or a span.
 */
export const makeScrub = (apiKey: Redacted.Redacted): (text: string) => string => {
  const key = Redacted.value(apiKey)
  return (text) => {
    let out = text
    if (key.length > 0) out = out.split(key).join("<redacted>")
    return out.replace(/\bsk-[A-Za-z0-9_*-]{6,}/g, "sk-<redacted>")
  }
}

const decodeErrorBody = Schema.decodeUnknownOption(Schema.parseJson(ApiError.ApiErrorBody))

/** The error of a non-2xx answer, from its status, headers and body text. */
export const fromResponse = (
  exchange: Exchange,
  response: HttpClientResponse.HttpClientResponse,
  bodyText: string,
  nowMillis: number,
  scrub: (text: string) => string
): Errors.ApiStatusError => {
  const headers = response.headers
  const body = decodeErrorBody(bodyText)
  const detail = Option.map(body, (b) => b.error)
  const info: Errors.ResponseInfo = {
    method: exchange.method,
    url: scrub(exchange.url),
    status: response.status,
    attempt: exchange.attempt,
    requestId: headers["x-request-id"],
    type: Option.getOrUndefined(Option.map(detail, (d) => d.type)),
    code: Option.getOrUndefined(Option.flatMapNullable(detail, (d) => d.code)),
    param: Option.getOrUndefined(Option.flatMapNullable(detail, (d) => d.param)),
    apiMessage: Option.getOrUndefined(Option.map(detail, (d) => scrub(d.message))),
    retryAfter: Option.getOrUndefined(Headers.serverWait(headers, nowMillis)),
    shouldRetry: Option.getOrUndefined(Headers.shouldRetry(headers)),
    bodyPreview: Option.isSome(body) ? undefined : scrub(bodyText.slice(0, previewLength))
  }
  switch (response.status) {
    case 400:
      return new Errors.BadRequest(info)
    case 401:
      return new Errors.Authentication(info)
    case 403:
      return new Errors.PermissionDenied(info)
    case 404:
      return new Errors.NotFound(info)
    case 409:
      return new Errors.Conflict(info)
    case 422:
      return new Errors.Unprocessable(info)
    case 429:
      return info.code === "insufficient_quota" || info.type === "insufficient_quota"
        ? new Errors.QuotaExhausted(info)
        : new Errors.RateLimited(info)
    default:
      return new Errors.ServerError(info)
  }
}

const neverSent: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  "ERR_INVALID_URL"
])

/** The innermost error of a cause chain that says something, and the first system code met. */
const inspectCause = (cause: unknown): { readonly code: string | undefined; readonly text: string | undefined } => {
  let code: string | undefined
  let text: string | undefined
  let current: unknown = cause
  for (let depth = 0; depth < 6 && current !== undefined && current !== null; depth++) {
    if (Predicate.hasProperty(current, "code") && typeof current.code === "string" && code === undefined) {
      code = current.code
    }
    if (current instanceof Error && current.message !== "") text = current.message
    current = Predicate.hasProperty(current, "cause") ? current.cause : undefined
  }
  return { code, text }
}

/** A transport failure (no answer, or a body that broke while it was read) as a `ConnectionError`. */
export const fromHttpClientError = (
  exchange: Exchange,
  error: HttpClientError.HttpClientError,
  scrub: (text: string) => string
): Errors.ConnectionError => {
  const { code, text } = inspectCause(error.cause)
  const description = text ?? error.description ?? `${error.reason} error`
  if (error._tag === "RequestError") {
    return new Errors.ConnectionError({
      method: exchange.method,
      url: scrub(exchange.url),
      attempt: exchange.attempt,
      errorCode: error.reason === "Transport" ? code : error.reason,
      description: scrub(description),
      maybeSent: error.reason === "Transport" && (code === undefined || !neverSent.has(code))
    })
  }
  return new Errors.ConnectionError({
    method: exchange.method,
    url: scrub(exchange.url),
    attempt: exchange.attempt,
    errorCode: code,
    description: scrub(description),
    maybeSent: true,
    status: error.response.status,
    requestId: error.response.headers["x-request-id"]
  })
}

/** Decodes a success body: JSON first, then the decoder, each failure typed with the body's first bytes. */
export const decodeBody = <A>(
  exchange: Exchange,
  response: HttpClientResponse.HttpClientResponse,
  bodyText: string,
  decode: (input: unknown) => Either.Either<A, ParseResult.ParseError>,
  scrub: (text: string) => string
): Errors.ResponseDecodeError | A => {
  // Built only on failure: scrubbing the preview costs time on every page otherwise.
  const base = () => ({
    method: exchange.method,
    url: exchange.url,
    status: response.status,
    attempt: exchange.attempt,
    requestId: response.headers["x-request-id"],
    bodyPreview: scrub(bodyText.slice(0, previewLength))
  })
  let json: unknown
  try {
    json = JSON.parse(bodyText)
  } catch (e) {
    return new Errors.ResponseDecodeError({
      ...base(),
      reason: "InvalidJson",
      description: bodyText.trim() === "" ? "the body was empty" : e instanceof Error ? e.message : String(e)
    })
  }
  const decoded = decode(json)
  if (decoded._tag === "Right") return decoded.right
  return new Errors.ResponseDecodeError({
    ...base(),
    reason: "UnexpectedShape",
    description: ParseMessage.format(decoded.left).slice(0, 1000)
  })
}
