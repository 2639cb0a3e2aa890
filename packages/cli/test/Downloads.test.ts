/**
 * `batchfx results` against hostile servers (issue 20, points 1 and 7): a results body that ends
 * cleanly but short is never written as whole (exit 1, nothing under the final name, no temp file
 * left), the "Wrote" line counts the bytes and lines written, and `--timeout` bounds a body that
 * trickles at 1 byte/s.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { runCli } from "./utils.js"

const resultLine = (i: number) =>
  JSON.stringify({
    id: `batch_req_${i}`,
    custom_id: `req-${i}`,
    response: { status_code: 200, request_id: `r${i}`, body: { n: i } },
    error: null
  }) + "\n"

const threeLines = resultLine(1) + resultLine(2) + resultLine(3)

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

/** A server that answers the batch and hands content requests to `content`. */
const hostile = (content: (req: IncomingMessage, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ readonly baseUrl: string; readonly close: () => void }>((resume) => {
      const server = createServer((req, res) => {
        if (req.url === "/v1/batches/batch_1") {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(batch))
          return
        }
        content(req, res)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          baseUrl: `http://127.0.0.1:${port}/v1`,
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  )

const results = (baseUrl: string, args: ReadonlyArray<string>) =>
  runCli(["results", "batch_1", ...args], { env: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: baseUrl } })

describe("batchfx results against hostile servers", () => {
  it.scopedLive("a whole file: the Wrote line counts the bytes and lines written", () =>
    Effect.gen(function*() {
      const { baseUrl } = yield* hostile((_, res) => {
        res.writeHead(200, { "content-length": String(threeLines.length) })
        res.end(threeLines)
      })
      const dir = mkdtempSync(join(tmpdir(), "batchfx-dl-"))
      const out = join(dir, "r.jsonl")
      const r = yield* results(baseUrl, ["--output", out])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(readFileSync(out, "utf8"), threeLines)
      assert.include(r.stderr, `Wrote ${out} (${threeLines.length} bytes, 3 lines).`)
    }))

  it.scopedLive("a short Content-Length cut mid-line, Range ignored: exit 1, no file, no temp file", () =>
    Effect.gen(function*() {
      const cut = threeLines.length - 40
      const { baseUrl } = yield* hostile((_, res) => {
        res.writeHead(200, { "content-length": String(cut) })
        res.end(threeLines.slice(0, cut))
      })
      const dir = mkdtempSync(join(tmpdir(), "batchfx-dl-"))
      const out = join(dir, "r.jsonl")
      const r = yield* results(baseUrl, ["--output", out, "--max-retries", "1"])
      assert.strictEqual(r.code, 1)
      assert.include(r.stderr, "is incomplete")
      assert.notInclude(r.stderr, "Wrote")
      assert.isFalse(existsSync(out))
      assert.deepStrictEqual(readdirSync(dir), [])
    }))

  it.scopedLive("a chunked body that ends cleanly after 2 of 3 lines: the line count catches it", () =>
    Effect.gen(function*() {
      const { baseUrl } = yield* hostile((_, res) => {
        res.writeHead(200, { "content-type": "application/octet-stream" })
        res.write(resultLine(1))
        res.end(resultLine(2))
      })
      const dir = mkdtempSync(join(tmpdir(), "batchfx-dl-"))
      const out = join(dir, "r.jsonl")
      const r = yield* results(baseUrl, ["--output", out])
      assert.strictEqual(r.code, 1)
      // the body is read again (the client knows the lines to expect), then given up
      assert.include(r.stderr, "the file has 2 lines where 3 were expected")
      assert.isFalse(existsSync(out))
      assert.deepStrictEqual(readdirSync(dir), [])
    }))

  it.scopedLive("a chunked body cut on a line boundary is resumed from where it stopped (issue 20): 3 lines", () =>
    Effect.gen(function*() {
      const ranges: Array<string | undefined> = []
      const twoLines = resultLine(1) + resultLine(2)
      const { baseUrl } = yield* hostile((req, res) => {
        const range = req.headers.range
        ranges.push(range)
        if (range === undefined) {
          // ends cleanly after two of three lines, with no length to say it is short
          res.writeHead(200, { "content-type": "application/octet-stream" })
          res.end(twoLines)
          return
        }
        const from = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0)
        res.writeHead(206, {
          "content-range": `bytes ${from}-${threeLines.length - 1}/${threeLines.length}`,
          "content-length": String(threeLines.length - from)
        })
        res.end(threeLines.slice(from))
      })
      const dir = mkdtempSync(join(tmpdir(), "batchfx-dl-"))
      const out = join(dir, "r.jsonl")
      const r = yield* results(baseUrl, ["--output", out])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.strictEqual(readFileSync(out, "utf8"), threeLines)
      assert.deepStrictEqual(ranges, [undefined, `bytes=${twoLines.length}-`])
    }))

  it.scopedLive("a body at 1 byte/s: --timeout 1s ends it (exit 1), no file", () =>
    Effect.gen(function*() {
      const { baseUrl } = yield* hostile((_, res) => {
        res.writeHead(200, { "content-length": String(threeLines.length) })
        let at = 0
        const timer = setInterval(() => {
          if (at < threeLines.length && !res.destroyed) res.write(threeLines[at++]!)
        }, 1000)
        res.on("close", () => clearInterval(timer))
      })
      const dir = mkdtempSync(join(tmpdir(), "batchfx-dl-"))
      const out = join(dir, "r.jsonl")
      const r = yield* results(baseUrl, ["--output", out, "--timeout", "1s", "--max-retries", "1"])
      assert.strictEqual(r.code, 1)
      assert.include(r.stderr, "timed out")
      assert.isFalse(existsSync(out))
      assert.deepStrictEqual(readdirSync(dir), [])
    }), 30_000)
})
