/**
 * Standard streams that cannot be written, on the built binary: stdout on a full disk (`/dev/full`
 * answers every write with ENOSPC) is one sentence and exit code 1, never a stack trace; a reader
 * that goes away (`batchfx list | head -1`) ends the run quietly with exit code 0.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { closeSync, openSync } from "node:fs"
import { bin, configured, envFor, processEnv, type Run } from "./utils.js"

/** Runs the binary with stdout on `/dev/full`. */
const toFullDisk = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<Run>((resume) => {
    const full = openSync("/dev/full", "w")
    const child = spawn(process.execPath, [bin, ...args], { env: processEnv(env), stdio: ["ignore", full, "pipe"] })
    closeSync(full)
    let stderr = ""
    child.stderr?.setEncoding("utf8").on("data", (d: string) => void (stderr += d))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout: "", stderr })))
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** Runs the binary in a pipe whose reader closes it after the first line, as `| head -1` does. */
const toHeadOne = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<Run>((resume) => {
    const child = spawn(process.execPath, [bin, ...args], { env: processEnv(env), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d
      if (stdout.includes("\n")) child.stdout.destroy()
    })
    child.stderr.setEncoding("utf8").on("data", (d: string) => void (stderr += d))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

layer(FakeOpenAi.layer(), { excludeTestServices: true, timeout: "60 seconds" })(
  "stdout that cannot be written",
  (it) => {
    it.effect("ENOSPC on stdout: one sentence on stderr, exit 1", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(3)
        const r = yield* toFullDisk(["list"], envFor(fake))
        assert.strictEqual(r.code, 1, r.stderr)
        assert.strictEqual(r.stderr, "batchfx: cannot write to stdout: no space left on device (ENOSPC).\n")
      }))

    it.scoped("EPIPE (the reader went away after one line): a quiet exit 0 while pages are still coming", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(3000)
        yield* configured({ latency: "5 millis" })
        const r = yield* toHeadOne(["list", "--limit", "10"], envFor(fake))
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(r.stderr, "")
        assert.isBelow(yield* fake.requestCount("GET /v1/batches"), 300, "it stopped listing")
      }))
  }
)
