import { ApiError, File } from "@batchfx/core"
import { HttpBody } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Schema, Stream } from "effect"
import * as Content from "../src/internal/content.js"
import { uploadBytesHeld, uploadBytesHeldPeak } from "../src/internal/routes/files.js"
import { api, body, getJson, live } from "./helpers.js"

const decodeFile = Schema.decodeUnknownSync(File.OpenAiFile)
const decodeError = Schema.decodeUnknownSync(ApiError.ApiErrorBody)
const encoder = new TextEncoder()
const boundary = "batchfx-upload-boundary-7d1f"

const field = (name: string, value: string) =>
  encoder.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
const fileHead = encoder.encode(
  `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n` +
    `Content-Type: application/octet-stream\r\n\r\n`
)
const formEnd = encoder.encode(`\r\n--${boundary}--\r\n`)

/** Cuts bytes into pieces of `size` bytes. */
const pieces = (bytes: Uint8Array, size: number) =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size))

/** A chunked (no Content-Length) multipart POST /files whose body is the given pieces, in order. */
const postForm = (parts: Stream.Stream<Uint8Array>) =>
  Effect.flatMap(
    api,
    (client) => client.post("/files", { body: HttpBody.stream(parts, `multipart/form-data; boundary=${boundary}`) })
  )

/** Bytes that are not text: every value, in an order that repeats only after 251 bytes. */
const binary = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i % 251)) & 0xff)

const heldNow = Effect.map(Metric.value(uploadBytesHeld), (state) => state.value)

const fileCount = Effect.map(getJson("/files"), (res) => (res.json.data as ReadonlyArray<unknown>).length)

describe("uploads over HTTP without Content-Length", () => {
  // The emulator keeps an upload as blocks of 1 MiB: pieces of 997 bytes straddle every block edge.
  it.live("a multipart upload sent in thousands of small pieces is stored and served byte for byte", () =>
    Effect.gen(function*() {
      const content = binary(2 * 1024 * 1024 + 12_345)
      const form = new Uint8Array([...field("purpose", "batch"), ...fileHead, ...content, ...formEnd])
      const res = yield* postForm(Stream.fromIterable(pieces(form, 997)))
      assert.strictEqual(res.status, 200)
      const file = decodeFile(yield* res.json)
      assert.strictEqual(file.bytes, content.length)
      const client = yield* api
      const whole = new Uint8Array(yield* (yield* client.get(`/files/${file.id}/content`)).arrayBuffer)
      assert.strictEqual(whole.length, content.length)
      assert.isTrue(Buffer.from(whole).equals(Buffer.from(content)), "the downloaded bytes differ")
      // A range across the first block edge comes from two blocks.
      const edge = 1024 * 1024
      const ranged = yield* client.get(`/files/${file.id}/content`, {
        headers: { range: `bytes=${edge - 5}-${edge + 4}` }
      })
      assert.strictEqual(ranged.status, 206)
      assert.deepStrictEqual([...new Uint8Array(yield* ranged.arrayBuffer)], [...content.subarray(edge - 5, edge + 5)])
      assert.strictEqual(yield* heldNow, 0)
    }).pipe(Effect.provide(live())))

  // The client keeps sending well past the limit. Collecting everything and checking the size at
  // the end would hold all 8 MB at its peak.
  const refusedAsItArrives = (form: ReadonlyArray<Uint8Array>, limit: number, message: string) =>
    Effect.gen(function*() {
      yield* Metric.set(uploadBytesHeldPeak, 0)
      const res = yield* postForm(Stream.fromIterable(form))
      assert.strictEqual(res.status, 400)
      const error = decodeError(yield* res.json).error
      assert.strictEqual(error.message, message)
      assert.strictEqual(error.code, "file_too_large")
      const peak = (yield* Metric.value(uploadBytesHeldPeak)).value
      assert.isAbove(peak, 0)
      assert.isAtMost(peak, limit)
      assert.strictEqual(yield* heldNow, 0)
      assert.strictEqual(yield* fileCount, 0)
    })

  it.live("a batch file past the purpose's limit is refused as it arrives, holding no more than the limit", () =>
    refusedAsItArrives(
      [field("purpose", "batch"), fileHead, ...pieces(binary(8 * 1024 * 1024), 16 * 1024), formEnd],
      1_000_000,
      "File is too large: a file with purpose 'batch' can be at most 1000000 bytes."
    ).pipe(Effect.provide(live({ uploadLimits: { batch: 1_000_000 } }))))

  it.live("a file past the limit of every purpose is refused as it arrives when the purpose comes after it", () =>
    refusedAsItArrives(
      [fileHead, ...pieces(binary(8 * 1024 * 1024), 16 * 1024), encoder.encode("\r\n"), field("purpose", "user_data")]
        .concat([encoder.encode(`--${boundary}--\r\n`)]),
      2_000_000,
      "File is too large: the maximum size is 2000000 bytes."
    ).pipe(Effect.provide(live({ uploadLimits: { file: 2_000_000 } }))))

  // The official SDKs send the file before the purpose: the purpose's limit is known only at the end.
  it.live("a batch file past the byte limit is refused when its purpose comes after it", () =>
    Effect.gen(function*() {
      const content = binary(1_000_001)
      const res = yield* postForm(
        Stream.fromIterable([fileHead, ...pieces(content, 4096), encoder.encode("\r\n"), field("purpose", "batch")])
          .pipe(Stream.concat(Stream.make(encoder.encode(`--${boundary}--\r\n`))))
      )
      assert.strictEqual(res.status, 400)
      assert.strictEqual(
        decodeError(yield* res.json).error.message,
        "File is too large: a file with purpose 'batch' can be at most 1000000 bytes."
      )
      assert.strictEqual(yield* fileCount, 0)
      // One byte less is a file.
      const fits = yield* postForm(
        Stream.fromIterable([fileHead, content.subarray(1), encoder.encode("\r\n"), field("purpose", "batch")])
          .pipe(Stream.concat(Stream.make(encoder.encode(`--${boundary}--\r\n`))))
      )
      assert.strictEqual(fits.status, 200)
      assert.strictEqual(decodeFile(yield* fits.json).bytes, 1_000_000)
    }).pipe(Effect.provide(live({ uploadLimits: { batch: 1_000_000 } }))))

  it.live("a form that ends before its closing boundary is refused and nothing is stored", () =>
    Effect.gen(function*() {
      const content = binary(200_000)
      const res = yield* postForm(Stream.fromIterable([field("purpose", "batch"), fileHead, ...pieces(content, 1000)]))
      assert.strictEqual(res.status, 400)
      const json = yield* body(res)
      assert.match((json.error as { message: string }).message, /^Could not parse multipart form/)
      assert.strictEqual(yield* fileCount, 0)
      assert.strictEqual(yield* heldNow, 0)
    }).pipe(Effect.provide(live())))
})

describe("an upload's pieces collected", () => {
  // Pieces of every kind a server meets: views filling most of a socket read, small views of a
  // large buffer, tiny standalone pieces. What is held (the memory behind every block) stays within
  // twice the bytes, and the bytes come back in order.
  it("keeps large pieces as they are, copies small ones, and gives the bytes back in order", () => {
    const source = binary(3 * 1024 * 1024 + 777)
    const collected = Content.collector(source.length)
    const sizes = [65_536, 100, 1, 100, 3000, 17, 40_000, 5000, 65_536, 200]
    let at = 0
    for (let i = 0; at < source.length; i++) {
      const size = Math.min(sizes[i % sizes.length]!, source.length - at)
      const piece = source.slice(at, at + size)
      // Small pieces, and every other large one, are views into a buffer of 64 KiB or more, as the
      // pieces of a socket read are.
      const behind = new Uint8Array(Math.max(65_536, size + 8))
      behind.set(piece, 8)
      assert.isTrue(collected.push(size < 4096 || i % 2 === 0 ? behind.subarray(8, 8 + size) : piece))
      at += size
    }
    assert.isFalse(Content.collector(10).push(new Uint8Array(11)))
    const content = collected.done()
    assert.strictEqual(Content.size(content), source.length)
    assert.isTrue(Buffer.concat(content).equals(Buffer.from(source)))
    const held = content.reduce((n, block) => n + block.buffer.byteLength, 0)
    assert.isAtMost(held, 2 * source.length)
    assert.deepStrictEqual(
      [...Buffer.concat(Content.slice(content, 65_530, 65_550))],
      [...source.subarray(65_530, 65_550)]
    )
  })
})
