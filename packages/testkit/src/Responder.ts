/**
 * What the emulator answers to each request inside a batch. The default responders are
 * deterministic: the same line always gets the same answer.
 *
 * @since 0.1.0
 */
import { alnum, hashString, mix } from "./internal/hash.js"

/**
 * One request of a batch as the responder sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestInfo {
  /** The batch the request belongs to. */
  readonly batchId: string
  /** The batch's `created_at`, in Unix seconds. */
  readonly createdAt: number
  /** The batch endpoint, equal to the line's `url`. */
  readonly endpoint: string
  /** 1-based line of the input file. */
  readonly line: number
  readonly customId: string
  readonly body: { readonly [key: string]: unknown }
}

/**
 * The HTTP answer of one request: its status and JSON body. A status outside 2xx makes it a failed
 * request (its line goes to the error file with `response` set).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly status_code: number
  readonly body: unknown
}

/**
 * Answers one request. It must be pure and deterministic.
 *
 * @since 0.1.0
 * @category models
 */
export type Responder = (request: RequestInfo) => Reply

/**
 * Picks the lines that fail: `true` gives a 400 `invalid_request_error` answer, a `Reply` is used as
 * it is, `false` lets the responder answer.
 *
 * @since 0.1.0
 * @category models
 */
export type FailLine = (request: RequestInfo) => boolean | Reply

const tokens = (value: unknown): number => {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? "")
  return Math.max(1, Math.ceil(text.length / 4))
}

const model = (request: RequestInfo, fallback: string): string =>
  typeof request.body.model === "string" ? request.body.model : fallback

const lastUserText = (messages: unknown): string => {
  if (!Array.isArray(messages)) return ""
  for (let i = messages.length - 1; i >= 0; i--) {
    const m: unknown = messages[i]
    if (typeof m === "object" && m !== null && "content" in m) {
      const content = (m as { content: unknown }).content
      return typeof content === "string" ? content : JSON.stringify(content)
    }
  }
  return ""
}

const suffix = (request: RequestInfo, n: number) => alnum(hashString(request.batchId), request.line * 7 + n, 24)

/**
 * The default `/v1/chat/completions` answer: the assistant echoes the last message.
 *
 * @since 0.1.0
 * @category constants
 */
export const chatCompletions: Responder = (request) => {
  const content = `Echo: ${lastUserText(request.body.messages)}`
  const prompt = tokens(request.body.messages)
  const completion = tokens(content)
  return {
    status_code: 200,
    body: {
      id: `chatcmpl-${suffix(request, 1)}`,
      object: "chat.completion",
      created: request.createdAt,
      model: model(request, "gpt-4o-mini-2024-07-18"),
      choices: [{
        index: 0,
        message: { role: "assistant", content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: "stop"
      }],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 }
      },
      service_tier: "default",
      system_fingerprint: "fp_batchfx"
    }
  }
}

/**
 * The default `/v1/completions` answer.
 *
 * @since 0.1.0
 * @category constants
 */
export const completions: Responder = (request) => {
  const text = `Echo: ${
    typeof request.body.prompt === "string" ? request.body.prompt : JSON.stringify(request.body.prompt)
  }`
  const prompt = tokens(request.body.prompt)
  const completion = tokens(text)
  return {
    status_code: 200,
    body: {
      id: `cmpl-${suffix(request, 2)}`,
      object: "text_completion",
      created: request.createdAt,
      model: model(request, "gpt-3.5-turbo-instruct"),
      choices: [{ text, index: 0, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
    }
  }
}

const vector = (seed: number, dimensions: number): Array<number> =>
  Array.from({ length: dimensions }, (_, i) => Math.round((mix(seed, i) / 0x1_0000_0000 * 2 - 1) * 1e6) / 1e6)

/**
 * The default `/v1/embeddings` answer: one deterministic vector (8 dimensions unless `dimensions`
 * says otherwise) per input.
 *
 * @since 0.1.0
 * @category constants
 */
export const embeddings: Responder = (request) => {
  const inputs: ReadonlyArray<unknown> = Array.isArray(request.body.input) ? request.body.input : [request.body.input]
  const dimensions = typeof request.body.dimensions === "number" ? request.body.dimensions : 8
  const prompt = inputs.reduce<number>((n, input) => n + tokens(input), 0)
  return {
    status_code: 200,
    body: {
      object: "list",
      data: inputs.map((input, index) => ({
        object: "embedding",
        index,
        embedding: vector(hashString(JSON.stringify(input ?? null)), dimensions)
      })),
      model: model(request, "text-embedding-3-small"),
      usage: { prompt_tokens: prompt, total_tokens: prompt }
    }
  }
}

/**
 * The default `/v1/responses` answer: one assistant message echoing the input.
 *
 * @since 0.1.0
 * @category constants
 */
export const responses: Responder = (request) => {
  const input = request.body.input
  const text = `Echo: ${typeof input === "string" ? input : lastUserText(input)}`
  const inputTokens = tokens(input)
  const outputTokens = tokens(text)
  return {
    status_code: 200,
    body: {
      id: `resp_${suffix(request, 3)}`,
      object: "response",
      created_at: request.createdAt,
      status: "completed",
      error: null,
      incomplete_details: null,
      model: model(request, "gpt-4o-mini-2024-07-18"),
      output: [{
        type: "message",
        id: `msg_${suffix(request, 4)}`,
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text, annotations: [] }]
      }],
      usage: {
        input_tokens: inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: inputTokens + outputTokens
      }
    }
  }
}

const categories = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/instructions",
  "self-harm/intent",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic"
] as const

/**
 * The default `/v1/moderations` answer: nothing flagged.
 *
 * @since 0.1.0
 * @category constants
 */
export const moderations: Responder = (request) => {
  const inputs: ReadonlyArray<unknown> = Array.isArray(request.body.input) ? request.body.input : [request.body.input]
  return {
    status_code: 200,
    body: {
      id: `modr-${suffix(request, 5)}`,
      model: model(request, "omni-moderation-latest"),
      results: inputs.map(() => ({
        flagged: false,
        categories: Object.fromEntries(categories.map((c) => [c, false])),
        category_scores: Object.fromEntries(categories.map((c) => [c, 0.0001]))
      }))
    }
  }
}

/**
 * The answer for endpoints without a dedicated responder: the request body echoed back.
 *
 * @since 0.1.0
 * @category constants
 */
export const echo: Responder = (request) => ({
  status_code: 200,
  body: { object: "batchfx.echo", endpoint: request.endpoint, body: request.body }
})

/**
 * The default responder of each endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: { readonly [endpoint: string]: Responder } = {
  "/v1/chat/completions": chatCompletions,
  "/v1/completions": completions,
  "/v1/embeddings": embeddings,
  "/v1/responses": responses,
  "/v1/moderations": moderations
}

/**
 * A `FailLine` that fails every line whose `custom_id` matches the pattern.
 *
 * @since 0.1.0
 * @category constructors
 */
export const failCustomIds = (pattern: RegExp): FailLine => (request) => pattern.test(request.customId)
