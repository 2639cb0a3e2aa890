/** The emulator: state, the HttpApp serving `/v1/files*` and `/v1/batches*`, and the knobs around it. */
import type { Batch } from "@batchfx/core"
import { BatchPage } from "@batchfx/core"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import type { Fault } from "../Fault.js"
import * as Responder from "../Responder.js"
import * as Route from "../Route.js"
import { bodyOf, rechunk, socketOf, takeBytes, TruncatedBody, withBody } from "./body.js"
import { checkCreate } from "./createParams.js"
import { alnum, hex, unit } from "./hash.js"
import { millis, patchKnobs, resolve } from "./knobs.js"
import * as Store from "./store.js"
import {
  ApiFailure,
  decodeListParams,
  encodeBatch,
  encodeDeleted,
  encodeFile,
  encodeFileList,
  encodePage,
  encoder,
  errorBody,
  faultError,
  goDuration,
  htmlBadGateway,
  invalid,
  json,
  quoteList,
  redactKey,
  resetMarker,
  uploadPurposes
} from "./wire.js"

interface State {
  readonly files: HashMap.HashMap<string, Store.StoredFile>
  readonly fileOrder: Chunk.Chunk<string>
  readonly batches: HashMap.HashMap<string, Store.StoredBatch>
  readonly batchOrder: Chunk.Chunk<string>
  readonly seeded: number
  readonly seededAt: number
  /** Files of seeded batches are generated on demand; deleting one is remembered here. */
  readonly deletedSeeded: HashSet.HashSet<string>
  readonly nextId: number
}

const emptyState: State = {
  files: HashMap.empty(),
  fileOrder: Chunk.empty(),
  batches: HashMap.empty(),
  batchOrder: Chunk.empty(),
  seeded: 0,
  seededAt: 0,
  deletedSeeded: HashSet.empty(),
  nextId: 0
}

interface Scripted {
  readonly route: Route.Route
  readonly at: number
  readonly fault: Fault
}

/** Builds the emulator: its state and the app that serves it. */
export const make = (options: FakeOpenAi.Options = {}) =>
  Effect.gen(function*() {
    const resolved = resolve(options)
    const knobsRef = yield* Ref.make(resolved.knobs)
    const state = yield* Ref.make(emptyState)
    const counters = yield* Ref.make(HashMap.empty<string, FakeOpenAi.Counter>())
    const arrivals = yield* Ref.make(HashMap.empty<Route.Route, number>())
    const script = yield* Ref.make<ReadonlyArray<Scripted>>([])
    const requestSeq = yield* Ref.make(0)
    const rateWindow = yield* Ref.make({ start: Number.NEGATIVE_INFINITY, used: 0 })
    const seed = resolved.seed

    const nextIds = (s: State, count: number): [Array<number>, State] => [
      Array.from({ length: count }, (_, i) => s.nextId + i),
      { ...s, nextId: s.nextId + count }
    ]
    const fileId = (n: number) => `file-${alnum(seed, n, 24)}`
    const batchId = (n: number) => {
      let id = `batch_${hex(seed, n, 32)}`
      for (let i = 1; id.startsWith(Store.seedPrefix); i++) id = `batch_${hex(seed + i, n, 32)}`
      return id
    }

    // ---- state helpers ------------------------------------------------------------------------

    /** Writes the result files of a batch that reached a terminal status, once. */
    const settle = (s: State, b: Store.StoredBatch, now: number): [Store.StoredBatch, State] => {
      if (b.files !== undefined) return [b, s]
      const v = Store.view(b, now)
      if (v.terminalAt === undefined) return [b, s]
      if (b.validation._tag === "Invalid") {
        const settled = { ...b, files: { output: null, error: null } }
        return [settled, { ...s, batches: HashMap.set(s.batches, b.id, settled) }]
      }
      const contents = Store.resultFiles(b, now)
      const createdAt = Math.floor(v.terminalAt / 1000)
      let next = s
      const write = (text: string, suffix: string): string | null => {
        if (text === "") return null
        const [[n], after] = nextIds(next, 1)
        const id = fileId(n!)
        const content = Store.bytesOf(text)
        next = {
          ...after,
          files: HashMap.set(after.files, id, {
            id,
            seq: Chunk.size(after.fileOrder),
            bytes: content.length,
            createdAt,
            expiresAt: createdAt + (b.outputExpiresSeconds ?? 2_592_000),
            filename: `${b.id}_${suffix}.jsonl`,
            purpose: "batch_output",
            content
          }),
          fileOrder: Chunk.append(after.fileOrder, id)
        }
        return id
      }
      const output = write(contents.output, "output")
      const error = write(contents.error, "error")
      const settled = { ...b, files: { output, error } }
      return [settled, { ...next, batches: HashMap.set(next.batches, b.id, settled) }]
    }

    /** The wire form of a batch at `now`, writing its result files if it just became terminal. */
    const observe = (id: string, now: number): Effect.Effect<Batch.BatchEncoded | undefined> =>
      Ref.modify(state, (s) => {
        const stored = HashMap.get(s.batches, id)
        if (Option.isNone(stored)) {
          const index = Store.seededIndex(id)
          return [index !== undefined && index < s.seeded ? Store.seededBatch(index, s.seededAt) : undefined, s]
        }
        const [b, next] = settle(s, stored.value, now)
        return [Store.view(b, now).batch, next]
      })

    const fileObject = (f: Store.StoredFile) =>
      encodeFile({
        id: f.id,
        object: "file",
        bytes: f.bytes,
        created_at: f.createdAt,
        expires_at: f.expiresAt,
        filename: f.filename,
        purpose: f.purpose,
        status: "processed",
        status_details: null
      })

    const findFile = (s: State, id: string): Store.StoredFile | undefined => {
      const stored = HashMap.get(s.files, id)
      if (Option.isSome(stored)) return stored.value
      const seeded = Store.seededFileIndex(id)
      if (seeded === undefined || seeded.index >= s.seeded || HashSet.has(s.deletedSeeded, id)) return undefined
      return Store.seededFile(seeded.index, seeded.kind, s.seededAt)
    }

    const getFile = (id: string) =>
      Effect.flatMap(Ref.get(state), (s) => {
        const file = findFile(s, id)
        return file === undefined
          ? Effect.fail(invalid(`No such File object: ${id}`, "id", null, 404))
          : Effect.succeed(file)
      })

    const pathParam = Effect.map(HttpRouter.params, (p) => p["id"] ?? "")

    const searchParam = (name: string) =>
      Effect.map(HttpServerRequest.ParsedSearchParams, (p) => {
        const value = p[name]
        return Array.isArray(value) ? value[0] : value
      })

    // ---- files ------------------------------------------------------------------------------

    const uploadFile = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const fields = new Map<string, string>()
      let file: { readonly name: string; readonly content: Uint8Array } | undefined
      yield* Stream.runForEach(request.multipartStream, (part) =>
        Multipart.isFile(part)
          ? Effect.map(part.contentEffect, (content) => {
            if (part.key === "file") file = { name: part.name, content }
          })
          : Effect.sync(() => {
            if (!Multipart.isField(part)) return
            if (part.key === "file") file = { name: "file", content: encoder.encode(part.value) }
            else fields.set(part.key, part.value)
          })).pipe(
          HttpIncomingMessage.withMaxBodySize(Option.some(600 * 1024 * 1024)),
          Multipart.withFieldMimeTypes([]),
          Effect.mapError((e) => invalid(`Could not parse multipart form: ${e.message}`, null))
        )
      const purpose = fields.get("purpose")
      if (file === undefined) {
        return yield* invalid("Missing required parameter: 'file'.", "file", "missing_required_parameter")
      }
      if (purpose === undefined) {
        return yield* invalid("Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
      }
      if (!(uploadPurposes as ReadonlyArray<string>).includes(purpose)) {
        return yield* invalid(
          `Invalid value: '${purpose}'. Supported values are: ${quoteList(uploadPurposes)}.`,
          "purpose",
          "invalid_value"
        )
      }
      const anchor = fields.get("expires_after[anchor]") ?? fields.get("expires_after.anchor")
      const secondsText = fields.get("expires_after[seconds]") ?? fields.get("expires_after.seconds")
      let expiresAfter: number | undefined
      if (anchor !== undefined || secondsText !== undefined) {
        if (anchor !== "created_at") {
          return yield* invalid(
            `Invalid value: '${anchor ?? ""}'. Supported values are: 'created_at'.`,
            "expires_after.anchor",
            "invalid_value"
          )
        }
        const seconds = Number(secondsText)
        if (secondsText === undefined || !Number.isInteger(seconds) || seconds < 3600 || seconds > 2_592_000) {
          return yield* invalid(
            `Invalid 'expires_after.seconds': expected an integer from 3600 to 2592000, but got ${
              secondsText ?? "nothing"
            } instead.`,
            "expires_after.seconds",
            "invalid_value"
          )
        }
        expiresAfter = seconds
      }
      if (file.content.length > 512 * 1024 * 1024) {
        return yield* invalid("File is too large: the maximum size is 512 MB.", "file", "file_too_large")
      }
      const createdAt = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const expiresAt = expiresAfter !== undefined
        ? createdAt + expiresAfter
        : purpose === "batch"
        ? createdAt + 2_592_000
        : null
      const upload = file
      const stored = yield* Ref.modify(state, (s): [Store.StoredFile, State] => {
        const [[n], next] = nextIds(s, 1)
        const f: Store.StoredFile = {
          id: fileId(n!),
          seq: Chunk.size(s.fileOrder),
          bytes: upload.content.length,
          createdAt,
          expiresAt,
          filename: upload.name,
          purpose,
          content: upload.content
        }
        return [f, { ...next, files: HashMap.set(next.files, f.id, f), fileOrder: Chunk.append(next.fileOrder, f.id) }]
      })
      return json(fileObject(stored))
    })

    const listFiles = Effect.gen(function*() {
      const purpose = yield* searchParam("purpose")
      const order = (yield* searchParam("order")) ?? "desc"
      const after = yield* searchParam("after")
      const limitText = yield* searchParam("limit")
      const limit = limitText === undefined ? 10_000 : Number(limitText)
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        return yield* invalid(
          `Invalid 'limit': expected an integer from 1 to 10000, but got ${limitText} instead.`,
          "limit",
          "invalid_value"
        )
      }
      if (order !== "asc" && order !== "desc") {
        return yield* invalid(
          `Invalid value: '${order}'. Supported values are: 'asc' and 'desc'.`,
          "order",
          "invalid_value"
        )
      }
      const s = yield* Ref.get(state)
      const all = Chunk.toReadonlyArray(s.fileOrder).flatMap((id) => Option.toArray(HashMap.get(s.files, id)))
        .filter((f) => purpose === undefined || f.purpose === purpose)
      const ordered = order === "desc" ? all.slice().reverse() : all
      const start = after === undefined ? 0 : ordered.findIndex((f) => f.id === after) + 1
      const page = start === 0 && after !== undefined ? [] : ordered.slice(start, start + limit)
      return json(encodeFileList({
        object: "list",
        data: page.map(fileObject),
        has_more: start + page.length < ordered.length && page.length > 0,
        first_id: page[0]?.id ?? null,
        last_id: page[page.length - 1]?.id ?? null
      }))
    })

    const retrieveFile = Effect.flatMap(pathParam, (id) => Effect.map(getFile(id), (f) => json(fileObject(f))))

    const deleteFile = Effect.gen(function*() {
      const id = yield* pathParam
      yield* getFile(id)
      yield* Ref.update(state, (s) => ({
        ...s,
        files: HashMap.remove(s.files, id),
        deletedSeeded: HashMap.has(s.files, id) ? s.deletedSeeded : HashSet.add(s.deletedSeeded, id)
      }))
      return json(encodeDeleted({ id, object: "file", deleted: true }))
    })

    const fileContent = Effect.gen(function*() {
      const id = yield* pathParam
      const f = yield* getFile(id)
      const request = yield* HttpServerRequest.HttpServerRequest
      const range = request.headers["range"]
      const total = f.bytes
      let start = 0
      let end = total - 1
      let status = 200
      const headers: Record<string, string> = { "accept-ranges": "bytes" }
      if (range !== undefined) {
        const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
        if (match !== null && (match[1] !== "" || match[2] !== "")) {
          if (match[1] === "") {
            start = Math.max(0, total - Number(match[2]))
          } else {
            start = Number(match[1])
            end = match[2] === "" ? total - 1 : Math.min(total - 1, Number(match[2]))
          }
          if (start >= total || start > end) {
            return HttpServerResponse.empty({
              status: 416,
              headers: { ...headers, "content-range": `bytes */${total}` }
            })
          }
          status = 206
          headers["content-range"] = `bytes ${start}-${end}/${total}`
        }
      }
      const slice = total === 0 ? f.content : f.content.subarray(start, end + 1)
      return HttpServerResponse.stream(rechunk(Stream.make(slice), 64 * 1024), {
        status,
        headers,
        contentLength: slice.length,
        contentType: "application/octet-stream"
      })
    })

    // ---- batches ----------------------------------------------------------------------------

    const createBatch = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const raw = yield* request.json.pipe(
        Effect.mapError(() =>
          invalid(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            null
          )
        )
      )
      const params = yield* checkCreate(raw, Object.keys(resolved.responders))
      const endpoint: string = params.endpoint
      const metadata = params.metadata ?? null
      const inputFileId = params.input_file_id
      const inputFile = findFile(yield* Ref.get(state), inputFileId)
      if (inputFile !== undefined && inputFile.purpose !== "batch") {
        return yield* invalid(
          `The input file ${inputFileId} has purpose '${inputFile.purpose}', but a batch input file must have purpose 'batch'.`,
          "input_file_id",
          "invalid_value"
        )
      }
      const knobs = yield* Ref.get(knobsRef)
      const now = yield* Clock.currentTimeMillis
      const responder = resolved.responders[endpoint] ?? Responder.echo
      const created = yield* Ref.modify(state, (s): [Store.StoredBatch, State] => {
        const [[n], next] = nextIds(s, 1)
        const id = batchId(n!)
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
          validation: Store.validate({
            batchId: id,
            createdAt: Math.floor(now / 1000),
            endpoint,
            inputFileId,
            file: inputFile,
            responder,
            failLine: resolved.failLine,
            defaultFailure: Responder.defaultFailure,
            limits: resolved.inputLimits
          }),
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

    const notFoundBatch = (id: string) =>
      new ApiFailure({
        status: 404,
        message: `No batch found with id '${id}'.`,
        type: "invalid_request_error",
        param: null,
        code: "batch_not_found"
      })

    const retrieveBatch = Effect.gen(function*() {
      const id = yield* pathParam
      const now = yield* Clock.currentTimeMillis
      const batch = yield* observe(id, now)
      if (batch === undefined) return yield* notFoundBatch(id)
      return json(encodeBatch(batch))
    })

    const cancelBatch = Effect.gen(function*() {
      const id = yield* pathParam
      const now = yield* Clock.currentTimeMillis
      const outcome = yield* Ref.modify(
        state,
        (s): [{ readonly batch: Batch.BatchEncoded } | { readonly status: string } | undefined, State] => {
          const stored = HashMap.get(s.batches, id)
          if (Option.isNone(stored)) {
            const index = Store.seededIndex(id)
            if (index === undefined || index >= s.seeded) return [undefined, s]
            const seeded = Store.seededBatch(index, s.seededAt)
            return [seeded.status === "cancelled" ? { batch: seeded } : { status: seeded.status }, s]
          }
          const status = Store.statusAt(stored.value, now)
          if (status === "validating" || status === "in_progress") {
            const cancelled: Store.StoredBatch = { ...stored.value, cancelAtMs: now }
            const [b, next] = settle({ ...s, batches: HashMap.set(s.batches, id, cancelled) }, cancelled, now)
            return [{ batch: Store.view(b, now).batch }, next]
          }
          if (status === "cancelling" || status === "cancelled") {
            const [b, next] = settle(s, stored.value, now)
            return [{ batch: Store.view(b, now).batch }, next]
          }
          return [{ status }, s]
        }
      )
      if (outcome === undefined) return yield* notFoundBatch(id)
      if ("status" in outcome) {
        return yield* invalid(`Cannot cancel a batch with status '${outcome.status}'.`, null, null, 409)
      }
      return json(encodeBatch(outcome.batch))
    })

    const listBatches = Effect.gen(function*() {
      const afterText = yield* searchParam("after")
      const limitText = yield* searchParam("limit")
      let limit = 20
      if (limitText !== undefined) {
        const n = Number(limitText)
        if (limitText.trim() === "" || !Number.isFinite(n)) {
          return yield* invalid(
            `Invalid type for 'limit': expected an integer, but got a string instead.`,
            "limit",
            "invalid_type"
          )
        }
        if (!Number.isInteger(n)) {
          return yield* invalid(
            `Invalid type for 'limit': expected an integer, but got a decimal number instead.`,
            "limit",
            "invalid_type"
          )
        }
        if (n < 1) {
          return yield* invalid(
            `Invalid 'limit': integer below minimum value. Expected a value >= 1, but got ${n} instead.`,
            "limit",
            "integer_below_min_value"
          )
        }
        if (n > BatchPage.maxLimit) {
          return yield* invalid(
            `Invalid 'limit': integer above maximum value. Expected a value <= ${BatchPage.maxLimit}, but got ${n} instead.`,
            "limit",
            "integer_above_max_value"
          )
        }
        limit = n
      }
      const checked = decodeListParams({ limit, ...(afterText === undefined ? {} : { after: afterText }) })
      if (checked._tag === "Left") return yield* invalid(checked.left.message, "after", "invalid_value")
      const knobs = yield* Ref.get(knobsRef)
      const after = knobs.stuckCursor ? undefined : afterText
      const now = yield* Clock.currentTimeMillis
      const page = yield* Ref.modify(
        state,
        (s): [{ readonly items: ReadonlyArray<Batch.BatchEncoded>; readonly hasMore: boolean }, State] => {
          const real = Chunk.size(s.batchOrder)
          const total = real + s.seeded
          let start = 0
          if (after !== undefined) {
            const stored = HashMap.get(s.batches, after)
            const index = Store.seededIndex(after)
            start = Option.isSome(stored)
              ? real - stored.value.seq
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
              const [b, settled] = settle(next, Option.getOrThrow(HashMap.get(next.batches, id)), now)
              next = settled
              items.push(Store.view(b, now).batch)
            } else {
              items.push(Store.seededBatch(pos - real, s.seededAt))
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

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/v1/files", uploadFile),
      HttpRouter.get("/v1/files", listFiles),
      HttpRouter.get("/v1/files/:id", retrieveFile),
      HttpRouter.get("/v1/files/:id/content", fileContent),
      HttpRouter.del("/v1/files/:id", deleteFile),
      HttpRouter.post("/v1/batches", createBatch),
      HttpRouter.get("/v1/batches", listBatches),
      HttpRouter.get("/v1/batches/:id", retrieveBatch),
      HttpRouter.post("/v1/batches/:id/cancel", cancelBatch)
    )

    // ---- the outer app: ids, auth, knobs, faults, counters ----------------------------------

    const count = (method: string, route: Route.Route, status: number) =>
      Ref.update(counters, (m) => {
        const key = `${method} ${route} ${status}`
        const prev = Option.getOrUndefined(HashMap.get(m, key))
        return HashMap.set(m, key, { method, route, status, count: (prev?.count ?? 0) + 1 })
      })

    const pickFault = (route: Route.Route, arrival: number, n: number, knobs: FakeOpenAi.Knobs) =>
      Ref.modify(script, (entries): [Fault | undefined, ReadonlyArray<Scripted>] => {
        const index = entries.findIndex((e) => e.route === route && e.at === arrival)
        if (index >= 0) return [entries[index]!.fault, entries.filter((_, i) => i !== index)]
        const random = knobs.randomFaults
        if (
          random !== undefined && random.faults.length > 0 &&
          (random.routes === undefined || random.routes.includes(route)) &&
          unit(random.seed ?? seed, n) < random.rate
        ) {
          return [random.faults[Math.floor(unit((random.seed ?? seed) + 1, n) * random.faults.length)]!, entries]
        }
        return [undefined, entries]
      })

    const rateLimit = (knobs: FakeOpenAi.Knobs, now: number) =>
      Ref.modify(rateWindow, (w): [
        { readonly allowed: boolean; readonly headers: Record<string, string>; readonly resetMs: number } | undefined,
        { start: number; used: number }
      ] => {
        const limit = knobs.rateLimit
        if (limit === undefined) return [undefined, w]
        const window = Math.max(1, millis(limit.window))
        const current = now >= w.start + window ? { start: now, used: 0 } : w
        const allowed = current.used < limit.requests
        const next = allowed ? { start: current.start, used: current.used + 1 } : current
        const resetMs = next.start + window - now
        const headers: Record<string, string> = limit.headers === false ? {} : {
          "x-ratelimit-limit-requests": String(limit.requests),
          "x-ratelimit-remaining-requests": String(Math.max(0, limit.requests - next.used)),
          "x-ratelimit-reset-requests": goDuration(resetMs)
        }
        return [{ allowed, headers, resetMs }, next]
      })

    const apiError = (e: ApiFailure) =>
      HttpServerResponse.uint8Array(encoder.encode(JSON.stringify(errorBody(e))), {
        status: e.status,
        contentType: "application/json",
        ...(e.headers === undefined ? {} : { headers: e.headers })
      })

    const handled: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> =
      router.pipe(
        Effect.catchTags({
          ApiFailure: (e: ApiFailure) => Effect.succeed(apiError(e)),
          RouteNotFound: (e: HttpServerError.RouteNotFound) =>
            Effect.succeed(
              apiError(invalid(`Invalid URL (${e.request.method} ${e.request.url.split("?")[0]})`, null, null, 404))
            )
        }),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.failCause(cause)
            : Effect.succeed(json(errorBody(faultError(500)), 500))
        ),
        Effect.orDie
      )

    const app: Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> = Effect
      .gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const start = yield* Clock.currentTimeMillis
        const n = yield* Ref.getAndUpdate(requestSeq, (k) => k + 1)
        const requestId = `req_${hex(seed ^ 0x5eed, n, 32)}`
        const path = request.url.split("?")[0] ?? "/"
        const route = Route.classify(request.method, path)
        const arrival = yield* Ref.modify(arrivals, (m) => {
          const k = Option.getOrElse(HashMap.get(m, route), () => 0) + 1
          return [k, HashMap.set(m, route, k)] as const
        })
        const knobs = yield* Ref.get(knobsRef)
        if (millis(knobs.latency) > 0) yield* Effect.sleep(knobs.latency)
        const fault = yield* pickFault(route, arrival, n, knobs)
        const socket = socketOf(request)

        const reset = Effect.gen(function*() {
          yield* count(request.method, route, 0)
          if (socket !== undefined) {
            socket.resetAndDestroy()
            return yield* Effect.never
          }
          return HttpServerResponse.empty({ status: 599, headers: { [resetMarker]: "1" } })
        })
        if (fault?._tag === "ResetBeforeResponse") return yield* reset

        let extraHeaders: Record<string, string> = {}
        let response: HttpServerResponse.HttpServerResponse
        if (fault?._tag === "Status") {
          response = json(errorBody(faultError(fault.status)), fault.status)
        } else if (fault?._tag === "HtmlBadGateway") {
          response = HttpServerResponse.text(htmlBadGateway, { status: 502, contentType: "text/html" })
        } else {
          const auth = request.headers["authorization"]
          const key = auth !== undefined && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined
          const now = yield* Clock.currentTimeMillis
          const limited = key === resolved.apiKey && !knobs.quotaExhausted ? yield* rateLimit(knobs, now) : undefined
          if (limited !== undefined) extraHeaders = limited.headers
          if (key === undefined || key === "") {
            response = apiError(
              invalid(
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
                null,
                null,
                401
              )
            )
          } else if (key !== resolved.apiKey) {
            response = apiError(
              invalid(
                `Incorrect API key provided: ${
                  redactKey(key)
                }. You can find your API key at https://platform.openai.com/account/api-keys.`,
                null,
                "invalid_api_key",
                401
              )
            )
          } else if (knobs.quotaExhausted) {
            response = apiError(
              new ApiFailure({
                status: 429,
                message:
                  "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
                type: "insufficient_quota",
                param: null,
                code: "insufficient_quota"
              })
            )
          } else if (limited !== undefined && !limited.allowed) {
            const limit = knobs.rateLimit!
            const wait = Math.max(1, limited.resetMs)
            response = apiError(
              new ApiFailure({
                status: 429,
                message: `Rate limit reached for requests in organization org-batchfx on requests per ${
                  goDuration(millis(limit.window))
                }: Limit ${limit.requests}, Used ${limit.requests}, Requested 1. Please try again in ${
                  goDuration(wait)
                }. Visit https://platform.openai.com/account/rate-limits to learn more.`,
                type: "requests",
                param: null,
                code: "rate_limit_exceeded",
                headers: { "retry-after": String(Math.ceil(wait / 1000)), "retry-after-ms": String(wait) }
              })
            )
          } else {
            response = yield* handled
          }
        }
        const end = yield* Clock.currentTimeMillis
        response = HttpServerResponse.setHeaders(response, {
          ...extraHeaders,
          "x-request-id": requestId,
          "openai-processing-ms": String(end - start),
          "openai-version": "2020-10-01",
          "openai-organization": "org-batchfx"
        })
        if (fault?._tag === "ResetAfterHandling") return yield* reset
        yield* count(request.method, route, response.status)

        const cut = fault?._tag === "TruncatedBody"
          ? fault.afterBytes
          : route === "GET /v1/files/{id}/content" && response.status < 300
          ? knobs.breakContentAfterBytes
          : undefined
        const body = bodyOf(response)
        if (body !== undefined && cut !== undefined && cut < body.length) {
          const broken = Stream.concat(
            takeBytes(body.stream, cut),
            Stream.suspend(() => {
              if (socket !== undefined) {
                socket.end()
                return Stream.fromEffect(Effect.never)
              }
              return Stream.fail(new TruncatedBody({ sent: cut, promised: body.length }))
            })
          )
          return withBody(response, broken, body.length)
        }
        if (body !== undefined && fault?._tag === "SlowBody") {
          const slow = rechunk(body.stream, Math.max(1, fault.chunkBytes)).pipe(
            Stream.zipWithIndex,
            Stream.mapEffect(([chunk, i]) =>
              i === 0 ? Effect.succeed(chunk) : Effect.as(Effect.sleep(fault.delay), chunk)
            )
          )
          return withBody(response, slow, body.length)
        }
        return response
      })

    return {
      app,
      apiKey: resolved.apiKey,
      knobs: Ref.get(knobsRef),
      configure: (patch: FakeOpenAi.KnobsPatch) => Ref.update(knobsRef, (k) => patchKnobs(k, patch)),
      seedBatches: (count: number) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.update(
            state,
            (s) => ({ ...s, seeded: Math.max(0, Math.floor(count)), seededAt: Math.floor(now / 1000) })
          )),
      scriptFault: (route: Route.Route, nth: number, fault: Fault) =>
        Effect.flatMap(Ref.get(arrivals), (m) =>
          Ref.update(script, (entries) => [
            ...entries,
            { route, at: Option.getOrElse(HashMap.get(m, route), () => 0) + Math.max(1, Math.floor(nth)), fault }
          ])),
      clearFaults: Ref.set(script, []),
      counters: Effect.map(Ref.get(counters), (m) =>
        Array.from(HashMap.values(m)).sort((a, b) =>
          a.route === b.route ?
            (a.method === b.method ? a.status - b.status : a.method < b.method ? -1 : 1) :
            a.route < b.route
            ? -1
            : 1
        )),
      resetCounters: Ref.set(counters, HashMap.empty()),
      fileCount: Effect.map(Ref.get(state), (s) => HashMap.size(s.files)),
      batchCount: Effect.map(Ref.get(state), (s) => HashMap.size(s.batches) + s.seeded)
    }
  })

export { defaultKnobs } from "./knobs.js"
export { resetMarker } from "./wire.js"

/** The emulator built by `make`. */
export type Emulator = Effect.Effect.Success<ReturnType<typeof make>>
