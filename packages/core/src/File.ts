/**
 * Files, their deletion and the Uploads API objects.
 *
 * @since 0.1.0
 */
import type * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { UnixSeconds } from "./Batch.js"
import { decodeOwned } from "./internal/fastDecode.js"
import { openEnum, optionalNullable } from "./internal/openEnum.js"

/**
 * A file purpose as read from the server; result files have `batch_output`, and values outside the
 * documented set (such as `evals`) are kept.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FilePurpose = openEnum(
  "FilePurpose",
  "assistants",
  "assistants_output",
  "batch",
  "batch_output",
  "fine-tune",
  "fine-tune-results",
  "vision",
  "user_data",
  "evals"
)

/**
 * A file purpose as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export type FilePurpose = typeof FilePurpose.Type

/**
 * The purposes an upload may name.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UploadPurpose = Schema.Literal("assistants", "batch", "fine-tune", "vision", "user_data", "evals")

/**
 * An upload purpose.
 *
 * @since 0.1.0
 * @category models
 */
export type UploadPurpose = typeof UploadPurpose.Type

/**
 * The deprecated processing status of a file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FileStatus = openEnum("FileStatus", "uploaded", "processed", "error")

/**
 * A file (`OpenAIFile`). `status` is deprecated and may disappear, so it is optional here.
 *
 * @since 0.1.0
 * @category schemas
 */
export const OpenAiFile = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("file"),
  bytes: Schema.Int,
  created_at: UnixSeconds,
  expires_at: optionalNullable(UnixSeconds),
  filename: Schema.String,
  purpose: FilePurpose,
  status: Schema.optionalWith(FileStatus, { exact: true }),
  status_details: optionalNullable(Schema.String)
}).annotations({ identifier: "OpenAiFile" })

/**
 * A file as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenAiFile extends Schema.Schema.Type<typeof OpenAiFile> {}

/**
 * Decodes a file freshly parsed from JSON that nothing else holds; the result may reuse its
 * objects.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeOpenAiFile: (json: unknown) => Either.Either<OpenAiFile, ParseResult.ParseError> = decodeOwned(
  OpenAiFile
)

/**
 * The answer to `DELETE /v1/files/{id}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FileDeleted = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("file"),
  deleted: Schema.Boolean
}).annotations({ identifier: "FileDeleted" })

/**
 * A deletion as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileDeleted extends Schema.Schema.Type<typeof FileDeleted> {}

/**
 * Decodes a deletion freshly parsed from JSON that nothing else holds; the result may reuse its
 * objects.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeFileDeleted: (json: unknown) => Either.Either<FileDeleted, ParseResult.ParseError> = decodeOwned(
  FileDeleted
)

/**
 * A page of `GET /v1/files`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FileList = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(OpenAiFile),
  has_more: Schema.optionalWith(Schema.Boolean, { exact: true }),
  first_id: optionalNullable(Schema.String),
  last_id: optionalNullable(Schema.String)
}).annotations({ identifier: "FileList" })

/**
 * A page of files as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface FileList extends Schema.Schema.Type<typeof FileList> {}

/**
 * When an uploaded file expires, counted from its creation.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FileExpiresAfter = Schema.Struct({
  anchor: Schema.Literal("created_at"),
  seconds: Schema.Int.pipe(Schema.between(3600, 2592000))
}).annotations({ identifier: "FileExpiresAfter" })

/**
 * The status of a multipart upload.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UploadStatus = openEnum("UploadStatus", "pending", "completed", "cancelled", "expired")

/**
 * A multipart upload (`POST /v1/uploads`); once completed it carries the resulting file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Upload = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("upload"),
  bytes: Schema.Int,
  created_at: UnixSeconds,
  filename: Schema.String,
  purpose: Schema.String,
  status: UploadStatus,
  expires_at: UnixSeconds,
  file: optionalNullable(OpenAiFile)
}).annotations({ identifier: "Upload" })

/**
 * An upload as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface Upload extends Schema.Schema.Type<typeof Upload> {}

/**
 * One part of a multipart upload.
 *
 * @since 0.1.0
 * @category schemas
 */
export const UploadPart = Schema.Struct({
  id: Schema.String,
  object: Schema.Literal("upload.part"),
  created_at: UnixSeconds,
  upload_id: Schema.String
}).annotations({ identifier: "UploadPart" })

/**
 * An upload part as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface UploadPart extends Schema.Schema.Type<typeof UploadPart> {}
