/** `/v1/files*`: upload, list, retrieve, download (with `Range`) and delete. */
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Multipart from "@effect/platform/Multipart"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { discardRest, rechunk } from "../body.js"
import * as Content from "../content.js"
import type { Context, State } from "../context.js"
import { fileId, getFile, nextId, pathParam, searchParam } from "../context.js"
import { millis } from "../knobs.js"
import type * as Store from "../store.js"
import type { ApiFailure } from "../wire.js"
import {
  encodeDeleted,
  encodeFile,
  encodeFileList,
  encoder,
  invalid,
  json,
  quoteList,
  uploadPurposes
} from "../wire.js"

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

// Room for the form's other parts beside the file.
const formOverhead = 1024 * 1024
// The rest of a refused body is read and dropped up to the largest form the API takes; a client
// that sends more than that meets a closed connection.
const maxDiscarded = 512 * 1024 * 1024 + formOverhead

/** Bytes held by uploads still arriving, in this process: each is held once, and never past its limit. */
export const uploadBytesHeld = Metric.gauge("batchfx_testkit_upload_bytes_held", {
  description: "Bytes of uploads in progress held by the emulator"
})

/** The most `uploadBytesHeld` has been since it was last set to 0. */
export const uploadBytesHeldPeak = Metric.gauge("batchfx_testkit_upload_bytes_held_peak", {
  description: "The most bytes of uploads in progress held at once by the emulator"
})

const hold = (bytes: number) =>
  Effect.zipRight(
    Metric.modify(uploadBytesHeld, bytes),
    Effect.flatMap(
      Effect.all([Metric.value(uploadBytesHeld), Metric.value(uploadBytesHeldPeak)]),
      ([held, peak]) => held.value > peak.value ? Metric.set(uploadBytesHeldPeak, held.value) : Effect.void
    )
  )

/** The limit a file part is held to: its purpose's when the form named it before the file. */
interface Limit {
  readonly bytes: number
  readonly purpose: string | undefined
}

const tooLarge = (limit: Limit) =>
  invalid(
    limit.purpose === undefined
      ? `File is too large: the maximum size is ${
        limit.bytes === 512 * 1024 * 1024 ? "512 MB" : `${limit.bytes} bytes`
      }.`
      : `File is too large: a file with purpose '${limit.purpose}' can be at most ${limit.bytes} bytes.`,
    "file",
    "file_too_large"
  )

// The platform's `contentEffect` copies everything received so far on every chunk, and one
// growing buffer holds up to twice the file while it grows: the pieces are collected into blocks
// instead (content.ts), and refused as soon as they pass the limit known when the file part began
// (the purpose's when `purpose` came first, the API's 512 MB otherwise).
const fileContent = (part: Multipart.File, limit: Limit) =>
  Effect.suspend(() => {
    const collected = Content.collector(limit.bytes)
    let held = 0
    return Stream.runForEachChunk(part.content, (pieces) =>
      Effect.suspend(() => {
        const before = collected.bytes()
        for (const piece of pieces) {
          if (!collected.push(piece)) return Effect.fail(tooLarge(limit))
        }
        const added = collected.bytes() - before
        held += added
        return hold(added)
      })).pipe(
        Effect.catchTag("MultipartError", (e) => invalid(`Could not parse multipart form: ${e.message}`, null)),
        Effect.map(() => collected.done()),
        Effect.ensuring(Effect.suspend(() => hold(-held)))
      )
  })

const upload = (ctx: Context) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const fields = new Map<string, string>()
    let file: { readonly name: string; readonly content: Content.Content } | undefined
    const limits = ctx.uploadLimits
    const limitOf = (purpose: string | undefined): Limit =>
      purpose === "batch" && limits.batch < limits.file
        ? { bytes: limits.batch, purpose }
        : { bytes: limits.file, purpose: undefined }
    yield* Stream.runForEach(
      request.multipartStream,
      (part): Effect.Effect<void, ApiFailure | Multipart.MultipartError> =>
        Multipart.isFile(part)
          ? part.key === "file"
            ? Effect.map(fileContent(part, limitOf(fields.get("purpose"))), (content) => {
              file = { name: part.name, content }
            })
            // A file under another name is read and dropped, never held.
            : Stream.runDrain(part.content)
          : Effect.sync(() => {
            if (!Multipart.isField(part)) return
            if (part.key === "file") file = { name: "file", content: Content.of(encoder.encode(part.value)) }
            else fields.set(part.key, part.value)
          })
    ).pipe(
      HttpIncomingMessage.withMaxBodySize(Option.some(limits.file + formOverhead)),
      Multipart.withFieldMimeTypes([]),
      Effect.catchTag("MultipartError", (e) =>
        e.reason === "BodyTooLarge"
          ? tooLarge(limitOf(undefined))
          : invalid(`Could not parse multipart form: ${e.message}`, null)),
      Effect.tapError(() => discardRest(request, maxDiscarded))
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
    // The purpose may come after the file (the SDKs send it so): its limit is checked now.
    const bytes = Content.size(file.content)
    if (bytes > limitOf(purpose).bytes) return yield* tooLarge(limitOf(purpose))
    const createdAt = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const expiresAt = expiresAfter !== undefined
      ? createdAt + expiresAfter
      : purpose === "batch"
      ? createdAt + 2_592_000
      : null
    const uploaded = file
    const stored = yield* Ref.modify(ctx.state, (s): [Store.StoredFile, State] => {
      const [n, next] = nextId(s)
      const f: Store.StoredFile = {
        id: fileId(ctx.options.seed, n),
        seq: Chunk.size(s.fileOrder),
        bytes,
        createdAt,
        expiresAt,
        filename: uploaded.name,
        purpose,
        content: uploaded.content
      }
      return [f, { ...next, files: HashMap.set(next.files, f.id, f), fileOrder: Chunk.append(next.fileOrder, f.id) }]
    })
    return json(fileObject(stored))
  })

const list = (ctx: Context) =>
  Effect.gen(function*() {
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
    const s = yield* Ref.get(ctx.state)
    const knobs = yield* Ref.get(ctx.knobs)
    // A lagging list leaves out files uploaded less than `listLag` ago (`createdAt` is in seconds).
    const visibleUntil = (yield* Clock.currentTimeMillis) - (knobs.listLag === undefined ? 0 : millis(knobs.listLag))
    const all = Chunk.toReadonlyArray(s.fileOrder).flatMap((id) => Option.toArray(HashMap.get(s.files, id)))
      .filter((f) => (purpose === undefined || f.purpose === purpose) && f.createdAt * 1000 <= visibleUntil)
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

const retrieve = (ctx: Context) =>
  Effect.flatMap(pathParam, (id) => Effect.map(getFile(ctx, id), (f) => json(fileObject(f))))

const remove = (ctx: Context) =>
  Effect.gen(function*() {
    const id = yield* pathParam
    yield* getFile(ctx, id)
    yield* Ref.update(ctx.state, (s) => ({
      ...s,
      files: HashMap.remove(s.files, id),
      deletedSeeded: HashMap.has(s.files, id) ? s.deletedSeeded : HashSet.add(s.deletedSeeded, id)
    }))
    return json(encodeDeleted({ id, object: "file", deleted: true }))
  })

const content = (ctx: Context) =>
  Effect.gen(function*() {
    const id = yield* pathParam
    const f = yield* getFile(ctx, id)
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
    const length = total === 0 ? 0 : end + 1 - start
    return HttpServerResponse.stream(
      rechunk(Stream.fromIterable(Content.slice(f.content, start, end + 1)), 64 * 1024),
      {
        status,
        headers,
        contentLength: length,
        contentType: "application/octet-stream"
      }
    )
  })

/** The routes of `/v1/files*`. */
export const router = (ctx: Context) =>
  HttpRouter.empty.pipe(
    HttpRouter.post("/v1/files", upload(ctx)),
    HttpRouter.get("/v1/files", list(ctx)),
    HttpRouter.get("/v1/files/:id", retrieve(ctx)),
    HttpRouter.get("/v1/files/:id/content", content(ctx)),
    HttpRouter.del("/v1/files/:id", remove(ctx))
  )
