/**
 * The body of `POST /v1/batches`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { CompletionWindowInput, EndpointInput } from "./Endpoint.js"
import { optionalNullable } from "./internal/openEnum.js"
import { MetadataInput } from "./Metadata.js"

/**
 * The bounds of `output_expires_after.seconds`: one hour to thirty days.
 *
 * @since 0.1.0
 * @category constants
 */
export const outputExpiry = { minSeconds: 3600, maxSeconds: 2592000 } as const

/**
 * When the output and error files expire, counted from their own creation.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OutputExpiresAfter = Schema.Struct({
  anchor: Schema.Literal("created_at"),
  seconds: Schema.Number.pipe(
    Schema.filter((n) =>
      (Number.isInteger(n) && n >= outputExpiry.minSeconds && n <= outputExpiry.maxSeconds) ||
      `output_expires_after.seconds must be an integer from ${outputExpiry.minSeconds} (1 hour) to ${outputExpiry.maxSeconds} (30 days), got ${n}`
    )
  ).annotations({
    arbitrary: () => (fc) => fc.integer({ min: outputExpiry.minSeconds, max: outputExpiry.maxSeconds })
  })
}).annotations({ identifier: "OutputExpiresAfter" })

/**
 * File expiry as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface OutputExpiresAfter extends Schema.Schema.Type<typeof OutputExpiresAfter> {}

/**
 * A create request, checked before it is sent: a non-empty input file id, an API path as endpoint,
 * the `"24h"` window, metadata within its limits and an output expiry within its bounds.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CreateBatchParams = Schema.Struct({
  input_file_id: Schema.NonEmptyString,
  endpoint: EndpointInput,
  completion_window: CompletionWindowInput,
  metadata: optionalNullable(MetadataInput),
  output_expires_after: Schema.optionalWith(OutputExpiresAfter, { exact: true })
}).annotations({ identifier: "CreateBatchParams" })

/**
 * A create request as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateBatchParams extends Schema.Schema.Type<typeof CreateBatchParams> {}
