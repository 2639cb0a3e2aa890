import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { versionOutput } from "../src/internal/version.js"
import {
  cli,
  controlCharacters,
  createdId,
  createValidating,
  fastDurations,
  inputFile,
  jsonLines,
  poll,
  runCli,
  startCli,
  tempDir
} from "./utils.js"

// A required key, so that a wrong one gets the 401 the real API gives.
const Fake = FakeOpenAi.layer({ durations: fastDurations, apiKey: "sk-fake-batchfx" })

layer(Fake, { excludeTestServices: true, timeout: "60 seconds" })("batchfx against the emulator", (it) => {
  it.effect("list --format jsonl prints every batch, one JSON object per line", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(23)
      const r = yield* cli(["list", "--limit", "5", "--format", "jsonl"])
      assert.strictEqual(r.code, 0, r.stderr)
      const lines = jsonLines(r.stdout)
      assert.isAtLeast(lines.length, 23)
      assert.isTrue(lines.every((b) => b["object"] === "batch" && typeof b["id"] === "string"))
      assert.strictEqual(new Set(lines.map((b) => b["id"])).size, lines.length)
      assert.notMatch(r.stdout, controlCharacters)
    }))

  it.effect("list defaults to jsonl in a pipe; --format json is one JSON document; table has a header", () =>
    Effect.gen(function*() {
      const piped = yield* cli(["list", "--max", "4"])
      assert.strictEqual(piped.code, 0, piped.stderr)
      assert.strictEqual(jsonLines(piped.stdout).length, 4)
      const json = yield* cli(["list", "--max", "4", "--format", "json"])
      assert.strictEqual(json.code, 0, json.stderr)
      const doc = JSON.parse(json.stdout) as ReadonlyArray<{ id: string }>
      assert.deepStrictEqual(doc.map((b) => b.id), jsonLines(piped.stdout).map((b) => b["id"]))
      const empty = yield* cli(["list", "--status", "paused", "--format", "json"])
      assert.deepStrictEqual(JSON.parse(empty.stdout), [])
      const table = yield* cli(["list", "--max", "2", "--format", "table"])
      const rows = table.stdout.trimEnd().split("\n")
      assert.match(rows[0]!, /^ID\s+STATUS\s+ENDPOINT/)
      assert.strictEqual(rows.length, 3)
    }))

  it.effect("list filters by --status and --endpoint on the stream", () =>
    Effect.gen(function*() {
      const all = jsonLines((yield* cli(["list", "--limit", "100"])).stdout)
      const r = yield* cli(["list", "--status", "completed", "--status", "failed", "--endpoint", "/v1/embeddings"])
      assert.strictEqual(r.code, 0, r.stderr)
      const some = jsonLines(r.stdout)
      assert.deepStrictEqual(
        some.map((b) => b["id"]),
        all.filter((b) => ["completed", "failed"].includes(b["status"] as string) && b["endpoint"] === "/v1/embeddings")
          .map((b) => b["id"])
      )
    }))

  it.effect("list --limit out of range is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const r = yield* cli(["list", "--limit", "500"])
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "--limit must be between 1 and 100")
      assert.strictEqual(r.stdout, "")
    }))

  it.effect("get prints several batches; an unknown id fails with one sentence and a request id (exit 1)", () =>
    Effect.gen(function*() {
      const ids = jsonLines((yield* cli(["list", "--max", "2"])).stdout).map((b) => b["id"] as string)
      const r = yield* cli(["get", ...ids])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.deepStrictEqual(jsonLines(r.stdout).map((b) => b["id"]), ids)
      const one = yield* cli(["get", ids[0]!, "--format", "json"])
      assert.strictEqual((JSON.parse(one.stdout) as { id: string }).id, ids[0])
      const bad = yield* cli(["get", ids[0]!, "batch_nope"])
      assert.strictEqual(bad.code, 1)
      assert.deepStrictEqual(jsonLines(bad.stdout).map((b) => b["id"]), [ids[0]])
      assert.match(bad.stderr, /batch_nope: .*request id req_/)
      assert.include(bad.stderr, "1 of 2 batches could not be retrieved.")
      assert.notInclude(bad.stderr, "    at ")
    }))

  it.effect("create --input checks, uploads and creates; prints the batch", () =>
    Effect.gen(function*() {
      const path = inputFile(tempDir(), 3)
      const r = yield* cli([
        "create",
        "--input",
        path,
        "--endpoint",
        "/v1/chat/completions",
        "--metadata",
        "team=ops",
        "--output-expires-after",
        "7d",
        "--format",
        "json"
      ])
      assert.strictEqual(r.code, 0, r.stderr)
      const batch = JSON.parse(r.stdout) as { id: string; status: string; metadata: Record<string, string> }
      assert.strictEqual(batch.status, "validating")
      assert.strictEqual(batch.metadata["team"], "ops")
      assert.match(r.stderr, /Uploaded .* as file-/)
    }))

  it.effect("create: a bad input line is reported with its number and nothing is uploaded (exit 1)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const path = join(tempDir(), "bad.jsonl")
      writeFileSync(
        path,
        JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/chat/completions", body: { model: "m" } }) +
          "\n{not json\n"
      )
      const before = yield* fake.requestCount("POST /v1/files")
      const r = yield* cli(["create", "--input", path, "--endpoint", "/v1/chat/completions"])
      assert.strictEqual(r.code, 1)
      assert.match(r.stderr, /line 2/)
      assert.strictEqual(yield* fake.requestCount("POST /v1/files"), before)
    }))

  it.effect("create without an input, or with both, is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const none = yield* cli(["create", "--endpoint", "/v1/chat/completions"])
      assert.strictEqual(none.code, 2)
      assert.include(none.stderr, "--input FILE.jsonl or --input-file-id")
      const path = inputFile(tempDir(), 1)
      const both = yield* cli(["create", "--endpoint", "/v1/chat/completions", "--input", path, "--input-file-id", "f"])
      assert.strictEqual(both.code, 2)
      assert.include(both.stderr, "not both")
    }))

  it.effect("submit --wait --output waits and writes the results; wait and results agree", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const path = inputFile(dir, 5)
      const out = join(dir, "out.jsonl")
      const errors = join(dir, "errors.jsonl")
      const r = yield* cli([
        "submit",
        path,
        "--endpoint",
        "/v1/chat/completions",
        "--wait",
        ...poll,
        "--output",
        out,
        "--errors",
        errors
      ])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.notMatch(r.stdout, controlCharacters)
      assert.match(r.stderr, / completed 5\/5 done, 0 failed\n/)
      assert.strictEqual(jsonLines(r.stdout)[0]!["status"], "completed", "stdout has the finished batch only")
      const results = jsonLines(readFileSync(out, "utf8"))
      assert.deepStrictEqual(results.map((l) => l["custom_id"]).sort(), ["req-1", "req-2", "req-3", "req-4", "req-5"])
      assert.strictEqual(readFileSync(errors, "utf8"), "")
      assert.deepStrictEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [])

      const id = createdId(r.stderr)
      const waited = yield* cli(["wait", id, ...poll])
      assert.strictEqual(waited.code, 0, waited.stderr)
      const again = yield* cli(["results", id])
      assert.strictEqual(again.code, 0, again.stderr)
      assert.deepStrictEqual(
        jsonLines(again.stdout).map((l) => l["custom_id"]).sort(),
        results.map((l) => l["custom_id"]).sort()
      )
    }))

  it.effect("submit: a file with a bad line fails before anything is created (exit 1)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const path = join(tempDir(), "wrong-url.jsonl")
      writeFileSync(
        path,
        JSON.stringify({ custom_id: "a", method: "POST", url: "/v1/embeddings", body: { model: "m" } }) + "\n"
      )
      const before = yield* fake.requestCount("POST /v1/batches")
      const r = yield* cli(["submit", path, "--endpoint", "/v1/chat/completions", "--wait"])
      assert.strictEqual(r.code, 1)
      assert.match(r.stderr, /line 1/)
      assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), before)
    }))

  it.effect("wait exits 1 when the batch fails, naming the reason", () =>
    Effect.gen(function*() {
      const created = yield* cli(["create", "--input-file-id", "file-missing", "--endpoint", "/v1/chat/completions"])
      assert.strictEqual(created.code, 0, created.stderr)
      const id = jsonLines(created.stdout)[0]!["id"] as string
      const r = yield* cli(["wait", id, ...poll])
      assert.strictEqual(r.code, 1)
      assert.strictEqual(jsonLines(r.stdout)[0]!["status"], "failed", "the batch that ended is printed")
      assert.match(r.stderr, new RegExp(`Batch ${id} ended failed: .*file-missing`))
    }))

  it.effect("wait --timeout gives up with exit 3 while the batch keeps running", () =>
    Effect.gen(function*() {
      const id = yield* createValidating()
      const r = yield* cli(["wait", id, ...poll, "--timeout", "50ms"])
      assert.strictEqual(r.code, 3)
      assert.include(r.stderr, `Batch ${id} is still validating after 50ms`)
      const results = yield* cli(["results", id])
      assert.strictEqual(results.code, 1)
      assert.include(results.stderr, "is still validating")
      const cancelled = yield* cli(["cancel", id])
      assert.strictEqual(cancelled.code, 0, cancelled.stderr)
      assert.strictEqual(jsonLines(cancelled.stdout)[0]!["status"], "cancelling")
    }))

  it.effect("cancel of a completed batch fails with the API's sentence (exit 1)", () =>
    Effect.gen(function*() {
      const done = jsonLines((yield* cli(["list", "--status", "completed", "--max", "1"])).stdout)[0]!["id"] as string
      const r = yield* cli(["cancel", done])
      assert.strictEqual(r.code, 1)
      assert.match(r.stderr, /completed/)
      assert.match(r.stderr, /request id/)
    }))

  it.effect("cancel --all refuses without --yes in a pipe (exit 2), and cancels the matching batches with --yes", () =>
    Effect.gen(function*() {
      const a = yield* createValidating(["--metadata", "run=x"])
      const b = yield* createValidating(["--metadata", "run=x"])
      const c = yield* createValidating(["--metadata", "run=y"])
      const refused = yield* cli(["cancel", "--all", "--metadata", "run=x"])
      assert.strictEqual(refused.code, 2)
      assert.include(refused.stderr, "refusing to cancel 2 batches without --yes")
      const r = yield* cli(["cancel", "--all", "--metadata", "run=x", "--yes"])
      assert.strictEqual(r.code, 0, r.stderr)
      const cancelled = jsonLines(r.stdout)
      assert.deepStrictEqual(cancelled.map((x) => x["id"]).sort(), [a, b].sort())
      assert.isTrue(cancelled.every((x) => x["status"] === "cancelling"))
      const other = yield* cli(["get", c])
      assert.strictEqual(jsonLines(other.stdout)[0]!["status"], "validating")
      yield* cli(["cancel", c])
    }))

  it.effect("results --output never leaves a file under the final name when the download fails", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const dir = tempDir()
      const submitted = yield* cli([
        "submit",
        inputFile(dir, 3),
        "--endpoint",
        "/v1/chat/completions",
        "--wait",
        ...poll
      ])
      const id = createdId(submitted.stderr)
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.truncatedBody(50))
      const out = join(dir, "results.jsonl")
      const r = yield* cli(["results", id, "--output", out, "--max-retries", "0"])
      assert.strictEqual(r.code, 1)
      assert.isFalse(existsSync(out))
      assert.deepStrictEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [])
    }))

  it.effect("a connection that fails is one sentence without a stack trace (exit 1); --verbose adds the trace", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["get", "batch_x", "--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0"], {
        env: { OPENAI_API_KEY: "sk-test-secret-key" }
      })
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stderr.trim().split("\n").length, 2)
      assert.notInclude(r.stderr, "    at ")
      const v = yield* runCli(
        ["--verbose", "get", "batch_x", "--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0"],
        {
          env: { OPENAI_API_KEY: "sk-test-secret-key" }
        }
      )
      assert.strictEqual(v.code, 1)
      assert.include(v.stderr, "DEBUG")
      assert.notInclude(v.stderr + v.stdout, "sk-test-secret-key")
    }))

  it.effect("a wrong key is an API error (exit 1); a missing key says how to set it (exit 2)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const wrong = yield* runCli(["list"], { env: { OPENAI_API_KEY: "sk-wrong", OPENAI_BASE_URL: fake.baseUrl } })
      assert.strictEqual(wrong.code, 1)
      assert.match(wrong.stderr, /request id/)
      assert.notInclude(wrong.stderr, "sk-wrong")
      const missing = yield* runCli(["list", "--base-url", fake.baseUrl])
      assert.strictEqual(missing.code, 2)
      assert.include(missing.stderr, "OPENAI_API_KEY is not set")
      assert.include(missing.stderr, "`batchfx demo` and `batchfx fake-server` need no key")
    }))
})

layer(FakeOpenAi.layer(), { excludeTestServices: true, timeout: "60 seconds" })("batchfx with no key", (it) => {
  it.effect("--help works on every command without a key, with no escape codes in a pipe; --version; completions", () =>
    Effect.gen(function*() {
      for (const command of ["list", "get", "create", "cancel", "wait", "results", "submit", "fake-server", "demo"]) {
        const r = yield* runCli([command, "--help"])
        assert.strictEqual(r.code, 0, `${command}: ${r.stderr}`)
        assert.include(r.stdout, "USAGE")
        assert.notMatch(r.stdout, controlCharacters)
      }
      assert.include((yield* runCli(["wait", "--help"])).stdout, "--interval DURATION")
      const version = yield* runCli(["--version"])
      const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
      // bin.ts answers `--version` alone with these bytes without loading the command line.
      assert.strictEqual(version.stdout, versionOutput)
      assert.strictEqual(version.stdout.trim(), pkg.version)
      const completions = yield* runCli(["--completions", "bash"])
      assert.strictEqual(completions.code, 0)
      assert.include(completions.stdout, "batchfx")
    }))

  it.effect("fake-server on a port in use says so in one sentence and exits 1", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const port = new URL(fake.baseUrl).port
      const r = yield* runCli(["fake-server", "--port", port])
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stdout, "")
      assert.strictEqual(
        r.stderr,
        `batchfx: Cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE).\n`
      )
    }))

  it.effect("fake-server --script-fault and --faults reach the emulator; a bad fault is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const bad = yield* runCli(["fake-server", "--fault-rate", "0.5", "--faults", "boom"])
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, "unknown fault 'boom'")
      const server = yield* startCli(["fake-server", "--script-fault", "GET /v1/batches@1=503"])
      const url = (yield* server.stdout.until((text) => text.includes("\n"))).trim()
      const env = { OPENAI_API_KEY: "sk-any", OPENAI_BASE_URL: url }
      const first = yield* runCli(["list", "--max-retries", "0"], { env })
      assert.strictEqual(first.code, 1)
      const second = yield* runCli(["list", "--max-retries", "0"], { env })
      assert.strictEqual(second.code, 0, second.stderr)
      assert.strictEqual((yield* server.interrupt).code, 130)
    }))

  it.effect("fake-server --api-key requires that key; --models and --validating-ms reach the emulator", () =>
    Effect.gen(function*() {
      const server = yield* startCli([
        "fake-server",
        "--api-key",
        "sk-only",
        "--models",
        "my-model",
        "--validating-ms",
        "1",
        "--in-progress-ms",
        "1",
        "--finalizing-ms",
        "1"
      ])
      const url = (yield* server.stdout.until((text) => text.includes("\n"))).trim()
      const wrong = yield* runCli(["list"], { env: { OPENAI_API_KEY: "sk-other", OPENAI_BASE_URL: url } })
      assert.strictEqual(wrong.code, 1)
      const dir = tempDir()
      const path = join(dir, "in.jsonl")
      writeFileSync(
        path,
        JSON.stringify({
          custom_id: "a",
          method: "POST",
          url: "/v1/chat/completions",
          body: { model: "my-model", messages: [{ role: "user", content: "hi" }] }
        }) + "\n"
      )
      const out = join(dir, "out.jsonl")
      const env = { OPENAI_API_KEY: "sk-only", OPENAI_BASE_URL: url }
      const submitted = yield* runCli(
        ["submit", path, "-e", "/v1/chat/completions", "--wait", ...poll, "--output", out],
        { env }
      )
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      assert.strictEqual(jsonLines(readFileSync(out, "utf8")).length, 1)
      assert.strictEqual((yield* server.interrupt).code, 130)
    }))

  it.effect("fake-server with --speed, --rps and --latency serves a submit --wait and a paced bulk get", () =>
    Effect.gen(function*() {
      const server = yield* startCli([
        "fake-server",
        "--seed",
        "40",
        "--speed",
        "20",
        "--rps",
        "10",
        "--latency",
        "10ms"
      ])
      const url = (yield* server.stdout.until((text) => text.includes("\n"))).trim()
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      assert.include(yield* server.stderr.until((text) => text.includes("Ctrl-C")), "any key, 40 batches")
      const env = { OPENAI_API_KEY: "sk-fake-batchfx", OPENAI_BASE_URL: url }
      const dir = tempDir()
      const out = join(dir, "out.jsonl")
      const submitted = yield* runCli(
        ["submit", inputFile(dir, 6), "-e", "/v1/chat/completions", "--wait", ...poll, "--output", out],
        { env }
      )
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      assert.strictEqual(jsonLines(readFileSync(out, "utf8")).length, 6)
      const ids = jsonLines((yield* runCli(["list", "--max", "12"], { env })).stdout).map((b) => b["id"] as string)
      assert.strictEqual(ids.length, 12)
      const got = yield* runCli(["get", ...ids, "--concurrency", "2", "--rpm", "1200"], { env })
      assert.strictEqual(got.code, 0, got.stderr)
      assert.deepStrictEqual(jsonLines(got.stdout).map((b) => b["id"]), ids)
      assert.strictEqual((yield* server.interrupt).code, 130)
    }))
})
