/**
 * One page of the batch list and the parameters that ask for it.
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { Batch } from "./Batch.js"
import { decodeOwned } from "./internal/fastDecode.js"
import { optionalNullable } from "./internal/openEnum.js"

/**
 * A page of `GET /v1/batches`. `has_more` is required by the spec but some servers leave it out,
 * so it may be absent; `first_id` and `last_id` may be absent or `null` (empty pages).
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchPage = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Batch),
  // In the order the API sends them, so that `decodeBatchPage` keeps the parsed object.
  first_id: optionalNullable(Schema.String),
  last_id: optionalNullable(Schema.String),
  has_more: Schema.optionalWith(Schema.Boolean, { exact: true })
}).annotations({ identifier: "BatchPage" })

/**
 * A page of batches as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchPage extends Schema.Schema.Type<typeof BatchPage> {}

/**
 * Decodes a page freshly parsed from JSON that nothing else holds; the result may reuse its
 * objects, down to the page itself when it is already in shape.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBatchPage: (json: unknown) => Either.Either<BatchPage, ParseResult.ParseError> = decodeOwned(
  BatchPage
)

/**
 * The largest page the API serves.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxLimit = 100

/**
 * A page size: an integer from 1 to 100.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PageLimit = Schema.Number.pipe(
  Schema.filter((n) =>
    (Number.isInteger(n) && n >= 1 && n <= maxLimit) ||
    `limit must be an integer from 1 to ${maxLimit}, got ${n}`
  )
).annotations({
  identifier: "PageLimit",
  arbitrary: () => (fc) => fc.integer({ min: 1, max: maxLimit })
})

/**
 * Query parameters of `GET /v1/batches`: `after` is the id of the last batch already seen.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ListBatchesParams = Schema.Struct({
  after: Schema.optionalWith(Schema.NonEmptyString, { exact: true }),
  limit: Schema.optionalWith(PageLimit, { exact: true })
}).annotations({ identifier: "ListBatchesParams" })

/**
 * List parameters as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListBatchesParams extends Schema.Schema.Type<typeof ListBatchesParams> {}
