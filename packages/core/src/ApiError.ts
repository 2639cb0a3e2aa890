/**
 * The error body the API sends with a 4xx or 5xx answer.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { optionalNullable } from "./internal/openEnum.js"

/**
 * The `error` member of an error body. `param` and `code` are `null` more often than not.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ApiErrorDetail = Schema.Struct({
  message: Schema.String,
  type: Schema.String,
  param: optionalNullable(Schema.String),
  code: optionalNullable(Schema.String)
}).annotations({ identifier: "ApiErrorDetail" })

/**
 * An error detail as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiErrorDetail extends Schema.Schema.Type<typeof ApiErrorDetail> {}

/**
 * An error body: `{"error": {message, type, param, code}}`; siblings such as `detail` are ignored.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ApiErrorBody = Schema.Struct({
  error: ApiErrorDetail
}).annotations({ identifier: "ApiErrorBody" })

/**
 * An error body as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApiErrorBody extends Schema.Schema.Type<typeof ApiErrorBody> {}
