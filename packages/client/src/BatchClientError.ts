/**
 * The typed errors of the client: one tagged class per case, and their union.
 *
 * Every error that comes from an HTTP exchange carries the method and URL (never the headers, so
 * never the API key), and what applies of: the status, the request id (`x-request-id`), the API's
 * `type`, `code`, `param` and message, and the wait the server asked for (`retryAfter`). Its
 * `message` is one sentence followed by the request id.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * The fields shared by the errors of an HTTP answer with a status.
 *
 * @since 0.1.0
 * @category models
 */
export const ResponseFields = {
  /** The HTTP method of the request. */
  method: Schema.String,
  /** The URL of the request (base URL, path and query; never a header). */
  url: Schema.String,
  /** The HTTP status of the answer. */
  status: Schema.Number,
  /** Which attempt (1-based) got this answer. */
  attempt: Schema.optional(Schema.Number),
  /** The `x-request-id` header of the answer. */
  requestId: Schema.optional(Schema.String),
  /** The `type` of the API's error body. */
  type: Schema.optional(Schema.String),
  /** The `code` of the API's error body. */
  code: Schema.optional(Schema.String),
  /** The `param` of the API's error body. */
  param: Schema.optional(Schema.String),
  /** The `message` of the API's error body. */
  apiMessage: Schema.optional(Schema.String),
  /** The wait the server asked for (`retry-after-ms` or `retry-after`). */
  retryAfter: Schema.optional(Schema.DurationFromSelf),
  /** The `x-should-retry` header: `true` forces a retry, `false` forbids one. */
  shouldRetry: Schema.optional(Schema.Boolean),
  /** The first bytes of a body that was not a JSON error body (an HTML 502 page, say). */
  bodyPreview: Schema.optional(Schema.String)
}

/**
 * The fields of an HTTP answer, as given to an error constructor.
 *
 * @since 0.1.0
 * @category models
 */
export type ResponseInfo = Schema.Struct.Constructor<typeof ResponseFields>

const requestIdSuffix = (requestId: string | undefined): string =>
  requestId === undefined ? " (no request id)" : ` (request id ${requestId})`

const pathOf = (url: string): string => {
  try {
    const parsed = new URL(url)
    return parsed.pathname + parsed.search
  } catch {
    return url
  }
}

const sentence = (text: string): string => {
  const trimmed = text.trim()
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`
}

const describe = (
  summary: string,
  self: {
    readonly method: string
    readonly url: string
    readonly status: number
    readonly apiMessage?: string | undefined
    readonly bodyPreview?: string | undefined
    readonly retryAfter?: Duration.Duration | undefined
    readonly requestId?: string | undefined
  }
): string => {
  const detail = self.apiMessage !== undefined && self.apiMessage !== ""
    ? `: ${self.apiMessage.trim().replace(/[.!?]$/, "")}`
    : self.bodyPreview !== undefined && self.bodyPreview !== ""
    ? `: ${JSON.stringify(self.bodyPreview.slice(0, 80))}`
    : ""
  const wait = self.retryAfter === undefined ? "" : `; the server asked to wait ${Duration.format(self.retryAfter)}`
  return sentence(`${summary} (HTTP ${self.status} on ${self.method} ${pathOf(self.url)})${detail}${wait}`) +
    requestIdSuffix(self.requestId)
}

/**
 * 400: the server rejected the request as invalid.
 *
 * @since 0.1.0
 * @category errors
 */
export class BadRequest extends Schema.TaggedError<BadRequest>("@batchfx/client/BadRequest")(
  "BadRequest",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe("The request was rejected as invalid", this)
  }
}

/**
 * 401: the API key is missing, wrong or not allowed from here.
 *
 * @since 0.1.0
 * @category errors
 */
export class Authentication extends Schema.TaggedError<Authentication>("@batchfx/client/Authentication")(
  "Authentication",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe("The API key was not accepted", this)
  }
}

/**
 * 403: the key may not do this (permission, organisation, project or region).
 *
 * @since 0.1.0
 * @category errors
 */
export class PermissionDenied extends Schema.TaggedError<PermissionDenied>("@batchfx/client/PermissionDenied")(
  "PermissionDenied",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe("Permission was denied", this)
  }
}

/**
 * 404: the batch (or file) does not exist, or the key cannot see it.
 *
 * @since 0.1.0
 * @category errors
 */
export class NotFound extends Schema.TaggedError<NotFound>("@batchfx/client/NotFound")(
  "NotFound",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe("Not found", this)
  }
}

/**
 * 409: the request conflicts with the state of the resource, such as cancelling a completed batch.
 * Never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class Conflict extends Schema.TaggedError<Conflict>("@batchfx/client/Conflict")(
  "Conflict",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe("The request conflicts with the current state", this)
  }
}

/**
 * 422: the server understood the request but cannot process it.
 *
 * @since 0.1.0
 * @category errors
 */
export class Unprocessable extends Schema.TaggedError<Unprocessable>("@batchfx/client/Unprocessable")(
  "Unprocessable",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe("The request could not be processed", this)
  }
}

/**
 * 429: too many requests for now; `retryAfter` holds the wait the server asked for, if any.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends Schema.TaggedError<RateLimited>("@batchfx/client/RateLimited")(
  "RateLimited",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe("Rate limited", this)
  }
}

/**
 * 429 with `insufficient_quota`: the account has no quota left. Waiting does not help, so it is
 * never retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class QuotaExhausted extends Schema.TaggedError<QuotaExhausted>("@batchfx/client/QuotaExhausted")(
  "QuotaExhausted",
  ResponseFields
) {
  /**
   * One sentence and the request id; the API's own text (several sentences and a link) stays in
   * `apiMessage`.
   */
  override get message(): string {
    return describe("The quota is exhausted; check the plan and billing details", {
      ...this,
      apiMessage: undefined,
      bodyPreview: undefined
    })
  }
}

/**
 * A 5xx answer, a 408, or any other status the client does not expect.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerError extends Schema.TaggedError<ServerError>("@batchfx/client/ServerError")(
  "ServerError",
  ResponseFields
) {
  /** One sentence and the request id. */
  override get message(): string {
    return describe(this.status >= 500 ? "The server failed" : "Unexpected answer from the server", this)
  }
}

/**
 * The connection failed: refused, reset, or broken while the body was read. `maybeSent` tells
 * whether the server may have received the request (false only when the connection was never made).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectionError extends Schema.TaggedError<ConnectionError>("@batchfx/client/ConnectionError")(
  "ConnectionError",
  {
    /** The HTTP method of the request. */
    method: Schema.String,
    /** The URL of the request. */
    url: Schema.String,
    /** Which attempt (1-based) failed. */
    attempt: Schema.optional(Schema.Number),
    /**
     * The system error code when known (`ECONNREFUSED`, `ECONNRESET`, …), or `InvalidUrl` / `Encode`
     * when the request could not be built.
     */
    errorCode: Schema.optional(Schema.String),
    /** What went wrong, as the transport described it. */
    description: Schema.String,
    /** Whether the server may have received the request. */
    maybeSent: Schema.Boolean,
    /** The status, when the connection broke while the body was read. */
    status: Schema.optional(Schema.Number),
    /** The `x-request-id` header, when the connection broke while the body was read. */
    requestId: Schema.optional(Schema.String)
  }
) {
  /** One sentence and the request id. */
  override get message(): string {
    return sentence(
      `The connection failed on ${this.method} ${pathOf(this.url)}${
        this.errorCode === undefined ? "" : ` (${this.errorCode})`
      }: ${this.description.trim().replace(/[.!?]$/, "")}`
    ) + requestIdSuffix(this.requestId)
  }
}

/**
 * The request (including reading its body) took longer than its timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>("@batchfx/client/TimeoutError")(
  "TimeoutError",
  {
    /** The HTTP method of the request. */
    method: Schema.String,
    /** The URL of the request. */
    url: Schema.String,
    /** Which attempt (1-based) timed out. */
    attempt: Schema.optional(Schema.Number),
    /** The timeout that was exceeded. */
    timeout: Schema.DurationFromSelf
  }
) {
  /** One sentence and the request id. */
  override get message(): string {
    return sentence(`${this.method} ${pathOf(this.url)} timed out after ${Duration.format(this.timeout)}`) +
      requestIdSuffix(undefined)
  }
}

/**
 * The answer could not be read: the body was not JSON, or not of the expected shape. Keeps the
 * status and the first bytes of the body.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResponseDecodeError extends Schema.TaggedError<ResponseDecodeError>(
  "@batchfx/client/ResponseDecodeError"
)(
  "ResponseDecodeError",
  {
    /** The HTTP method of the request. */
    method: Schema.String,
    /** The URL of the request. */
    url: Schema.String,
    /** The HTTP status of the answer. */
    status: Schema.Number,
    /** Which attempt (1-based) got this answer. */
    attempt: Schema.optional(Schema.Number),
    /** The `x-request-id` header of the answer. */
    requestId: Schema.optional(Schema.String),
    /**
     * `InvalidJson` when the body is not JSON, `UnexpectedShape` when it is JSON of another shape,
     * `TooLarge` when it is longer than the client reads (it was not read past the cap).
     */
    reason: Schema.Literal("InvalidJson", "UnexpectedShape", "TooLarge"),
    /** What did not match. */
    description: Schema.String,
    /** The first bytes of the body. */
    bodyPreview: Schema.String
  }
) {
  /** One sentence and the request id. */
  override get message(): string {
    const what = this.reason === "InvalidJson"
      ? "was not JSON"
      : this.reason === "TooLarge"
      ? "was too large to read"
      : "did not have the expected shape"
    return sentence(
      `The answer to ${this.method} ${pathOf(this.url)} (HTTP ${this.status}) ${what}: ${
        this.description.split("\n")[0]!.trim().replace(/[.!?]$/, "")
      }`
    ) + requestIdSuffix(this.requestId)
  }
}

/**
 * Listing could not go on: the next page would repeat a cursor already used (the server returned
 * the same page again), so going on would loop or repeat items.
 *
 * @since 0.1.0
 * @category errors
 */
export class PaginationError extends Schema.TaggedError<PaginationError>("@batchfx/client/PaginationError")(
  "PaginationError",
  {
    /** The cursor that did not advance. */
    cursor: Schema.String,
    /** How many pages had been read, the failing one included. */
    page: Schema.Number,
    /** The `x-request-id` of the page that did not advance. */
    requestId: Schema.optional(Schema.String),
    /** What went wrong. */
    description: Schema.String
  }
) {
  /** One sentence and the request id. */
  override get message(): string {
    return sentence(`Listing stopped at page ${this.page}: ${this.description.replace(/[.!?]$/, "")}`) +
      requestIdSuffix(this.requestId)
  }
}

/**
 * The parameters were rejected locally, before any request was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidParams extends Schema.TaggedError<InvalidParams>("@batchfx/client/InvalidParams")(
  "InvalidParams",
  {
    /** The operation the parameters were for (`create`, `list`, …). */
    operation: Schema.String,
    /** What is wrong with them. */
    description: Schema.String
  }
) {
  /** One sentence; no request was sent, so there is no request id. */
  override get message(): string {
    return sentence(`Invalid parameters for ${this.operation}: ${this.description.replace(/\s*\n\s*/g, "; ")}`) +
      " (nothing was sent)"
  }
}

/**
 * A download ended short and could not be completed: the body ended cleanly before its
 * `Content-Length`, or without the newline a JSONL file ends with (and the server did not confirm
 * that nothing follows), or it has fewer lines than the batch's `request_counts` promise. Resuming
 * was tried where the server allows it; what was received is not the whole file.
 *
 * @since 0.1.0
 * @category errors
 */
export class IncompleteDownload extends Schema.TaggedError<IncompleteDownload>("@batchfx/client/IncompleteDownload")(
  "IncompleteDownload",
  {
    /** The file. */
    fileId: Schema.String,
    /** The bytes received, from the start of the file. */
    received: Schema.Number,
    /** The size the server announced (`Content-Length`, `Content-Range`), when it announced one. */
    expected: Schema.optional(Schema.Number),
    /** The lines received, when lines were counted. */
    lines: Schema.optional(Schema.Number),
    /** The lines the batch's `request_counts` promise, when lines were counted against them. */
    expectedLines: Schema.optional(Schema.Number),
    /** How many reads were made. */
    attempts: Schema.optional(Schema.Number),
    /** What showed the file to be short, as the end of a sentence. */
    reason: Schema.String,
    /** The `x-request-id` of the last answer. */
    requestId: Schema.optional(Schema.String)
  }
) {
  /** One sentence and the request id. */
  override get message(): string {
    const tries = this.attempts === undefined || this.attempts <= 1 ? "" : ` after ${this.attempts} reads`
    return sentence(
      `The download of file ${this.fileId} is incomplete${tries}: ${this.reason.trim().replace(/[.!?]$/, "")}`
    ) + requestIdSuffix(this.requestId)
  }
}

/**
 * Every error of an HTTP answer with a status.
 *
 * @since 0.1.0
 * @category models
 */
export type ApiStatusError =
  | BadRequest
  | Authentication
  | PermissionDenied
  | NotFound
  | Conflict
  | Unprocessable
  | RateLimited
  | QuotaExhausted
  | ServerError

/**
 * What one request can fail with once it was sent: an answer's status, the connection, the
 * timeout, or a body that did not decode.
 *
 * @since 0.1.0
 * @category models
 */
export type CallError = ApiStatusError | ConnectionError | TimeoutError | ResponseDecodeError

/**
 * What `retrieve` and `cancel` (of batches and of files) can fail with: the request, or an id that
 * is not one (nothing sent).
 *
 * @since 0.1.0
 * @category models
 */
export type RequestError = CallError | InvalidParams

/**
 * What a listing can fail with: a request, invalid parameters, or a cursor that does not advance.
 * `create` too, since after an ambiguous failure it lists to find the batch it may have made.
 *
 * @since 0.1.0
 * @category models
 */
export type ListError = RequestError | PaginationError

/**
 * What a download (a file's content, a batch's results) can fail with: a request, an id that is
 * not one, or a body that ended short and could not be completed.
 *
 * @since 0.1.0
 * @category models
 */
export type DownloadError = RequestError | IncompleteDownload

/**
 * Every error a client call can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type BatchClientError =
  | ApiStatusError
  | ConnectionError
  | TimeoutError
  | ResponseDecodeError
  | PaginationError
  | InvalidParams
  | IncompleteDownload

const statusTags: ReadonlySet<string> = new Set<ApiStatusError["_tag"]>([
  "BadRequest",
  "Authentication",
  "PermissionDenied",
  "NotFound",
  "Conflict",
  "Unprocessable",
  "RateLimited",
  "QuotaExhausted",
  "ServerError"
])

const tags: ReadonlySet<string> = new Set<BatchClientError["_tag"]>([
  "BadRequest",
  "Authentication",
  "PermissionDenied",
  "NotFound",
  "Conflict",
  "Unprocessable",
  "RateLimited",
  "QuotaExhausted",
  "ServerError",
  "ConnectionError",
  "TimeoutError",
  "ResponseDecodeError",
  "PaginationError",
  "InvalidParams",
  "IncompleteDownload"
])

/**
 * Whether a value is one of the client's errors.
 *
 * @since 0.1.0
 * @category utils
 */
export const isBatchClientError = (u: unknown): u is BatchClientError =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tags.has(u._tag)

/**
 * Whether the error is an HTTP answer with a status.
 *
 * @since 0.1.0
 * @category utils
 */
export const isApiStatusError = (error: BatchClientError): error is ApiStatusError => statusTags.has(error._tag)

/**
 * Whether the server may have acted on the request although the client saw a failure: a timeout,
 * a connection broken after it was made, a 5xx, or a success answer that could not be read. A
 * create that failed this way may have created its batch.
 *
 * @since 0.1.0
 * @category utils
 */
export const isAmbiguous = (error: BatchClientError): boolean => {
  switch (error._tag) {
    case "TimeoutError":
      return true
    case "ConnectionError":
      return error.maybeSent
    case "ServerError":
      return error.status >= 500 || error.status === 408
    case "ResponseDecodeError":
      return error.status >= 200 && error.status < 300
    default:
      return false
  }
}

/**
 * The wait the server asked for, if the error carries one.
 *
 * @since 0.1.0
 * @category utils
 */
export const retryAfter = (error: BatchClientError): Duration.Duration | undefined =>
  isApiStatusError(error) ? error.retryAfter : undefined
