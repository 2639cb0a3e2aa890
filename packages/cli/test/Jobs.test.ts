import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli, fastDurations, inputFile, jsonLines, tempDir } from "./utils.js"

const Fake = FakeOpenAi.layer({ durations: fastDurations, apiKey: "sk-fake-batchfx" })

/** A store of its own for each test, in a fresh directory. */
const freshStore = () => `file:${join(tempDir(), "jobs.db")}`

layer(Fake, { excludeTestServices: true, timeout: "120 seconds" })("batchfx jobs against the emulator", (it) => {
  it.effect("submit --wait runs the job to the end; status --format json says completed; results has every line", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const input = inputFile(dir, 7)
      const store = `file:${join(dir, "jobs.db")}`
      const submitted = yield* cli([
        "jobs",
        "submit",
        input,
        "--endpoint",
        "/v1/chat/completions",
        "--name",
        "seven",
        "--wait",
        "--store",
        store
      ])
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      assert.match(id, /^job_[0-9a-f]+$/)

      const status = yield* cli(["jobs", "status", id, "--format", "json", "--store", store])
      assert.strictEqual(status.code, 0, status.stderr)
      const report = JSON.parse(status.stdout) as Record<string, unknown>
      assert.strictEqual(report["status"], "completed")
      assert.strictEqual(report["name"], "seven")
      assert.strictEqual(report["lines"], 7)
      assert.strictEqual(report["completed"], 7)
      assert.strictEqual(report["results"], 7)

      const output = join(dir, "out.jsonl")
      const errors = join(dir, "err.jsonl")
      const results = yield* cli(["jobs", "results", id, "--output", output, "--errors", errors, "--store", store])
      assert.strictEqual(results.code, 0, results.stderr)
      const lines = jsonLines(readFileSync(output, "utf8"))
      assert.deepStrictEqual(
        lines.map((l) => l["custom_id"]).sort(),
        Array.from({ length: 7 }, (_, i) => `req-${i + 1}`).sort()
      )
      assert.strictEqual(readFileSync(errors, "utf8"), "")

      // in a pipe, list is JSON lines with the job in it
      const list = yield* cli(["jobs", "list", "--store", store])
      assert.strictEqual(list.code, 0, list.stderr)
      assert.deepStrictEqual(jsonLines(list.stdout).map((j) => [j["id"], j["status"]]), [[id, "completed"]])
    }))

  it.effect("submit without --wait leaves the job pending; cancel ends it cancelled and nothing is sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const store = freshStore()
      const input = inputFile(tempDir(), 3)
      const before = yield* fake.requestCount()
      const submitted = yield* cli(["jobs", "submit", input, "--endpoint", "/v1/chat/completions", "--store", store])
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      const pending = yield* cli(["jobs", "status", id, "--format", "json", "--store", store])
      assert.strictEqual((JSON.parse(pending.stdout) as { status: string }).status, "pending")

      const cancelled = yield* cli(["jobs", "cancel", id, "--store", store])
      assert.strictEqual(cancelled.code, 0, cancelled.stderr)
      assert.include(cancelled.stderr, "cancelled")
      const after = yield* cli(["jobs", "status", id, "--format", "json", "--store", store])
      assert.strictEqual((JSON.parse(after.stdout) as { status: string }).status, "cancelled")
      assert.strictEqual(yield* fake.requestCount(), before)
    }))

  it.effect("a bad input is refused with the line named; nothing is stored", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const store = `file:${join(dir, "jobs.db")}`
      const input = join(dir, "bad.jsonl")
      writeFileSync(
        input,
        `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}\nnot json\n`
      )
      const r = yield* cli(["jobs", "submit", input, "--endpoint", "/v1/chat/completions", "--store", store])
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stdout, "")
      assert.include(r.stderr, "2")
      const list = yield* cli(["jobs", "list", "--format", "json", "--store", store])
      assert.deepStrictEqual(JSON.parse(list.stdout), [])
    }))

  it.effect("an unknown job and a bad store URL are each one sentence (exit 1)", () =>
    Effect.gen(function*() {
      const unknown = yield* cli(["jobs", "status", "job_nope", "--store", freshStore()])
      assert.strictEqual(unknown.code, 1)
      assert.strictEqual(unknown.stderr, "batchfx: No job job_nope in the store.\n")

      // a file where the store's directory should be
      const dir = tempDir()
      const blocker = join(dir, "blocker")
      writeFileSync(blocker, "")
      const bad = yield* cli(["jobs", "list", "--store", `file:${join(blocker, "jobs.db")}`])
      assert.strictEqual(bad.code, 1)
      assert.match(bad.stderr, /^batchfx: The job store failed to [^\n]+\n$/)
      assert.strictEqual(bad.stdout, "")

      const scheme = yield* cli(["jobs", "list"], { env: { BATCHFX_STORE: "ftp://example.invalid/jobs" } })
      assert.strictEqual(scheme.code, 2)
      assert.match(
        scheme.stderr,
        /^batchfx: BATCHFX_STORE must be a file: path or a libsql:, http\(s\): or ws\(s\): URL, got ftp:\/\/example.invalid\/jobs\n/
      )
    }))
})
