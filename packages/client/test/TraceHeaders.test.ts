import { BatchClient } from "@batchfx/client"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { createServer, type IncomingHttpHeaders, type Server } from "node:http"
import type { AddressInfo } from "node:net"

// A plain server on 127.0.0.1 that answers one batch and keeps the headers it was sent.
const recordingServer = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly seen: Array<IncomingHttpHeaders>; readonly server: Server }>(
    (resume) => {
      const seen: Array<IncomingHttpHeaders> = []
      const server = createServer((request, response) => {
        seen.push(request.headers)
        response.writeHead(200, { "content-type": "application/json", "x-request-id": "req_1" })
        response.end(JSON.stringify({
          id: "batch_1",
          object: "batch",
          endpoint: "/v1/chat/completions",
          input_file_id: "file-1",
          completion_window: "24h",
          status: "completed",
          created_at: 1
        }))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}/v1`, seen, server }))
      })
    }
  ),
  ({ server }) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

describe("trace headers", () => {
  it.scopedLive("a request made inside a span carries no traceparent or b3 header to the API", () =>
    Effect.gen(function*() {
      const { seen, url } = yield* recordingServer
      const client = BatchClient.layer({ apiKey: Redacted.make("sk-test"), baseUrl: url }).pipe(
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const batch = yield* BatchClient.retrieve("batch_1").pipe(
        Effect.withSpan("a user's span"),
        Effect.provide(client)
      )
      assert.strictEqual(batch.id, "batch_1")
      assert.strictEqual(seen.length, 1)
      assert.isUndefined(seen[0]!["traceparent"])
      assert.isUndefined(seen[0]!["b3"])
      assert.strictEqual(seen[0]!["authorization"], "Bearer sk-test")
    }))
})
