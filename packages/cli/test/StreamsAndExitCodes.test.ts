/**
 * Issue 22, points 2, 3 and 7: stdout carries data only (progress and messages on stderr), every
 * command that prints batches honours `--format`, `submit` prints the batch it created, `results`
 * of a batch that did not complete writes its files and exits 1, and a busy `fake-server` port is
 * one sentence naming EADDRINUSE (exit 1). Against the emulator on a socket.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import {
  binary,
  cli,
  controlCharacters,
  createValidating,
  fastDurations,
  inputFile,
  jsonLines,
  poll,
  tempDir
} from "./utils.js"

const chat = "/v1/chat/completions"

/** The one JSON document of a `--format json` run. */
const document = (stdout: string) => JSON.parse(stdout) as unknown

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "streams and exit codes",
  (it) => {
    it.effect("submit prints the created batch: JSON lines in a pipe, a table on a terminal, --format json", () =>
      Effect.gen(function*() {
        const piped = yield* cli(["submit", inputFile(tempDir(), 2), "-e", chat])
        assert.strictEqual(piped.code, 0, piped.stderr)
        const [batch] = jsonLines(piped.stdout)
        assert.strictEqual(batch!["object"], "batch")
        assert.match(piped.stderr, /^Uploaded .* as file-/)

        const tty = yield* cli(["submit", inputFile(tempDir(), 2), "-e", chat], { stdoutIsTTY: true })
        assert.strictEqual(tty.code, 0, tty.stderr)
        assert.match(tty.stdout, /ID\s+STATUS\s+ENDPOINT[^\n]*\nbatch_\w+\s+validating/)

        const json = yield* cli(["submit", inputFile(tempDir(), 2), "-e", chat, "--format", "json"])
        assert.strictEqual((document(json.stdout) as { object: string }).object, "batch")
      }))

    it.effect("submit --wait: progress on stderr, the finished batch on stdout in --format (json, table, jsonl)", () =>
      Effect.gen(function*() {
        for (const format of ["json", "jsonl", "table"] as const) {
          const r = yield* cli(["submit", inputFile(tempDir(), 3), "-e", chat, "--wait", ...poll, "--format", format])
          assert.strictEqual(r.code, 0, r.stderr)
          assert.match(r.stderr, /Created batch_\w+; waiting for it to end\.\n/)
          assert.match(r.stderr, /Z batch_\w+ completed 3\/3 done, 0 failed\n/)
          assert.notMatch(r.stdout, /done, 0 failed/, "no progress on stdout")
          assert.notMatch(r.stdout, controlCharacters)
          if (format === "json") assert.strictEqual((document(r.stdout) as { status: string }).status, "completed")
          if (format === "jsonl") assert.strictEqual(jsonLines(r.stdout)[0]!["status"], "completed")
          if (format === "table") assert.match(r.stdout, /^ID\s+STATUS[^\n]*\nbatch_\w+\s+completed\s/)
        }
      }))

    it.effect("submit --wait -o -: the result lines are stdout's data, the batch is not printed there", () =>
      Effect.gen(function*() {
        const r = yield* cli(["submit", inputFile(tempDir(), 3), "-e", chat, "--wait", ...poll, "-o", "-"])
        assert.strictEqual(r.code, 0, r.stderr)
        const lines = jsonLines(r.stdout)
        assert.deepStrictEqual(lines.map((l) => l["custom_id"]).sort(), ["req-1", "req-2", "req-3"])
        assert.isTrue(lines.every((l) => l["object"] === undefined && typeof l["response"] === "object"))
      }))

    it.effect("get, cancel, wait and create honour --format json (one document) and table", () =>
      Effect.gen(function*() {
        const id = yield* createValidating()
        const created = yield* cli(["create", "--input", inputFile(tempDir(), 1), "-e", chat])
        const running = jsonLines(created.stdout)[0]!["id"] as string
        const runs = {
          get: ["get", id],
          cancel: ["cancel", id],
          wait: ["wait", running, ...poll],
          create: ["create", "--input", inputFile(tempDir(), 1), "-e", chat]
        }
        for (const [name, args] of Object.entries(runs)) {
          const json = yield* cli([...args, "--format", "json"])
          assert.oneOf(json.code, [0, 1], `${name}: ${json.stderr}`)
          const parsed = document(json.stdout) as { id: string; object: string }
          assert.strictEqual(parsed.object, "batch", name)
          const table = yield* cli([...args, "--format", "table"])
          assert.match(table.stdout, /^ID\s+STATUS\s+ENDPOINT/, name)
        }
      }))

    it.effect("results of an expired batch writes both files, says so on stderr and exits 1", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const expired = yield* Effect.orDie(
          fake.seedBatch({ status: "expired", request_counts: { total: 5, completed: 2 } })
        )
        const dir = tempDir()
        const out = join(dir, "out.jsonl")
        const errors = join(dir, "errors.jsonl")
        const r = yield* cli(["results", expired.id, "-o", out, "--errors", errors])
        assert.strictEqual(r.code, 1, r.stderr)
        assert.strictEqual(jsonLines(readFileSync(out, "utf8")).length, 2)
        assert.strictEqual(jsonLines(readFileSync(errors, "utf8")).length, 3)
        assert.include(r.stderr, `Wrote ${errors} (`)
        assert.include(r.stderr, `batchfx: Batch ${expired.id} ended expired: 2 of 5 requests completed, 3 did not.`)
        assert.strictEqual(r.stdout, "")

        const failed = yield* Effect.orDie(fake.seedBatch({ status: "failed" }))
        const f = yield* cli(["results", failed.id])
        assert.strictEqual(f.code, 1)
        assert.match(f.stderr, new RegExp(`Batch ${failed.id} ended failed: .*\\(line 1\\)\\.`))
        assert.strictEqual(f.stdout, "")

        const done = yield* Effect.orDie(fake.seedBatch({ status: "completed", request_counts: { total: 2 } }))
        const ok = yield* cli(["results", done.id])
        assert.strictEqual(ok.code, 0, ok.stderr)
        assert.strictEqual(jsonLines(ok.stdout).length, 2)
      }))

    it.effect("submit --endpoint defaults to the lines' url; lines that disagree are a usage error (exit 2)", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const r = yield* cli(["submit", inputFile(tempDir(), 2)])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(jsonLines(r.stdout)[0]!["endpoint"], chat)

        const dir = tempDir()
        const mixed = join(dir, "mixed.jsonl")
        const line = (id: string, url: string) =>
          JSON.stringify({ custom_id: id, method: "POST", url, body: { model: "text-embedding-3-small", input: "x" } })
        writeFileSync(mixed, [line("a", chat), line("b", "/v1/embeddings"), line("c", chat)].join("\n") + "\n")
        const before = yield* fake.requestCount("POST /v1/files")
        const refused = yield* cli(["submit", mixed])
        assert.strictEqual(refused.code, 2)
        assert.include(
          refused.stderr,
          `the lines of ${mixed} have different urls (${chat} on line 1, /v1/embeddings on line 2); ` +
            "a batch has one endpoint: give --endpoint or split the file"
        )
        assert.strictEqual(yield* fake.requestCount("POST /v1/files"), before, "nothing was uploaded")
      }))

    it.effect("the binary: fake-server on a busy port is one sentence naming EADDRINUSE and the port (exit 1)", () =>
      Effect.gen(function*() {
        const server = createServer()
        const port = yield* Effect.async<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as { port: number }).port)))
        })
        const r = yield* Effect.ensuring(
          binary(["fake-server", "--port", String(port)]),
          Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
        )
        assert.strictEqual(r.code, 1)
        assert.strictEqual(r.stdout, "")
        assert.strictEqual(
          r.stderr,
          `batchfx: Cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE).\n`
        )
      }))
  }
)
