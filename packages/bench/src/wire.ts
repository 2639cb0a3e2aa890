/**
 * The synthetic data the bench server serves, in the real wire shapes of the Batch and Files API:
 * batch objects (every field of the reference, statuses mixed as in a real organisation), list
 * envelopes, 429 and 401 bodies, and output-file JSONL lines of chat completions.
 *
 * Everything is computed from an index, by string concatenation, so that the server is never the
 * bottleneck and a million batches cost no memory.
 */

/** The API key the bench server accepts. */
export const apiKey = "sk-bench-batchfx"

/** The id of the output file the bench server serves. */
export const outputFileId = "file-benchoutput0000000000000"

const idPrefix = "batch_bench"

/** Batch `index` has this id: a fixed prefix and 24 hex digits, so ids sort like the indices. */
export const batchId = (index: number): string => idPrefix + index.toString(16).padStart(24, "0")

/** The index of a batch id made by `batchId`, or undefined for any other string. */
export const batchIndex = (id: string): number | undefined => {
  if (!id.startsWith(idPrefix) || id.length !== idPrefix.length + 24) return undefined
  const index = parseInt(id.slice(idPrefix.length), 16)
  return Number.isSafeInteger(index) && index >= 0 ? index : undefined
}

// A cheap deterministic hash of an index (xorshift-multiply), for counts and file ids.
const mix = (n: number): number => {
  let h = (n ^ 0x5bd1e995) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0
  return (h ^ (h >>> 15)) >>> 0
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0").slice(-width)
const fileId = (index: number, n: number): string =>
  "file-" + hex(mix(index * 4 + n), 8) + hex(mix(index * 4 + n + 7), 8) + hex(index, 8)

const epoch = 1_780_000_000
const endpoints = ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"] as const
const models = ["gpt-4o-mini-2024-07-18", "text-embedding-3-small", "gpt-4.1-2025-04-14"] as const
const n = (value: number | null): string => value === null ? "null" : String(value)
const s = (value: string | null): string => value === null ? "null" : `"${value}"`

/**
 * Batch `index` as the JSON text of the API: newest first, statuses mixed (1 in 20 failed with an
 * `errors` list, 1 in 20 expired, 1 in 20 cancelled, 1 in 20 completed with failures), usage and
 * metadata present.
 */
export const batchJson = (index: number): string => {
  const created = epoch - 60 * index
  const h = mix(index)
  const total = 1 + (h % 500)
  const kind = index % 20
  const status = kind === 16 ? "failed" : kind === 17 ? "expired" : kind === 18 ? "cancelled" : "completed"
  const failedCount = status === "completed" ? (kind === 19 ? 1 + (h % total) : 0) : 0
  const completed = status === "completed" ? total - failedCount : status === "failed" ? 0 : Math.floor(total / 2)
  const input = completed * 40
  const output = completed * 12
  const errors = status === "failed"
    ? `{"object":"list","data":[{"code":"invalid_json_line","message":"This line is not parseable as valid JSON.","param":null,"line":${
      1 + (h % 7)
    }}]}`
    : "null"
  return `{"id":"${batchId(index)}","object":"batch","endpoint":"${endpoints[index % 3]}","model":${
    status === "failed" ? "null" : `"${models[index % 3]}"`
  },"errors":${errors},"input_file_id":"${
    fileId(index, 0)
  }","completion_window":"24h","status":"${status}","output_file_id":${
    s(completed > 0 ? fileId(index, 1) : null)
  },"error_file_id":${
    s(failedCount > 0 || status === "expired" || status === "cancelled" ? fileId(index, 2) : null)
  },"created_at":${created},"in_progress_at":${n(status === "failed" ? null : created + 5)},"expires_at":${
    created + 86400
  },"finalizing_at":${
    n(status === "completed" ? created + 600 : status === "expired" ? created + 86400 : null)
  },"completed_at":${n(status === "completed" ? created + 660 : null)},"failed_at":${
    n(status === "failed" ? created + 5 : null)
  },"expired_at":${n(status === "expired" ? created + 87000 : null)},"cancelling_at":${
    n(status === "cancelled" ? created + 60 : null)
  },"cancelled_at":${n(status === "cancelled" ? created + 660 : null)},"request_counts":{"total":${
    status === "failed" ? 0 : total
  },"completed":${completed},"failed":${failedCount}},"usage":{"input_tokens":${input},"input_tokens_details":{"cached_tokens":0},"output_tokens":${output},"output_tokens_details":{"reasoning_tokens":0},"total_tokens":${
    input + output
  }},"metadata":{"team":"search","job":"nightly-${index % 1000}"}}`
}

/**
 * One page of `GET /v1/batches` over `total` batches: the `limit` batches after the cursor (all
 * batches from the first when the cursor is absent or unknown), with `first_id`, `last_id` and
 * `has_more` as the API sends them.
 */
export const pageJson = (total: number, after: string | undefined, limit: number): string => {
  const start = after === undefined ? 0 : (batchIndex(after) ?? -1) + 1
  const end = Math.min(total, start + limit)
  const items: Array<string> = []
  for (let i = start; i < end; i++) items.push(batchJson(i))
  const first = end > start ? `"${batchId(start)}"` : "null"
  const last = end > start ? `"${batchId(end - 1)}"` : "null"
  return `{"object":"list","data":[${items.join(",")}],"first_id":${first},"last_id":${last},"has_more":${end < total}}`
}

/** The body of a 429 `rate_limit_exceeded` answer, worded as the API words it. */
export const rateLimitBody = (limit: number, windowMs: number, waitMs: number): string =>
  JSON.stringify({
    error: {
      message:
        `Rate limit reached for requests in organization org-bench on requests per ${windowMs}ms: Limit ${limit}, Used ${limit}, Requested 1. Please try again in ${waitMs}ms. Visit https://platform.openai.com/account/rate-limits to learn more.`,
      type: "requests",
      param: null,
      code: "rate_limit_exceeded"
    }
  })

/** The body of a 401 answer. */
export const unauthorizedBody = JSON.stringify({
  error: {
    message: "Incorrect API key provided.",
    type: "invalid_request_error",
    param: null,
    code: "invalid_api_key"
  }
})

/** The body of a 404 answer for an unknown object. */
export const notFoundBody = (what: string, id: string): string =>
  JSON.stringify({
    error: { message: `No such ${what} object: ${id}`, type: "invalid_request_error", param: "id", code: null }
  })

const words = [
  "the",
  "batch",
  "request",
  "returns",
  "a",
  "summary",
  "of",
  "each",
  "document",
  "with",
  "café",
  "naïve",
  "résumé",
  "data",
  "quickly",
  "and",
  "tokens",
  "model",
  "answer",
  "€"
]

const sentence = (seed: number, count: number): string => {
  const out: Array<string> = []
  let h = seed
  for (let i = 0; i < count; i++) {
    h = mix(h + i)
    out.push(words[h % words.length]!)
  }
  return out.join(" ")
}

/**
 * Line `index` of a chat-completions output file: the `{id, custom_id, response, error}` envelope
 * around a full chat completion body, about 1 KB, with some multi-byte UTF-8 in the content.
 */
export const resultLine = (index: number): string => {
  const h = mix(index)
  const prompt = 20 + (h % 200)
  const completion = 60 + (h % 90)
  const body = {
    id: `chatcmpl-${hex(h, 8)}${hex(mix(h), 8)}${hex(index, 8)}`,
    object: "chat.completion",
    created: epoch + (index % 3600),
    model: "gpt-4o-mini-2024-07-18",
    choices: [{
      index: 0,
      message: { role: "assistant", content: sentence(h, 60 + (h % 30)), refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop"
    }],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0
      }
    },
    service_tier: "default",
    system_fingerprint: `fp_${hex(mix(index % 13), 10)}`
  }
  return JSON.stringify({
    id: `batch_req_${hex(h, 8)}${hex(mix(index + 1), 8)}${hex(index, 16)}`,
    custom_id: `request-${index}`,
    response: { status_code: 200, request_id: `req_${hex(mix(index + 2), 8)}${hex(index, 24)}`, body },
    error: null
  })
}

/** An output file of at least `bytes` bytes: whole result lines, each ending in a newline. */
export const outputFile = (bytes: number): { readonly data: Buffer; readonly lines: number } => {
  const parts: Array<Buffer> = []
  let size = 0
  let lines = 0
  let block: Array<string> = []
  let blockSize = 0
  while (size + blockSize < bytes) {
    const line = resultLine(lines++) + "\n"
    block.push(line)
    blockSize += Buffer.byteLength(line)
    if (block.length === 4096) {
      parts.push(Buffer.from(block.join(""), "utf8"))
      size += blockSize
      block = []
      blockSize = 0
    }
  }
  if (block.length > 0) parts.push(Buffer.from(block.join(""), "utf8"))
  return { data: Buffer.concat(parts), lines }
}
