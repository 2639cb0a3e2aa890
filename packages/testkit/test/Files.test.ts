import { ApiError, File } from "@batchfx/core"
import { HttpBody, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { api, body, content, getJson, live, upload } from "./helpers.js"

const decodeFile = Schema.decodeUnknownSync(File.OpenAiFile)
const decodeError = Schema.decodeUnknownSync(ApiError.ApiErrorBody)

describe("/v1/files over HTTP", () => {
  it.live("uploads with purpose and expires_after, retrieves, lists, downloads and deletes", () =>
    Effect.gen(function*() {
      const client = yield* api
      const form = new FormData()
      form.append("purpose", "batch")
      form.append("expires_after[anchor]", "created_at")
      form.append("expires_after[seconds]", "3600")
      form.append("file", new Blob(["{\"a\":1}\n"]), "in.jsonl")
      const res = yield* client.post("/files", { body: HttpBody.formData(form) })
      assert.strictEqual(res.status, 200)
      const file = decodeFile(yield* res.json)
      assert.strictEqual(file.object, "file")
      assert.strictEqual(file.purpose, "batch")
      assert.strictEqual(file.filename, "in.jsonl")
      assert.strictEqual(file.bytes, 8)
      assert.strictEqual(file.status, "processed")
      assert.strictEqual(file.expires_at, file.created_at + 3600)
      assert.match(file.id, /^file-[A-Za-z0-9]{24}$/)

      const other = yield* upload("hello", "user_data", "notes.txt")
      const plain = decodeFile((yield* getJson(`/files/${other}`)).json)
      assert.strictEqual(plain.expires_at, null)
      assert.strictEqual(plain.purpose, "user_data")

      const got = decodeFile((yield* getJson(`/files/${file.id}`)).json)
      assert.deepStrictEqual(got, file)

      const all = Schema.decodeUnknownSync(File.FileList)((yield* getJson("/files")).json)
      assert.deepStrictEqual(all.data.map((f) => f.id), [other, file.id])
      assert.strictEqual(all.first_id, other)
      assert.strictEqual(all.last_id, file.id)
      const batchOnly = Schema.decodeUnknownSync(File.FileList)((yield* getJson("/files?purpose=batch")).json)
      assert.deepStrictEqual(batchOnly.data.map((f) => f.id), [file.id])
      const asc = Schema.decodeUnknownSync(File.FileList)((yield* getJson("/files?order=asc&limit=1")).json)
      assert.deepStrictEqual(asc.data.map((f) => f.id), [file.id])
      assert.strictEqual(asc.has_more, true)
      const next = Schema.decodeUnknownSync(File.FileList)(
        (yield* getJson(`/files?order=asc&limit=1&after=${file.id}`)).json
      )
      assert.deepStrictEqual(next.data.map((f) => f.id), [other])
      assert.strictEqual(next.has_more, false)

      assert.strictEqual(yield* content(file.id), "{\"a\":1}\n")

      const del = yield* client.del(`/files/${file.id}`)
      assert.strictEqual(del.status, 200)
      assert.deepStrictEqual(Schema.decodeUnknownSync(File.FileDeleted)(yield* del.json), {
        id: file.id,
        object: "file",
        deleted: true
      })
      const gone = yield* getJson(`/files/${file.id}`)
      assert.strictEqual(gone.status, 404)
    }).pipe(Effect.provide(live())))

  it.live("404 for unknown files on retrieve, content and delete, with the real body", () =>
    Effect.gen(function*() {
      const client = yield* api
      for (
        const res of [
          yield* client.get("/files/file-nope"),
          yield* client.get("/files/file-nope/content"),
          yield* client.del("/files/file-nope")
        ]
      ) {
        assert.strictEqual(res.status, 404)
        assert.match(res.headers["x-request-id"] ?? "", /^req_[0-9a-f]{32}$/)
        assert.deepStrictEqual(decodeError(yield* res.json), {
          error: { message: "No such File object: file-nope", type: "invalid_request_error", param: "id", code: null }
        })
      }
    }).pipe(Effect.provide(live())))

  it.live("400 for a missing file, a missing or unknown purpose, bad expires_after and bad list params", () =>
    Effect.gen(function*() {
      const client = yield* api
      const send = (parts: ReadonlyArray<readonly [string, string | Blob]>) => {
        const form = new FormData()
        for (const [k, v] of parts) {
          if (typeof v === "string") form.append(k, v)
          else form.append(k, v, "x.jsonl")
        }
        return Effect.flatMap(
          client.post("/files", { body: HttpBody.formData(form) }),
          (res) => Effect.map(body(res), (json) => ({ status: res.status, error: decodeError(json).error }))
        )
      }
      const noFile = yield* send([["purpose", "batch"]])
      assert.strictEqual(noFile.status, 400)
      assert.strictEqual(noFile.error.param, "file")
      const noPurpose = yield* send([["file", new Blob(["x"])]])
      assert.strictEqual(noPurpose.error.param, "purpose")
      assert.strictEqual(noPurpose.error.code, "missing_required_parameter")
      const badPurpose = yield* send([["purpose", "batch_output"], ["file", new Blob(["x"])]])
      assert.strictEqual(badPurpose.status, 400)
      assert.strictEqual(badPurpose.error.code, "invalid_value")
      assert.include(badPurpose.error.message, "'batch'")
      const badExpiry = yield* send([
        ["purpose", "batch"],
        ["expires_after[anchor]", "created_at"],
        ["expires_after[seconds]", "60"],
        ["file", new Blob(["x"])]
      ])
      assert.strictEqual(badExpiry.status, 400)
      assert.strictEqual(badExpiry.error.param, "expires_after.seconds")
      const badLimit = yield* getJson("/files?limit=0")
      assert.strictEqual(badLimit.status, 400)
      const badOrder = yield* getJson("/files?order=sideways")
      assert.strictEqual(badOrder.status, 400)
    }).pipe(Effect.provide(live())))

  it.live("serves byte ranges with 206 and Content-Range, and 416 past the end", () =>
    Effect.gen(function*() {
      const client = yield* api
      const id = yield* upload("0123456789")
      const part = yield* client.execute(
        HttpClientRequest.get(`/files/${id}/content`).pipe(
          HttpClientRequest.setHeader("range", "bytes=2-5")
        )
      )
      assert.strictEqual(part.status, 206)
      assert.strictEqual(part.headers["content-range"], "bytes 2-5/10")
      assert.strictEqual(part.headers["content-length"], "4")
      assert.strictEqual(yield* part.text, "2345")
      const open = yield* client.execute(
        HttpClientRequest.get(`/files/${id}/content`).pipe(
          HttpClientRequest.setHeader("range", "bytes=7-")
        )
      )
      assert.strictEqual(yield* open.text, "789")
      const suffix = yield* client.execute(
        HttpClientRequest.get(`/files/${id}/content`).pipe(
          HttpClientRequest.setHeader("range", "bytes=-2")
        )
      )
      assert.strictEqual(yield* suffix.text, "89")
      const whole = yield* client.get(`/files/${id}/content`)
      assert.strictEqual(whole.status, 200)
      assert.strictEqual(whole.headers["accept-ranges"], "bytes")
      const past = yield* client.execute(
        HttpClientRequest.get(`/files/${id}/content`).pipe(
          HttpClientRequest.setHeader("range", "bytes=10-")
        )
      )
      assert.strictEqual(past.status, 416)
      assert.strictEqual(past.headers["content-range"], "bytes */10")
    }).pipe(Effect.provide(live())))

  // A JSONL part counts as a form field for the platform (its type contains application/json), and
  // fields stop at 10 MB unless the server says otherwise; one byte more proves that it does.
  it.live("accepts uploads above the platform's 10 MB default field limit", () =>
    Effect.gen(function*() {
      const big = "x".repeat(10 * 1024 * 1024 + 1)
      const id = yield* upload(big, "user_data", "big.txt")
      const file = decodeFile((yield* getJson(`/files/${id}`)).json)
      assert.strictEqual(file.bytes, big.length)
    }).pipe(Effect.provide(live())), 60_000)

  // Without a Content-Length the upload buffer cannot be sized up front and has to grow.
  it.live("stores a chunked upload without Content-Length byte for byte", () =>
    Effect.gen(function*() {
      const client = yield* api
      const boundary = "batchfx-boundary"
      const text = Array.from({ length: 5000 }, (_, i) => `line ${i} ${"é".repeat(i % 50)}`).join("\n") + "\n"
      const form = `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="chunked.jsonl"\r\n` +
        `Content-Type: application/jsonl\r\n\r\n${text}\r\n--${boundary}--\r\n`
      const bytes = new TextEncoder().encode(form)
      const pieces = Stream.range(0, Math.ceil(bytes.length / 1000) - 1).pipe(
        Stream.map((i) => bytes.subarray(i * 1000, (i + 1) * 1000))
      )
      const res = yield* client.post("/files", {
        body: HttpBody.stream(pieces, `multipart/form-data; boundary=${boundary}`)
      })
      assert.strictEqual(res.status, 200)
      const id = (yield* body(res)).id as string
      const file = decodeFile((yield* getJson(`/files/${id}`)).json)
      assert.strictEqual(file.bytes, new TextEncoder().encode(text).length)
      assert.strictEqual(yield* content(id), text)
    }).pipe(Effect.provide(live())))
})
