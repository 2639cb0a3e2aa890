/** `/v1/batches*`: create, retrieve, cancel and list, with the lifecycle read off the `Clock`. */
import type { Batch } from "@batchfx/core"
import { BatchPage } from "@batchfx/core"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Responder from "../../Responder.js"
import type { Context, State } from "../context.js"
import { batchId, findFile, nextId, observe, pathParam, searchParam, settle } from "../context.js"
import { checkCreate } from "../createParams.js"
import { millis } from "../knobs.js"
import * as Store from "../store.js"
import * as TokenLimit from "../tokenLimit.js"
import { ApiFailure, decodeListParams, encodeBatch, encodePage, invalid, json, outOfRange } from "../wire.js"

const notFound = (id: string) =>
  new ApiFailure({
    status: 404,
    message: `No batch found with id '${id}'.`,
    type: "invalid_request_error",
    param: null,
    code: "batch_not_found"
  })

const create = (ctx: Context) =>
  Effect.gen(function*() {
    const { options } = ctx
    const request = yield* HttpServerRequest.HttpServerRequest
    const raw = yield* request.json.pipe(
      Effect.mapError(() =>
        invalid(
          "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
          null
        )
      )
    )
    const params = yield* checkCreate(raw, Object.keys(options.responders))
    const endpoint: string = params.endpoint
    const metadata = params.metadata ?? null
    const inputFileId = params.input_file_id
    const inputFile = findFile(yield* Ref.get(ctx.state), inputFileId)
    if (inputFile !== undefined && inputFile.purpose !== "batch") {
      return yield* invalid(
        `The input file ${inputFileId} has purpose '${inputFile.purpose}', but a batch input file must have purpose 'batch'.`,
        "input_file_id",
        "invalid_value"
      )
    }
    const knobs = yield* Ref.get(ctx.knobs)
    const now = yield* Clock.currentTimeMillis
    const responder = options.responders[endpoint] ?? Responder.echo
    const counters = knobs.tokenLimit === undefined ? undefined : yield* Effect.promise(TokenLimit.load)
    const created = yield* Ref.modify(ctx.state, (s): [Store.StoredBatch, State] => {
      const [n, next] = nextId(s)
      const id = batchId(options.seed, n)
      // Measured against the batches in flight as the batch is created; it fails when validation ends.
      const overLimit = ((): Store.BatchErrorEncoded | undefined => {
        if (counters === undefined || inputFile === undefined) return undefined
        const own = TokenLimit.ofFile(inputFile, endpoint, counters)
        const limit = TokenLimit.limitOf(knobs.tokenLimit, own.model)
        if (limit === undefined || own.model === undefined) return undefined
        const enqueued = TokenLimit.enqueuedAt(HashMap.values(s.batches), own.model, now, (b) => {
          const file = findFile(s, b.inputFileId)
          return file === undefined ? undefined : TokenLimit.ofFile(file, b.endpoint, counters)
        })
        return enqueued + own.tokens > limit ? TokenLimit.exceeded(own.model, limit) : undefined
      })()
      const d = knobs.durations
      const b: Store.StoredBatch = {
        id,
        seq: Chunk.size(s.batchOrder),
        endpoint,
        inputFileId,
        completionWindow: "24h",
        metadata,
        outputExpiresSeconds: params.output_expires_after?.seconds,
        createdMs: now,
        timing: {
          validating: millis(d.validating),
          inProgress: millis(d.inProgress),
          finalizing: millis(d.finalizing),
          cancelling: millis(d.cancelling),
          expiring: millis(d.expiring),
          window: millis(d.completionWindow)
        },
        validation: Store.lazy(() =>
          overLimit !== undefined ? { _tag: "Invalid", errors: [overLimit] } : Store.validate({
            batchId: id,
            createdAt: Math.floor(now / 1000),
            endpoint,
            inputFileId,
            file: inputFile,
            responder,
            failLine: options.failLine,
            limits: options.inputLimits,
            knownModel: options.knownModel
          })
        ),
        cancelAtMs: undefined,
        files: undefined
      }
      return [b, {
        ...next,
        batches: HashMap.set(next.batches, id, b),
        batchOrder: Chunk.append(next.batchOrder, id)
      }]
    })
    return json(encodeBatch(Store.view(created, now).batch))
  })

const retrieve = (ctx: Context) =>
  Effect.gen(function*() {
    const id = yield* pathParam
    const now = yield* Clock.currentTimeMillis
    const batch = yield* observe(ctx, id, now)
    if (batch === undefined) return yield* notFound(id)
    return json(encodeBatch(batch))
  })

const cancel = (ctx: Context) =>
  Effect.gen(function*() {
    const id = yield* pathParam
    const now = yield* Clock.currentTimeMillis
    const { seed } = ctx.options
    const outcome = yield* Ref.modify(
      ctx.state,
      (s): [{ readonly batch: Batch.BatchEncoded } | { readonly status: string } | undefined, State] => {
        const stored = HashMap.get(s.batches, id)
        if (Option.isNone(stored)) {
          const index = Store.seededIndex(id)
          if (index === undefined || index >= s.seeded) return [undefined, s]
          const seeded = Store.seededBatch(index, s.seededAt, s.seededWindow)
          return [seeded.status === "cancelled" ? { batch: seeded } : { status: seeded.status }, s]
        }
        const status = Store.statusAt(stored.value, now)
        if (status === "validating" || status === "in_progress") {
          const cancelled: Store.StoredBatch = { ...stored.value, cancelAtMs: now }
          const [b, next] = settle(seed, { ...s, batches: HashMap.set(s.batches, id, cancelled) }, cancelled, now)
          return [{ batch: Store.view(b, now).batch }, next]
        }
        if (status === "cancelling" || status === "cancelled") {
          const [b, next] = settle(seed, s, stored.value, now)
          return [{ batch: Store.view(b, now).batch }, next]
        }
        return [{ status }, s]
      }
    )
    if (outcome === undefined) return yield* notFound(id)
    if ("status" in outcome) {
      return yield* invalid(`Cannot cancel a batch with status '${outcome.status}'.`, null, null, 409)
    }
    return json(encodeBatch(outcome.batch))
  })

/** The `limit` of a list request, checked with the API's messages; 20 when absent. */
const listLimit = (text: string | undefined): Effect.Effect<number, ApiFailure> => {
  if (text === undefined) return Effect.succeed(20)
  const n = Number(text)
  if (text.trim() === "" || !Number.isFinite(n)) {
    return invalid(`Invalid type for 'limit': expected an integer, but got a string instead.`, "limit", "invalid_type")
  }
  if (!Number.isInteger(n)) {
    return invalid(
      `Invalid type for 'limit': expected an integer, but got a decimal number instead.`,
      "limit",
      "invalid_type"
    )
  }
  const range = outOfRange("limit", n, 1, BatchPage.maxLimit)
  if (range !== undefined) return range
  return Effect.succeed(n)
}

// Created batches come first, newest first, then the seeded ones (all older) by index.
const list = (ctx: Context) =>
  Effect.gen(function*() {
    const afterText = yield* searchParam("after")
    const limit = yield* listLimit(yield* searchParam("limit"))
    const checked = decodeListParams({ limit, ...(afterText === undefined ? {} : { after: afterText }) })
    if (checked._tag === "Left") return yield* invalid(checked.left.message, "after", "invalid_value")
    const knobs = yield* Ref.get(ctx.knobs)
    const after = knobs.stuckCursor ? undefined : afterText
    const now = yield* Clock.currentTimeMillis
    const lag = knobs.listLag === undefined ? 0 : millis(knobs.listLag)
    const page = yield* Ref.modify(
      ctx.state,
      (s): [{ readonly items: ReadonlyArray<Batch.BatchEncoded>; readonly hasMore: boolean }, State] => {
        // Batches are in creation order, so the ones a lagging list leaves out are the newest.
        let real = Chunk.size(s.batchOrder)
        while (
          lag > 0 && real > 0 &&
          Option.getOrThrow(HashMap.get(s.batches, Chunk.unsafeGet(s.batchOrder, real - 1))).createdMs > now - lag
        ) real--
        const total = real + s.seeded
        let start = 0
        if (after !== undefined) {
          const stored = HashMap.get(s.batches, after)
          const index = Store.seededIndex(after)
          start = Option.isSome(stored)
            ? Math.max(0, real - stored.value.seq)
            : index !== undefined && index < s.seeded
            ? real + index + 1
            : total
        }
        const end = Math.min(total, start + limit)
        const items: Array<Batch.BatchEncoded> = []
        let next = s
        for (let pos = start; pos < end; pos++) {
          if (pos < real) {
            const id = Chunk.unsafeGet(next.batchOrder, real - 1 - pos)
            const [b, settled] = settle(ctx.options.seed, next, Option.getOrThrow(HashMap.get(next.batches, id)), now)
            next = settled
            items.push(Store.view(b, now).batch)
          } else {
            items.push(Store.seededBatch(pos - real, s.seededAt, s.seededWindow))
          }
        }
        return [{ items, hasMore: end < total }, next]
      }
    )
    return json(encodePage({
      object: "list",
      data: page.items,
      ...(knobs.omitHasMore ? {} : { has_more: page.hasMore }),
      first_id: page.items[0]?.id ?? null,
      last_id: page.items[page.items.length - 1]?.id ?? null
    }))
  })

/** The routes of `/v1/batches*`. */
export const router = (ctx: Context) =>
  HttpRouter.empty.pipe(
    HttpRouter.post("/v1/batches", create(ctx)),
    HttpRouter.get("/v1/batches", list(ctx)),
    HttpRouter.get("/v1/batches/:id", retrieve(ctx)),
    HttpRouter.post("/v1/batches/:id/cancel", cancel(ctx))
  )
