/**
 * The lines of a batch's output and error files.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
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

const hasOwn = (u: object, key: string): boolean => Object.prototype.hasOwnProperty.call(u, key)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const isResponse = (u: unknown): boolean =>
  isRecord(u) &&
  hasOwn(u, "status_code") && typeof u.status_code === "number" && Number.isSafeInteger(u.status_code) &&
  hasOwn(u, "request_id") && typeof u.request_id === "string" &&
  hasOwn(u, "body")

const isResultError = (u: unknown): boolean =>
  isRecord(u) && hasOwn(u, "code") && typeof u.code === "string" && hasOwn(u, "message") &&
  typeof u.message === "string"

/**
 * Whether a value is a result line: the same answer as `Schema.is(BatchResultLine)`, written out
 * by hand. The schema's interpreter costs a few microseconds a line, as much as a third of
 * `JSON.parse` of the line; a file of 200,000 lines spent about half a second in it. The schema's
 * type and wire form are the same, so a value that passes is the decoded line as it stands (excess
 * keys kept); one that fails goes to the schema, which says why. `test/ResultLine.test.ts` holds
 * the two equal on generated values.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isBatchResultLine = (u: unknown): u is BatchResultLine => {
  if (!isRecord(u)) return false
  if (!hasOwn(u, "id") || typeof u.id !== "string") return false
  if (!hasOwn(u, "custom_id") || typeof u.custom_id !== "string") return false
  if (hasOwn(u, "response") && u.response !== null && !isResponse(u.response)) return false
  if (hasOwn(u, "error") && u.error !== null && !isResultError(u.error)) return false
  return true
}
