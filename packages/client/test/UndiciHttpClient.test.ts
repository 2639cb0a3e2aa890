import { UndiciHttpClient } from "@batchfx/client"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Fiber, Option, Stream } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

interface Seen {
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage["headers"]
  readonly body: Buffer
}

/**
 * A plain `node:http` server on 127.0.0.1 (port 0) that records every request, answers with
 * `answer`, and tells when a request's connection closed before its answer ended.
 */
const server = (answer: (request: IncomingMessage, response: ServerResponse, body: Buffer) => void) =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    const aborted = yield* Deferred.make<string>()
    const http = createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const body = Buffer.concat(chunks)
        seen.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body })
        response.on("close", () => {
          if (!response.writableFinished) Deferred.unsafeDone(aborted, Effect.succeed(request.url ?? ""))
        })
        answer(request, response, body)
      })
    })
    yield* Effect.acquireRelease(
      Effect.async<void>((resume) => {
        http.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.async<void>((resume) => {
          http.closeAllConnections()
          http.close(() => resume(Effect.void))
        })
    )
    const { port } = http.address() as AddressInfo
    return { url: `http://127.0.0.1:${port}`, seen, aborted: Deferred.await(aborted) }
  })

const echo = (request: IncomingMessage, response: ServerResponse, body: Buffer) => {
  if (request.url === "/hang") return
  if (request.url === "/slow-body") {
    response.writeHead(200, { "content-type": "text/plain" })
    response.write("first part;")
    return
  }
  response.writeHead(200, { "content-type": "application/json", "x-request-id": "req_echo", "set-cookie": "a=1" })
  response.end(JSON.stringify({
    method: request.method,
    url: request.url,
    contentType: request.headers["content-type"] ?? null,
    bytes: body.length
  }))
}

const client = HttpClient.HttpClient

describe("UndiciHttpClient", () => {
  it.scoped("answers with status, headers and a body that text, arrayBuffer and json each read, twice", () =>
    Effect.gen(function*() {
      const { url } = yield* server(echo)
      const http = yield* client
      const response = yield* http.execute(HttpClientRequest.get(`${url}/v1/batches?limit=2`))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers["x-request-id"], "req_echo")
      assert.strictEqual(response.headers, response.headers, "headers are made once")
      assert.strictEqual(response.cookies.cookies["a"]?.value, "1")
      const text = yield* response.text
      assert.deepStrictEqual(JSON.parse(text), {
        method: "GET",
        url: "/v1/batches?limit=2",
        contentType: null,
        bytes: 0
      })
      assert.strictEqual(yield* response.text, text)
      assert.strictEqual(new TextDecoder().decode(yield* response.arrayBuffer), text)
      assert.deepStrictEqual(yield* response.json, JSON.parse(text))
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("sends the request's headers and no trace context, even inside a span", () =>
    Effect.gen(function*() {
      const { seen, url } = yield* server(echo)
      const http = yield* client
      yield* http.execute(HttpClientRequest.get(`${url}/x`).pipe(HttpClientRequest.bearerToken("sk-test"))).pipe(
        Effect.flatMap((response) => response.text),
        Effect.withSpan("outer")
      )
      assert.strictEqual(seen.length, 1)
      assert.strictEqual(seen[0].headers["authorization"], "Bearer sk-test")
      assert.isUndefined(seen[0].headers["traceparent"])
      assert.isUndefined(seen[0].headers["b3"])
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("sends byte, stream and form bodies whole", () =>
    Effect.gen(function*() {
      const { seen, url } = yield* server(echo)
      const http = yield* client
      const bytes = new Uint8Array(100_000).fill(7)
      const post = (request: HttpClientRequest.HttpClientRequest) =>
        Effect.flatMap(http.execute(request), (response) => response.json)
      const fromBytes = yield* post(
        HttpClientRequest.post(`${url}/bytes`).pipe(
          HttpClientRequest.bodyUint8Array(bytes, "application/octet-stream")
        )
      )
      assert.deepInclude(fromBytes, { bytes: 100_000, contentType: "application/octet-stream" })
      const fromStream = yield* post(
        HttpClientRequest.post(`${url}/stream`).pipe(
          HttpClientRequest.bodyStream(Stream.make(bytes, bytes, bytes), { contentType: "application/jsonl" })
        )
      )
      assert.deepInclude(fromStream, { bytes: 300_000, contentType: "application/jsonl" })
      const form = new FormData()
      form.append("purpose", "batch")
      form.append("file", new Blob(["{\"a\":1}\n"]), "input.jsonl")
      const fromForm = yield* post(HttpClientRequest.post(`${url}/form`).pipe(HttpClientRequest.bodyFormData(form)))
      assert.match(String((fromForm as { contentType: string }).contentType), /^multipart\/form-data; boundary=/)
      const multipart = seen[2].body.toString("utf8")
      assert.include(multipart, "name=\"purpose\"")
      assert.include(multipart, "filename=\"input.jsonl\"")
      assert.include(multipart, "{\"a\":1}")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("streams a body chunk by chunk", () =>
    Effect.gen(function*() {
      const { url } = yield* server((_request, response) => {
        response.writeHead(200, { "content-type": "text/plain" })
        response.end("x".repeat(1_000_000))
      })
      const http = yield* client
      const response = yield* http.execute(HttpClientRequest.get(`${url}/big`))
      const chunks = yield* Stream.runCollect(response.stream)
      assert.strictEqual(Chunk.reduce(chunks, 0, (n, chunk) => n + chunk.length), 1_000_000)
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scopedLive("interrupting a request that waits for its answer aborts it", () =>
    Effect.gen(function*() {
      const { aborted, seen, url } = yield* server(echo)
      const http = yield* client
      const fiber = yield* Effect.fork(http.execute(HttpClientRequest.get(`${url}/hang`)))
      while (seen.length === 0) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* aborted, "/hang")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scopedLive("interrupting the read of a body closes the connection", () =>
    Effect.gen(function*() {
      const { aborted, url } = yield* server(echo)
      const http = yield* client
      const response = yield* http.execute(HttpClientRequest.get(`${url}/slow-body`))
      const fiber = yield* Effect.fork(response.text)
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* aborted, "/slow-body")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scopedLive("a JSON answer to a request for JSON comes with its body read; one still arriving when interrupted is aborted", () =>
    Effect.gen(function*() {
      const { aborted, url } = yield* server((request, response) => {
        response.writeHead(200, { "content-type": "application/json; charset=utf-8" })
        if (request.url === "/json-hang") {
          response.write("{\"data\":[")
          return
        }
        response.write("{\"data\":[")
        setTimeout(() => response.end("1,2]}"), 20)
      })
      const http = yield* client
      const whole = yield* http.execute(HttpClientRequest.get(`${url}/json`).pipe(HttpClientRequest.acceptJson))
      // The body arrived before the response was handed over: reading it needs no more bytes.
      assert.deepStrictEqual(yield* whole.json, { data: [1, 2] })
      const bytes = yield* Stream.runCollect(whole.stream)
      assert.strictEqual(new TextDecoder().decode(Chunk.unsafeHead(bytes)), "{\"data\":[1,2]}")
      const fiber = yield* Effect.fork(
        http.execute(HttpClientRequest.get(`${url}/json-hang`).pipe(HttpClientRequest.acceptJson))
      )
      yield* Effect.sleep("20 millis")
      assert.isTrue(fiber.unsafePoll() === null, "a JSON answer is not handed over before its body ends")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* aborted, "/json-hang")
      // A request that does not ask for JSON (a file's content) gets its answer at the headers.
      const streamed = yield* http.execute(
        HttpClientRequest.get(`${url}/json-hang`).pipe(HttpClientRequest.setHeader("accept", "application/binary"))
      )
      const first = yield* Stream.runHead(streamed.stream)
      assert.strictEqual(new TextDecoder().decode(Option.getOrThrow(first)), "{\"data\":[")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("a JSON body cut short fails its read with a ResponseError, the status still known", () =>
    Effect.gen(function*() {
      const { url } = yield* server((_request, response) => {
        response.writeHead(500, { "content-type": "application/json", "content-length": "100" })
        response.write("{\"error\":")
        setTimeout(() => response.destroy(), 5)
      })
      const http = yield* client
      const response = yield* http.execute(HttpClientRequest.get(`${url}/cut`).pipe(HttpClientRequest.acceptJson))
      assert.strictEqual(response.status, 500)
      const error = yield* Effect.flip(response.text)
      assert.strictEqual(error._tag, "ResponseError")
      assert.strictEqual(error.reason, "Decode")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("a JSON answer longer than 16 MiB is handed over at its headers and streamed", () =>
    Effect.gen(function*() {
      const { url } = yield* server((_request, response) => {
        response.writeHead(200, { "content-type": "application/json", "content-length": String(17 * 1024 * 1024) })
        // The rest never comes: only a response handed over at its headers can be read at all.
        response.write("[1,2,3")
      })
      const http = yield* client
      const response = yield* http.execute(HttpClientRequest.get(`${url}/huge`).pipe(HttpClientRequest.acceptJson))
      const first = yield* Stream.runHead(response.stream)
      assert.strictEqual(new TextDecoder().decode(Option.getOrThrow(first)), "[1,2,3")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.scoped("a refused connection and a bad URL are RequestErrors", () =>
    Effect.gen(function*() {
      const http = yield* client
      const refused = yield* Effect.flip(http.execute(HttpClientRequest.get("http://127.0.0.1:9/x")))
      assert.strictEqual(refused._tag, "RequestError")
      assert.strictEqual(refused.reason, "Transport")
      const bad = yield* Effect.flip(http.execute(HttpClientRequest.get("not a url")))
      assert.strictEqual(bad._tag, "RequestError")
      assert.strictEqual(bad.reason, "InvalidUrl")
    }).pipe(Effect.provide(UndiciHttpClient.layer)))
})
