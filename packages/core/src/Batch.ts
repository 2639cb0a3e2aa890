/**
 * The Batch object and its parts.
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { BatchStatus } from "./BatchStatus.js"
import { CompletionWindow, Endpoint } from "./Endpoint.js"
import { decodeOwned } from "./internal/fastDecode.js"
import { openEnum, optionalNullable } from "./internal/openEnum.js"
import { Metadata } from "./Metadata.js"

/**
 * A Unix time in whole seconds, as the API sends every `*_at` field.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UnixSeconds = Schema.Int.annotations({ identifier: "UnixSeconds" })

/**
 * Error codes the API is known to put in `errors.data`; any other string is kept as it came.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchErrorCode = openEnum(
  "BatchErrorCode",
  "missing_required_parameter",
  "invalid_json_line",
  "invalid_url",
  "streaming_unsupported",
  "model_not_found",
  "invalid_request",
  "token_limit_exceeded",
  "mismatched_model",
  "duplicate_custom_id",
  "too_many_tasks",
  "file_too_large",
  "empty_batch"
)

/**
 * One problem with a batch's input, often tied to a line of the input file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchError = Schema.Struct({
  code: Schema.optionalWith(BatchErrorCode, { exact: true }),
  message: Schema.optionalWith(Schema.String, { exact: true }),
  param: optionalNullable(Schema.String),
  line: optionalNullable(Schema.Int)
}).annotations({ identifier: "BatchError" })

/**
 * A batch error as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchError extends Schema.Schema.Type<typeof BatchError> {}

/**
 * The `errors` member of a batch: a list of `BatchError`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchErrors = Schema.Struct({
  object: Schema.optionalWith(Schema.Literal("list"), { exact: true }),
  data: Schema.optionalWith(Schema.Array(BatchError), { exact: true })
}).annotations({ identifier: "BatchErrors" })

/**
 * Batch errors as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchErrors extends Schema.Schema.Type<typeof BatchErrors> {}

/**
 * How many requests a batch holds and how many have finished each way. On expired and cancelled
 * batches `completed + failed` can be less than `total`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchRequestCounts = Schema.Struct({
  total: Schema.Int,
  completed: Schema.Int,
  failed: Schema.Int
}).annotations({ identifier: "BatchRequestCounts" })

/**
 * Request counts as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchRequestCounts extends Schema.Schema.Type<typeof BatchRequestCounts> {}

/**
 * Token usage of a batch. Old and running batches report zeros; legacy extra keys are ignored.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchUsage = Schema.Struct({
  input_tokens: Schema.Int,
  input_tokens_details: Schema.Struct({ cached_tokens: Schema.Int }),
  output_tokens: Schema.Int,
  output_tokens_details: Schema.Struct({ reasoning_tokens: Schema.Int }),
  total_tokens: Schema.Int
}).annotations({ identifier: "BatchUsage" })

/**
 * Batch usage as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchUsage extends Schema.Schema.Type<typeof BatchUsage> {}

/**
 * A batch as the API returns it. Required keys and their types are checked; every optional key may
 * be absent or `null`; unknown keys are dropped; `status`, `endpoint` and `completion_window` keep
 * values we do not know yet.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Batch = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("batch"),
  endpoint: Endpoint,
  model: optionalNullable(Schema.String),
  errors: optionalNullable(BatchErrors),
  input_file_id: Schema.String,
  completion_window: CompletionWindow,
  status: BatchStatus,
  output_file_id: optionalNullable(Schema.String),
  error_file_id: optionalNullable(Schema.String),
  created_at: UnixSeconds,
  in_progress_at: optionalNullable(UnixSeconds),
  expires_at: optionalNullable(UnixSeconds),
  finalizing_at: optionalNullable(UnixSeconds),
  completed_at: optionalNullable(UnixSeconds),
  failed_at: optionalNullable(UnixSeconds),
  expired_at: optionalNullable(UnixSeconds),
  cancelling_at: optionalNullable(UnixSeconds),
  cancelled_at: optionalNullable(UnixSeconds),
  request_counts: optionalNullable(BatchRequestCounts),
  usage: optionalNullable(BatchUsage),
  metadata: optionalNullable(Metadata)
}).annotations({ identifier: "Batch" })

/**
 * A batch as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch extends Schema.Schema.Type<typeof Batch> {}

/**
 * A batch as it travels on the wire.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchEncoded extends Schema.Schema.Encoded<typeof Batch> {}

/**
 * Decodes a batch freshly parsed from JSON that nothing else holds; the result may reuse its
 * objects.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeBatch: (json: unknown) => Either.Either<Batch, ParseResult.ParseError> = decodeOwned(Batch)

const fileId = (id: string | null | undefined): Option.Option<string> =>
  id === undefined || id === null || id === "" ? Option.none() : Option.some(id)

/**
 * The output file of a batch, if it has one (an empty string counts as none).
 *
 * @since 0.1.0
 * @category utils
 */
export const outputFileId = (batch: Batch): Option.Option<string> => fileId(batch.output_file_id)

/**
 * The error file of a batch, if it has one (an empty string counts as none).
 *
 * @since 0.1.0
 * @category utils
 */
export const errorFileId = (batch: Batch): Option.Option<string> => fileId(batch.error_file_id)
