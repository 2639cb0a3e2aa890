/**
 * Issue 22, point 5: `submit` of an input over one batch's limits goes through the library's
 * `Submit`: split into several batches, followed as one, results merged into `--output` and
 * `--errors`. The limits are made small (`InputLimits`) so that a few lines split; one test splits
 * at the API's own 50,000 lines. Against the emulator on a socket; counted at the server.
 */
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { InputLimits } from "../src/internal/handlers/Submit.js"
import { cli, envFor, fastDurations, inputFile, jsonLines, poll, startCli, tempDir } from "./utils.js"

const chat = "/v1/chat/completions"

const counts = Effect.gen(function*() {
  const fake = yield* FakeOpenAi.FakeOpenAi
  return {
    uploads: yield* fake.requestCount("POST /v1/files"),
    creates: yield* fake.requestCount("POST /v1/batches")
  }
})

/** Runs the CLI with one batch holding at most `maxLines` lines and `maxBytes` bytes. */
const withLimits = (limits: { readonly maxLines?: number; readonly maxBytes?: number }) =>
  Effect.provideService(InputLimits, { maxLines: 50_000, maxBytes: 209_715_200, ...limits })

// Lets real I/O (files, sockets) move on; never decides an outcome.
const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

const ids = (n: number) => Array.from({ length: n }, (_, i) => `req-${i + 1}`).sort()

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "120 seconds" })(
  "submit over one batch's limits",
  (it) => {
    it.effect("7 lines at 3 a batch: 3 batches followed as one, results merged, the finished batches on stdout", () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const out = join(dir, "out.jsonl")
        const errors = join(dir, "errors.jsonl")
        const before = yield* counts
        const r = yield* cli(["submit", inputFile(dir, 7), "--wait", ...poll, "-o", out, "--errors", errors]).pipe(
          withLimits({ maxLines: 3 })
        )
        assert.strictEqual(r.code, 0, r.stderr)
        const after = yield* counts
        assert.strictEqual(after.uploads - before.uploads, 3)
        assert.strictEqual(after.creates - before.creates, 3)
        assert.match(r.stderr, /Created batch_\w+ \(part 1 of 3: lines 1-3, \d+ bytes\)\./)
        assert.match(r.stderr, /Created batch_\w+ \(part 3 of 3: lines 7-7, \d+ bytes\)\./)
        assert.match(r.stderr, /Z 3 batches: 3 ended, 7\/7 done, 0 failed\n/)
        const printed = jsonLines(r.stdout)
        assert.strictEqual(printed.length, 3)
        assert.isTrue(printed.every((b) => b["status"] === "completed"))
        const results = jsonLines(readFileSync(out, "utf8"))
        assert.deepStrictEqual(results.map((l) => l["custom_id"]).sort(), ids(7))
        assert.isTrue(results.every((l) => typeof l["id"] === "string" && typeof l["response"] === "object"))
        assert.strictEqual(readFileSync(errors, "utf8"), "")
        assert.include(r.stderr, `Wrote ${out} (`)
      }))

    it.effect("without --wait: every part is created and printed, and the command ends", () =>
      Effect.gen(function*() {
        const before = yield* counts
        const r = yield* cli(["submit", inputFile(tempDir(), 5), "-e", chat, "--format", "jsonl"]).pipe(
          withLimits({ maxLines: 2 })
        )
        assert.strictEqual(r.code, 0, r.stderr)
        const printed = jsonLines(r.stdout)
        assert.strictEqual(printed.length, 3)
        assert.strictEqual(new Set(printed.map((b) => b["id"])).size, 3)
        assert.strictEqual((yield* counts).creates - before.creates, 3)
      }))

    it.effect("split by bytes: an input over maxBytes becomes batches under it", () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const input = inputFile(dir, 6)
        const bytes = readFileSync(input).length
        const out = join(dir, "out.jsonl")
        const r = yield* cli(["submit", input, "-e", chat, "--wait", ...poll, "-o", out]).pipe(
          withLimits({ maxBytes: Math.ceil(bytes / 2) })
        )
        assert.strictEqual(r.code, 0, r.stderr)
        assert.isAtLeast(jsonLines(r.stdout).length, 2)
        assert.deepStrictEqual(jsonLines(readFileSync(out, "utf8")).map((l) => l["custom_id"]).sort(), ids(6))
      }))

    it.effect("bad lines in an input that splits: each named with its line number, nothing uploaded (exit 1)", () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const input = inputFile(dir, 5)
        const lines = readFileSync(input, "utf8").split("\n")
        lines[3] = "{not json"
        writeFileSync(input, lines.join("\n"))
        const duplicate = join(dir, "duplicate.jsonl")
        const good = readFileSync(inputFile(dir, 5, "good.jsonl"), "utf8").split("\n")
        good[4] = good[0]!
        writeFileSync(duplicate, good.join("\n"))
        const before = yield* counts
        const notJson = yield* cli(["submit", input, "-e", chat]).pipe(withLimits({ maxLines: 2 }))
        assert.strictEqual(notJson.code, 1, notJson.stderr)
        assert.match(notJson.stderr, /line 4/)
        const twice = yield* cli(["submit", duplicate, "-e", chat]).pipe(withLimits({ maxLines: 2 }))
        assert.strictEqual(twice.code, 1, twice.stderr)
        assert.match(twice.stderr, /line 5: .*custom_id/)
        assert.strictEqual(notJson.stdout + twice.stdout, "")
        assert.deepStrictEqual(yield* counts, before, "nothing was uploaded or created")
      }))

    it.effect("parts that fail on the server: exit 1 with the server's reason, no output file, the batches printed", () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const input = join(dir, "unknown-model.jsonl")
        writeFileSync(
          input,
          readFileSync(inputFile(dir, 4), "utf8").replaceAll("gpt-4o-mini", "no-such-model")
        )
        const out = join(dir, "out.jsonl")
        const r = yield* cli(["submit", input, "-e", chat, "--wait", ...poll, "-o", out]).pipe(
          withLimits({ maxLines: 2 })
        )
        assert.strictEqual(r.code, 1, r.stderr)
        assert.match(
          r.stderr,
          /Batch batch_\w+ \(part \d\) failed on the server: line \d: The model `no-such-model` does not exist/
        )
        const printed = jsonLines(r.stdout)
        assert.strictEqual(printed.length, 2, "both batches are printed")
        assert.isTrue(printed.some((b) => b["status"] === "failed"))
        assert.isFalse(existsSync(out))
        assert.deepStrictEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [])
      }))

    it.effect("--output-expires-after goes with every batch of a split: each output file expires 2 h after it was made", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const dir = tempDir()
        const before = yield* counts
        const r = yield* cli([
          "submit",
          inputFile(dir, 5),
          "-e",
          chat,
          "--wait",
          ...poll,
          "-o",
          join(dir, "out.jsonl"),
          "--output-expires-after",
          "2h"
        ]).pipe(withLimits({ maxLines: 2 }))
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual((yield* counts).creates - before.creates, 3)
        const printed = jsonLines(r.stdout)
        assert.strictEqual(printed.length, 3)
        for (const batch of printed) {
          const file = yield* Effect.promise(() =>
            fetch(`${fake.baseUrl}/files/${batch["output_file_id"]}`, {
              headers: { authorization: `Bearer ${fake.apiKey}` }
            }).then((response) => response.json() as Promise<{ created_at: number; expires_at: number | null }>)
          )
          assert.strictEqual((file.expires_at ?? 0) - file.created_at, 7_200, JSON.stringify(file))
        }
      }))

    it.effect("50,001 lines at the API's limits: two batches, 50,001 results", () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const out = join(dir, "out.jsonl")
        const before = yield* counts
        const r = yield* cli(["submit", inputFile(dir, 50_001), "--wait", ...poll, "-o", out])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.match(r.stderr, /part 2 of 2: lines 50001-50001/)
        assert.strictEqual((yield* counts).creates - before.creates, 2)
        const lines = readFileSync(out, "utf8").split("\n").filter((l) => l !== "")
        assert.strictEqual(lines.length, 50_001)
        assert.strictEqual(new Set(lines.map((l) => (JSON.parse(l) as { custom_id: string }).custom_id)).size, 50_001)
      }), { timeout: 300_000 })
  }
)

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "submit over one batch's limits keeps the create's safety",
  (it) => {
    it.scoped("Ctrl-C during the slow create of part 2 prints the token and the file id; part 1's batch was printed", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const before = yield* counts
        // the answer to the second create comes 16 bytes every 10 s
        yield* fake.scriptFault("POST /v1/batches", 2, Fault.slowBody({ chunkBytes: 16, delay: "10 seconds" }))
        yield* Effect.addFinalizer(() => fake.clearFaults)
        const started = yield* startCli(["submit", inputFile(tempDir(), 4), "-e", chat], { env: envFor(fake) }).pipe(
          withLimits({ maxLines: 2 })
        )
        for (let i = 0; i < 1000 && (yield* fake.requestCount("POST /v1/batches")) - before.creates < 2; i++) {
          yield* realPause(10)
        }
        yield* realPause(50)
        const r = yield* started.interrupt
        assert.strictEqual(r.code, 130, r.stderr)
        assert.match(r.stderr, /Created batch_\w+ \(part 1 of 2/)
        // on a line of its own, as a single batch's create says it (not as a log line)
        assert.match(
          r.stderr,
          /^batchfx: part 2 of 2: Interrupted while creating the batch; it may exist: look for a batch with metadata batchfx_client_token=bfx_[0-9a-f]{32} \(input file file-[\w-]+\)/m
        )
        assert.notMatch(r.stderr, /WARN/)
        assert.strictEqual(jsonLines(r.stdout).length, 1, "the batch of part 1 is printed")
        assert.notInclude(r.stderr, "    at ")
      }))
  }
)
