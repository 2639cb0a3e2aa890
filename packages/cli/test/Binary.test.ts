/**
 * What only the built executable shows: its exit codes, `--help` and `--version` answered before
 * any key is read (`--version` by `bin.ts` itself), signals, the bundled demo in a pipe, and the
 * canary key absent from what the process prints (the in-process runs cannot see a stray write to
 * the process's own streams).
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { dirname, join } from "node:path"
import { versionOutput } from "../src/internal/version.js"
import {
  bin,
  binary,
  cli,
  controlCharacters,
  createValidating,
  envFor,
  jsonLines,
  poll,
  runCli,
  runScript,
  spawnBinary
} from "./utils.js"

const canary = "sk-SECRET-canary-1234567890"

layer(FakeOpenAi.layer({ apiKey: canary }), { excludeTestServices: true, timeout: "60 seconds" })(
  "the batchfx executable",
  (it) => {
    it.effect("exits 0, 1 with one sentence and the request id, 2 without a key; never prints the key", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(2)
        const env = envFor(fake)
        const ok = yield* binary(["list"], { env })
        assert.strictEqual(ok.code, 0, ok.stderr)
        assert.strictEqual(jsonLines(ok.stdout).length, 2)
        const failed = yield* binary(["get", "batch_nope"], { env })
        assert.strictEqual(failed.code, 1)
        assert.match(failed.stderr, /^batchfx: batch_nope: Not found .*request id req_\w+/)
        const verbose = yield* binary(["--verbose", "get", "batch_nope"], { env })
        assert.strictEqual(verbose.code, 1)
        assert.include(verbose.stderr, "DEBUG")
        assert.include(verbose.stderr, "    at ")
        const missing = yield* binary(["list"], { env: { OPENAI_BASE_URL: fake.baseUrl } })
        assert.strictEqual(missing.code, 2)
        assert.include(missing.stderr, "OPENAI_API_KEY is not set")
        for (const r of [ok, failed, verbose, missing]) assert.notInclude(r.stdout + r.stderr, "SECRET-canary")
      }))

    it.effect("--help needs no key and carries no escape codes in a pipe; --version from bin.ts and the bundle", () =>
      Effect.gen(function*() {
        const help = yield* binary(["submit", "--help"])
        assert.strictEqual(help.code, 0, help.stderr)
        assert.include(help.stdout, "USAGE")
        assert.notMatch(help.stdout, controlCharacters)
        const fast = yield* binary(["--version"])
        assert.deepStrictEqual(fast, { code: 0, stdout: versionOutput, stderr: "" })
        // The bundle answers through @effect/cli, as every other command does.
        assert.deepStrictEqual(yield* runScript(join(dirname(bin), "bundle", "main.js"), ["--version"]), fast)
      }))

    it.scoped("SIGTERM during wait exits 143, SIGHUP 129", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const id = yield* createValidating()
        const running = yield* spawnBinary(["wait", id, ...poll], { env: envFor(fake) })
        yield* running.until("the first progress line", () => running.stderr().includes(`${id} validating`))
        assert.strictEqual((yield* running.signal("SIGTERM")).code, 143, running.stderr())
        const again = yield* spawnBinary(["wait", id, ...poll], { env: envFor(fake) })
        yield* again.until("the first progress line", () => again.stderr().includes(`${id} validating`))
        assert.strictEqual((yield* again.signal("SIGHUP")).code, 129, again.stderr())
        assert.notInclude(again.stderr(), "    at ")
        yield* cli(["cancel", id])
      }))

    it.scoped("fake-server prints its URL, serves the API until Ctrl-C, then exits 130", () =>
      Effect.gen(function*() {
        const server = yield* spawnBinary(["fake-server", "--seed", "7", "--speed", "10"])
        yield* server.until("the URL", () => server.stdout().includes("\n"))
        const url = server.stdout().trim()
        assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
        const listed = yield* runCli(["list", "--base-url", url], { env: { OPENAI_API_KEY: "sk-fake-batchfx" } })
        assert.strictEqual(listed.code, 0, listed.stderr)
        assert.strictEqual(jsonLines(listed.stdout).length, 7)
        assert.strictEqual((yield* server.signal("SIGINT")).code, 130, server.stderr())
      }))

    it.effect("demo runs the whole tour in a pipe without a key", () =>
      Effect.gen(function*() {
        const r = yield* binary(["demo"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.notMatch(r.stdout + r.stderr, controlCharacters)
        // the wait's progress is told on stdout with the rest of the tour, none of it on stderr
        assert.match(r.stdout, /Waiting for batch_\w+[^\n]*\n(.*batch_\w+ (validating|in_progress)[^\n]*\n)+/)
        assert.match(r.stdout, / completed 10\/12 done, 2 failed/)
        assert.notMatch(r.stderr, /batch_\w+ (validating|in_progress|completed)/)
        assert.include(r.stdout, "results.jsonl (in completion order, matched to requests by custom_id): 10 lines")
        assert.include(r.stdout, "errors.jsonl: 2 lines")
        assert.match(r.stdout, /Done in [\d.]+ s\./)
      }))
  }
)
