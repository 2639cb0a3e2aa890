/**
 * Complete downloads (issue 20, points 1 and 7): a body that ends cleanly but short — a short
 * `Content-Length`, chunked encoding ended early, no final newline, fewer lines than the batch's
 * `request_counts` — is resumed with Range where the server allows it, else an `IncompleteDownload`;
 * a body that trickles is a stall, and a read has an optional overall deadline. Hostile `node:http`
 * servers on 127.0.0.1 play the proxies and servers the emulator never is.
 */
import { BatchClient } from "@batchfx/client"
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import * as Files from "@batchfx/client/Files"
import * as Results from "@batchfx/client/Results"
import * as Watch from "@batchfx/client/Watch"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, type Duration, Effect, Layer, Redacted, Schedule, Stream } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { quickRetry, wire } from "./utils.js"

const decoder = new TextDecoder()

const text = <R>(stream: Stream.Stream<Uint8Array, BatchClientError, R>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => decoder.decode(Buffer.concat(Chunk.toReadonlyArray(chunks))))

const resultLine = (i: number) =>
  JSON.stringify({
    id: `batch_req_${i}`,
    custom_id: `req-${i}`,
    response: { status_code: 200, request_id: `r${i}`, body: { n: i } },
    error: null
  }) + "\n"

/** A file of `n` result lines. */
const resultFile = (n: number) => Array.from({ length: n }, (_, i) => resultLine(i + 1)).join("")

/** A `node:http` server of the test's own on 127.0.0.1; `seen` holds each request's method, path and Range. */
const hostile = (handle: (req: IncomingMessage, res: ServerResponse, n: number) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly baseUrl: string; readonly seen: Array<string>; readonly close: () => void }>((resume) => {
      const seen: Array<string> = []
      const server = createServer((req, res) => {
        seen.push(`${req.method} ${req.url}${req.headers.range ? ` ${req.headers.range}` : ""}`)
        handle(req, res, seen.length)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          baseUrl: `http://127.0.0.1:${port}/v1`,
          seen,
          close: () => server.closeAllConnections()
        }))
      })
    }),
    () => Effect.void
  ).pipe(Effect.tap(({ close }) => Effect.addFinalizer(() => Effect.sync(close))))

const clientAt = (
  baseUrl: string,
  options: { readonly maxRetries?: number; readonly timeout?: Duration.DurationInput } = {}
) =>
  BatchClient.layer({
    apiKey: Redacted.make("sk-test"),
    baseUrl,
    retry: quickRetry(options.maxRetries ?? 2),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout })
  }).pipe(Layer.provide(NodeHttpClient.layerUndici))

/** Answers a content request as a server that honours Range would, from `body`. */
const serveRange = (req: IncomingMessage, res: ServerResponse, body: string, short?: number) => {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "")
  const start = range === null ? 0 : Number(range[1])
  if (start >= body.length && range !== null) {
    res.writeHead(416, { "content-range": `bytes */${body.length}` })
    res.end()
    return
  }
  const rest = body.slice(start, short === undefined ? undefined : start + short)
  res.writeHead(range === null ? 200 : 206, {
    "content-length": String(rest.length),
    ...(range === null ? {} : { "content-range": `bytes ${start}-${body.length - 1}/${body.length}` })
  })
  res.end(rest)
}

describe("bodies that end cleanly but short", () => {
  it.live(
    "the emulator's short bodies (Content-Length and chunked) are resumed with Range, every byte once",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const file = yield* Files.upload(
          Array.from({ length: 30 }, (_, i) => ({
            custom_id: `req-${i + 1}`,
            method: "POST" as const,
            url: "/v1/chat/completions",
            body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i + 1}` }] }
          })),
          { endpoint: "/v1/chat/completions" }
        )
        const whole = yield* text(Files.content(file.id))
        // cut mid-line, so only the missing newline shows it; then chunked, cut again
        yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.shortBody(333))
        yield* fake.scriptFault("GET /v1/files/{id}/content", 2, Fault.shortBody(1000, "chunked"))
        const before = yield* fake.requestCount("GET /v1/files/{id}/content")
        assert.strictEqual(yield* text(Files.content(file.id)), whole)
        assert.strictEqual((yield* fake.requestCount("GET /v1/files/{id}/content")) - before, 3)
      }).pipe(Effect.provide(wire({ retry: quickRetry(2) }))),
    30_000
  )

  it.scopedLive("a proxy that always gives up after 100 bytes, ignoring Range: IncompleteDownload, never a whole file", () =>
    Effect.gen(function*() {
      const body = resultFile(5)
      const { baseUrl, seen } = yield* hostile((_, res) => {
        res.writeHead(200, { "content-length": "100" })
        res.end(body.slice(0, 100))
      })
      const error = yield* Effect.flip(text(Files.content("file-x")).pipe(Effect.provide(clientAt(baseUrl))))
      assert.strictEqual(error._tag, "IncompleteDownload")
      if (error._tag !== "IncompleteDownload") return
      assert.strictEqual(error.received, 100)
      assert.strictEqual(error.attempts, 3)
      assert.include(error.message, "without the newline")
      // no progress past byte 100: one read and the 2 retries of the schedule
      assert.strictEqual(seen.length, 3)
    }))

  it.scopedLive("a 206 shorter than its Content-Range total is resumed until the total", () =>
    Effect.gen(function*() {
      const body = resultFile(20)
      // every answer stops 150 bytes after where it starts, each with a matching Content-Length
      const { baseUrl, seen } = yield* hostile((req, res) => serveRange(req, res, body, 150))
      const got = yield* text(Files.content("file-x")).pipe(Effect.provide(clientAt(baseUrl)))
      assert.strictEqual(got, body)
      assert.strictEqual(seen.length, Math.ceil(body.length / 150))
    }))

  it.scopedLive("a file without a final newline is whole once the server answers 416 to the resume", () =>
    Effect.gen(function*() {
      const body = resultFile(3).slice(0, -1)
      const { baseUrl, seen } = yield* hostile((req, res) => serveRange(req, res, body))
      const got = yield* text(Files.content("file-x")).pipe(Effect.provide(clientAt(baseUrl)))
      assert.strictEqual(got, body)
      assert.deepStrictEqual(seen, [
        "GET /v1/files/file-x/content",
        `GET /v1/files/file-x/content bytes=${body.length}-`
      ])
      // and without the check, one read
      const once = yield* text(Files.content("file-x", { requireNewline: false })).pipe(
        Effect.provide(clientAt(baseUrl))
      )
      assert.strictEqual(once, body)
      assert.strictEqual(seen.length, 3)
    }))

  it.scopedLive("results with fewer lines than request_counts: the lines read, then IncompleteDownload", () =>
    Effect.gen(function*() {
      const batch = {
        id: "batch_1",
        object: "batch",
        endpoint: "/v1/chat/completions",
        input_file_id: "file-in",
        completion_window: "24h",
        status: "completed",
        output_file_id: "file-out",
        error_file_id: null,
        created_at: 1,
        request_counts: { total: 3, completed: 3, failed: 0 }
      }
      // a chunked body that ends cleanly after two whole lines: nothing on the wire says it is short
      const { baseUrl } = yield* hostile((req, res) => {
        if (req.url === "/v1/batches/batch_1") {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(batch))
          return
        }
        res.writeHead(200, { "content-type": "application/octet-stream" })
        res.write(resultLine(1))
        res.end(resultLine(2))
      })
      const read = yield* Results.streamById("batch_1").pipe(
        Stream.either,
        Stream.runCollect,
        Effect.provide(clientAt(baseUrl))
      )
      const items = Chunk.toReadonlyArray(read)
      assert.deepStrictEqual(
        items.slice(0, 2).map((e) => e._tag === "Right" ? e.right.customId : e.left._tag),
        ["req-1", "req-2"]
      )
      const last = items[2]
      assert.isTrue(last?._tag === "Left" && last.left._tag === "IncompleteDownload")
      if (last?._tag === "Left" && last.left._tag === "IncompleteDownload") {
        assert.strictEqual(last.left.lines, 2)
        assert.strictEqual(last.left.expectedLines, 3)
        assert.include(last.left.message, "file-out")
      }
    }))
})

describe("a short body that ends on a line boundary", () => {
  it.live("is caught by the line count against request_counts and resumed with Range", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const input = Array.from({ length: 12 }, (_, i) => ({
        custom_id: `req-${i + 1}`,
        method: "POST" as const,
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i + 1}` }] }
      }))
      const file = yield* Files.upload(input, { endpoint: "/v1/chat/completions" })
      const created = yield* BatchClient.create({
        input_file_id: file.id,
        endpoint: "/v1/chat/completions",
        completion_window: "24h"
      })
      const batch = yield* Watch.awaitTerminal(created.id, { schedule: Schedule.spaced("20 millis") })
      const whole = yield* text(Files.content(batch.output_file_id!))
      // cut right after the 5th line: a whole-looking file of 5 lines, newline at the end
      const cut = whole.split("\n").slice(0, 5).join("\n").length + 1
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.shortBody(cut, "chunked"))
      const before = yield* fake.requestCount("GET /v1/files/{id}/content")
      const results = yield* Stream.runCollect(Results.stream(batch))
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(results).map((r) => r.customId).sort(),
        input.map((l) => l.custom_id).sort()
      )
      assert.strictEqual((yield* fake.requestCount("GET /v1/files/{id}/content")) - before, 2)
    }).pipe(
      Effect.provide(wire({ retry: quickRetry(2) }, {
        durations: { validating: "20 millis", inProgress: "60 millis", finalizing: "20 millis" }
      }))
    ), 30_000)
})

describe("slow bodies", () => {
  it.scopedLive(
    "a 1 byte/s body is a stall: the read ends after its retries, not when the body does",
    () =>
      Effect.gen(function*() {
        const body = resultFile(1)
        const { baseUrl, seen } = yield* hostile((_, res) => {
          res.writeHead(200, { "content-length": String(body.length) })
          let at = 0
          const timer = setInterval(() => {
            if (at >= body.length || res.destroyed) return clearInterval(timer)
            res.write(body[at++]!)
          }, 1000)
          res.on("close", () => clearInterval(timer))
        })
        const error = yield* Effect.flip(
          text(Files.content("file-x", { idleTimeout: "2 seconds" })).pipe(
            Effect.provide(clientAt(baseUrl, { maxRetries: 1 }))
          )
        )
        assert.strictEqual(error._tag, "TimeoutError")
        // each read brings a byte a second, under the 1 KiB/s floor, and is given up after 2 s: two reads
        assert.strictEqual(seen.length, 2)
      }),
    20_000
  )

  it.scopedLive("an overall deadline ends a read that keeps making progress", () =>
    Effect.gen(function*() {
      // 2 KiB every 100 ms: fast enough never to stall, too slow to end within the deadline
      const { baseUrl } = yield* hostile((_, res) => {
        res.writeHead(200, { "content-length": String(10_000_000) })
        const timer = setInterval(() => res.write("x".repeat(2047) + "\n"), 100)
        res.on("close", () => clearInterval(timer))
      })
      const error = yield* Effect.flip(
        Stream.runDrain(Files.content("file-x", { idleTimeout: "1 second", deadline: "1500 millis" })).pipe(
          Effect.provide(clientAt(baseUrl, { maxRetries: 0 })),
          Effect.timeout("10 seconds")
        )
      )
      assert.strictEqual(error._tag, "TimeoutError")
      if (error._tag === "TimeoutError") assert.include(error.message, "timed out after 1s 500ms")
    }), 20_000)
})
