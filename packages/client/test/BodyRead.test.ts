/**
 * JSON answers are read in linear time whatever their chunking, and not past a cap (issue 20,
 * point 4). A `node:http` server of the test's own sends a 10 MB list page in 1 KB chunks (each a
 * chunk of its own on the wire) to each HTTP client a user may provide; a quadratic read takes
 * minutes and runs into the test's timeout. Speed figures come from `pnpm bench`, not from here.
 */
import { BatchClient, Retry } from "@batchfx/client"
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Redacted, Stream } from "effect"
import { createServer, type ServerResponse } from "node:http"

const batch = (i: number) => ({
  id: `batch_${String(i).padStart(8, "0")}`,
  object: "batch",
  endpoint: "/v1/chat/completions",
  input_file_id: "file-in",
  completion_window: "24h",
  status: "completed",
  created_at: 1_700_000_000 + i,
  request_counts: { total: 1, completed: 1, failed: 0 },
  metadata: { note: "x".repeat(800) }
})

/** A list page of about 10 MB. */
const bigPage = (() => {
  const data = Array.from({ length: 10_500 }, (_, i) => batch(i))
  return JSON.stringify({ object: "list", data, first_id: data[0]!.id, last_id: data.at(-1)!.id, has_more: false })
})()

/** Writes `text` in chunks of `size` bytes, each waiting for the one before to be flushed. */
const writeChunked = (res: ServerResponse, text: Buffer, size: number) => {
  let at = 0
  const next = (): void => {
    if (res.destroyed) return
    if (at >= text.length) return void res.end()
    const piece = text.subarray(at, at + size)
    at += size
    res.write(piece, () => setImmediate(next))
  }
  next()
}

/** A server that answers every request with `handle`; closed with the scope. */
const server = (handle: (res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly baseUrl: string; readonly close: () => void }>((resume) => {
      const s = createServer((_, res) => handle(res))
      s.listen(0, "127.0.0.1", () => {
        const address = s.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          baseUrl: `http://127.0.0.1:${port}/v1`,
          close: () => {
            s.closeAllConnections()
            s.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  )

const clients: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["undici (NodeHttpClient.layerUndici)", NodeHttpClient.layerUndici],
  ["fetch (FetchHttpClient.layer, as the CLI uses)", FetchHttpClient.layer],
  ["node:http (NodeHttpClient.layer)", NodeHttpClient.layer]
]

const firstPage = (baseUrl: string, http: Layer.Layer<HttpClient.HttpClient>) =>
  Effect.flatMap(BatchClient.BatchClient, (client) => Stream.runCollect(Stream.take(client.listPages({}), 1))).pipe(
    Effect.map(Chunk.unsafeHead),
    Effect.provide(
      BatchClient.layer({ apiKey: Redacted.make("sk-test"), baseUrl, retry: Retry.never }).pipe(Layer.provide(http))
    )
  )

describe("a 10 MB JSON page in 1 KB chunks", () => {
  // Chunked (length unknown: read as a capped stream) and with a Content-Length (the client's own read).
  for (const [name, http] of clients) {
    for (const framing of ["chunked", "with a Content-Length"] as const) {
      it.scopedLive(`is read whole and decoded by ${name}, ${framing}`, () =>
        Effect.gen(function*() {
          const body = Buffer.from(bigPage)
          assert.isTrue(body.length > 10_000_000)
          const { baseUrl } = yield* server((res) => {
            res.writeHead(200, {
              "content-type": "application/json",
              ...(framing === "chunked" ? {} : { "content-length": String(body.length) })
            })
            writeChunked(res, body, 1024)
          })
          const page = yield* firstPage(baseUrl, http)
          assert.strictEqual(page.data.length, 10_500)
          assert.strictEqual(page.data.at(-1)?.id, "batch_00010499")
        }), 60_000)
    }
  }
})

describe("a small JSON page (read as bytes) with multi-byte characters cut across 1 KB chunks", () => {
  // 120 batches whose notes hold 2-, 3- and 4-byte UTF-8 characters: about 200 KB, so many a
  // character is split between two chunks; the text must come out whole.
  const note = "é€😀".repeat(150)
  const data = Array.from({ length: 120 }, (_, i) => ({ ...batch(i), metadata: { note } }))
  const body = Buffer.from(JSON.stringify({ object: "list", data, has_more: false }))
  for (const [name, http] of clients) {
    it.scopedLive(`is read whole by ${name}`, () =>
      Effect.gen(function*() {
        assert.isTrue(body.length > 150_000 && body.length < 256 * 1024)
        const { baseUrl } = yield* server((res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": String(body.length) })
          writeChunked(res, body, 1024)
        })
        const page = yield* firstPage(baseUrl, http)
        assert.strictEqual(page.data.length, 120)
        assert.isTrue(page.data.every((b) => b.metadata?.["note"] === note))
      }))
  }
})

describe("a JSON answer above the cap (64 MiB)", () => {
  it.scopedLive("with a Content-Length above it: a typed error at once, the body unread", () =>
    Effect.gen(function*() {
      const { baseUrl } = yield* server((res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": String(100 * 1024 * 1024) })
        res.write("{\"object\":\"list\",\"data\":[")
      })
      const error = yield* Effect.flip(firstPage(baseUrl, NodeHttpClient.layerUndici))
      assert.strictEqual(error._tag, "ResponseDecodeError")
      if (error._tag !== "ResponseDecodeError") return
      assert.strictEqual(error.reason, "TooLarge")
      assert.include(error.message, "was too large to read")
    }), 30_000)

  it.scopedLive(
    "chunked and endless: a typed error once the cap is passed, never the whole body",
    () =>
      Effect.gen(function*() {
        let sent = 0
        const { baseUrl } = yield* server((res) => {
          res.writeHead(200, { "content-type": "application/json" })
          const piece = Buffer.alloc(256 * 1024, " ")
          const next = (): void => {
            if (res.destroyed) return
            sent += piece.length
            res.write(piece, () => setImmediate(next))
          }
          res.write("{\"data\":[", next)
        })
        const error = yield* Effect.flip(firstPage(baseUrl, FetchHttpClient.layer))
        assert.strictEqual(error._tag, "ResponseDecodeError")
        if (error._tag === "ResponseDecodeError") assert.strictEqual(error.reason, "TooLarge")
        // the read stopped soon after the cap: the body was not buffered on
        assert.isTrue(sent < 96 * 1024 * 1024, `sent ${sent}`)
      }),
    30_000
  )
})
