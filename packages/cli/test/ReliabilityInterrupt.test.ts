/**
 * Interruption: Ctrl-C (SIGINT) during `list`, `wait`, `results` and `submit` ends the built binary
 * with exit code 130, leaves no temporary file, and for `submit` leaves the remote batch running
 * with its id printed; SIGTERM (143) and SIGHUP (129) clean up the same way, and the temporary file
 * of a SIGKILLed run is removed by the next run for the same output. Each test prints the time from the signal to the exit for RELIABILITY.md,
 * and asserts nothing about it. The setup and the checks around the binary run in-process.
 */
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync, watch, writeFileSync } from "node:fs"
import { join } from "node:path"
import {
  cli,
  configured,
  createdId,
  createValidating,
  envFor,
  fastDurations,
  inputFile,
  jsonLines,
  poll,
  spawnBinary,
  tempDir
} from "./utils.js"

/** Prints the measured figure (for RELIABILITY.md). */
const report = (command: string, ms: number) => Effect.logInfo(`SIGINT during ${command}: exit after ${ms} ms`)

const temporaryFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".tmp"))

/** Succeeds once `dir` holds a temporary file (checked on every change of the directory). */
const temporaryFileIn = (dir: string) =>
  Effect.async<void>((resume) => {
    const watcher = watch(dir, () => {
      if (temporaryFiles(dir).length === 0) return
      watcher.close()
      resume(Effect.void)
    })
    if (temporaryFiles(dir).length > 0) {
      watcher.close()
      return resume(Effect.void)
    }
    return Effect.sync(() => watcher.close())
  })

/** The status of a batch now. */
const statusOf = (id: string) =>
  Effect.map(cli(["get", id]), (r) => jsonLines(r.stdout)[0]?.["status"] ?? `(none: ${r.stderr})`)

/** A batch of 200 requests that completed; returns its id. */
const completedBatch = (dir: string) =>
  Effect.gen(function*() {
    const submitted = yield* cli(["submit", inputFile(dir, 200), "-e", "/v1/chat/completions", "--wait", ...poll])
    assert.strictEqual(submitted.code, 0, submitted.stderr)
    return createdId(submitted.stderr)
  })

/** The next output file comes 512 bytes every 100 ms: a download of 200 results lasts about 20 s. */
const slowDownload = Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) =>
  Effect.zipRight(
    fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.slowBody({ chunkBytes: 512, delay: "100 millis" })),
    Effect.addFinalizer(() => fake.clearFaults)
  ))

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "90 seconds" })(
  "Ctrl-C (130), SIGTERM (143) and SIGHUP (129) end every long command and leave nothing behind",
  (it) => {
    it.scoped("list: interrupted while pages are still coming", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(5000)
        yield* configured({ latency: "20 millis" })
        const running = yield* spawnBinary(["list", "--limit", "1", "--format", "jsonl"], { env: envFor(fake) })
        yield* running.until("a first batch", () => running.stdout().includes("\n"))
        const { code, ms } = yield* running.signal("SIGINT")
        yield* report("list", ms)
        assert.strictEqual(code, 130, running.stderr())
        // every line printed is a whole batch
        const lines = running.stdout().split("\n")
        const last = lines.pop()
        assert.strictEqual(last, "", "the output ends with a complete line")
        assert.isTrue(lines.every((l) => (JSON.parse(l) as { object: string }).object === "batch"))
        assert.notInclude(running.stderr(), "    at ")
      }))

    it.scoped("wait: interrupted while the batch is validating; the batch keeps running", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const id = yield* createValidating()
        const running = yield* spawnBinary(["wait", id, ...poll], { env: envFor(fake) })
        yield* running.until("the first progress line", () => running.stderr().includes(`${id} validating`))
        const { code, ms } = yield* running.signal("SIGINT")
        yield* report("wait", ms)
        assert.strictEqual(code, 130, running.stderr())
        assert.notInclude(running.stderr(), "    at ")
        assert.strictEqual(yield* statusOf(id), "validating")
        yield* cli(["cancel", id])
      }))

    it.scoped("results --output: interrupted mid-download, no temporary file and no output file", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const dir = tempDir()
        const submitted = yield* cli(["submit", inputFile(dir, 200), "-e", "/v1/chat/completions", "--wait", ...poll])
        assert.strictEqual(submitted.code, 0, submitted.stderr)
        const id = createdId(submitted.stderr)
        // the output file then comes 512 bytes every 100 ms: the download lasts about 20 s
        yield* fake.scriptFault(
          "GET /v1/files/{id}/content",
          1,
          Fault.slowBody({ chunkBytes: 512, delay: "100 millis" })
        )
        yield* Effect.addFinalizer(() => fake.clearFaults)
        const out = join(dir, "results.jsonl")
        const running = yield* spawnBinary(["results", id, "--output", out], { env: envFor(fake) })
        yield* temporaryFileIn(dir)
        const { code, ms } = yield* running.signal("SIGINT")
        yield* report("results", ms)
        assert.strictEqual(code, 130, running.stderr())
        assert.deepStrictEqual(temporaryFiles(dir), [])
        assert.isFalse(existsSync(out), "no partial file under the final name")
        assert.notInclude(running.stderr(), "    at ")
      }))

    for (const [signal, exitCode] of [["SIGTERM", 143], ["SIGHUP", 129]] as const) {
      it.scoped(`results --output: ${signal} mid-download exits ${exitCode}, no temporary file and no output file`, () =>
        Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          const dir = tempDir()
          const id = yield* completedBatch(dir)
          yield* slowDownload
          const out = join(dir, "results.jsonl")
          const running = yield* spawnBinary(["results", id, "--output", out], { env: envFor(fake) })
          yield* temporaryFileIn(dir)
          const { code, ms } = yield* running.signal(signal)
          yield* Effect.logInfo(`${signal} during results: exit after ${ms} ms`)
          assert.strictEqual(code, exitCode, running.stderr())
          assert.deepStrictEqual(temporaryFiles(dir), [])
          assert.isFalse(existsSync(out), "no partial file under the final name")
          assert.notInclude(running.stderr(), "    at ")
        }))
    }

    it.scoped("results --output: a SIGKILLed run's temporary file is removed by the next run for the same output", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const dir = tempDir()
        const id = yield* completedBatch(dir)
        yield* slowDownload
        const out = join(dir, "results.jsonl")
        const running = yield* spawnBinary(["results", id, "--output", out], { env: envFor(fake) })
        yield* temporaryFileIn(dir)
        yield* running.signal("SIGKILL")
        const left = temporaryFiles(dir)
        assert.strictEqual(left.length, 1, "SIGKILL runs no cleanup")
        assert.match(left[0]!, /^\.results\.jsonl\.batchfx-\d+-[a-z0-9]+\.tmp$/)
        // a temporary file of a live process (this one) and one for another output are kept
        const live = `.results.jsonl.batchfx-${process.pid}-live.tmp`
        const other = `.other.jsonl.batchfx-999999999-dead.tmp`
        writeFileSync(join(dir, live), "")
        writeFileSync(join(dir, other), "")
        yield* fake.clearFaults
        const again = yield* cli(["results", id, "--output", out])
        assert.strictEqual(again.code, 0, again.stderr)
        assert.deepStrictEqual(temporaryFiles(dir).sort(), [live, other].sort())
        assert.strictEqual(readFileSync(out, "utf8").split("\n").filter((l) => l !== "").length, 200)
      }))

    it.scoped("submit --wait: interrupted while waiting; the batch keeps running and its id was printed", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* configured({ durations: { validating: "1 hour" } })
        const dir = tempDir()
        const out = join(dir, "out.jsonl")
        const running = yield* spawnBinary(
          ["submit", inputFile(dir, 3), "-e", "/v1/chat/completions", "--wait", ...poll, "--output", out],
          { env: envFor(fake) }
        )
        yield* running.until("the created batch", () => running.stderr().includes("waiting for it to end"))
        const id = createdId(running.stderr())
        const { code, ms } = yield* running.signal("SIGINT")
        yield* report("submit", ms)
        assert.strictEqual(code, 130, running.stderr())
        assert.notInclude(running.stderr(), "    at ")
        assert.deepStrictEqual(temporaryFiles(dir), [])
        assert.isFalse(existsSync(out))
        // the remote batch was not cancelled
        assert.strictEqual(yield* statusOf(id), "validating")
        yield* cli(["cancel", id])
      }))
  }
)
