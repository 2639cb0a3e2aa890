/**
 * Interruption: Ctrl-C (SIGINT) during `list`, `wait`, `results` and `submit` ends the built binary
 * with exit code 130, leaves no temporary file, and for `submit` leaves the remote batch running
 * with its id printed. The time from the signal to the exit is measured and printed (the bound
 * asserted is a generous 10 s so that a loaded machine does not make it flaky; RELIABILITY.md
 * reports the measured figures).
 */
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { bin, cli, envFor, fastDurations, inputFile, jsonLines, tempDir } from "./utils.js"

/** A running CLI whose output is collected as it comes. */
interface Running {
  readonly child: ChildProcessWithoutNullStreams
  readonly out: () => string
  readonly err: () => string
}

const start = (args: ReadonlyArray<string>, env: Record<string, string>, cwd?: string): Running => {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...env },
    stdio: ["pipe", "pipe", "pipe"],
    ...(cwd === undefined ? {} : { cwd })
  })
  let out = ""
  let err = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => void (out += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => void (err += d))
  return { child, out: () => out, err: () => err }
}

/** Waits (polling every 20 ms, at most `timeoutMs`) until `ready` holds; fails the test otherwise. */
const until = (what: string, ready: () => boolean, running: Running, timeoutMs = 30_000) =>
  Effect.async<void, Error>((resume) => {
    const started = Date.now()
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer)
        resume(Effect.void)
      } else if (running.child.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(timer)
        resume(Effect.fail(new Error(`never saw ${what}; stdout: ${running.out()} stderr: ${running.err()}`)))
      }
    }, 20)
    return Effect.sync(() => clearInterval(timer))
  })

/** Sends SIGINT and resolves with the exit code and the milliseconds from the signal to the exit. */
const interrupt = (running: Running) =>
  Effect.async<{ readonly code: number | null; readonly ms: number }>((resume) => {
    const sent = performance.now()
    running.child.on("close", (code) => resume(Effect.succeed({ code, ms: Math.round(performance.now() - sent) })))
    running.child.kill("SIGINT")
    return Effect.sync(() => void running.child.kill("SIGKILL"))
  })

/** Prints the measured figure (for RELIABILITY.md). */
const report = (command: string, ms: number) => Effect.logInfo(`SIGINT during ${command}: exit after ${ms} ms`)

const temporaryFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".tmp"))

const generous = 10_000

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "90 seconds" })(
  "Ctrl-C ends every long command with exit code 130 and leaves nothing behind",
  (it) => {
    it.effect("list: interrupted while pages are still coming", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(5000)
        yield* fake.configure({ latency: "20 millis" })
        const running = start(["list", "--limit", "1", "--format", "jsonl"], envFor(fake))
        yield* until("a first batch", () => running.out().includes("\n"), running)
        const { code, ms } = yield* interrupt(running)
        yield* fake.configure({ latency: 0 })
        yield* report("list", ms)
        assert.strictEqual(code, 130, running.err())
        assert.isBelow(ms, generous)
        // every line printed is a whole batch
        const lines = running.out().split("\n")
        const last = lines.pop()
        assert.strictEqual(last, "", "the output ends with a complete line")
        assert.isTrue(lines.every((l) => (JSON.parse(l) as { object: string }).object === "batch"))
        assert.notInclude(running.err(), "    at ")
      }))

    it.effect("wait: interrupted while the batch is validating; the batch keeps running", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.configure({ durations: { validating: "1 hour" } })
        const created = yield* cli(["create", "--input", inputFile(tempDir(), 1), "--endpoint", "/v1/chat/completions"])
        const id = jsonLines(created.stdout)[0]!["id"] as string
        const running = start(["wait", id, "--interval", "100ms"], envFor(fake))
        yield* until("the first progress line", () => running.out().includes(`${id} validating`), running)
        const { code, ms } = yield* interrupt(running)
        yield* report("wait", ms)
        assert.strictEqual(code, 130, running.err())
        assert.isBelow(ms, generous)
        assert.notInclude(running.err(), "    at ")
        const after = yield* cli(["get", id])
        assert.strictEqual(jsonLines(after.stdout)[0]?.["status"], "validating", JSON.stringify(after))
        yield* cli(["cancel", id])
        yield* fake.configure({ durations: { validating: fastDurations.validating } })
      }))

    it.effect("results --output: interrupted mid-download, no temporary file and no output file", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const dir = tempDir()
        const submitted = yield* cli([
          "submit",
          inputFile(dir, 200),
          "--endpoint",
          "/v1/chat/completions",
          "--wait",
          "--interval",
          "100ms"
        ])
        assert.strictEqual(submitted.code, 0, submitted.stderr)
        const id = /Created (batch_\w+)/.exec(submitted.stderr)![1]!
        // the output file then comes 512 bytes every 100 ms: the download lasts about 20 s
        yield* fake.scriptFault(
          "GET /v1/files/{id}/content",
          1,
          Fault.slowBody({ chunkBytes: 512, delay: "100 millis" })
        )
        const out = join(dir, "results.jsonl")
        const running = start(["results", id, "--output", out], envFor(fake))
        yield* until("a temporary file", () => temporaryFiles(dir).length > 0, running)
        const { code, ms } = yield* interrupt(running)
        yield* fake.clearFaults
        yield* report("results", ms)
        assert.strictEqual(code, 130, running.err())
        assert.isBelow(ms, generous)
        assert.deepStrictEqual(temporaryFiles(dir), [])
        assert.isFalse(existsSync(out), "no partial file under the final name")
        assert.notInclude(running.err(), "    at ")
      }))

    it.effect("submit --wait: interrupted while waiting; the batch keeps running and its id was printed", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.configure({ durations: { validating: "1 hour" } })
        const dir = tempDir()
        const out = join(dir, "out.jsonl")
        const running = start(
          [
            "submit",
            inputFile(dir, 3),
            "--endpoint",
            "/v1/chat/completions",
            "--wait",
            "--interval",
            "100ms",
            "--output",
            out
          ],
          envFor(fake)
        )
        yield* until("the created batch", () => /Created batch_\w+/.test(running.err()), running)
        const id = /Created (batch_\w+)/.exec(running.err())![1]!
        const { code, ms } = yield* interrupt(running)
        yield* report("submit", ms)
        assert.strictEqual(code, 130, running.err())
        assert.isBelow(ms, generous)
        assert.include(running.err(), id)
        assert.notInclude(running.err(), "    at ")
        assert.deepStrictEqual(temporaryFiles(dir), [])
        assert.isFalse(existsSync(out))
        // the remote batch was not cancelled
        const after = yield* cli(["get", id])
        assert.strictEqual(jsonLines(after.stdout)[0]?.["status"], "validating", JSON.stringify(after))
        yield* cli(["cancel", id])
        yield* fake.configure({ durations: { validating: fastDurations.validating } })
      }))
  }
)
