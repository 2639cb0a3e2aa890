/**
 * Schema models of the OpenAI Batch API wire and the pure helpers around them.
 *
 * @since 0.1.0
 */

/**
 * The error body of a failed API call.
 *
 * @since 0.1.0
 */
export * as ApiError from "./ApiError.js"

/**
 * The Batch object and its parts.
 *
 * @since 0.1.0
 */
export * as Batch from "./Batch.js"

/**
 * One page of the batch list and its query parameters.
 *
 * @since 0.1.0
 */
export * as BatchPage from "./BatchPage.js"

/**
 * Batch statuses and the lifecycle.
 *
 * @since 0.1.0
 */
export * as BatchStatus from "./BatchStatus.js"

/**
 * The body of a create request.
 *
 * @since 0.1.0
 */
export * as CreateBatchParams from "./CreateBatchParams.js"

/**
 * Batch endpoints and the completion window.
 *
 * @since 0.1.0
 */
export * as Endpoint from "./Endpoint.js"

/**
 * Files and uploads.
 *
 * @since 0.1.0
 */
export * as File from "./File.js"

/**
 * JSON Lines encoding and decoding.
 *
 * @since 0.1.0
 */
export * as Jsonl from "./Jsonl.js"

/**
 * Batch metadata and its limits.
 *
 * @since 0.1.0
 */
export * as Metadata from "./Metadata.js"

/**
 * Decoding errors that name their path.
 *
 * @since 0.1.0
 */
export * as ParseMessage from "./ParseMessage.js"

/**
 * How many input tokens a request body holds, by the service's counting rules.
 *
 * @since 0.1.0
 */
export * as InputTokens from "./InputTokens.js"

/**
 * Input lines and the checks the service applies to them.
 *
 * @since 0.1.0
 */
export * as RequestLine from "./RequestLine.js"

/**
 * Rate-limit reset durations.
 *
 * @since 0.1.0
 */
export * as ResetDuration from "./ResetDuration.js"

/**
 * Output and error file lines.
 *
 * @since 0.1.0
 */
export * as ResultLine from "./ResultLine.js"
