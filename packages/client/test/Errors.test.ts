import { BatchClient, Retry } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Stream } from "effect"
import { createServer } from "node:net"
import { quickRetry, wire } from "./utils.js"

/** The newest batch on the server (seeded batch 0 is completed). */
const newestBatch = Effect.flatMap(
  BatchClient.BatchClient,
  (client) => Effect.map(Stream.runHead(client.list({ limit: 1 })), Option.getOrThrow)
)

/** A port on 127.0.0.1 that nothing listens on. */
const closedPort = Effect.async<number>((resume) => {
  const server = createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 1
    server.close(() => resume(Effect.succeed(port)))
  })
})

const createParams = {
  input_file_id: "file-abc123",
  endpoint: "/v1/chat/completions",
  completion_window: "24h"
} as const

describe("typed errors from real emulator answers over HTTP", () => {
  it.live("400 BadRequest carries the API's type, code, param, message and request id", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      const error = yield* Effect.flip(client.create({ ...createParams, endpoint: "/v1/audio/speech" }))
      assert.strictEqual(error._tag, "BadRequest")
      if (error._tag !== "BadRequest") return
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.type, "invalid_request_error")
      assert.strictEqual(error.code, "invalid_value")
      assert.strictEqual(error.param, "endpoint")
      assert.include(error.apiMessage ?? "", "/v1/audio/speech")
      assert.match(error.requestId ?? "", /^req_/)
      assert.include(error.message, error.requestId!)
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1, "a 400 is not retried")
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.live("401 Authentication for a wrong key, not retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      const error = yield* Effect.flip(client.retrieve("batch_x"))
      assert.strictEqual(error._tag, "Authentication")
      if (error._tag !== "Authentication") return
      assert.strictEqual(error.status, 401)
      assert.strictEqual(error.code, "invalid_api_key")
      assert.strictEqual(yield* fake.requestCount(), 1)
    }).pipe(
      Effect.provide(
        wire({ apiKey: Redacted.make("sk-wrong-key-0123456789"), retry: quickRetry() }, { apiKey: "sk-fake-batchfx" })
      )
    ))

  it.live("403 PermissionDenied and 422 Unprocessable (the emulator's status faults), not retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.status(403))
      yield* fake.scriptFault("GET /v1/batches/{id}", 2, Fault.status(422))
      const forbidden = yield* Effect.flip(client.retrieve("batch_x"))
      assert.strictEqual(forbidden._tag, "PermissionDenied")
      const unprocessable = yield* Effect.flip(client.retrieve("batch_x"))
      assert.strictEqual(unprocessable._tag, "Unprocessable")
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches/{id}"), 2)
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.live("404 NotFound for an unknown batch, not retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      const error = yield* Effect.flip(client.retrieve("batch_does_not_exist"))
      assert.strictEqual(error._tag, "NotFound")
      assert.strictEqual(yield* fake.requestCount(), 1)
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.live("409 Conflict when cancelling a completed batch, not retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(3)
      const batch = yield* newestBatch
      assert.strictEqual(batch.status, "completed")
      const error = yield* Effect.flip(client.cancel(batch.id))
      assert.strictEqual(error._tag, "Conflict")
      if (error._tag !== "Conflict") return
      assert.include(error.apiMessage ?? "", "Cannot cancel a batch with status 'completed'")
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches/{id}/cancel"), 1)
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.live("429 RateLimited carries the server's wait and is retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ rateLimit: { requests: 1, window: "1 minute", headers: false } })
      yield* Effect.flip(client.retrieve("batch_x"))
      const error = yield* Effect.flip(client.retrieve("batch_x", { retry: Retry.never }))
      assert.strictEqual(error._tag, "RateLimited")
      if (error._tag !== "RateLimited") return
      assert.strictEqual(error.code, "rate_limit_exceeded")
      assert.isDefined(error.retryAfter)
      assert.include(error.message, "asked to wait")
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.live("429 QuotaExhausted is never retried", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ quotaExhausted: true })
      const error = yield* Effect.flip(client.retrieve("batch_x"))
      assert.strictEqual(error._tag, "QuotaExhausted")
      if (error._tag !== "QuotaExhausted") return
      assert.strictEqual(error.code, "insufficient_quota")
      assert.strictEqual(yield* fake.requestCount(), 1)
    }).pipe(Effect.provide(wire({ retry: quickRetry(5) }))))

  it.live("500 is retried, then surfaced as ServerError", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(3)
      const batch = yield* newestBatch
      for (const n of [1, 2, 3]) yield* fake.scriptFault("GET /v1/batches/{id}", n, Fault.status(500))
      const error = yield* Effect.flip(client.retrieve(batch.id))
      assert.strictEqual(error._tag, "ServerError")
      if (error._tag !== "ServerError") return
      assert.strictEqual(error.status, 500)
      assert.strictEqual(error.attempt, 3)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches/{id}"), 3)
      for (const n of [1, 2]) yield* fake.scriptFault("GET /v1/batches/{id}", n, Fault.status(502))
      const retrieved = yield* client.retrieve(batch.id)
      assert.strictEqual(retrieved.id, batch.id)
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches/{id}"), 6)
    }).pipe(Effect.provide(wire({ retry: quickRetry(2) }))))

  it.live("an HTML 502 keeps the status and the first bytes of the body", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.htmlBadGateway)
      const error = yield* Effect.flip(client.retrieve("batch_x", { retry: Retry.never }))
      assert.strictEqual(error._tag, "ServerError")
      if (error._tag !== "ServerError") return
      assert.strictEqual(error.status, 502)
      assert.include(error.bodyPreview ?? "", "<html>")
      assert.isUndefined(error.apiMessage)
    }).pipe(Effect.provide(wire())))

  it.live("connection refused is a ConnectionError that was never sent", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const error = yield* Effect.flip(
        BatchClient.retrieve("batch_x").pipe(
          Effect.provide(
            BatchClient.layer({
              apiKey: Redacted.make("sk-fake-batchfx"),
              baseUrl: `http://127.0.0.1:${port}/v1`,
              retry: quickRetry(1)
            }).pipe(Layer.provide(NodeHttpClient.layerUndici))
          )
        )
      )
      assert.strictEqual(error._tag, "ConnectionError")
      if (error._tag !== "ConnectionError") return
      assert.strictEqual(error.errorCode, "ECONNREFUSED")
      assert.isFalse(error.maybeSent)
      assert.strictEqual(error.attempt, 2, "retried once")
    }))

  it.live("a reset connection is a ConnectionError that may have been sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.resetBeforeResponse)
      const error = yield* Effect.flip(client.retrieve("batch_x", { retry: Retry.never }))
      assert.strictEqual(error._tag, "ConnectionError")
      if (error._tag !== "ConnectionError") return
      assert.isTrue(error.maybeSent)
    }).pipe(Effect.provide(wire())))

  it.live("a body cut short is a ConnectionError, retried to success", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(3)
      const batch = yield* newestBatch
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.truncatedBody(40))
      const error = yield* Effect.flip(client.retrieve(batch.id, { retry: Retry.never }))
      assert.strictEqual(error._tag, "ConnectionError")
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.truncatedBody(40))
      assert.strictEqual((yield* client.retrieve(batch.id)).id, batch.id)
    }).pipe(Effect.provide(wire({ retry: quickRetry() }))))

  it.live("a timeout is a TimeoutError, on the real socket", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ latency: "30 seconds" })
      const error = yield* Effect.flip(client.retrieve("batch_x", { timeout: "100 millis", retry: Retry.never }))
      assert.strictEqual(error._tag, "TimeoutError")
      assert.include(error.message, "timed out after")
    }).pipe(Effect.provide(wire())))

  it.live("invalid create parameters fail locally and nothing is sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      const error = yield* Effect.flip(
        client.create({ ...createParams, output_expires_after: { anchor: "created_at", seconds: 60 } })
      )
      assert.strictEqual(error._tag, "InvalidParams")
      assert.include(error.message, "output_expires_after")
      const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]))
      const metadata = yield* Effect.flip(client.create({ ...createParams, metadata: tooMany }))
      assert.strictEqual(metadata._tag, "InvalidParams")
      const emptyId = yield* Effect.flip(client.retrieve(""))
      assert.strictEqual(emptyId._tag, "InvalidParams")
      assert.strictEqual(yield* fake.requestCount(), 0)
    }).pipe(Effect.provide(wire())))

  it.live("a base URL that is not a URL fails once, without retries", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        BatchClient.retrieve("batch_x").pipe(
          Effect.provide(
            BatchClient.layer({
              apiKey: Redacted.make("sk-fake-batchfx"),
              baseUrl: "not a url",
              retry: quickRetry(3)
            }).pipe(Layer.provide(NodeHttpClient.layerUndici))
          )
        )
      )
      assert.strictEqual(error._tag, "ConnectionError")
      if (error._tag !== "ConnectionError") return
      assert.strictEqual(error.errorCode, "InvalidUrl")
      assert.isFalse(error.maybeSent)
      assert.strictEqual(error.attempt, 1)
    }))
})
