/**
 * The enqueued-token limit per model: a batch whose input tokens, added to those of the model's
 * batches in flight (`validating`, `in_progress`, `finalizing`) when it is created, pass the limit
 * fails during validation with `token_limit_exceeded`, as the service does.
 *
 * Tokens are counted with `gpt-tokenizer` by the rules of `@batchfx/core/InputTokens`, as
 * `@batchfx/jobs`'s `TokenCount` counts them (a jobs test checks both agree at the limit's edge
 * over HTTP), so a client that counts with it and stays under the limit never meets the failure.
 */
import { InputTokens } from "@batchfx/core"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import type { BatchErrorEncoded, StoredBatch, StoredFile } from "./store.js"
import { statusAt } from "./store.js"

export interface Counters {
  readonly o200k_base: InputTokens.Counter
  readonly cl100k_base: InputTokens.Counter
}

const noSpecial = { disallowedSpecial: new Set<string>() }
let loading: Promise<Counters> | undefined

/** Both encodings, loaded once per process on the first create under a limit. */
export const load = (): Promise<Counters> => {
  loading ??= Promise.all([
    import("gpt-tokenizer/encoding/o200k_base"),
    import("gpt-tokenizer/encoding/cl100k_base")
  ]).then(([o, c]) => ({
    o200k_base: (text) => (text === "" ? 0 : o.countTokens(text, noSpecial)),
    cl100k_base: (text) => (text === "" ? 0 : c.countTokens(text, noSpecial))
  }))
  return loading
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** A file's bytes, as one array or a list of blocks. */
const decode = (bytes: Uint8Array | ReadonlyArray<Uint8Array>): string => {
  const decoder = new TextDecoder()
  if (bytes instanceof Uint8Array) return decoder.decode(bytes)
  let out = ""
  for (const block of bytes) out += decoder.decode(block, { stream: true })
  return out + decoder.decode()
}

/** What a batch's input enqueues: its model (the first line's `body.model`) and input tokens. */
export interface Enqueued {
  readonly model: string | undefined
  readonly tokens: number
}

// A file's content never changes, so its count is kept for as long as the file is.
const counted = new WeakMap<object, Enqueued>()

/** The tokens of an input file; lines that are not JSON count nothing (validation fails them anyway). */
export const ofFile = (file: StoredFile, endpoint: string, counters: Counters): Enqueued => {
  const bytes = file.content as Uint8Array | ReadonlyArray<Uint8Array>
  const known = counted.get(bytes)
  if (known !== undefined) return known
  let model: string | undefined
  let tokens = 0
  for (const raw of decode(bytes).split("\n")) {
    if (raw.trim() === "") continue
    let line: unknown
    try {
      line = JSON.parse(raw)
    } catch {
      continue
    }
    if (!isRecord(line)) continue
    const body = line.body
    if (model === undefined && isRecord(body) && typeof body.model === "string") model = body.model
    const url = typeof line.url === "string" ? line.url : endpoint
    tokens += InputTokens.ofBody(
      url,
      body,
      counters[InputTokens.encodingOf(isRecord(body) && typeof body.model === "string" ? body.model : model)]
    )
  }
  const enqueued = { model, tokens }
  counted.set(bytes, enqueued)
  return enqueued
}

/** The limit of a model: one number for every model, or a limit per model (`"*"` for the others). */
export const limitOf = (limit: FakeOpenAi.TokenLimit | undefined, model: string | undefined): number | undefined => {
  if (limit === undefined || model === undefined) return undefined
  if (typeof limit === "number") return limit
  return limit[model] ?? limit["*"]
}

const inFlight = new Set(["validating", "in_progress", "finalizing"])

/** The tokens of `model` in the batches in flight at `now` (a batch that fails its validation holds none). */
export const enqueuedAt = (
  batches: Iterable<StoredBatch>,
  model: string,
  now: number,
  tokensOf: (batch: StoredBatch) => Enqueued | undefined
): number => {
  let total = 0
  for (const b of batches) {
    const status = statusAt(b, now)
    if (!inFlight.has(status)) continue
    const enqueued = tokensOf(b)
    if (enqueued?.model !== model) continue
    if (status === "validating" && b.validation()._tag === "Invalid") continue
    total += enqueued.tokens
  }
  return total
}

/** The error of a batch over the limit, worded as the service words it. */
export const exceeded = (model: string, limit: number): BatchErrorEncoded => ({
  code: "token_limit_exceeded",
  message: `Enqueued token limit reached for ${model} in organization org-batchfx. Limit: ${
    limit.toLocaleString("en-US")
  } enqueued tokens. Please try again once some in_progress batches have been completed.`,
  param: null,
  line: null
})
