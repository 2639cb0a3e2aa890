/**
 * The lines of a batch's output and error files.
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { decodeOwned } from "./internal/fastDecode.js"
import { optionalNullable } from "./internal/openEnum.js"

/**
 * The HTTP answer a request got inside the batch. `request_id` is the inner request's id.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchResponse = Schema.Struct({
  status_code: Schema.Int,
  request_id: Schema.String,
  body: Schema.Unknown
}).annotations({ identifier: "BatchResponse" })

/**
 * A batch response as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchResponse extends Schema.Schema.Type<typeof BatchResponse> {}

/**
 * Why a request never ran (`batch_expired`, `batch_cancelled`, …). The code is an open set.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchResultError = Schema.Struct({
  code: Schema.String,
  message: Schema.String
}).annotations({ identifier: "BatchResultError" })

/**
 * A result error as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchResultError extends Schema.Schema.Type<typeof BatchResultError> {}

/**
 * One line of an output or error file: either the request's HTTP answer (`response`) or the reason
 * it never ran (`error`).
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchResultLine = Schema.Struct({
  id: Schema.String,
  custom_id: Schema.String,
  response: optionalNullable(BatchResponse),
  error: optionalNullable(BatchResultError)
}).annotations({ identifier: "BatchResultLine" })

/**
 * A result line as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchResultLine extends Schema.Schema.Type<typeof BatchResultLine> {}

/**
 * Whether a result line is a successful HTTP answer (a 2xx response and no error).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isSuccess = (line: BatchResultLine): boolean =>
  (line.error === undefined || line.error === null) &&
  line.response !== undefined && line.response !== null &&
  line.response.status_code >= 200 && line.response.status_code < 300

/**
 * Decodes a result line freshly parsed from JSON that nothing else holds; the result may reuse its
 * objects. A failure carries every issue of the line, not only the first.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBatchResultLine: (json: unknown) => Either.Either<BatchResultLine, ParseResult.ParseError> =
  decodeOwned(BatchResultLine, { errors: "all" })
