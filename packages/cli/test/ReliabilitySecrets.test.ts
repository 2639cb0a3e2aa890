/**
 * Secrets: every command and every error path runs with a recognisable key (`sk-SECRET-canary-…`),
 * with and without `--verbose` (debug logs and stack traces), and all of stdout, stderr and the
 * files written are searched for it. The runs are in-process (see `utils.ts`); `Binary.test.ts`
 * searches what the built binary prints for the same key. RELIABILITY.md lists this check.
 */
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { configured, createdId, fastDurations, inputFile, jsonLines, poll, type Run, runCli, tempDir } from "./utils.js"

const canary = "sk-SECRET-canary-1234567890"
const needles = [canary, "SECRET-canary"]
const chat = "/v1/chat/completions"

/** Every file under `dir`, read as text. */
const filesIn = (dir: string): string =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), "utf8"))
    .join("\n")

const assertNoLeak = (label: string, text: string) => {
  for (const needle of needles) assert.notInclude(text, needle, `${label} shows the key`)
}

layer(FakeOpenAi.layer({ apiKey: canary, durations: fastDurations }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("the key never shows in anything batchfx prints or writes", (it) => {
  it.effect("every command and error path, with and without --verbose", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(12)
      const env = { OPENAI_API_KEY: canary, OPENAI_BASE_URL: fake.baseUrl }
      const dir = tempDir()
      const good = inputFile(dir, 3)
      const bad = join(dir, "bad.jsonl")
      writeFileSync(bad, "not json\n")
      const runs: Array<readonly [string, Run]> = []
      const both = (label: string, args: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const plain = yield* runCli(args, { env })
          const verbose = yield* runCli(["--verbose", ...args], { env })
          runs.push([label, plain], [`${label} --verbose`, verbose])
          return plain
        })

      const submitted = yield* runCli(
        ["submit", good, "-e", chat, "--wait", ...poll, "--output", join(dir, "o.jsonl")],
        { env }
      )
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      runs.push(["submit --wait --output", submitted])
      const done = createdId(submitted.stderr)
      const ids = jsonLines((yield* runCli(["list", "--max", "3"], { env })).stdout).map((b) => b["id"] as string)

      // successes
      yield* both("list", ["list", "--limit", "5"])
      yield* both("list json", ["list", "--format", "json", "--max", "4"])
      yield* both("get", ["get", ...ids])
      yield* both("create --input", ["create", "--input", good, "-e", chat, "--metadata", "run=canary"])
      yield* both("wait", ["wait", done, ...poll])
      yield* both("results", ["results", done])
      yield* both("results --output", [
        "results",
        done,
        "--output",
        join(dir, "r.jsonl"),
        "--errors",
        join(dir, "e.jsonl")
      ])
      yield* both("submit", ["submit", good, "-e", chat])
      const running = jsonLines((yield* runCli(["list", "--status", "validating", "--max", "2"], { env })).stdout)
        .map((b) => b["id"] as string)
      yield* both("cancel", ["cancel", running[0] ?? "batch_none"])
      yield* both("cancel --all", ["cancel", "--all", "--metadata", "run=canary", "--yes"])

      // failures
      yield* both("get 404", ["get", "batch_nope"])
      yield* both("cancel 409", ["cancel", done])
      yield* both("create 400", ["create", "--input-file-id", "file-x", "-e", "/v1/unknown"])
      yield* both("create invalid", ["create", "--input-file-id", "file-x", "-e", "chat"])
      yield* both("submit bad file", ["submit", bad, "-e", chat])
      yield* both("usage error", ["list", "--limit", "0"])
      yield* both("connection refused", ["get", "batch_x", "--base-url", "http://127.0.0.1:9/v1", "--max-retries", "0"])
      yield* both("timeout", ["get", ids[0]!, "--timeout", "1ms", "--max-retries", "0"])
      const faulty = (faults: ReadonlyArray<Fault.Fault>) => configured({ randomFaults: { rate: 1, faults } })
      yield* Effect.scoped(
        Effect.zipRight(faulty([Fault.status(500)]), both("500", ["get", ids[0]!, "--max-retries", "1"]))
      )
      yield* Effect.scoped(
        Effect.zipRight(faulty([Fault.htmlBadGateway]), both("html 502", ["list", "--max-retries", "0"]))
      )
      yield* Effect.scoped(
        Effect.zipRight(faulty([Fault.resetBeforeResponse]), both("reset", ["get", done, "--max-retries", "0"]))
      )
      // a wait rides out resets until the batch's expiry: here its own --timeout ends it
      yield* Effect.scoped(
        Effect.zipRight(
          faulty([Fault.resetBeforeResponse]),
          both("reset during wait", ["wait", done, "--max-retries", "0", "--timeout", "1500ms"])
        )
      )
      yield* Effect.scoped(Effect.zipRight(configured({ quotaExhausted: true }), both("quota", ["get", ids[0]!])))
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.truncatedBody(20))
      yield* both("cut download", ["results", done, "--output", join(dir, "cut.jsonl"), "--max-retries", "0"])
      // a wrong key: the server's 401 names it redacted; batchfx must not add it
      const wrong = yield* runCli(["get", ids[0]!], { env: { ...env, OPENAI_API_KEY: `${canary}-wrong` } })
      assert.strictEqual(wrong.code, 1)
      runs.push(["wrong key", wrong])

      // the runs went where they should
      const codes = Object.fromEntries(runs.map(([label, r]) => [label, r.code]))
      assert.strictEqual(codes["get 404"], 1)
      assert.strictEqual(codes["usage error"], 2)
      assert.strictEqual(codes["list --verbose"], 0)
      assert.isTrue(runs.some(([, r]) => r.stderr.includes("DEBUG")), "--verbose printed debug logs")
      assert.isTrue(runs.some(([, r]) => r.stderr.includes("    at ")), "--verbose printed a stack trace")
      assert.isAtLeast(runs.length, 45)
      for (const [label, r] of runs) {
        assertNoLeak(`${label} (stdout)`, r.stdout)
        assertNoLeak(`${label} (stderr)`, r.stderr)
      }
      assertNoLeak("the files written", filesIn(dir))
    }), 180_000)

  it.effect("a password in the base URL is never printed: the URL is refused before anything is sent (exit 2)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const host = new URL(fake.baseUrl).host
      const before = yield* fake.requestCount()
      const urls = [
        `http://bob:hunter2@${host}/v1`,
        `http://bob:hunter2@127.0.0.1:99999/v1`,
        `ht!tp://bob:hunter2@${host}/v1`,
        `http://hunter2@${host}/v1`
      ]
      for (const url of urls) {
        for (const args of [["get", "batch_x"], ["--verbose", "list"]]) {
          for (const env of [{ OPENAI_API_KEY: canary, OPENAI_BASE_URL: url }, { OPENAI_API_KEY: canary }]) {
            const r = yield* runCli(env.OPENAI_BASE_URL === undefined ? [...args, "--base-url", url] : args, { env })
            assert.strictEqual(r.code, 2, r.stderr)
            assert.notInclude(r.stdout + r.stderr, "hunter2", url)
            assert.match(r.stderr, /^batchfx: (--base-url|OPENAI_BASE_URL) (must not carry a user name|is not a URL)/)
            assertNoLeak(url, r.stdout + r.stderr)
          }
        }
      }
      assert.strictEqual(yield* fake.requestCount(), before, "nothing sent")
    }))

  it.effect("a key ending in CR/LF works; a key a header cannot carry is one sentence and exit 2, nothing sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(1)
      for (const ending of ["\r\n", "\n"]) {
        const r = yield* runCli(["list", "--max", "1"], {
          env: { OPENAI_API_KEY: canary + ending, OPENAI_BASE_URL: fake.baseUrl }
        })
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(jsonLines(r.stdout).length, 1)
      }
      const before = yield* fake.requestCount()
      const bad = [`${canary}\r\nX-Injected: 1`, `${canary}\u0000`, `sk-SECRET-canary-é`, `sk-SECRET canary`]
      for (const key of bad) {
        for (const verbose of [[], ["--verbose"]]) {
          const r = yield* runCli([...verbose, "list"], { env: { OPENAI_API_KEY: key, OPENAI_BASE_URL: fake.baseUrl } })
          assert.strictEqual(r.code, 2, r.stderr)
          assert.match(
            r.stderr,
            /^batchfx: OPENAI_API_KEY has an? [a-zA-Z -]+ at position \d+ of \d+, which an HTTP header cannot carry: set it again/
          )
          assert.strictEqual(r.stderr.trimEnd().split("\n").filter((l) => !l.includes("DEBUG")).length, 1, r.stderr)
          assertNoLeak(JSON.stringify(key), r.stdout + r.stderr)
        }
      }
      assert.strictEqual(yield* fake.requestCount(), before, "nothing sent")
    }))

  it.effect("demo and fake-server with the key in the environment", () =>
    Effect.gen(function*() {
      const demo = yield* runCli(["--verbose", "demo"], { env: { OPENAI_API_KEY: canary } })
      assert.strictEqual(demo.code, 0, demo.stderr)
      assertNoLeak("demo", demo.stdout + demo.stderr)
    }))
})
