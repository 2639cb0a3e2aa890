import { ApiError, BatchPage } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Schema, Stream, TestClock } from "effect"
import { api, chatLines, createBatch, getJson, live, upload, withKnobs } from "./helpers.js"

const decodeError = Schema.decodeUnknownSync(ApiError.ApiErrorBody)
const decodePage = Schema.decodeUnknownSync(BatchPage.BatchPage)

const listStatus = Effect.flatMap(api, (client) => Effect.map(client.get("/batches"), (r) => r.status))

describe("faults over a real socket", () => {
  it.live("scripted 500, 502 and 503 answer a JSON server_error on the n-th request of the route only", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("GET /v1/batches", 2, Fault.status(500))
      yield* fake.scriptFault("GET /v1/batches", 3, Fault.status(502))
      yield* fake.scriptFault("GET /v1/batches", 4, Fault.status(503))
      const statuses = []
      for (let i = 0; i < 5; i++) statuses.push(yield* listStatus)
      assert.deepStrictEqual(statuses, [200, 500, 502, 503, 200])
      yield* fake.scriptFault("GET /v1/batches", 1, Fault.status(503))
      const res = yield* getJson("/batches")
      assert.strictEqual(res.status, 503)
      assert.deepStrictEqual(decodeError(res.json).error.type, "server_error")
      assert.match(res.headers["x-request-id"] ?? "", /^req_/)
      assert.strictEqual((yield* getJson("/files")).status, 200)
      yield* fake.scriptFault("GET /v1/files", 1, Fault.status(429))
      const limited = yield* getJson("/files")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(decodeError(limited.json).error.code, "rate_limit_exceeded")
      assert.strictEqual(limited.headers["retry-after"], undefined)
    }).pipe(Effect.provide(live())))

  it.live("an HTML 502 page, as a proxy sends", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.htmlBadGateway)
      const client = yield* api
      const res = yield* client.get("/batches/batch_x")
      assert.strictEqual(res.status, 502)
      assert.include(res.headers["content-type"] ?? "", "text/html")
      assert.include(yield* res.text, "502 Bad Gateway")
    }).pipe(Effect.provide(live())))

  it.live("a reset before the response: the request fails and nothing was created", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const fileId = yield* upload(chatLines(["a"]))
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetBeforeResponse)
      const failed = yield* Effect.either(createBatch(fileId))
      assert.isTrue(Either.isLeft(failed))
      if (Either.isLeft(failed)) assert.strictEqual(failed.left._tag, "RequestError")
      const page = decodePage((yield* getJson("/batches")).json)
      assert.strictEqual(page.data.length, 0)
      const counters = yield* fake.counters
      assert.deepStrictEqual(counters.filter((c) => c.route === "POST /v1/batches"), [
        { method: "POST", route: "POST /v1/batches", status: 0, count: 1 }
      ])
    }).pipe(Effect.provide(live())))

  it.live("a reset after a create: the client never sees the answer but the batch exists", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const fileId = yield* upload(chatLines(["a"]))
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const failed = yield* Effect.either(createBatch(fileId, { metadata: { token: "t-1" } }))
      assert.isTrue(Either.isLeft(failed))
      const page = decodePage((yield* getJson("/batches")).json)
      assert.strictEqual(page.data.length, 1)
      assert.deepStrictEqual(page.data[0]?.metadata, { token: "t-1" })
      const counted = (yield* fake.counters).filter((c) => c.route === "POST /v1/batches")
      assert.deepStrictEqual(counted.map((c) => [c.status, c.count]), [[0, 1]])
    }).pipe(Effect.provide(live())))

  it.live("a truncated body: Content-Length promised, the connection closes early", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(5)
      yield* fake.scriptFault("GET /v1/batches", 1, Fault.truncatedBody(100))
      const client = yield* api
      const res = yield* client.get("/batches")
      assert.strictEqual(res.status, 200)
      assert.isTrue(Number(res.headers["content-length"]) > 100)
      const body = yield* Effect.either(res.text)
      assert.isTrue(Either.isLeft(body))
      const again = yield* client.get("/batches")
      assert.strictEqual(decodePage(yield* again.json).data.length, 5)
    }).pipe(Effect.provide(live())))

  it.live("a body that ends cleanly but short: a short Content-Length, or a chunked body ended early", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const text = chatLines(["a", "b", "c"])
      const id = yield* upload(text)
      const client = yield* api
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.shortBody(100))
      yield* fake.scriptFault("GET /v1/files/{id}/content", 2, Fault.shortBody(150, "chunked"))
      const short = yield* client.get(`/files/${id}/content`)
      assert.strictEqual(short.status, 200)
      assert.strictEqual(short.headers["content-length"], "100")
      // The read succeeds: nothing on the wire says the body is short.
      assert.strictEqual(yield* short.text, text.slice(0, 100))
      const chunked = yield* client.get(`/files/${id}/content`)
      assert.strictEqual(chunked.headers["content-length"], undefined)
      assert.strictEqual(chunked.headers["transfer-encoding"], "chunked")
      assert.strictEqual(yield* chunked.text, text.slice(0, 150))
      const whole = yield* client.get(`/files/${id}/content`)
      assert.strictEqual(yield* whole.text, text)
    }).pipe(Effect.provide(live())))

  // The waits between chunks are on the Clock and tested in memory; here a zero wait still sends each chunk alone.
  it.live("a slow body arrives whole, chunk by chunk", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const text = chatLines(["a", "b"])
      const id = yield* upload(text)
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.slowBody({ chunkBytes: 16, delay: 0 }))
      const client = yield* api
      const res = yield* client.get(`/files/${id}/content`)
      assert.strictEqual(yield* res.text, text)
    }).pipe(Effect.provide(live())))

  it.live("content bodies that break after n bytes can be resumed with Range", () =>
    Effect.gen(function*() {
      const text = chatLines(Array.from({ length: 20 }, (_, i) => `line-${i}`))
      const id = yield* upload(text)
      const client = yield* api
      const bytes = new TextEncoder().encode(text)
      const { attempts, got } = yield* Effect.scoped(Effect.gen(function*() {
        yield* withKnobs({ breakContentAfterBytes: 500 })
        const got: Array<Uint8Array> = []
        let offset = 0
        let attempts = 0
        while (offset < bytes.length && attempts++ < 100) {
          const res = yield* client.execute(
            HttpClientRequest.get(`/files/${id}/content`).pipe(
              HttpClientRequest.setHeader("range", `bytes=${offset}-`)
            )
          )
          assert.strictEqual(res.status, 206)
          const chunks: Array<Uint8Array> = []
          const read = yield* Effect.either(Stream.runForEach(res.stream, (c) => Effect.sync(() => chunks.push(c))))
          if (offset + chunks.reduce((n, c) => n + c.length, 0) < bytes.length) assert.isTrue(Either.isLeft(read))
          for (const c of chunks) {
            got.push(c)
            offset += c.length
          }
        }
        return { attempts, got }
      }))
      assert.isTrue(attempts > 1)
      assert.strictEqual(new TextDecoder().decode(Buffer.concat(got)), text)
      const whole = yield* client.get(`/files/${id}/content`)
      assert.strictEqual(yield* whole.text, text)
    }).pipe(Effect.provide(live())))
})

describe("faults in memory", () => {
  it.effect("random faults at a rate are reproducible from the seed", () =>
    Effect.gen(function*() {
      const run = Effect.gen(function*() {
        const statuses: Array<number> = []
        for (let i = 0; i < 30; i++) statuses.push(yield* listStatus)
        return statuses
      })
      const options: FakeOpenAi.Options = {
        randomFaults: { rate: 0.3, seed: 42, faults: [Fault.status(500), Fault.status(503)] }
      }
      const a = yield* run.pipe(Effect.provide(FakeOpenAi.layerInMemory(options)))
      const b = yield* run.pipe(Effect.provide(FakeOpenAi.layerInMemory(options)))
      assert.deepStrictEqual(a, b)
      assert.isTrue(a.some((s) => s === 500 || s === 503))
      assert.isTrue(a.filter((s) => s === 200).length > 10)
    }))

  it.effect("a reset fails the request with a transport error; a truncated body fails its stream", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(3)
      yield* fake.scriptFault("GET /v1/batches", 1, Fault.resetBeforeResponse)
      yield* fake.scriptFault("GET /v1/batches", 2, Fault.truncatedBody(50))
      const client = yield* api
      const reset = yield* Effect.either(client.get("/batches"))
      assert.isTrue(Either.isLeft(reset) && reset.left._tag === "RequestError")
      const res = yield* client.get("/batches")
      assert.strictEqual(res.status, 200)
      const text = yield* Effect.either(res.text)
      assert.isTrue(Either.isLeft(text))
      assert.strictEqual((yield* getJson("/batches")).status, 200)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("a short body ends cleanly in memory too; parse reads short:<n> and short-chunked:<n>", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const text = chatLines(["a", "b"])
      const id = yield* upload(text)
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.shortBody(30, "chunked"))
      const client = yield* api
      const res = yield* client.get(`/files/${id}/content`)
      assert.strictEqual(yield* res.text, text.slice(0, 30))
      assert.deepStrictEqual(Fault.parse("short:12"), Either.right(Fault.shortBody(12)))
      assert.deepStrictEqual(Fault.parse("short-chunked:7"), Either.right(Fault.shortBody(7, "chunked")))
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("a slow body waits on the Clock between chunks", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const text = "0123456789"
      const id = yield* upload(text)
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.slowBody({ chunkBytes: 5, delay: "1 second" }))
      const client = yield* api
      const fiber = yield* Effect.fork(Effect.flatMap(client.get(`/files/${id}/content`), (r) => r.text))
      yield* TestClock.adjust("500 millis")
      assert.isTrue((yield* Fiber.poll(fiber))._tag === "None")
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(yield* Fiber.join(fiber), text)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})
