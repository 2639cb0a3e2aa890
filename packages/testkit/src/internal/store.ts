/** Batches and files in memory, and the lifecycle computed from stored timestamps and the current time. */
import type { Batch } from "@batchfx/core"
import { RequestLine, ResultLine } from "@batchfx/core"
import * as Schema from "effect/Schema"
import * as Responder from "../Responder.js"
import { snapshots } from "./bodies.js"
import * as Content from "./content.js"
import { hashString, hex, mix, permutation } from "./hash.js"

/** One entry of `errors.data` as sent. */
export type BatchErrorEncoded = NonNullable<NonNullable<Batch.BatchEncoded["errors"]>["data"]>[number]

/** Lifecycle durations of one batch, in milliseconds. */
export interface Timing {
  readonly validating: number
  readonly inProgress: number
  readonly finalizing: number
  readonly cancelling: number
  readonly expiring: number
  readonly window: number
}

export interface StoredFile {
  readonly id: string
  readonly seq: number
  readonly bytes: number
  readonly createdAt: number
  readonly expiresAt: number | null
  readonly filename: string
  readonly purpose: string
  readonly content: Content.Content
}

/** One request's precomputed result, in processing order. */
export interface LineResult {
  readonly customId: string
  readonly id: string
  readonly requestId: string
  readonly statusCode: number
  readonly body: unknown
}

/** Prefix sums over the processing order: index k holds the totals of the first k results. */
export interface Prefix {
  readonly ok: Array<number>
  readonly failed: Array<number>
  readonly input: Array<number>
  readonly cached: Array<number>
  readonly output: Array<number>
  readonly reasoning: Array<number>
}

export type Validation =
  | {
    readonly _tag: "Valid"
    readonly model: string | null
    readonly results: ReadonlyArray<LineResult>
    readonly prefix: Prefix
  }
  | { readonly _tag: "Invalid"; readonly errors: ReadonlyArray<BatchErrorEncoded> }

export interface StoredBatch {
  readonly id: string
  readonly seq: number
  readonly endpoint: string
  readonly inputFileId: string
  readonly completionWindow: string
  readonly metadata: { readonly [key: string]: string } | null
  readonly outputExpiresSeconds: number | undefined
  readonly createdMs: number
  readonly timing: Timing
  /**
   * Checks the input and answers every line, computed once on first use: a create is answered at
   * once and the work happens while the batch is `validating`, as the service does it.
   */
  readonly validation: () => Validation
  readonly cancelAtMs: number | undefined
  /** Set once the batch reached a terminal status and its result files were written. */
  readonly files: { readonly output: string | null; readonly error: string | null } | undefined
}

const encoder = new TextEncoder()

const num = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 0)

const usageOf = (body: unknown) => {
  const usage = typeof body === "object" && body !== null && "usage" in body ? (body as { usage: unknown }).usage : null
  if (typeof usage !== "object" || usage === null) return { input: 0, cached: 0, output: 0, reasoning: 0 }
  const u = usage as Record<string, unknown>
  const details = (key: string, inner: string) => {
    const d = u[key]
    return typeof d === "object" && d !== null ? num((d as Record<string, unknown>)[inner]) : 0
  }
  return {
    input: num(u.input_tokens ?? u.prompt_tokens),
    cached: details("input_tokens_details", "cached_tokens") || details("prompt_tokens_details", "cached_tokens"),
    output: num(u.output_tokens ?? u.completion_tokens),
    reasoning: details("output_tokens_details", "reasoning_tokens") ||
      details("completion_tokens_details", "reasoning_tokens")
  }
}

/** The answer of a line that `FailLine` fails with `true`. */
const defaultFailure = (request: Responder.RequestInfo): Responder.Reply => ({
  status_code: 400,
  body: {
    error: {
      message: `The request with custom_id '${request.customId}' was rejected by the emulator.`,
      type: "invalid_request_error",
      param: null,
      code: null
    }
  }
})

/** Memoizes a computation, so that the spreads of a stored batch share one result. */
export const lazy = <A>(f: () => A): () => A => {
  let done = false
  let value: A
  return () => {
    if (!done) {
      value = f()
      done = true
    }
    return value
  }
}

/** Endpoints whose requests must name a model; the others have a default model. */
const modelRequired = new Set(["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"])

/** The checks core does not know: a missing model, and a model the emulator does not know. */
const modelProblem = (
  endpoint: string,
  model: unknown,
  knownModel: (model: string) => boolean,
  line: number
): RequestLine.LineProblem | undefined => {
  if (model === undefined || model === null) {
    return modelRequired.has(endpoint)
      ? { line, code: "invalid_request", param: "body.model", message: "Model parameter is required." }
      : undefined
  }
  if (typeof model !== "string" || !knownModel(model)) {
    return {
      line,
      code: "model_not_found",
      param: "body.model",
      message: `The model \`${
        typeof model === "string" ? model : JSON.stringify(model)
      }\` does not exist or you do not have access to it.`
    }
  }
  return undefined
}

/** Checks an input file with core's incremental check and, when valid, runs every line through the responder. */
export const validate = (options: {
  readonly batchId: string
  readonly createdAt: number
  readonly endpoint: string
  readonly inputFileId: string
  readonly file: StoredFile | undefined
  readonly responder: Responder.Responder
  readonly failLine: Responder.FailLine | undefined
  readonly limits: RequestLine.InputLimits
  readonly knownModel: (model: string) => boolean
}): Validation => {
  const { file } = options
  if (file === undefined) {
    return {
      _tag: "Invalid",
      errors: [{
        code: "invalid_request",
        message: `Cannot find file ${options.inputFileId}, or organization org-batchfx does not have access to it.`,
        param: "file_id",
        line: null
      }]
    }
  }
  const check = RequestLine.makeInputCheck(options.endpoint, options.limits)
  const problems: Array<RequestLine.LineProblem> = []
  const requests: Array<Responder.RequestInfo> = []
  const text = Content.text(file.content)
  let start = 0
  while (start <= text.length) {
    let end = text.indexOf("\n", start)
    if (end === -1) end = text.length
    const raw = text.slice(start, end)
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    start = end + 1
    if (line.trim() === "") continue
    const found = check.pushText(line)
    if (found.length > 0) {
      problems.push(...found)
    } else {
      const value = JSON.parse(line) as { custom_id: string; body: { readonly [key: string]: unknown } }
      const problem = modelProblem(options.endpoint, value.body.model, options.knownModel, check.lines())
      if (problem !== undefined) problems.push(problem)
      if (problems.length > 0) continue
      requests.push({
        batchId: options.batchId,
        createdAt: options.createdAt,
        endpoint: options.endpoint,
        line: check.lines(),
        customId: value.custom_id,
        body: value.body
      })
    }
  }
  problems.push(...check.finish())
  if (problems.length > 0) {
    return {
      _tag: "Invalid",
      errors: problems.map((p) => ({ code: p.code, message: p.message, param: p.param, line: p.line }))
    }
  }
  const seed = hashString(options.batchId)
  const order = permutation(requests.length, seed)
  const results: Array<LineResult> = []
  const prefix: Prefix = { ok: [0], failed: [0], input: [0], cached: [0], output: [0], reasoning: [0] }
  for (let k = 0; k < order.length; k++) {
    const request = requests[order[k]!]!
    const failure = options.failLine?.(request) ?? false
    const reply = failure === false
      ? options.responder(request)
      : failure === true
      ? defaultFailure(request)
      : failure
    const ok = reply.status_code >= 200 && reply.status_code < 300
    const usage = ok ? usageOf(reply.body) : { input: 0, cached: 0, output: 0, reasoning: 0 }
    results.push({
      customId: request.customId,
      id: `batch_req_${hex(seed, k * 2, 32)}`,
      requestId: `req_${hex(seed, k * 2 + 1, 32)}`,
      statusCode: reply.status_code,
      body: reply.body
    })
    prefix.ok.push(prefix.ok[k]! + (ok ? 1 : 0))
    prefix.failed.push(prefix.failed[k]! + (ok ? 0 : 1))
    prefix.input.push(prefix.input[k]! + usage.input)
    prefix.cached.push(prefix.cached[k]! + usage.cached)
    prefix.output.push(prefix.output[k]! + usage.output)
    prefix.reasoning.push(prefix.reasoning[k]! + usage.reasoning)
  }
  const first = requests[0]?.body.model
  return { _tag: "Valid", model: typeof first === "string" ? (snapshots[first] ?? first) : null, results, prefix }
}

/** What a batch still validating shows: no model, no counts. */
const pending: Validation = {
  _tag: "Valid",
  model: null,
  results: [],
  prefix: { ok: [0], failed: [0], input: [0], cached: [0], output: [0], reasoning: [0] }
}

type Status =
  | "validating"
  | "failed"
  | "in_progress"
  | "finalizing"
  | "completed"
  | "expired"
  | "cancelling"
  | "cancelled"

interface Plan {
  readonly events: ReadonlyArray<readonly [Status, number]>
  /** Requests finishing after this time never run (expiry or cancellation). */
  readonly cutoff: number
}

const plan = (b: StoredBatch, now: number): Plan => {
  const t = b.timing
  const created = b.createdMs
  const validated = created + Math.max(1, t.validating)
  const expires = created + t.window
  const cancel = b.cancelAtMs
  // Until validation ends nothing depends on its outcome, so it is not computed yet.
  if (cancel === undefined && now < validated) return { events: [["validating", created]], cutoff: -Infinity }
  if (b.validation()._tag === "Invalid") {
    if (cancel !== undefined && cancel < validated) {
      return {
        events: [["validating", created], ["cancelling", cancel], ["cancelled", cancel + t.cancelling]],
        cutoff: -Infinity
      }
    }
    return { events: [["validating", created], ["failed", validated]], cutoff: -Infinity }
  }
  const done = validated + t.inProgress
  const natural: Plan = validated >= expires
    ? { events: [["validating", created], ["finalizing", expires], ["expired", expires + t.expiring]], cutoff: expires }
    : done <= expires
    ? {
      events: [["validating", created], ["in_progress", validated], ["finalizing", done], [
        "completed",
        done + t.finalizing
      ]],
      cutoff: Infinity
    }
    : {
      events: [["validating", created], ["in_progress", validated], ["finalizing", expires], [
        "expired",
        expires + t.expiring
      ]],
      cutoff: expires
    }
  if (cancel === undefined) return natural
  return {
    events: [
      ...natural.events.filter(([s, at]) => at <= cancel && (s === "validating" || s === "in_progress")),
      ["cancelling", cancel],
      ["cancelled", cancel + t.cancelling]
    ],
    cutoff: cancel
  }
}

/** How many requests (in processing order) have finished by `time`. */
const doneCount = (b: StoredBatch, n: number, time: number): number => {
  const validated = b.createdMs + Math.max(1, b.timing.validating)
  if (time < validated) return 0
  if (b.timing.inProgress <= 0) return n
  return Math.min(n, Math.floor((time - validated) * n / b.timing.inProgress))
}

export const statusAt = (b: StoredBatch, now: number): Status => {
  let status: Status = "validating"
  for (const [s, at] of plan(b, now).events) if (at <= now) status = s
  return status
}

export interface View {
  readonly batch: Batch.BatchEncoded
  readonly status: Status
  readonly terminalAt: number | undefined
}

const seconds = (ms: number) => Math.floor(ms / 1000)

/** The batch as the API would show it at `now`, with the file ids it has if its files were written. */
export const view = (b: StoredBatch, now: number): View => {
  const p = plan(b, now)
  const stamps: Partial<Record<Status, number>> = {}
  let status: Status = "validating"
  for (const [s, at] of p.events) {
    if (at <= now) {
      status = s
      stamps[s] = seconds(at)
    }
  }
  const terminal = status === "completed" || status === "failed" || status === "expired" || status === "cancelled"
  const terminalAt = terminal ? p.events.find(([s]) => s === status)?.[1] : undefined
  const v: Validation = status === "validating" ? pending : b.validation()
  const started = stamps.in_progress !== undefined
  const n = v._tag === "Valid" ? v.results.length : 0
  const k = v._tag === "Valid" && started ? doneCount(b, n, Math.min(now, p.cutoff)) : 0
  const prefix = v._tag === "Valid" ? v.prefix : undefined
  const at = (s: Status) => stamps[s] ?? null
  const input = prefix?.input[k] ?? 0
  const output = prefix?.output[k] ?? 0
  return {
    status,
    terminalAt,
    batch: {
      id: b.id,
      object: "batch",
      endpoint: b.endpoint,
      model: v._tag === "Valid" && started ? v.model : null,
      errors: v._tag === "Invalid" && status === "failed" ? { object: "list", data: v.errors } : null,
      input_file_id: b.inputFileId,
      completion_window: b.completionWindow,
      status,
      output_file_id: b.files?.output ?? null,
      error_file_id: b.files?.error ?? null,
      created_at: seconds(b.createdMs),
      in_progress_at: at("in_progress"),
      expires_at: seconds(b.createdMs) + Math.round(b.timing.window / 1000),
      finalizing_at: at("finalizing"),
      completed_at: at("completed"),
      failed_at: at("failed"),
      expired_at: at("expired"),
      cancelling_at: at("cancelling"),
      cancelled_at: at("cancelled"),
      request_counts: {
        // A batch cancelled while validating counts the lines its error file lists as cancelled.
        total: started || stamps.cancelling !== undefined ? n : 0,
        completed: prefix?.ok[k] ?? 0,
        failed: prefix?.failed[k] ?? 0
      },
      usage: {
        input_tokens: input,
        input_tokens_details: { cached_tokens: prefix?.cached[k] ?? 0 },
        output_tokens: output,
        output_tokens_details: { reasoning_tokens: prefix?.reasoning[k] ?? 0 },
        total_tokens: input + output
      },
      metadata: b.metadata
    }
  }
}

const encodeResultLine = Schema.encodeSync(ResultLine.BatchResultLine)

/** Renders result lines: the first `done` results as answered, the rest as never run (expired or cancelled). */
const renderResults = (
  results: ReadonlyArray<LineResult>,
  done: number,
  status: Status
): { output: string; error: string } => {
  let output = ""
  let error = ""
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!
    if (i < done) {
      const line = JSON.stringify(encodeResultLine({
        id: r.id,
        custom_id: r.customId,
        response: { status_code: r.statusCode, request_id: r.requestId, body: r.body },
        error: null
      })) + "\n"
      if (r.statusCode >= 200 && r.statusCode < 300) output += line
      else error += line
    } else {
      error += JSON.stringify(encodeResultLine({
        id: r.id,
        custom_id: r.customId,
        response: null,
        error: status === "expired"
          ? {
            code: "batch_expired",
            message: "This request could not be executed before the completion window expired."
          }
          : { code: "batch_cancelled", message: "This request was not executed because the batch was cancelled." }
      })) + "\n"
    }
  }
  return { output, error }
}

/** The output and error file contents of a batch that reached a terminal status. */
export const resultFiles = (b: StoredBatch, now: number): { output: string; error: string } => {
  const v = b.validation()
  if (v._tag === "Invalid") return { output: "", error: "" }
  const k = doneCount(b, v.results.length, Math.min(now, plan(b, now).cutoff))
  return renderResults(v.results, k, statusAt(b, now))
}

export const bytesOf = (text: string): Uint8Array => encoder.encode(text)

// ---------------------------------------------------------------------------------------------
// Synthetic batches: batch i of N is computed from i alone, so a million cost no memory.

/** Prefix of synthetic batch ids: `batch_` + `5eed` + 28 hex digits of the index (32 hex in all). */
export const seedPrefix = "batch_5eed"

export const seededId = (index: number): string => seedPrefix + index.toString(16).padStart(28, "0")

export const seededIndex = (id: string): number | undefined => {
  if (!id.startsWith(seedPrefix) || id.length !== seedPrefix.length + 28) return undefined
  const digits = id.slice(seedPrefix.length)
  if (!/^[0-9a-f]+$/.test(digits)) return undefined
  const index = parseInt(digits, 16)
  return Number.isSafeInteger(index) ? index : undefined
}

const seededEndpoints = ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"] as const
const seededModels = ["gpt-4o-mini-2024-07-18", "text-embedding-3-small", "gpt-4o-mini-2024-07-18"] as const

/** What synthetic batch `index` is: everything else about it follows from this. */
const seededShape = (index: number) => {
  const h = mix(0x5eed, index)
  const total = 1 + (h % 500)
  const kind = index % 20
  const status: Status = kind === 16 ? "failed" : kind === 17 ? "expired" : kind === 18 ? "cancelled" : "completed"
  const failed = status === "completed" && kind === 19 ? 1 + (h % total) : 0
  const completed = status === "completed" ? total - failed : status === "failed" ? 0 : Math.floor(total / 2)
  return {
    total,
    status,
    failed,
    completed,
    endpoint: seededEndpoints[index % seededEndpoints.length]!,
    model: seededModels[index % seededModels.length]!
  }
}

/** The kinds of file a synthetic batch has: input, output, error. */
export type SeededFileKind = "i" | "o" | "e"

const seededFilePrefix = "file-5eed"

/** The id of a synthetic batch's file: `file-5eed` + 16 hex digits of the index + the kind. */
export const seededFileId = (index: number, kind: SeededFileKind): string =>
  seededFilePrefix + index.toString(16).padStart(16, "0") + kind

export const seededFileIndex = (id: string): { readonly index: number; readonly kind: SeededFileKind } | undefined => {
  const match = /^file-5eed([0-9a-f]{16})([ioe])$/.exec(id)
  if (match === null) return undefined
  const index = parseInt(match[1]!, 16)
  return Number.isSafeInteger(index) ? { index, kind: match[2] as SeededFileKind } : undefined
}

const seededBody = (endpoint: string, model: string, line: number) =>
  endpoint === "/v1/chat/completions"
    ? { model, messages: [{ role: "user", content: `Seeded question ${line}` }] }
    : { model, input: `Seeded input ${line}` }

/**
 * A file of synthetic batch `index`, generated on demand (never stored): the input, or the output
 * and error files answered by the default responders. `undefined` if the batch has no such file.
 */
export const seededFile = (
  index: number,
  kind: SeededFileKind,
  seededAt: number,
  window = 86_400
): StoredFile | undefined => {
  const batch = seededBatch(index, seededAt, window)
  const shape = seededShape(index)
  const id = seededFileId(index, kind)
  if (kind === "o" && batch.output_file_id !== id) return undefined
  if (kind === "e" && batch.error_file_id !== id) return undefined
  const lines = Array.from({ length: shape.total }, (_, k) =>
    shape.status === "failed" && k === 0
      ? "not json"
      : JSON.stringify({
        custom_id: `seed-${index}-${k + 1}`,
        method: "POST",
        url: shape.endpoint,
        body: seededBody(shape.endpoint, shape.model, k + 1)
      }))
  const input = lines.join("\n") + "\n"
  const file = (text: string, purpose: string, createdAt: number, filename: string): StoredFile => {
    const content = bytesOf(text)
    return {
      id,
      seq: -1,
      bytes: content.length,
      createdAt,
      expiresAt: createdAt + 2_592_000,
      filename,
      purpose,
      content: Content.of(content)
    }
  }
  if (kind === "i") return file(input, "batch", batch.created_at - 10, `seeded-${index}.jsonl`)
  const validation = validate({
    batchId: batch.id,
    createdAt: batch.created_at,
    endpoint: shape.endpoint,
    inputFileId: batch.input_file_id,
    file: file(input, "batch", 0, ""),
    responder: Responder.defaults[shape.endpoint] ?? Responder.echo,
    failLine: (request) => request.line <= shape.failed,
    limits: {},
    knownModel: () => true
  })
  if (validation._tag === "Invalid") return undefined
  const done = shape.status === "completed" ? shape.total : shape.completed
  const rendered = renderResults(validation.results, done, shape.status)
  const finished = batch.completed_at ?? batch.expired_at ?? batch.cancelled_at ?? batch.created_at
  return kind === "o"
    ? file(rendered.output, "batch_output", finished, `${batch.id}_output.jsonl`)
    : file(rendered.error, "batch_output", finished, `${batch.id}_error.jsonl`)
}

/**
 * Synthetic batch `index`, seeded at `seededAt` (Unix seconds): terminal, older as the index grows.
 * Its deadline is `window` seconds after creation, as a created batch's is.
 */
export const seededBatch = (index: number, seededAt: number, window = 86_400): Batch.BatchEncoded => {
  const created = seededAt - 60 * (index + 1)
  const { completed, endpoint, failed, model, status, total } = seededShape(index)
  const input = completed * 40
  const output = completed * 12
  return {
    id: seededId(index),
    object: "batch",
    endpoint,
    model: status === "failed" ? null : model,
    errors: status === "failed"
      ? {
        object: "list",
        data: [{
          code: "invalid_json_line",
          message: "This line is not parseable as valid JSON.",
          param: null,
          line: 1
        }]
      }
      : null,
    input_file_id: seededFileId(index, "i"),
    completion_window: "24h",
    status,
    output_file_id: completed > 0 ? seededFileId(index, "o") : null,
    error_file_id: failed > 0 || status === "expired" || status === "cancelled" ? seededFileId(index, "e") : null,
    created_at: created,
    in_progress_at: status === "failed" ? null : created + 5,
    expires_at: created + window,
    finalizing_at: status === "completed" ? created + 600 : status === "expired" ? created + window : null,
    completed_at: status === "completed" ? created + 660 : null,
    failed_at: status === "failed" ? created + 5 : null,
    expired_at: status === "expired" ? created + window + Math.max(1, Math.round(window / 144)) : null,
    cancelling_at: status === "cancelled" ? created + 60 : null,
    cancelled_at: status === "cancelled" ? created + 660 : null,
    request_counts: { total: status === "failed" ? 0 : total, completed, failed },
    usage: {
      input_tokens: input,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: output,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: input + output
    },
    metadata: { seeded: String(index) }
  }
}
