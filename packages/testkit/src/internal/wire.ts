/** Wire details: error bodies, encoders of the core schemas, header formats. */
import { ApiError, Batch, BatchPage, CreateBatchParams, File } from "@batchfx/core"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Schema from "effect/Schema"

/** A failure answered with the API's error body. */
export class ApiFailure extends Schema.TaggedError<ApiFailure>()("ApiFailure", {
  status: Schema.Int,
  message: Schema.String,
  type: Schema.String,
  param: Schema.NullOr(Schema.String),
  code: Schema.NullOr(Schema.String),
  headers: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { exact: true })
}) {}

/** The internal header by which the app tells the in-memory client to fail with a connection reset. */
export const resetMarker = "x-batchfx-connection-reset"

export const encodeBatch = Schema.encodeUnknownSync(Batch.Batch)
export const encodePage = Schema.encodeUnknownSync(BatchPage.BatchPage)
export const encodeFile = Schema.encodeUnknownSync(File.OpenAiFile)
export const encodeFileList = Schema.encodeUnknownSync(File.FileList)
export const encodeDeleted = Schema.encodeUnknownSync(File.FileDeleted)
export const encodeError = Schema.encodeUnknownSync(ApiError.ApiErrorBody)
export const decodeCreate = Schema.decodeUnknownEither(CreateBatchParams.CreateBatchParams)
export const decodeListParams = Schema.decodeUnknownEither(BatchPage.ListBatchesParams)

export const encoder = new TextEncoder()

export const json = (value: unknown, status = 200): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.uint8Array(encoder.encode(JSON.stringify(value)), { status, contentType: "application/json" })

export const errorBody = (e: { message: string; type: string; param: string | null; code: string | null }) =>
  encodeError({ error: { message: e.message, type: e.type, param: e.param, code: e.code } })

/** The answer of a failure: its status, the API's error body and its headers. */
export const errorResponse = (e: ApiFailure): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.uint8Array(encoder.encode(JSON.stringify(errorBody(e))), {
    status: e.status,
    contentType: "application/json",
    ...(e.headers === undefined ? {} : { headers: e.headers })
  })

export const invalid = (message: string, param: string | null, code: string | null = null, status = 400) =>
  new ApiFailure({ status, message, type: "invalid_request_error", param, code })

/** The API's 400 for an integer parameter outside `[min, max]`, or undefined when it is inside. */
export const outOfRange = (param: string, value: number, min: number, max: number): ApiFailure | undefined =>
  value < min
    ? invalid(
      `Invalid '${param}': integer below minimum value. Expected a value >= ${min}, but got ${value} instead.`,
      param,
      "integer_below_min_value"
    )
    : value > max
    ? invalid(
      `Invalid '${param}': integer above maximum value. Expected a value <= ${max}, but got ${value} instead.`,
      param,
      "integer_above_max_value"
    )
    : undefined

/** A Go `time.Duration` string, as the `x-ratelimit-reset-*` headers carry: `20ms`, `1.428s`, `6m0s`. */
export const goDuration = (ms: number): string => {
  const total = Math.max(0, Math.round(ms))
  if (total < 1000) return `${total}ms`
  const h = Math.floor(total / 3_600_000)
  const m = Math.floor((total % 3_600_000) / 60_000)
  const s = (total % 60_000) / 1000
  const sText = `${Number.isInteger(s) ? s : s.toFixed(3).replace(/0+$/, "")}s`
  if (h > 0) return `${h}h${m}m${sText}`
  if (m > 0) return `${m}m${sText}`
  return sText
}

export const redactKey = (key: string) =>
  key.length <= 8
    ? "*".repeat(key.length)
    : `${key.slice(0, 3)}${"*".repeat(Math.min(key.length - 7, 20))}${key.slice(-4)}`

export const uploadPurposes = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"] as const

export const quoteList = (values: ReadonlyArray<string>) =>
  values.length <= 1
    ? values.map((v) => `'${v}'`).join("")
    : `${values.slice(0, -1).map((v) => `'${v}'`).join(", ")}, and '${values[values.length - 1]}'`

export const htmlBadGateway = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>cloudflare</center>
</body>
</html>
`

const statusErrors: Record<number, { readonly message: string; readonly type: string; readonly code: string | null }> =
  {
    400: { message: "Invalid request.", type: "invalid_request_error", code: null },
    401: { message: "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key" },
    403: {
      message: "You are not allowed to sample from this model or use this resource.",
      type: "invalid_request_error",
      code: null
    },
    404: { message: "The requested resource does not exist.", type: "invalid_request_error", code: null },
    408: { message: "Request timed out.", type: "invalid_request_error", code: null },
    409: {
      message: "The request conflicts with the current state of the resource.",
      type: "invalid_request_error",
      code: null
    },
    422: {
      message: "The request was well-formed but could not be processed.",
      type: "invalid_request_error",
      code: null
    },
    429: {
      message: "Rate limit reached for requests. Please try again later.",
      type: "requests",
      code: "rate_limit_exceeded"
    }
  }

/** The JSON error body an injected status fault answers with: `server_error` for 5xx, the usual body otherwise. */
export const faultError = (status: number) => {
  const known = statusErrors[status]
  return known !== undefined ? { ...known, param: null } : {
    message: "The server had an error while processing your request. Sorry about that!",
    type: "server_error",
    param: null,
    code: null
  }
}
