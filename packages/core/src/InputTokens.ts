/**
 * How many input tokens a request body holds, by the rules the service counts a batch's lines with
 * against a model's enqueued-token limit. The text is counted by a `Counter` the caller brings (a
 * tokenizer of the model's encoding), so these rules need no tokenizer of their own.
 *
 * What is counted, by endpoint:
 * - `/v1/chat/completions`: each message's text (a string, or its `text` parts), its `name`, its
 *   tool calls' JSON, 3 tokens per message and 3 for the reply, plus the JSON of `tools`/`functions`;
 * - `/v1/responses`: `instructions`, then `input` (a string, or items whose `content` is a string or
 *   `input_text`/`output_text` parts), 3 tokens per item, plus the JSON of `tools`;
 * - `/v1/embeddings`, `/v1/completions`, `/v1/moderations`: `input` / `prompt` (strings, or arrays
 *   of token ids counted one token each);
 * - an image part counts 765 tokens (a 1024×1024 image at high detail); any other part, item or
 *   endpoint counts the tokens of its JSON text, an estimate above the real count, so a budget
 *   built on it waits a little early rather than fails.
 *
 * @since 0.1.0
 */

/**
 * The encodings of current models: `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series, and any model
 * not listed) and `cl100k_base` (GPT-4, GPT-3.5, the text-embedding models).
 *
 * @since 0.1.0
 * @category models
 */
export type Encoding = "o200k_base" | "cl100k_base"

/**
 * The encoding of a model (`ft:` models by their base model).
 *
 * @since 0.1.0
 * @category utils
 */
export const encodingOf = (model: string | undefined): Encoding => {
  const base = model === undefined ? "" : model.startsWith("ft:") ? model.slice(3).split(":")[0]! : model
  return /^(gpt-4(-\d|-turbo|-32k|$)|gpt-3\.5|text-embedding-|davinci-002|babbage-002)/.test(base)
    ? "cl100k_base"
    : "o200k_base"
}

/**
 * Counts the tokens of a text.
 *
 * @since 0.1.0
 * @category models
 */
export type Counter = (text: string) => number

/**
 * Tokens of one image, whatever its size: 85 + 4 × 170, a 1024×1024 image at high detail.
 *
 * @since 0.1.0
 * @category constants
 */
export const imageTokens = 765

/**
 * Tokens added per chat message or response item, and once for the reply.
 *
 * @since 0.1.0
 * @category constants
 */
export const perMessage = 3

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const json = (count: Counter, u: unknown): number => (u === undefined ? 0 : count(JSON.stringify(u)))

/** A string, an array of strings, or token ids (one token each), as `input` and `prompt` take them. */
const plainInput = (count: Counter, input: unknown): number => {
  if (typeof input === "string") return count(input)
  if (typeof input === "number") return 1
  if (Array.isArray(input)) return input.reduce((n: number, item: unknown) => n + plainInput(count, item), 0)
  if (isRecord(input)) return part(count, input)
  return json(count, input)
}

/** A content part of a message, a response item or a moderation input. */
const part = (count: Counter, p: unknown): number => {
  if (typeof p === "string") return count(p)
  if (!isRecord(p)) return json(count, p)
  if (typeof p.text === "string" && (p.type === "text" || p.type === "input_text" || p.type === "output_text")) {
    return count(p.text)
  }
  if (p.type === "image_url" || p.type === "input_image") return imageTokens
  return json(count, p)
}

const content = (count: Counter, c: unknown): number =>
  typeof c === "string"
    ? count(c)
    : Array.isArray(c)
    ? c.reduce((n: number, p) => n + part(count, p), 0)
    : json(count, c)

const chatMessage = (count: Counter, m: unknown): number => {
  if (!isRecord(m)) return perMessage + json(count, m)
  return perMessage +
    (m.content === undefined || m.content === null ? 0 : content(count, m.content)) +
    (typeof m.name === "string" ? count(m.name) : 0) +
    json(count, m.tool_calls) +
    json(count, m.function_call)
}

const responseItem = (count: Counter, item: unknown): number => {
  if (typeof item === "string") return perMessage + count(item)
  if (isRecord(item) && "content" in item && (item.type === undefined || item.type === "message")) {
    return perMessage + content(count, item.content)
  }
  return perMessage + json(count, item)
}

/**
 * The input tokens of one request body sent to `endpoint`, with a counter of the model's encoding.
 *
 * @since 0.1.0
 * @category utils
 */
export const ofBody = (endpoint: string, body: unknown, count: Counter): number => {
  if (!isRecord(body)) return json(count, body)
  switch (endpoint) {
    case "/v1/chat/completions": {
      const messages = Array.isArray(body.messages) ? body.messages : []
      return messages.reduce((n: number, m) => n + chatMessage(count, m), perMessage) +
        json(count, body.tools) + json(count, body.functions)
    }
    case "/v1/responses": {
      const input = body.input
      const items = typeof input === "string" ? count(input) + perMessage : Array.isArray(input)
        ? input.reduce((n: number, item) => n + responseItem(count, item), 0)
        : json(count, input)
      return (typeof body.instructions === "string" ? count(body.instructions) : 0) + items + perMessage +
        json(count, body.tools)
    }
    case "/v1/embeddings":
    case "/v1/moderations":
      return plainInput(count, body.input)
    case "/v1/completions":
      return plainInput(count, body.prompt)
    default: {
      const { model: _, ...rest } = body
      return json(count, rest)
    }
  }
}

/**
 * The model a request names (`body.model`), if any.
 *
 * @since 0.1.0
 * @category utils
 */
export const modelOf = (body: unknown): string | undefined =>
  isRecord(body) && typeof body.model === "string" ? body.model : undefined
