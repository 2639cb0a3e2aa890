/**
 * The bad-input catalogue of `batchfx` (run in-process, see `utils.ts`): malformed flags, missing, unreadable and
 * non-JSONL input files, a 10 MB line, invalid ids, unknown endpoints, metadata over its limits.
 * Each case must end with the right exit code and a short message on stderr (no stack trace unless
 * `--verbose`), print nothing on stdout, upload nothing it should not, and leave no file behind.
 * RELIABILITY.md counts these cases.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { cli, createdId, fastDurations, inputFile, jsonLines, poll, runCli, tempDir } from "./utils.js"

const chat = "/v1/chat/completions"

/** The input files of the catalogue, written once into one directory. */
const files = (() => {
  const dir = tempDir()
  const path = (name: string) => join(dir, name)
  writeFileSync(path("text.jsonl"), "hello world\nthis is not json\n")
  writeFileSync(path("array.jsonl"), "[1,2,3]\n")
  writeFileSync(path("binary.jsonl"), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256)))
  writeFileSync(path("empty.jsonl"), "")
  writeFileSync(path("one-json-document.jsonl"), JSON.stringify([{ custom_id: "a" }], null, 2))
  writeFileSync(
    path("wrong-method.jsonl"),
    JSON.stringify({ custom_id: "a", method: "GET", url: chat, body: { model: "m" } }) + "\n"
  )
  mkdirSync(path("a-directory.jsonl"))
  const big = JSON.stringify({
    custom_id: "big-1",
    method: "POST",
    url: chat,
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: "x".repeat(10 * 1024 * 1024) }] }
  })
  writeFileSync(path("ten-megabyte-line.jsonl"), big + "\n")
  inputFile(dir, 2, "good.jsonl")
  return { dir, path }
})()

interface Case {
  readonly name: string
  readonly args: ReadonlyArray<string>
  readonly code: number
  /** What stderr must say. */
  readonly says: RegExp
  /** Whether the case may upload a file (default: no). */
  readonly uploads?: boolean
}

const pairs = (n: number) => Array.from({ length: n }, (_, i) => ["--metadata", `k${i}=v`]).flat()

const cases: ReadonlyArray<Case> = [
  // malformed flags
  { name: "an unknown flag", args: ["list", "--nope"], code: 2, says: /unknown option '--nope' for 'batchfx list'/ },
  { name: "an unknown command", args: ["lsit"], code: 2, says: /unknown command 'lsit'\. Did you mean 'list'\?/ },
  {
    name: "--limit not a number",
    args: ["list", "--limit", "abc"],
    code: 2,
    says: /--limit takes a whole number \(got 'abc'\)/
  },
  { name: "--limit out of range", args: ["list", "--limit", "0"], code: 2, says: /--limit must be between 1 and 100/ },
  {
    name: "--format not a format",
    args: ["list", "--format", "xml"],
    code: 2,
    says: /--format takes table, json or jsonl \(got 'xml'\)/
  },
  {
    name: "--interval not a duration",
    args: ["wait", "batch_x", "--interval", "soon"],
    code: 2,
    says: /'soon' is not a duration/
  },
  { name: "--max-retries negative", args: ["get", "batch_x", "--max-retries", "-1"], code: 2, says: /0 or more/ },
  { name: "--concurrency zero", args: ["get", "batch_x", "--concurrency", "0"], code: 2, says: /at least 1/ },
  { name: "a missing batch id", args: ["get"], code: 2, says: /missing argument <batch-id>\./ },
  // submit takes the endpoint from the lines' url; create has no lines to take it from
  { name: "a missing --endpoint", args: ["create", "--input", files.path("good.jsonl")], code: 2, says: /--endpoint/ },
  {
    name: "--output-expires-after out of range",
    args: ["create", "--input-file-id", "file-x", "-e", chat, "--output-expires-after", "1m"],
    code: 2,
    says: /between 1h and 30d/
  },
  // input files
  {
    name: "a missing input file",
    args: ["submit", files.path("nope.jsonl"), "-e", chat],
    code: 2,
    says: /nope\.jsonl' must exist/
  },
  {
    name: "an unreadable input (a directory)",
    args: ["submit", files.path("a-directory.jsonl"), "-e", chat],
    code: 2,
    says: /to be a regular file/
  },
  {
    name: "a missing --input of create",
    args: ["create", "--input", files.path("nope.jsonl"), "-e", chat],
    code: 2,
    says: /must exist/
  },
  {
    name: "plain text instead of JSONL",
    args: ["submit", files.path("text.jsonl"), "-e", chat],
    code: 1,
    says: /2 problems, so nothing was uploaded: line 1: .*not parseable as valid JSON/
  },
  {
    name: "a JSON array line",
    args: ["submit", files.path("array.jsonl"), "-e", chat],
    code: 1,
    says: /line 1: This line is not a JSON object/
  },
  {
    name: "binary garbage",
    args: ["submit", files.path("binary.jsonl"), "-e", chat],
    code: 1,
    says: /nothing was uploaded: line 1: /
  },
  {
    name: "an empty file",
    args: ["create", "--input", files.path("empty.jsonl"), "-e", chat],
    code: 1,
    says: /has no requests/
  },
  {
    name: "one pretty-printed JSON document",
    args: ["submit", files.path("one-json-document.jsonl"), "-e", chat],
    code: 1,
    says: /nothing was uploaded: line 1: /
  },
  {
    name: "a line with method GET",
    args: ["submit", files.path("wrong-method.jsonl"), "-e", chat],
    code: 1,
    says: /nothing was uploaded: line 1: /
  },
  // ids
  { name: "an empty batch id (get)", args: ["get", ""], code: 1, says: /non-empty string\. \(nothing was sent\)/ },
  { name: "an empty batch id (cancel)", args: ["cancel", ""], code: 1, says: /non-empty string/ },
  { name: "an empty batch id (wait)", args: ["wait", ""], code: 1, says: /non-empty string/ },
  { name: "an empty batch id (results)", args: ["results", ""], code: 1, says: /non-empty string/ },
  {
    name: "an unknown batch id",
    args: ["get", "batch_nope"],
    code: 1,
    says: /batch_nope: Not found .*request id req_/
  },
  {
    name: "an id with a slash",
    args: ["get", "../etc/passwd x"],
    code: 1,
    says: /the batch id cannot contain "\/" \(got "\.\.\/etc\/passwd x"\)\. \(nothing was sent\)/
  },
  { name: "the id '.' (get)", args: ["get", "."], code: 1, says: /the batch id cannot be "\."/ },
  { name: "the id '..' (cancel)", args: ["cancel", "..", "--yes"], code: 1, says: /the batch id cannot be "\.\."/ },
  {
    name: "a flag after the ids (cancel)",
    args: ["cancel", "batch_1", "--bogus", "--yes"],
    code: 2,
    says: /unknown option '--bogus' for 'batchfx cancel'/
  },
  {
    name: "a flag after the ids (get)",
    args: ["get", "batch_1", "-x"],
    code: 2,
    says: /unknown option '-x' for 'batchfx get'/
  },
  {
    name: "a bad id after a good one (get): refused before the good one is sent",
    args: ["get", "batch_1", ".."],
    code: 1,
    says: /^batchfx: Invalid parameters for retrieve: the batch id cannot be "\.\."\. \(nothing was sent\)$/m
  },
  {
    name: "an id with spaces (sent escaped)",
    args: ["get", "batch x"],
    code: 1,
    says: /Not found \(HTTP 404 on GET \/v1\/batches\/batch%20x\)/
  },
  { name: "an unknown id (results)", args: ["results", "batch_nope"], code: 1, says: /Not found .*request id req_/ },
  {
    name: "an unknown input file id",
    args: ["create", "--input-file-id", "", "-e", chat],
    code: 1,
    says: /Invalid parameters for create/
  },
  // endpoints
  {
    name: "an unknown /v1 endpoint (create): the server's 400",
    args: ["create", "--input-file-id", "file-x", "-e", "/v1/unknown"],
    code: 1,
    says: /rejected as invalid .*'\/v1\/unknown'.*request id req_/
  },
  {
    name: "an endpoint that is not an API path (create)",
    args: ["create", "--input-file-id", "file-x", "-e", "chat/completions"],
    code: 1,
    says: /endpoint must be an API path .*\(nothing was sent\)/
  },
  {
    name: "an unknown endpoint (submit): lines do not match it",
    args: ["submit", files.path("good.jsonl"), "-e", "/v1/unknown"],
    code: 1,
    says: /does not match the batch endpoint '\/v1\/unknown'/
  },
  // metadata
  {
    name: "17 metadata pairs",
    args: ["create", "--input-file-id", "file-x", "-e", chat, ...pairs(17)],
    code: 1,
    says: /metadata has 17 pairs; at most 16 are allowed.*\(nothing was sent\)/
  },
  {
    name: "a metadata key of 65 characters",
    args: ["create", "--input-file-id", "file-x", "-e", chat, "--metadata", `${"k".repeat(65)}=v`],
    code: 1,
    says: /has 65 characters; at most 64 are allowed/
  },
  {
    name: "a metadata value of 513 characters",
    args: ["create", "--input-file-id", "file-x", "-e", chat, "--metadata", `k=${"v".repeat(513)}`],
    code: 1,
    says: /has 513 characters; at most 512 are allowed/
  },
  {
    name: "metadata without '='",
    args: ["create", "--input-file-id", "file-x", "-e", chat, "--metadata", "novalue"],
    code: 2,
    says: /--metadata takes KEY=VALUE, got "novalue"/
  },
  {
    name: "17 metadata pairs with a local file (submit): checked before the upload",
    args: ["submit", files.path("good.jsonl"), "-e", chat, ...pairs(17)],
    code: 1,
    says: /metadata has 17 pairs; at most 16 are allowed/
  },
  {
    name: "a metadata value of 513 characters with a local file (create --input): checked before the upload",
    args: ["create", "--input", files.path("good.jsonl"), "-e", chat, "--metadata", `k=${"v".repeat(513)}`],
    code: 1,
    says: /has 513 characters; at most 512 are allowed/
  }
]

const noStackTrace = (text: string) => {
  assert.notInclude(text, "    at ", text)
  assert.notMatch(text, /\.ts:\d+:\d+|\.js:\d+:\d+/, text)
}

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "bad input to batchfx: the right exit code, a short message, nothing left behind",
  (it) => {
    for (const c of cases) {
      it.effect(`${c.name} → exit ${c.code}`, () =>
        Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          const uploads = yield* fake.requestCount("POST /v1/files")
          const creates = yield* fake.requestCount("POST /v1/batches")
          const before = readdirSync(files.dir).sort()
          const r = yield* cli(c.args)
          assert.strictEqual(r.code, c.code, `stderr: ${r.stderr}`)
          assert.match(r.stderr, c.says)
          assert.notInclude(r.stderr, "..\n", "one period at the end of a sentence")
          assert.strictEqual(r.stdout, "", "nothing on stdout")
          noStackTrace(r.stderr)
          // at most three short lines: the message, maybe a summary and a pointer to --help
          assert.isAtMost(r.stderr.trim().split("\n").length, 3, r.stderr)
          assert.strictEqual(yield* fake.requestCount("POST /v1/files"), uploads, "nothing uploaded")
          if (c.code === 2 || /nothing was (sent|uploaded)/.test(r.stderr)) {
            assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), creates, "nothing created")
          }
          assert.deepStrictEqual(readdirSync(files.dir).sort(), before, "no file left behind")
        }))
    }

    it.effect("ids are checked before any request: a flag after ids or a bad id among good ones sends nothing", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(2)
        const ids = jsonLines((yield* cli(["list"])).stdout).map((b) => b["id"] as string)
        const runs: ReadonlyArray<readonly [ReadonlyArray<string>, number]> = [
          [["cancel", ids[0]!, "--bogus", "--yes"], 2],
          [["cancel", ids[0]!, ids[1]!, "--yes", "-n"], 2],
          [["get", ids[0]!, ids[1]!, "--nope"], 2],
          [["get", ids[0]!, "."], 1],
          [["cancel", ids[0]!, ids[1]!, "a/b", "--yes"], 1],
          [["wait", ""], 1]
        ]
        for (const [args, code] of runs) {
          const before = yield* fake.requestCount()
          const r = yield* cli(args)
          assert.strictEqual(r.code, code, `${args.join(" ")}: ${r.stderr}`)
          assert.strictEqual(yield* fake.requestCount(), before, `${args.join(" ")} sent a request`)
          assert.match(r.stderr, /^batchfx: (unknown option|Invalid parameters)/, r.stderr)
        }
        // the batches are untouched
        const after = jsonLines((yield* cli(["get", ...ids])).stdout).map((b) => b["status"])
        assert.notInclude(after, "cancelling")
      }))

    it.effect("--verbose adds the stack trace, and only then", () =>
      Effect.gen(function*() {
        const quiet = yield* cli(["get", "batch_nope"])
        noStackTrace(quiet.stderr)
        const loud = yield* cli(["--verbose", "get", "batch_nope"])
        assert.strictEqual(loud.code, 1)
        assert.include(loud.stderr, "DEBUG")
        assert.match(loud.stderr, /batch_nope: Not found/)
      }))

    it.effect("a 10 MB line is checked, uploaded and run like any other", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const uploads = yield* fake.requestCount("POST /v1/files")
        const out = join(tempDir(), "out.jsonl")
        const r = yield* cli([
          "submit",
          files.path("ten-megabyte-line.jsonl"),
          "-e",
          chat,
          "--wait",
          ...poll,
          "--output",
          out
        ])
        assert.strictEqual(r.code, 0, r.stderr)
        const bytes = Number(/Uploaded .* \((\d+) bytes\)/.exec(r.stderr)?.[1])
        assert.isAbove(bytes, 10 * 1024 * 1024, r.stderr)
        assert.strictEqual((yield* fake.requestCount("POST /v1/files")) - uploads, 1)
        const results = jsonLines(readFileSync(out, "utf8"))
        assert.deepStrictEqual(results.map((l) => l["custom_id"]), ["big-1"])
      }))

    it.effect("results --output to a directory that does not exist fails without leaving a file", () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const submitted = yield* cli(["submit", inputFile(dir, 2), "-e", chat, "--wait", ...poll])
        assert.strictEqual(submitted.code, 0, submitted.stderr)
        const id = createdId(submitted.stderr)
        const r = yield* cli(["results", id, "--output", join(dir, "missing", "out.jsonl")])
        assert.notStrictEqual(r.code, 0)
        assert.strictEqual(r.stdout, "")
        noStackTrace(r.stderr)
        assert.deepStrictEqual(readdirSync(dir).filter((f) => f !== "input.jsonl"), [])
      }))
  }
)

// ---- bad answers from a server that is not the emulator ----------------------------------------

/**
 * A tiny HTTP server on 127.0.0.1:0 that answers badly: the first path segment picks the case
 * (`/<case>/v1/...`). `/cut/…/content` promises 100,000 bytes and closes after a few lines.
 */
const badServer = (batch: string) =>
  Effect.acquireRelease(
    Effect.async<Server>((resume) => {
      const server = createServer((req, res) => {
        const [, mode, , ...rest] = (req.url ?? "/").split("?")[0]!.split("/")
        const path = rest.join("/")
        const send = (status: number, type: string, body: string) => {
          res.writeHead(status, { "content-type": type, "x-request-id": `req_bad_${mode}` })
          res.end(body)
        }
        switch (mode) {
          case "malformed-json":
            return send(200, "application/json", `{"id": "batch_x", "object": "bat`)
          case "html-502":
            return send(502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>")
          case "empty":
            return send(200, "application/json", "")
          case "wrong-type":
            return send(200, "text/plain", "OK")
          case "error-in-200":
            return send(200, "application/json", JSON.stringify({ error: { message: "boom", type: "server_error" } }))
          case "wrong-shape":
            return send(200, "application/json", JSON.stringify({ object: "list", data: {}, has_more: false }))
          case "cut":
            if (path.endsWith("/content")) {
              res.writeHead(200, { "content-type": "application/octet-stream", "content-length": "100000" })
              res.write(`{"id":"batch_req_1","custom_id":"a","response":null,"error":null}\n`, () => res.destroy())
              return
            }
            return send(200, "application/json", batch)
          default:
            return send(404, "application/json", JSON.stringify({ error: { message: "no such case" } }))
        }
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
  )

const badAnswers: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
  // an answer that is not JSON, and a 502, are retried before they are reported
  ["malformed-json", ["get", "batch_x"], /was not JSON/],
  ["html-502", ["get", "batch_x", "--max-retries", "1"], /The server failed \(HTTP 502 .*502 Bad Gateway/],
  ["empty", ["get", "batch_x", "--max-retries", "0"], /was not JSON/],
  ["wrong-type", ["get", "batch_x", "--max-retries", "0"], /was not JSON/],
  ["error-in-200", ["get", "batch_x"], /did not have the expected shape/],
  ["wrong-shape", ["list"], /did not have the expected shape/],
  ["html-502", ["list", "--max-retries", "0"], /The server failed \(HTTP 502/],
  ["cut", ["results", "batch_x", "--output", "OUT", "--max-retries", "0"], /connection failed/i],
  // the server ignores Range and cuts at the same byte every time: the retries give up
  ["cut", ["results", "batch_x", "--output", "OUT", "--max-retries", "2"], /connection failed/i]
]

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "bad answers from the server: exit 1, one sentence with the request id, no partial file",
  (it) => {
    it.scoped(`${badAnswers.length} kinds of bad answer`, () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const dir = tempDir()
        const submitted = yield* cli(["submit", inputFile(dir, 2), "-e", chat, "--wait", ...poll])
        const id = createdId(submitted.stderr)
        const done = yield* cli(["get", id, "--format", "json"])
        const server = yield* badServer(done.stdout)
        const { port } = server.address() as AddressInfo
        for (const [mode, args, says] of badAnswers) {
          const out = join(dir, `${mode}.jsonl`)
          const r = yield* runCli(args.map((a) => (a === "OUT" ? out : a)), {
            env: { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: `http://127.0.0.1:${port}/${mode}/v1` }
          }).pipe(Effect.map((r) => ({ ...r, stderr: r.stderr.replace(/\n$/, "") })))
          assert.strictEqual(r.code, 1, `${mode}: ${r.stderr}`)
          assert.match(r.stderr, says, mode)
          // the sentence, and for a bulk command a summary line
          const lines = r.stderr.split("\n")
          assert.isAtMost(lines.length, 2, `${mode}: ${r.stderr}`)
          assert.isTrue(lines.every((l) => l.startsWith("batchfx: ")), `${mode}: ${r.stderr}`)
          if (mode !== "cut") assert.match(r.stderr, new RegExp(`request id req_bad_${mode}`), mode)
          noStackTrace(r.stderr)
          assert.strictEqual(r.stdout, "", mode)
        }
        assert.deepStrictEqual(readdirSync(dir).sort(), ["input.jsonl"], "no partial or temporary file")
      }))
  }
)
