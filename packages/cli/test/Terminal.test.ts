/**
 * On a terminal and in a pipe: tables, progress, colour and questions, in-process with the output
 * saying what is a terminal, then the built binary in a real pseudo-terminal (util-linux `script`).
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import {
  bin,
  cli,
  controlCharacters,
  createValidating,
  envFor,
  fastDurations,
  inputFile,
  jsonLines,
  poll,
  processEnv,
  startCli,
  tempDir
} from "./utils.js"

const chat = "/v1/chat/completions"
const terminal = { stdoutIsTTY: true, stderrIsTTY: true, stdinIsTTY: true } as const

/** Runs the built binary inside a pseudo-terminal (util-linux `script`): stdin, stdout and stderr are a TTY. */
const inTerminal = (args: ReadonlyArray<string>, env: Record<string, string>, input = "") =>
  Effect.async<{ readonly code: number | null; readonly output: string }>((resume) => {
    const quoted = [process.execPath, bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ")
    const child = spawn("script", ["-qfec", quoted, "/dev/null"], {
      env: processEnv({ TERM: "xterm-256color", ...env }),
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => void (output += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => void (output += d))
    child.on("close", (code) => resume(Effect.succeed({ code, output })))
    child.stdin.write(input)
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

const statuses = (ids: ReadonlyArray<string>) =>
  Effect.map(cli(["get", ...ids]), (r) => jsonLines(r.stdout).map((b) => b["status"]))

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "batchfx on a terminal and in a pipe",
  (it) => {
    it.effect("list prints a table with a bold header on a terminal, plain without colour, JSON lines in a pipe", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(3)
        const tty = yield* cli(["list", "--max", "3"], { stdoutIsTTY: true })
        assert.strictEqual(tty.code, 0, tty.stderr)
        assert.match(tty.stdout, /^\u001b\[1mID\s+STATUS\s+ENDPOINT\s+CREATED \(UTC\)/)
        assert.strictEqual(tty.stdout.trimEnd().split("\n").length, 4)
        const plain = yield* cli(["list", "--max", "3"], { stdoutIsTTY: true, colors: false })
        assert.match(plain.stdout, /^ID\s+STATUS/)
        assert.notMatch(plain.stdout, controlCharacters)
        const piped = yield* cli(["list", "--max", "3"])
        assert.strictEqual(jsonLines(piped.stdout).length, 3)
        assert.notMatch(piped.stdout, controlCharacters)
      }))

    it.effect("wait redraws a bar in place on a terminal stderr; in a pipe plain timestamped lines; the batch on stdout", () =>
      Effect.gen(function*() {
        const created = yield* cli(["create", "--input", inputFile(tempDir(), 4), "-e", chat])
        const id = jsonLines(created.stdout)[0]!["id"] as string
        const tty = yield* cli(["wait", id, ...poll], { stderrIsTTY: true })
        assert.strictEqual(tty.code, 0, tty.stderr)
        assert.match(tty.stderr, new RegExp(`\\r\\u001b\\[2K${id} \\[█{24}\\] 100% completed 4/4 done, 0 failed\\n$`))
        assert.strictEqual(jsonLines(tty.stdout)[0]!["status"], "completed", "stdout (a pipe) has the batch only")
        const table = yield* cli(["wait", id, ...poll], { stdoutIsTTY: true, stderrIsTTY: true })
        assert.match(table.stdout, new RegExp(`ID\\s+STATUS[^\\n]*\\n${id}\\s+completed`))
        const piped = yield* cli(["wait", id, ...poll])
        assert.strictEqual(piped.code, 0, piped.stderr)
        assert.notMatch(piped.stdout + piped.stderr, controlCharacters)
        assert.match(
          piped.stderr,
          new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ ${id} completed 4/4 done, 0 failed\\n$`)
        )
        assert.deepStrictEqual(jsonLines(piped.stdout).map((b) => b["id"]), [id])
      }))

    it.effect("cancel asks on stderr when stdin and stderr are terminals: no cancels nothing, yes cancels", () =>
      Effect.gen(function*() {
        const ids = [yield* createValidating(), yield* createValidating()]
        const no = yield* cli(["cancel", ...ids], { ...terminal, input: "n" })
        assert.strictEqual(no.code, 0, no.stderr)
        assert.include(no.stderr, `Cancel 2 batches (${ids.join(", ")})?`)
        assert.include(no.stderr, "Nothing cancelled.")
        assert.strictEqual(no.stdout, "", "the question is not on stdout")
        assert.deepStrictEqual(yield* statuses(ids), ["validating", "validating"])
        const yes = yield* cli(["cancel", ...ids, "--format", "jsonl"], { ...terminal, input: "y" })
        assert.strictEqual(yes.code, 0, yes.stderr)
        assert.deepStrictEqual(jsonLines(yes.stdout).map((b) => b["id"]), ids)
        assert.deepStrictEqual(yield* statuses(ids), ["cancelling", "cancelling"])
      }))

    it.effect("cancel does not ask when stdin or stderr is not a terminal; input that ends is Ctrl-D (exit 130)", () =>
      Effect.gen(function*() {
        const ids = [yield* createValidating(), yield* createValidating()]
        for (const streams of [{ ...terminal, stdinIsTTY: false }, { ...terminal, stderrIsTTY: false }]) {
          const r = yield* cli(["cancel", ...ids], { ...streams, input: "y" })
          assert.strictEqual(r.code, 2)
          assert.include(r.stderr, "refusing to cancel 2 batches without --yes (no terminal to ask on)")
        }
        const ended = yield* cli(["cancel", ...ids], terminal)
        assert.strictEqual(ended.code, 130)
        assert.deepStrictEqual(yield* statuses(ids), ["validating", "validating"])
        yield* cli(["cancel", ...ids, "--yes"])
      }))

    it.effect("list --format jsonl prints its first line while the listing is far from done; Ctrl-C exits 130", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(5000)
        const before = yield* fake.requestCount("GET /v1/batches")
        const listing = yield* startCli(["list", "--limit", "1", "--format", "jsonl"], { env: envFor(fake) })
        const first = (yield* listing.stdout.until((text) => text.includes("\n"))).split("\n")[0]!
        const pages = (yield* fake.requestCount("GET /v1/batches")) - before
        const r = yield* listing.interrupt
        assert.strictEqual((JSON.parse(first) as { object: string }).object, "batch")
        // Listing everything takes 5,000 pages; the first line came with a handful fetched.
        assert.isBelow(pages, 100)
        assert.strictEqual(r.code, 130)
        assert.isTrue(r.stdout.endsWith("\n"), "the output ends with a complete line")
      }))

    // ---- the built binary in a pseudo-terminal ----

    it.effect("pty: wait draws a progress bar", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const created = yield* cli(["create", "--input", inputFile(tempDir(), 4), "-e", chat])
        const id = jsonLines(created.stdout)[0]!["id"] as string
        const tty = yield* inTerminal(["wait", id, ...poll], envFor(fake))
        assert.strictEqual(tty.code, 0, tty.output)
        assert.include(tty.output, "\r\u001b[2K")
        assert.match(tty.output, new RegExp(`${id} \\[█+\\] 100% completed 4/4 done, 0 failed`))
      }))

    it.effect("pty: list prints a table", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(3)
        const tty = yield* inTerminal(["list", "--max", "3"], envFor(fake))
        assert.strictEqual(tty.code, 0, tty.output)
        assert.match(tty.output, /ID\s+STATUS\s+ENDPOINT\s+CREATED \(UTC\)/)
      }))

    it.effect("pty: cancel asks before cancelling several batches, and does nothing on no", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const ids = [yield* createValidating(), yield* createValidating()]
        const tty = yield* inTerminal(["cancel", ...ids], envFor(fake), "n")
        assert.strictEqual(tty.code, 0, tty.output)
        assert.include(tty.output, "Cancel 2 batches")
        assert.include(tty.output, "Nothing cancelled.")
        assert.deepStrictEqual(yield* statuses(ids), ["validating", "validating"])
        yield* cli(["cancel", ...ids, "--yes"])
      }))

    it.effect("pty: cancel --all cancels the matching batches once the question is answered yes", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const ids = [
          yield* createValidating(["--metadata", "run=tty"]),
          yield* createValidating(["--metadata", "run=tty"])
        ]
        const tty = yield* inTerminal(
          ["cancel", "--all", "--metadata", "run=tty", "--format", "jsonl"],
          envFor(fake),
          "y"
        )
        assert.strictEqual(tty.code, 0, tty.output)
        assert.include(tty.output, "Cancel 2 batches")
        assert.deepStrictEqual(yield* statuses(ids), ["cancelling", "cancelling"])
      }))
  }
)
