/**
 * One batch seeded in a chosen status, with chosen counts and metadata. It is stored as a created
 * batch is (an input file of `total` lines, its own durations, its results computed by the
 * responders), with its creation time and phase durations chosen so that at the seeding instant it
 * shows exactly the status and counts asked for; from then on it follows the ordinary lifecycle
 * (cancel, expiry, result files) like any other.
 */
import type { Batch } from "@batchfx/core"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Ref from "effect/Ref"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import * as Content from "./content.js"
import type { Context, State } from "./context.js"
import { batchId, fileId, nextId, settle } from "./context.js"
import { hashString, permutation } from "./hash.js"
import { millis } from "./knobs.js"
import * as Store from "./store.js"

const defaultModel = (endpoint: string): string =>
  endpoint === "/v1/embeddings"
    ? "text-embedding-3-small"
    : endpoint === "/v1/moderations"
    ? "omni-moderation-latest"
    : endpoint.startsWith("/v1/images/")
    ? "gpt-image-1"
    : endpoint === "/v1/videos"
    ? "sora-2"
    : "gpt-4o-mini"

const body = (endpoint: string, model: string, n: number): { readonly [key: string]: unknown } =>
  endpoint === "/v1/chat/completions"
    ? { model, messages: [{ role: "user", content: `Seeded question ${n}` }] }
    : endpoint === "/v1/completions" || endpoint.startsWith("/v1/images/") || endpoint === "/v1/videos"
    ? { model, prompt: `Seeded prompt ${n}` }
    : { model, input: `Seeded input ${n}` }

/** Where the batch stands at the seeding instant: counts, timing, and the times to store. */
interface Placement {
  readonly total: number
  readonly done: number
  readonly failed: number
  readonly timing: Store.Timing
  /** How long before now it was created, and (when cancelled) asked to cancel. */
  readonly createdAgo: number
  readonly cancelAgo: number | undefined
}

const bad = (message: string) => Effect.fail(new Cause.IllegalArgumentException(`seedBatch: ${message}`))

const count = (
  name: string,
  value: number | undefined
): Effect.Effect<number | undefined, Cause.IllegalArgumentException> =>
  value === undefined || (Number.isSafeInteger(value) && value >= 0)
    ? Effect.succeed(value)
    : bad(`request_counts.${name} must be a non-negative integer, got ${value}.`)

const place = (
  options: FakeOpenAi.SeedBatchOptions,
  durations: FakeOpenAi.Durations
): Effect.Effect<Placement, Cause.IllegalArgumentException> =>
  Effect.gen(function*() {
    const { status } = options
    const given = options.request_counts ?? {}
    const total0 = yield* count("total", given.total)
    const completed0 = yield* count("completed", given.completed)
    const failed = (yield* count("failed", given.failed)) ?? 0
    const finished = status === "finalizing" || status === "completed"
    const unfinished = status === "in_progress" || status === "expired"
    if ((status === "validating" || status === "failed") && ((completed0 ?? 0) > 0 || failed > 0)) {
      return yield* bad(`a ${status} batch has run no request: request_counts.completed and failed must be 0.`)
    }
    const someDone = (completed0 ?? 0) + failed
    const total = total0 ?? Math.max(3, unfinished ? someDone + 1 : someDone)
    if (total < 1) return yield* bad("request_counts.total must be at least 1.")
    const completed = completed0 ?? (finished ? total - failed : 0)
    const done = completed + failed
    if (done > total) {
      return yield* bad(`completed (${completed}) and failed (${failed}) add up to more than total (${total}).`)
    }
    if (finished && done !== total) {
      return yield* bad(`a ${status} batch ran every request: completed + failed must equal total (${total}).`)
    }
    if (unfinished && done === total) {
      return yield* bad(`an ${status} batch has requests left: completed + failed must be below total (${total}).`)
    }
    const validating = Math.max(1, millis(durations.validating))
    // Requests finish every `step` ms, so that exactly `done` have finished at the seeding instant.
    const step = Math.max(1, Math.ceil(millis(durations.inProgress) / total))
    const timing: Store.Timing = {
      validating,
      inProgress: total * step,
      finalizing: millis(durations.finalizing),
      cancelling: millis(durations.cancelling),
      expiring: millis(durations.expiring),
      window: millis(durations.completionWindow)
    }
    switch (status) {
      case "validating":
        return { total, done: 0, failed: 0, timing, createdAgo: 0, cancelAgo: undefined }
      case "failed":
        return { total, done: 0, failed: 0, timing, createdAgo: validating, cancelAgo: undefined }
      case "in_progress":
        return { total, done, failed, timing, createdAgo: validating + done * step, cancelAgo: undefined }
      case "finalizing":
        return { total, done, failed, timing, createdAgo: validating + total * step, cancelAgo: undefined }
      case "completed":
        return {
          total,
          done,
          failed,
          timing,
          createdAgo: validating + total * step + timing.finalizing,
          cancelAgo: undefined
        }
      case "expired": {
        // The deadline cut the run after `done` requests: the run is spread over the window.
        const window = timing.window
        const slow = done === 0 ? Math.max(2, step) : Math.floor((window - validating) / done)
        if (slow < 1) return yield* bad(`the completion window is too short for ${done} finished requests.`)
        const expiredTiming: Store.Timing = {
          ...timing,
          validating: done === 0 ? window - 1 : window - done * slow,
          inProgress: total * slow
        }
        return {
          total,
          done,
          failed,
          timing: expiredTiming,
          createdAgo: window + timing.expiring,
          cancelAgo: undefined
        }
      }
      case "cancelling":
      case "cancelled": {
        const since = status === "cancelled" ? timing.cancelling : 0
        // With nothing done it was cancelled while validating.
        const ran = done === 0 ? 0 : validating + done * step
        return { total, done, failed, timing, createdAgo: ran + since, cancelAgo: since }
      }
    }
  })

const defaultErrors: ReadonlyArray<Store.BatchErrorEncoded> = [{
  code: "invalid_json_line",
  message: "This line is not parseable as valid JSON.",
  param: null,
  line: 1
}]

/** Stores a batch that shows `options.status` and its counts now, with its input file. */
export const seedBatch = (
  ctx: Context,
  options: FakeOpenAi.SeedBatchOptions
): Effect.Effect<Batch.BatchEncoded, Cause.IllegalArgumentException> =>
  Effect.gen(function*() {
    const endpoint = options.endpoint ?? "/v1/chat/completions"
    const responder = ctx.options.responders[endpoint]
    if (responder === undefined) {
      return yield* bad(`the emulator has no responder for ${endpoint}: give it one in the responders option.`)
    }
    const knobs = yield* Ref.get(ctx.knobs)
    const p = yield* place(options, { ...knobs.durations, ...options.durations })
    const now = yield* Clock.currentTimeMillis
    const model = options.model ?? defaultModel(endpoint)
    const createdMs = now - p.createdAgo
    const { seed } = ctx.options
    return yield* Ref.modify(ctx.state, (s0): [Batch.BatchEncoded, State] => {
      const [fileN, s1] = nextId(s0)
      const [batchN, s2] = nextId(s1)
      const inputFileId = fileId(seed, fileN)
      const id = batchId(seed, batchN)
      const text = Array.from({ length: p.total }, (_, i) =>
        JSON.stringify({
          custom_id: `request-${i + 1}`,
          method: "POST",
          url: endpoint,
          body: body(endpoint, model, i + 1)
        }))
        .join("\n") + "\n"
      const content = Store.bytesOf(text)
      const created = Math.floor(createdMs / 1000)
      const file: Store.StoredFile = {
        id: inputFileId,
        seq: Chunk.size(s2.fileOrder),
        bytes: content.length,
        createdAt: created,
        expiresAt: null,
        filename: `seeded-${id}.jsonl`,
        purpose: "batch",
        content: Content.of(content)
      }
      // The requests that finish first are the first `done` in processing order (store.validate's
      // permutation); the last `failed` of them fail.
      const order = permutation(p.total, hashString(id))
      const failing = new Set(order.slice(p.done - p.failed, p.done).map((i) => i + 1))
      const errors = options.errors?.map((e) => ({
        code: e.code,
        message: e.message,
        param: e.param ?? null,
        line: e.line ?? null
      })) ?? defaultErrors
      const batch: Store.StoredBatch = {
        id,
        seq: Chunk.size(s2.batchOrder),
        endpoint,
        inputFileId,
        completionWindow: "24h",
        metadata: options.metadata ?? null,
        outputExpiresSeconds: undefined,
        createdMs,
        timing: p.timing,
        validation: options.status === "failed"
          ? () => ({ _tag: "Invalid", errors })
          : Store.lazy(() =>
            Store.validate({
              batchId: id,
              createdAt: created,
              endpoint,
              inputFileId,
              file,
              responder,
              failLine: (request) => failing.has(request.line),
              limits: {},
              knownModel: () => true
            })
          ),
        cancelAtMs: p.cancelAgo === undefined ? undefined : now - p.cancelAgo,
        files: undefined
      }
      const stored: State = {
        ...s2,
        files: HashMap.set(s2.files, inputFileId, file),
        fileOrder: Chunk.append(s2.fileOrder, inputFileId),
        batches: HashMap.set(s2.batches, id, batch),
        batchOrder: Chunk.append(s2.batchOrder, id)
      }
      const [settled, next] = settle(seed, stored, batch, now)
      return [Store.view(settled, now).batch, next]
    })
  })
