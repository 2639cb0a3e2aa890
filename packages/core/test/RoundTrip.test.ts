import {
  ApiError,
  Batch,
  BatchPage,
  BatchStatus,
  CreateBatchParams,
  Endpoint,
  File,
  Metadata,
  RequestLine,
  ResultLine
} from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck as fc, Schema } from "effect"
import { isDeepStrictEqual } from "node:util"

// Law: for every model, a value from Schema's Arbitrary survives encode then decode unchanged,
// including through JSON text, which is how every value travels.
const models = {
  Batch: Batch.Batch,
  BatchError: Batch.BatchError,
  BatchErrors: Batch.BatchErrors,
  BatchRequestCounts: Batch.BatchRequestCounts,
  BatchUsage: Batch.BatchUsage,
  BatchStatus: BatchStatus.BatchStatus,
  Endpoint: Endpoint.Endpoint,
  Metadata: Metadata.Metadata,
  MetadataInput: Metadata.MetadataInput,
  BatchPage: BatchPage.BatchPage,
  ListBatchesParams: BatchPage.ListBatchesParams,
  CreateBatchParams: CreateBatchParams.CreateBatchParams,
  OpenAiFile: File.OpenAiFile,
  FileDeleted: File.FileDeleted,
  FileList: File.FileList,
  Upload: File.Upload,
  UploadPart: File.UploadPart,
  ApiErrorBody: ApiError.ApiErrorBody,
  BatchRequestLine: RequestLine.BatchRequestLine,
  BatchResultLine: ResultLine.BatchResultLine
} as const

// JSON has no -0, undefined or non-finite numbers; request and result bodies are JSON. A
// `__proto__` key is dropped by Schema's record decoding on purpose (no prototype pollution).
const jsonSafe = (value: unknown): boolean => {
  try {
    return !hasProtoKey(value) && isDeepStrictEqual(JSON.parse(JSON.stringify(value)), value)
  } catch {
    return false
  }
}

const hasProtoKey = (value: unknown): boolean =>
  typeof value === "object" && value !== null &&
  (Object.prototype.hasOwnProperty.call(value, "__proto__") || Object.values(value).some(hasProtoKey))

describe("encode then decode", () => {
  for (const [name, schema] of Object.entries(models)) {
    it(`${name} survives a round trip through JSON`, () => {
      const s = schema as Schema.Schema<unknown, unknown>
      const encode = Schema.encodeSync(s)
      const decode = Schema.decodeUnknownSync(s)
      fc.assert(
        fc.property(Arbitrary.make(s).filter((value) => jsonSafe(value) && jsonSafe(encode(value))), (value) => {
          const wire = JSON.parse(JSON.stringify(encode(value)))
          assert.deepStrictEqual(decode(wire), value)
        }),
        { numRuns: 200 }
      )
    })
  }
})
