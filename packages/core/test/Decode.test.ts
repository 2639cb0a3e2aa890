import { ApiError, Batch, BatchPage, BatchStatus, File, ParseMessage, ResultLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Either, Option, ParseResult, Schema } from "effect"
import * as F from "./fixtures.js"

const decode = <A, I>(schema: Schema.Schema<A, I>) => Schema.decodeUnknownEither(schema)

const decodeBatch = decode(Batch.Batch)

/** Decodes or fails the test with the formatted error. */
const ok = <A>(result: Either.Either<A, ParseResult.ParseError>): A =>
  Either.getOrElse(result, (error) => assert.fail(ParseResult.TreeFormatter.formatErrorSync(error)))

/** The formatted error of a decode that must fail. */
const failure = <A>(result: Either.Either<A, ParseResult.ParseError>): string =>
  Either.match(result, {
    onLeft: ParseMessage.format,
    onRight: () => assert.fail("decoding should have failed")
  })

describe("reading batches", () => {
  it("decodes a batch fresh from create, with every optional key null", () => {
    const batch = ok(decodeBatch(F.createdBatch))
    assert.strictEqual(batch.status, "validating")
    assert.strictEqual(batch.model, null)
    assert.strictEqual(batch.expires_at, 1711557933)
    assert.deepStrictEqual(batch.request_counts, { total: 0, completed: 0, failed: 0 })
    assert.strictEqual(batch.metadata?.customer_id, "user_123456789")
  })

  it("decodes a completed batch with model and usage", () => {
    const batch = ok(decodeBatch(F.completedBatch))
    assert.strictEqual(batch.model, "gpt-5-2025-08-07")
    assert.strictEqual(batch.usage?.input_tokens_details.cached_tokens, 1024)
    assert.strictEqual(batch.usage?.total_tokens, 2000)
    assert.isTrue(BatchStatus.isTerminal(batch.status))
  })

  it("tells absent optional keys from null ones", () => {
    const minimal = ok(decodeBatch(F.minimalBatch))
    assert.isFalse("model" in minimal)
    assert.isFalse("output_file_id" in minimal)
    const created = ok(decodeBatch(F.createdBatch))
    assert.isTrue("output_file_id" in created)
    assert.strictEqual(created.output_file_id, null)
  })

  it("decodes an old batch without `model` and with zero usage", () => {
    const batch = ok(decodeBatch(F.oldBatchWithoutModel))
    assert.isUndefined(batch.model)
    assert.strictEqual(batch.usage?.total_tokens, 0)
  })

  it("ignores the legacy usage keys", () => {
    const batch = ok(decodeBatch(F.legacyUsageBatch))
    assert.deepStrictEqual(Object.keys(batch.usage ?? {}).sort(), [
      "input_tokens",
      "input_tokens_details",
      "output_tokens",
      "output_tokens_details",
      "total_tokens"
    ])
  })

  it("reads a completed batch without an output file as a result, and an empty error file id as none", () => {
    const batch = ok(decodeBatch({ ...F.completedBatch, output_file_id: null, error_file_id: "" }))
    assert.isTrue(Option.isNone(Batch.outputFileId(batch)))
    assert.isTrue(Option.isNone(Batch.errorFileId(batch)))
    const withFiles = ok(decodeBatch(F.completedBatch))
    assert.deepStrictEqual(Batch.outputFileId(withFiles), Option.some("file-cvaTdG"))
  })

  it("decodes failed and cancelled batches with their errors and counts", () => {
    const failed = ok(decodeBatch(F.failedBatch))
    assert.strictEqual(failed.errors?.data?.length, 2)
    assert.strictEqual(failed.errors?.data?.[0]?.line, 2)
    assert.strictEqual(failed.errors?.data?.[1]?.line, null)
    const cancelled = ok(decodeBatch(F.cancelledBatch))
    assert.deepStrictEqual(cancelled.request_counts, { total: 1, completed: 0, failed: 0 })
  })

  it("accepts metadata exactly at its limits", () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [`k${i}`.padEnd(64, "x"), "v".repeat(512)])
    )
    const batch = ok(decodeBatch({ ...F.createdBatch, metadata }))
    assert.strictEqual(Object.keys(batch.metadata ?? {}).length, 16)
  })

  it("keeps an unknown status as a string that is not terminal", () => {
    const batch = ok(decodeBatch({ ...F.createdBatch, status: "paused" }))
    assert.strictEqual(batch.status, "paused")
    assert.isFalse(BatchStatus.isTerminal(batch.status))
    assert.isFalse(BatchStatus.isKnown(batch.status))
    assert.isUndefined(BatchStatus.lifecycleRank(batch.status))
  })

  it("keeps an unknown endpoint, completion window and error code", () => {
    const batch = ok(decodeBatch({
      ...F.failedBatch,
      endpoint: "/v1/audio/transcriptions",
      completion_window: "48h",
      errors: { object: "list", data: [{ code: "brand_new_code", message: "m", param: null, line: 1 }] }
    }))
    assert.strictEqual(batch.endpoint, "/v1/audio/transcriptions")
    assert.strictEqual(batch.completion_window, "48h")
    assert.strictEqual(batch.errors?.data?.[0]?.code, "brand_new_code")
  })

  it("ignores extra keys at every level", () => {
    const batch = ok(decodeBatch({
      ...F.failedBatch,
      future_field: { anything: true },
      request_counts: { total: 1, completed: 1, failed: 0, pending: 0 },
      usage: { ...F.completedBatch.usage, input_tokens_details: { cached_tokens: 1, audio_tokens: 2 } },
      errors: { object: "list", data: [{ code: "invalid_url", line: 1, extra: 1 }], more: true }
    }))
    assert.isFalse("future_field" in batch)
    assert.deepStrictEqual(batch.request_counts, { total: 1, completed: 1, failed: 0 })
    assert.deepStrictEqual(batch.usage?.input_tokens_details, { cached_tokens: 1 })
    assert.deepStrictEqual(batch.errors?.data?.[0], { code: "invalid_url", line: 1 })
  })
})

describe("rejecting batches, naming the path", () => {
  const rejects = (input: unknown, path: string) => {
    const message = failure(decodeBatch(input))
    assert.include(message, path)
    return message
  }

  it("rejects an ISO-string timestamp", () => {
    rejects({ ...F.createdBatch, created_at: "2024-03-26T16:45:33Z" }, `created_at:`)
    rejects({ ...F.createdBatch, expires_at: "2024-03-27T16:45:33Z" }, `expires_at:`)
  })

  it("rejects a numeric id", () => {
    rejects({ ...F.createdBatch, id: 123 }, `id:`)
  })

  it("rejects an object other than \"batch\"", () => {
    rejects({ ...F.createdBatch, object: "file" }, `object:`)
  })

  it("rejects a missing status", () => {
    const { status: _status, ...rest } = F.createdBatch
    const message = rejects(rest, `status:`)
    assert.include(message, "is missing")
  })

  it("rejects a non-string metadata value", () => {
    rejects({ ...F.createdBatch, metadata: { tags: ["a", "b"] } }, `metadata.tags:`)
  })

  it("rejects request_counts with a null member", () => {
    rejects(
      { ...F.createdBatch, request_counts: { total: 1, completed: null, failed: 0 } },
      `request_counts.completed:`
    )
  })

  it("rejects an errors.data that is not an array", () => {
    rejects({ ...F.failedBatch, errors: { object: "list", data: { code: "x" } } }, `errors.data:`)
  })
})

describe("list pages", () => {
  const decodePage = decode(BatchPage.BatchPage)

  it("decodes a page of batches", () => {
    const page = ok(decodePage(F.listPage))
    assert.strictEqual(page.data.length, 2)
    assert.strictEqual(page.has_more, true)
  })

  it("decodes an empty page with null ids and with the ids left out", () => {
    const withNulls = ok(decodePage({ object: "list", data: [], first_id: null, last_id: null, has_more: false }))
    assert.strictEqual(withNulls.data.length, 0)
    assert.strictEqual(withNulls.last_id, null)
    const withoutIds = ok(decodePage({ object: "list", data: [], has_more: false }))
    assert.isFalse("last_id" in withoutIds)
  })

  it("accepts a page without has_more, and rejects a page whose data is not a list", () => {
    const page = ok(decodePage({ object: "list", data: [F.minimalBatch] }))
    assert.isUndefined(page.has_more)
    assert.include(failure(decodePage({ object: "list", data: null, has_more: false })), `data:`)
    assert.include(
      failure(decodePage({ object: "list", data: [{ ...F.minimalBatch, object: "nope" }], has_more: false })),
      `data[0].object:`
    )
  })
})

describe("files, errors and result lines", () => {
  it("decodes a file, a deletion, an upload and an upload part", () => {
    const file = ok(decode(File.OpenAiFile)(F.file))
    assert.strictEqual(file.purpose, "batch")
    const output = ok(decode(File.OpenAiFile)({ ...F.file, purpose: "batch_output", expires_at: null }))
    assert.strictEqual(output.expires_at, null)
    const strange = ok(decode(File.OpenAiFile)({ ...F.file, purpose: "something_new" }))
    assert.strictEqual(strange.purpose, "something_new")
    assert.isTrue(ok(decode(File.FileDeleted)(F.fileDeleted)).deleted)
    assert.strictEqual(ok(decode(File.Upload)(F.upload)).file?.id, "file-xyz321")
    assert.strictEqual(ok(decode(File.UploadPart)(F.uploadPart)).upload_id, "upload_abc123")
  })

  it("decodes an error body with a `detail` sibling", () => {
    const body = ok(decode(ApiError.ApiErrorBody)(F.errorBody))
    assert.strictEqual(body.error.param, "id")
    assert.strictEqual(body.error.code, null)
  })

  it("decodes output lines, HTTP-error lines and never-ran lines", () => {
    const decodeLine = decode(ResultLine.BatchResultLine)
    const output = ok(decodeLine(F.outputLine))
    assert.isTrue(ResultLine.isSuccess(output))
    const httpError = ok(decodeLine(F.httpErrorLine))
    assert.isFalse(ResultLine.isSuccess(httpError))
    assert.strictEqual(httpError.response?.status_code, 400)
    const expired = ok(decodeLine(F.expiredLine))
    assert.isFalse(ResultLine.isSuccess(expired))
    assert.strictEqual(expired.error?.code, "batch_expired")
  })
})
