/**
 * The bodies of the default responders, typed precisely (literal `object`s, `null`s) so that a test
 * can assign each to the official SDK's type of the same answer.
 */
import type { RequestInfo } from "../Responder.js"
import { alnum, hashString, mix } from "./hash.js"

const tokens = (value: unknown): number => {
  const text = typeof value === "string" ? value : JSON.stringify(value ?? "")
  return Math.max(1, Math.ceil(text.length / 4))
}

/** The model a request named, resolved to its dated snapshot where one is known. */
const model = (request: RequestInfo, fallback: string): string => {
  const named = typeof request.body.model === "string" ? request.body.model : fallback
  return snapshots[named] ?? named
}

/** Aliases the API answers with a dated snapshot, as the real service reports them. */
export const snapshots: { readonly [alias: string]: string } = {
  "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
  "gpt-4o": "gpt-4o-2024-08-06",
  "gpt-4.1": "gpt-4.1-2025-04-14",
  "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
  "gpt-5": "gpt-5-2025-08-07",
  "gpt-5-mini": "gpt-5-mini-2025-08-07",
  "gpt-5-nano": "gpt-5-nano-2025-08-07",
  "o3": "o3-2025-04-16",
  "o4-mini": "o4-mini-2025-04-16",
  "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
  "omni-moderation-latest": "omni-moderation-2024-09-26",
  "sora-2": "sora-2-2025-10-06",
  "sora-2-pro": "sora-2-pro-2025-10-06"
}

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

const inputsOf = (request: RequestInfo): ReadonlyArray<unknown> =>
  Array.isArray(request.body.input) ? request.body.input : [request.body.input]

export const chatCompletion = (request: RequestInfo) => {
  const content = `Echo: ${lastUserText(request.body.messages)}`
  const prompt = tokens(request.body.messages)
  const completion = tokens(content)
  return {
    id: `chatcmpl-${suffix(request, 1)}`,
    object: "chat.completion" as const,
    created: request.createdAt,
    model: model(request, "gpt-4o-mini-2024-07-18"),
    choices: [{
      index: 0,
      message: { role: "assistant" as const, content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: "stop" as const
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
    service_tier: "default" as const,
    system_fingerprint: "fp_batchfx"
  }
}

export const completion = (request: RequestInfo) => {
  const text = `Echo: ${
    typeof request.body.prompt === "string" ? request.body.prompt : JSON.stringify(request.body.prompt)
  }`
  const prompt = tokens(request.body.prompt)
  const used = tokens(text)
  return {
    id: `cmpl-${suffix(request, 2)}`,
    object: "text_completion" as const,
    created: request.createdAt,
    model: model(request, "gpt-3.5-turbo-instruct"),
    choices: [{ text, index: 0, logprobs: null, finish_reason: "stop" as const }],
    usage: { prompt_tokens: prompt, completion_tokens: used, total_tokens: prompt + used }
  }
}

const vector = (seed: number, dimensions: number): Array<number> =>
  Array.from({ length: dimensions }, (_, i) => Math.round((mix(seed, i) / 0x1_0000_0000 * 2 - 1) * 1e6) / 1e6)

export const embedding = (request: RequestInfo) => {
  const inputs = inputsOf(request)
  const dimensions = typeof request.body.dimensions === "number" ? request.body.dimensions : 8
  const prompt = inputs.reduce<number>((n, input) => n + tokens(input), 0)
  return {
    object: "list" as const,
    data: inputs.map((input, index) => ({
      object: "embedding" as const,
      index,
      embedding: vector(hashString(JSON.stringify(input ?? null)), dimensions)
    })),
    model: model(request, "text-embedding-3-small"),
    usage: { prompt_tokens: prompt, total_tokens: prompt }
  }
}

const numberOr = (value: unknown, fallback: number) => typeof value === "number" ? value : fallback

export const response = (request: RequestInfo) => {
  const input = request.body.input
  const text = `Echo: ${typeof input === "string" ? input : lastUserText(input)}`
  const inputTokens = tokens(input)
  const outputTokens = tokens(text)
  const { instructions, metadata } = request.body
  return {
    id: `resp_${suffix(request, 3)}`,
    object: "response" as const,
    created_at: request.createdAt,
    completed_at: request.createdAt,
    status: "completed" as const,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: typeof instructions === "string" ? instructions : null,
    max_output_tokens: typeof request.body.max_output_tokens === "number" ? request.body.max_output_tokens : null,
    metadata: typeof metadata === "object" && metadata !== null && !Array.isArray(metadata)
      ? metadata as { [key: string]: string }
      : {},
    model: model(request, "gpt-4o-mini-2024-07-18"),
    output: [{
      type: "message" as const,
      id: `msg_${suffix(request, 4)}`,
      status: "completed" as const,
      role: "assistant" as const,
      content: [{ type: "output_text" as const, text, annotations: [], logprobs: [] }]
    }],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: "default" as const,
    store: true,
    temperature: numberOr(request.body.temperature, 1),
    text: { format: { type: "text" as const }, verbosity: "medium" as const },
    tool_choice: "auto" as const,
    tools: [],
    top_logprobs: 0,
    top_p: numberOr(request.body.top_p, 1),
    truncation: "disabled" as const,
    usage: {
      input_tokens: inputTokens,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: outputTokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: inputTokens + outputTokens
    }
  }
}

const textOnly = ["text"] as Array<"text">
const textAndImage = ["text"] as Array<"text" | "image">

export const moderation = (request: RequestInfo) => ({
  id: `modr-${suffix(request, 5)}`,
  model: model(request, "omni-moderation-latest"),
  results: inputsOf(request).map(() => ({
    flagged: false,
    categories: {
      harassment: false,
      "harassment/threatening": false,
      hate: false,
      "hate/threatening": false,
      illicit: false,
      "illicit/violent": false,
      "self-harm": false,
      "self-harm/instructions": false,
      "self-harm/intent": false,
      sexual: false,
      "sexual/minors": false,
      violence: false,
      "violence/graphic": false
    },
    category_scores: {
      harassment: 0.0001,
      "harassment/threatening": 0.0001,
      hate: 0.0001,
      "hate/threatening": 0.0001,
      illicit: 0.0001,
      "illicit/violent": 0.0001,
      "self-harm": 0.0001,
      "self-harm/instructions": 0.0001,
      "self-harm/intent": 0.0001,
      sexual: 0.0001,
      "sexual/minors": 0.0001,
      violence: 0.0001,
      "violence/graphic": 0.0001
    },
    category_applied_input_types: {
      harassment: textOnly,
      "harassment/threatening": textOnly,
      hate: textOnly,
      "hate/threatening": textOnly,
      illicit: textOnly,
      "illicit/violent": textOnly,
      "self-harm": textAndImage,
      "self-harm/instructions": textAndImage,
      "self-harm/intent": textAndImage,
      sexual: textAndImage,
      "sexual/minors": textOnly,
      violence: textAndImage,
      "violence/graphic": textAndImage
    }
  }))
})

/** A 1×1 transparent PNG: the smallest image every decoder reads. */
const pixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="

export const images = (request: RequestInfo) => {
  const n = typeof request.body.n === "number" && request.body.n >= 1 ? Math.floor(request.body.n) : 1
  const prompt = tokens(request.body.prompt)
  const output = 272 * n
  return {
    created: request.createdAt,
    background: "opaque" as const,
    output_format: "png" as const,
    quality: "low" as const,
    size: "1024x1024" as const,
    data: Array.from({ length: n }, () => ({ b64_json: pixel })),
    usage: {
      input_tokens: prompt,
      input_tokens_details: { image_tokens: 0, text_tokens: prompt },
      output_tokens: output,
      output_tokens_details: { image_tokens: output, text_tokens: 0 },
      total_tokens: prompt + output
    }
  }
}

const videoSizes = ["720x1280", "1280x720", "1024x1792", "1792x1024"] as const

export const video = (request: RequestInfo) => {
  const { prompt, seconds, size } = request.body
  return {
    id: `video_${suffix(request, 6)}`,
    object: "video" as const,
    created_at: request.createdAt,
    completed_at: null,
    error: null,
    expires_at: null,
    model: model(request, "sora-2"),
    progress: 0,
    prompt: typeof prompt === "string" ? prompt : null,
    remixed_from_video_id: null,
    seconds: typeof seconds === "string" ? seconds : "4",
    size: videoSizes.find((s) => s === size) ?? videoSizes[0],
    status: "queued" as const
  }
}
