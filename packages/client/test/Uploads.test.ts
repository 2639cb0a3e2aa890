/**
 * Uploads that are never doubled and never hang (issue 20, point 2, the upload half): an upload
 * whose answer was lost is looked for in the files list (which lags) before it is sent again,
 * counted at the server; a silent server is bounded by the idle timeout or the call's timeout,
 * not by a fixed 10 minutes.
 */
import { BatchClient, Retry } from "@batchfx/client"
import * as Files from "@batchfx/client/Files"
import type { RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Layer, Redacted, TestClock } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { inMemory, quickRetry } from "./utils.js"

const endpoint = "/v1/chat/completions"

const requests = (n: number): Array<RequestLine.BatchRequestLine> =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `req-${i + 1}`,
    method: "POST",
    url: endpoint,
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i + 1}` }] }
  }))

/** Every file the emulator holds, read past the list's lag. */
const serverFiles = Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.requestCount("POST /v1/files"))

/** Advances the TestClock in steps, so that sleeps along the way wake in order. */
const advance = (seconds: number, step = 5) =>
  Effect.forEach(Array.from({ length: Math.ceil(seconds / step) }), () => TestClock.adjust(`${step} seconds`), {
    discard: true
  })

describe("an upload whose answer was lost", () => {
  it.effect("with a 30 s list lag, is found in the list and never made twice (counted at the server)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/files", 1, Fault.resetAfterHandling)
      const fiber = yield* Effect.fork(Files.upload(requests(3), { endpoint, filename: "lost.jsonl" }))
      yield* advance(45)
      const file = yield* Fiber.join(fiber)
      assert.strictEqual(file.filename, "lost.jsonl")
      // one POST, handled once: the answer was lost, the file was not
      assert.strictEqual(yield* serverFiles, 1)
      const listed = yield* Files.retrieve(file.id)
      assert.strictEqual(listed.id, file.id)
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(2) }, { listLag: "30 seconds" }))))

  it.effect("two uploads of the same bytes at once, both answers lost: each gets its own file", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/files", 1, Fault.resetAfterHandling)
      yield* fake.scriptFault("POST /v1/files", 2, Fault.resetAfterHandling)
      const upload = Files.upload(requests(2), { endpoint, filename: "same.jsonl" })
      const fiber = yield* Effect.fork(Effect.all([upload, upload], { concurrency: 2 }))
      yield* advance(45)
      const [a, b] = yield* Fiber.join(fiber)
      // a file claimed by one lookup is never handed to the other
      assert.notStrictEqual(a.id, b.id)
      assert.strictEqual(yield* serverFiles, 2)
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(2) }, { listLag: "30 seconds" }))))

  it.effect("not listed within findWithin: sent again, as before (findWithin 0 sends again at once)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/files", 1, Fault.resetAfterHandling)
      const fiber = yield* Effect.fork(Files.upload(requests(1), { endpoint, findWithin: 0 }))
      yield* advance(5)
      yield* Fiber.join(fiber)
      assert.strictEqual(yield* serverFiles, 2)
    }).pipe(Effect.provide(inMemory({ retry: quickRetry(2) }, { listLag: "30 seconds" }))))
})

/** A server that reads an upload whole and never answers; lists are empty. */
const silent = Effect.acquireRelease(
  Effect.async<{ readonly baseUrl: string; readonly posts: () => number; readonly close: () => void }>((resume) => {
    let posts = 0
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ object: "list", data: [], has_more: false, first_id: null, last_id: null }))
        return
      }
      posts++
      req.resume()
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({
        baseUrl: `http://127.0.0.1:${port}/v1`,
        posts: () => posts,
        close: () => {
          server.closeAllConnections()
          server.close()
        }
      }))
    })
  }),
  ({ close }) => Effect.sync(close)
)

const clientAt = (baseUrl: string, timeout: Duration.DurationInput) =>
  BatchClient.layer({ apiKey: Redacted.make("sk-test"), baseUrl, timeout, retry: Retry.never }).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

describe("an upload to a silent server", () => {
  it.scopedLive("ends after the client's timeout as an idle timeout, not 10 minutes", () =>
    Effect.gen(function*() {
      const { baseUrl, posts } = yield* silent
      const error = yield* Effect.flip(
        Files.upload(requests(5), { endpoint, findWithin: "1 second" }).pipe(
          Effect.provide(clientAt(baseUrl, "1 second"))
        )
      )
      assert.strictEqual(error._tag, "TimeoutError")
      assert.include(error.message, "POST /v1/files timed out after 1s")
      assert.strictEqual(posts(), 1)
    }), 20_000)

  it.scopedLive("ends after the call's own timeout when one is given", () =>
    Effect.gen(function*() {
      const { baseUrl } = yield* silent
      const error = yield* Effect.flip(
        Files.upload(requests(5), { endpoint, timeout: "700 millis", findWithin: 0 }).pipe(
          Effect.provide(clientAt(baseUrl, "60 seconds"))
        )
      )
      assert.strictEqual(error._tag, "TimeoutError")
      assert.include(error.message, "timed out after 700ms")
    }), 20_000)
})
