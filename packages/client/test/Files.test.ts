import { BatchClient } from "@batchfx/client"
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import * as Files from "@batchfx/client/Files"
import * as Watch from "@batchfx/client/Watch"
import type { RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { FileSystem, Headers, HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, FastCheck as fc, Fiber, Layer, Redacted, Stream, TestClock } from "effect"
import { createServer, type Server } from "node:http"
import { clientOfFake, inMemory, quickRetry, wire } from "./utils.js"

const endpoint = "/v1/chat/completions"

const request = (i: number, content = `question ${i}`): RequestLine.BatchRequestLine => ({
  custom_id: `req-${i}`,
  method: "POST",
  url: endpoint,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content }] }
})

const requests = (n: number, content?: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => request(i + 1, content?.(i + 1)))

const jsonl = (lines: ReadonlyArray<unknown>) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n"

const decoder = new TextDecoder()

const text = <R>(stream: Stream.Stream<Uint8Array, BatchClientError, R>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => {
    const parts = Chunk.toReadonlyArray(chunks)
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return decoder.decode(out)
  })

/** Lines 5, 7 and 9 are bad: a repeated custom_id, another url, and stream: true. */
const withThreeBadLines = (): Array<RequestLine.BatchRequestLine> => {
  const lines = requests(10)
  lines[4] = { ...lines[4]!, custom_id: "req-1" }
  lines[6] = { ...lines[6]!, url: "/v1/embeddings" }
  lines[8] = { ...lines[8]!, body: { ...lines[8]!.body, stream: true } }
  return lines
}

const uploads = Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.requestCount("POST /v1/files"))

const contentRoute = "GET /v1/files/{id}/content" as const

const statuses = (route: FakeOpenAi.Counter["route"]) =>
  Effect.map(
    Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.counters),
    (counters) => Object.fromEntries(counters.filter((c) => c.route === route).map((c) => [String(c.status), c.count]))
  )

const overHttp = wire({ retry: quickRetry(3) }).pipe(Layer.provideMerge(NodeFileSystem.layer))

describe("Files over HTTP", () => {
  it.live("uploads a stream of request lines as one multipart batch file and reads it back", () =>
    Effect.gen(function*() {
      const lines = requests(25)
      const file = yield* Files.upload(Stream.fromIterable(lines), { endpoint, filename: "my input.jsonl" })
      assert.strictEqual(file.purpose, "batch")
      assert.strictEqual(file.filename, "my input.jsonl")
      assert.strictEqual(file.bytes, new TextEncoder().encode(jsonl(lines)).length)
      assert.strictEqual(yield* text(Files.content(file.id)), jsonl(lines))
      const again = yield* Files.retrieve(file.id)
      assert.strictEqual(again.id, file.id)
      const deleted = yield* Files.del(file.id)
      assert.isTrue(deleted.deleted)
      const gone = yield* Effect.flip(Files.retrieve(file.id))
      assert.strictEqual(gone._tag, "NotFound")
    }).pipe(Effect.provide(overHttp)))

  it.live("fails locally with the line numbers of 3 bad lines and uploads nothing", () =>
    Effect.gen(function*() {
      const before = yield* uploads
      const error = yield* Effect.flip(Files.upload(withThreeBadLines(), { endpoint }))
      assert.strictEqual(error._tag, "InputError")
      if (error._tag !== "InputError") return
      assert.deepStrictEqual(Files.problemLines(error), [5, 7, 9])
      assert.deepStrictEqual(error.problems.map((p) => p.code), [
        "duplicate_custom_id",
        "invalid_url",
        "streaming_unsupported"
      ])
      assert.strictEqual(error.count, 3)
      assert.match(error.message, /line 5: .*line 7: .*line 9: /)
      assert.strictEqual(yield* uploads, before)
    }).pipe(Effect.provide(overHttp)))

  it.live("refuses an input over the line limit and an empty one, uploading nothing", () =>
    Effect.gen(function*() {
      const before = yield* uploads
      const over = yield* Effect.flip(Files.upload(requests(6), { endpoint, limits: { maxLines: 5 } }))
      assert.strictEqual(over._tag, "InputError")
      if (over._tag === "InputError") assert.deepStrictEqual(over.problems.map((p) => p.code), ["too_many_tasks"])
      const empty = yield* Effect.flip(Files.upload([], { endpoint }))
      assert.strictEqual(empty._tag, "InputError")
      if (empty._tag === "InputError") assert.deepStrictEqual(empty.problems.map((p) => p.code), ["empty_batch"])
      assert.strictEqual(yield* uploads, before)
    }).pipe(Effect.provide(overHttp)))

  it.scopedLive("uploads a JSONL file from disk, naming the file's own line numbers when lines are bad", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const good = `${dir}/good.jsonl`
      const lines = requests(40)
      yield* fs.writeFileString(good, jsonl(lines))
      const file = yield* Files.uploadPath(good, { endpoint })
      assert.strictEqual(file.filename, "good.jsonl")
      assert.strictEqual(yield* text(Files.content(file.id)), jsonl(lines))

      const bad = `${dir}/bad.jsonl`
      // a blank line 2 is skipped but counted, so the bad lines are the file's lines 4 and 6
      yield* fs.writeFileString(
        bad,
        [JSON.stringify(request(1)), "", JSON.stringify(request(2)), "{not json", JSON.stringify(request(3)), "[]"]
          .join("\n")
      )
      const before = yield* uploads
      const error = yield* Effect.flip(Files.uploadPath(bad, { endpoint }))
      assert.strictEqual(error._tag, "InputError")
      if (error._tag !== "InputError") return
      assert.deepStrictEqual(Files.problemLines(error), [4, 6])
      assert.strictEqual(error.path, bad)
      assert.strictEqual(yield* uploads, before)
    }).pipe(Effect.provide(overHttp)))

  it.live("a content body cut 3 times resumes with Range and yields every byte exactly once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const lines = requests(2000)
      const expected = jsonl(lines)
      const file = yield* Files.upload(lines, { endpoint })
      yield* fake.resetCounters
      yield* fake.scriptFault(contentRoute, 1, Fault.truncatedBody(70_001))
      yield* fake.scriptFault(contentRoute, 2, Fault.truncatedBody(50_003))
      yield* fake.scriptFault(contentRoute, 3, Fault.truncatedBody(1))
      const got = yield* text(Files.content(file.id))
      assert.strictEqual(got.length, expected.length)
      assert.isTrue(got === expected)
      assert.deepStrictEqual(yield* statuses(contentRoute), { "200": 1, "206": 3 })
    }).pipe(Effect.provide(overHttp)))

  it.live("reads from an offset with a Range request", () =>
    Effect.gen(function*() {
      const lines = requests(10)
      const file = yield* Files.upload(lines, { endpoint })
      const first = JSON.stringify(lines[0]).length + 1
      assert.strictEqual(yield* text(Files.content(file.id, { offset: first })), jsonl(lines.slice(1)))
    }).pipe(Effect.provide(overHttp)))

  it.live("a delete whose answer was cut after the file was deleted succeeds on its retry", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const file = yield* Files.upload(requests(3), { endpoint })
      yield* fake.scriptFault("DELETE /v1/files/{id}", 1, Fault.truncatedBody(10))
      const deleted = yield* Files.del(file.id)
      assert.deepStrictEqual(deleted, { id: file.id, object: "file", deleted: true })
      assert.strictEqual(yield* fake.requestCount("DELETE /v1/files/{id}"), 2)
      const gone = yield* Effect.flip(Files.retrieve(file.id))
      assert.strictEqual(gone._tag, "NotFound")
    }).pipe(Effect.provide(overHttp)))

  it.live("an unknown file fails with NotFound, without retrying", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Stream.runDrain(Files.content("file-missing")))
      assert.strictEqual(error._tag, "NotFound")
    }).pipe(Effect.provide(overHttp)))
})

/** The emulator in memory, reached by a client that drops the Range header: a server without ranges. */
const withoutRanges = clientOfFake({ retry: quickRetry(3) }).pipe(
  Layer.provide(Layer.effect(
    HttpClient.HttpClient,
    Effect.map(FakeOpenAi.FakeOpenAi, (fake) =>
      HttpClient.mapRequest(
        FakeOpenAi.httpClient(fake.app),
        (r) =>
          r.headers["range"] === undefined
            ? r
            : HttpClientRequest.get(r.url, { headers: Headers.remove(r.headers, "range") })
      ))
  )),
  Layer.provideMerge(FakeOpenAi.layerInMemory())
)

describe("Files in memory", () => {
  it.live("without Range support, a cut body is read again and the bytes already emitted are skipped", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const lines = requests(500)
      const file = yield* Files.upload(lines, { endpoint })
      yield* fake.scriptFault(contentRoute, 1, Fault.truncatedBody(10_000))
      yield* fake.scriptFault(contentRoute, 2, Fault.truncatedBody(30_000))
      const got = yield* text(Files.content(file.id))
      assert.isTrue(got === jsonl(lines))
      assert.deepStrictEqual(yield* statuses(contentRoute), { "200": 3 })
    }).pipe(Effect.provide(withoutRanges)))

  it.live("a body that keeps breaking without progress gives up after the retry schedule", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const file = yield* Files.upload(requests(50), { endpoint })
      yield* fake.configure({ breakContentAfterBytes: 0 })
      const error = yield* Effect.flip(Stream.runDrain(Files.content(file.id)))
      assert.strictEqual(error._tag, "ConnectionError")
      // one first read and 3 retries, then the error
      assert.strictEqual(yield* fake.requestCount(contentRoute), 4)
    }).pipe(
      Effect.provide(inMemory({ retry: quickRetry(3) }))
    ))

  it.effect("a body that stalls longer than the idle timeout is abandoned and resumed where it stopped", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const lines = requests(300)
      const file = yield* Files.upload(lines, { endpoint })
      // the first read sends 1,000 bytes, then waits 10 minutes before each next 1,000
      yield* fake.scriptFault(contentRoute, 1, Fault.slowBody({ chunkBytes: 1000, delay: "10 minutes" }))
      const fiber = yield* Effect.fork(text(Files.content(file.id, { idleTimeout: "30 seconds" })))
      for (let i = 0; i < 20 && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust("10 seconds")
      const got = yield* Fiber.join(fiber)
      assert.isTrue(got === jsonl(lines))
      // the stalled read, then one ranged read from where it stopped
      assert.deepStrictEqual(yield* statuses(contentRoute), { "200": 1, "206": 1 })
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }))))
  it.effect("a consumer slower than the idle timeout is not taken for a stalled body", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const lines = requests(20)
      const file = yield* Files.upload(lines, { endpoint })
      // bytes come every second; the consumer spends 2 minutes on each chunk
      yield* fake.scriptFault(contentRoute, 1, Fault.slowBody({ chunkBytes: 500, delay: "1 second" }))
      const slow = Files.content(file.id, { idleTimeout: "30 seconds" }).pipe(
        Stream.tap(() => Effect.sleep("2 minutes"))
      )
      const fiber = yield* Effect.fork(text(slow))
      for (let i = 0; i < 500 && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust("30 seconds")
      const got = yield* Fiber.join(fiber)
      assert.isTrue(got === jsonl(lines))
      // one read, never abandoned
      assert.deepStrictEqual(yield* statuses(contentRoute), { "200": 1 })
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(3) }))))
})

/** A server of its own that ignores Range and cuts every content body after 66 of 100,000 bytes. */
const cuttingServer = Effect.acquireRelease(
  Effect.async<{ readonly server: Server; readonly requests: () => number }>((resume) => {
    let requests = 0
    const server = createServer((_, res) => {
      requests++
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": "100000" })
      res.write("x".repeat(66), () => res.socket?.destroy())
    })
    server.listen(0, "127.0.0.1", () => {
      resume(Effect.succeed({ server, requests: () => requests }))
    })
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

describe("Files against a server without Range", () => {
  it.scopedLive("a body cut at the same byte every time is given up on after the retry schedule", () =>
    Effect.gen(function*() {
      const { requests, server } = yield* cuttingServer
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      const layer = BatchClient.layer({
        apiKey: Redacted.make("sk-test"),
        baseUrl: `http://127.0.0.1:${port}/v1`,
        retry: quickRetry(2)
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const error = yield* Effect.flip(Stream.runDrain(Files.content("file-cut")).pipe(Effect.provide(layer)))
      assert.strictEqual(error._tag, "ConnectionError")
      // The bytes read again are skipped, not progress: one read and 2 retries, then the error.
      assert.strictEqual(requests(), 3)
    }))
})

describe("Files.list", () => {
  const listRoute = "GET /v1/files" as const
  const ids = <E, R>(stream: Stream.Stream<{ readonly id: string }, E, R>) =>
    Effect.map(Stream.runCollect(Stream.map(stream, (f) => f.id)), Chunk.toReadonlyArray)
  const uploadEach = (n: number) =>
    Effect.forEach(
      Array.from({ length: n }, (_, i) => i + 1),
      (i) => Effect.map(Files.upload(requests(2), { endpoint, filename: `part-${i}.jsonl` }), (f) => f.id)
    )

  it.effect("pages through every file newest first, a page per request, and reads no page it is not asked for", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const uploaded = yield* uploadEach(7)
      yield* fake.resetCounters
      assert.deepStrictEqual(yield* ids(Files.list({ purpose: "batch", limit: 3 })), [...uploaded].reverse())
      // pages of 3, 3 and 1; the last says has_more: false, so no fourth request
      assert.strictEqual(yield* fake.requestCount(listRoute), 3)
      yield* fake.resetCounters
      assert.deepStrictEqual(
        yield* ids(Stream.take(Files.list({ purpose: "batch", limit: 3 }), 4)),
        [...uploaded].reverse().slice(0, 4)
      )
      assert.strictEqual(yield* fake.requestCount(listRoute), 2)
    }).pipe(Effect.provide(inMemory())))

  it.effect.prop(
    "property: any number of files in pages of any size are listed once each, newest first, a request per page",
    { files: fc.integer({ min: 0, max: 12 }), limit: fc.integer({ min: 1, max: 5 }) },
    ({ files, limit }) =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const uploaded = yield* uploadEach(files)
        yield* fake.resetCounters
        assert.deepStrictEqual(yield* ids(Files.list({ purpose: "batch", limit })), [...uploaded].reverse())
        assert.strictEqual(yield* fake.requestCount(listRoute), Math.max(1, Math.ceil(files / limit)))
      }).pipe(Effect.provide(inMemory())),
    { fastCheck: { numRuns: 25 } }
  )

  it.effect("purpose narrows the list to one purpose; without it every file is listed", () =>
    Effect.gen(function*() {
      const file = yield* Files.upload(requests(4), { endpoint })
      const created = yield* BatchClient.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
      const fiber = yield* Effect.fork(Watch.awaitTerminal(created.id))
      for (let i = 0; i < 120 && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust("1 minute")
      const batch = yield* Fiber.join(fiber)
      const output = batch.output_file_id ?? "none"
      assert.match(output, /^file-/)
      assert.deepStrictEqual(yield* ids(Files.list({ purpose: "batch_output", limit: 1 })), [output])
      assert.deepStrictEqual(yield* ids(Files.list({ purpose: "batch" })), [file.id])
      assert.deepStrictEqual(new Set(yield* ids(Files.list())), new Set([file.id, output]))
      assert.deepStrictEqual(yield* ids(Files.list({ purpose: "fine-tune" })), [])
    }).pipe(Effect.provide(inMemory())))

  it.effect("a lagging list leaves out a file uploaded a moment ago, which retrieve finds at once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const [older] = yield* uploadEach(1)
      yield* TestClock.adjust("1 minute")
      yield* fake.configure({ listLag: "30 seconds" })
      const [newer] = yield* uploadEach(1)
      assert.deepStrictEqual(yield* ids(Files.list({ purpose: "batch" })), [older])
      assert.strictEqual((yield* Files.retrieve(newer!)).id, newer)
      yield* TestClock.adjust("31 seconds")
      assert.deepStrictEqual(yield* ids(Files.list({ purpose: "batch" })), [newer, older])
    }).pipe(Effect.provide(inMemory())))
})
