import { BatchPage, CreateBatchParams, ParseMessage, RequestLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Either, type ParseResult, Schema } from "effect"
import * as F from "./fixtures.js"

const decodeParams = Schema.decodeUnknownEither(CreateBatchParams.CreateBatchParams)
const decodeList = Schema.decodeUnknownEither(BatchPage.ListBatchesParams)
const decodeLine = Schema.decodeUnknownEither(RequestLine.BatchRequestLine)

const base = { input_file_id: "file-abc123", endpoint: "/v1/chat/completions", completion_window: "24h" }

/** The message of a decode that must fail. */
const message = <A>(result: Either.Either<A, ParseResult.ParseError>): string =>
  Either.match(result, { onLeft: ParseMessage.format, onRight: () => assert.fail("should have been rejected") })

const pairs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, "value"]))

describe("create params", () => {
  it("accepts a full create request", () => {
    const params = Either.getOrThrow(decodeParams({
      ...base,
      metadata: pairs(16),
      output_expires_after: { anchor: "created_at", seconds: 604800 }
    }))
    assert.strictEqual(params.output_expires_after?.seconds, 604800)
  })

  it("rejects 17 metadata pairs", () => {
    assert.include(message(decodeParams({ ...base, metadata: pairs(17) })), "metadata has 17 pairs; at most 16")
  })

  it("rejects a 65-character key", () => {
    const text = message(decodeParams({ ...base, metadata: { ["k".repeat(65)]: "v" } }))
    assert.include(text, "has 65 characters; at most 64")
  })

  it("rejects a 513-character value", () => {
    const text = message(decodeParams({ ...base, metadata: { note: "v".repeat(513) } }))
    assert.include(text, `metadata value of "note" has 513 characters; at most 512`)
  })

  it("rejects a __proto__ metadata key, which a record would drop, in both directions", () => {
    const metadata = JSON.parse(`{"note":"kept","__proto__":"lost"}`)
    const sentence = `metadata key "__proto__" cannot be sent`
    assert.include(message(decodeParams({ ...base, metadata })), sentence)
    assert.include(
      message(Schema.encodeUnknownEither(CreateBatchParams.CreateBatchParams)({ ...base, metadata })),
      sentence
    )
    const params = Either.getOrThrow(decodeParams({ ...base, metadata: { note: "kept", constructor: "kept" } }))
    assert.deepStrictEqual(params.metadata, { note: "kept", constructor: "kept" })
  })

  it("rejects a non-string metadata value", () => {
    assert.include(message(decodeParams({ ...base, metadata: { tags: ["a"] } })), "metadata.tags: Expected string")
  })

  it("rejects a completion window of 48h", () => {
    assert.include(
      message(decodeParams({ ...base, completion_window: "48h" })),
      `completion_window: completion_window must be "24h", got "48h"`
    )
  })

  it("rejects an output expiry outside 1 hour to 30 days", () => {
    for (const seconds of [3599, 2592001, 3600.5]) {
      const text = message(decodeParams({ ...base, output_expires_after: { anchor: "created_at", seconds } }))
      assert.include(text, `output_expires_after.seconds`)
      assert.include(text, `got ${seconds}`)
    }
  })

  it("accepts an unknown /v1/ endpoint but rejects what is not an API path", () => {
    assert.isTrue(Either.isRight(decodeParams({ ...base, endpoint: "/v1/audio/transcriptions" })))
    assert.include(message(decodeParams({ ...base, endpoint: "chat" })), `endpoint: endpoint must be an API path`)
  })

  it("rejects an empty input file id", () => {
    assert.include(message(decodeParams({ ...base, input_file_id: "" })), "input_file_id")
  })
})

describe("list params", () => {
  it("accepts limits 1 and 100", () => {
    assert.isTrue(Either.isRight(decodeList({ limit: 1 })))
    assert.isTrue(Either.isRight(decodeList({ limit: 100, after: "batch_abc" })))
  })

  it("rejects limit 0, 101 and 1.5", () => {
    for (const limit of [0, 101, 1.5]) {
      assert.include(message(decodeList({ limit })), `limit: limit must be an integer from 1 to 100, got ${limit}`)
    }
  })
})

describe("request lines", () => {
  it("accepts the guide's example line", () => {
    assert.isTrue(Either.isRight(decodeLine(F.requestLine)))
  })

  it("rejects a line with stream: true, naming body.stream", () => {
    const text = message(decodeLine({ ...F.requestLine, body: { ...F.requestLine.body, stream: true } }))
    assert.include(text, "body.stream: body.stream must not be true")
  })

  it("rejects a method other than POST", () => {
    assert.include(message(decodeLine({ ...F.requestLine, method: "GET" })), `method: Expected "POST", actual "GET"`)
  })

  it("checks a whole input: wrong url, stream, duplicate id, mixed model, each by line number", () => {
    const line = (custom_id: string, patch: Record<string, unknown> = {}, body: Record<string, unknown> = {}) => ({
      ...F.requestLine,
      custom_id,
      ...patch,
      body: { ...F.requestLine.body, ...body }
    })
    const problems = RequestLine.checkLines("/v1/chat/completions", [
      line("a"),
      line("b", { url: "/v1/embeddings" }),
      line("c", {}, { stream: true }),
      line("a"),
      line("e", {}, { model: "gpt-other" })
    ] as Array<RequestLine.BatchRequestLine>)
    assert.deepStrictEqual(problems.map((p) => [p.line, p.code, p.param]), [
      [2, "invalid_url", "url"],
      [3, "streaming_unsupported", "body.stream"],
      [4, "duplicate_custom_id", "custom_id"],
      [5, "mismatched_model", "body.model"]
    ])
    const text = RequestLine.formatProblems(problems)
    assert.include(text, `line 4: The custom_id 'a' is used by an earlier line`)
    assert.include(text, `line 2: The url "/v1/embeddings" does not match the batch endpoint '/v1/chat/completions'`)
  })

  it("checks raw text: invalid JSON, missing keys, blank lines skipped", () => {
    const check = RequestLine.makeInputCheck("/v1/embeddings")
    const problems = [
      check.pushText(JSON.stringify({ custom_id: "1", method: "POST", url: "/v1/embeddings", body: { model: "m" } })),
      check.pushText(""),
      check.pushText("{not json"),
      check.pushText(JSON.stringify({ custom_id: "3", method: "POST", url: "/v1/embeddings" })),
      check.pushText("[1,2]")
    ].flat()
    assert.deepStrictEqual(problems.map((p) => [p.line, p.code, p.param]), [
      [2, "invalid_json_line", null],
      [3, "missing_required_parameter", "body"],
      [4, "invalid_json_line", null]
    ])
    assert.strictEqual(check.lines(), 4)
    assert.deepStrictEqual(check.finish(), [])
  })

  it("reports an empty input and inputs over the line and byte limits once", () => {
    assert.strictEqual(RequestLine.checkLines("/v1/embeddings", [])[0]?.code, "empty_batch")
    const lines = Array.from({ length: 5 }, (_, i) => ({ ...F.requestLine, custom_id: `r${i}` }))
    const tooMany = RequestLine.checkLines("/v1/chat/completions", lines, { maxLines: 3 })
    assert.deepStrictEqual(tooMany.map((p) => p.code), ["too_many_tasks"])
    const tooLarge = RequestLine.checkLines("/v1/chat/completions", lines, { maxBytes: 300 })
    assert.deepStrictEqual(tooLarge.map((p) => p.code), ["file_too_large"])
  })
})
