import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import {
  bin,
  cli,
  controlCharacters,
  envFor,
  fastDurations,
  inputFile,
  jsonLines,
  run,
  runScript,
  tempDir
} from "./utils.js"

/** Runs the CLI inside a pseudo-terminal (util-linux `script`), so stdout and stdin are a TTY. */
const inTerminal = (args: ReadonlyArray<string>, env: Record<string, string>, input = "") =>
  Effect.async<{ readonly code: number | null; readonly output: string }>((resume) => {
    const quoted = [process.execPath, bin, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ")
    const child = spawn("script", ["-qfec", quoted, "/dev/null"], {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", TERM: "xterm-256color", ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => void (output += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => void (output += d))
    child.on("close", (code) => resume(Effect.succeed({ code, output })))
    child.stdin.write(input)
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** Starts the CLI and resolves once its stdout has a complete first line. */
const untilFirstLine = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.async<{ readonly child: ChildProcessWithoutNullStreams; readonly line: string }>((resume) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let out = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const end = out.indexOf("\n")
      if (end >= 0) {
        child.stdout.removeAllListeners("data")
        child.stdout.resume()
        resume(Effect.succeed({ child, line: out.slice(0, end) }))
      }
    })
  })

const exitOf = (child: ChildProcessWithoutNullStreams) =>
  Effect.async<number | null>((resume) => {
    if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
    child.on("close", (code) => resume(Effect.succeed(code)))
  })

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "batchfx on a terminal and in a pipe",
  (it) => {
    it.effect("wait draws a progress bar on a terminal; in a pipe it prints plain lines", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const created = yield* cli(["create", "--input", inputFile(tempDir(), 4), "--endpoint", "/v1/chat/completions"])
        const id = jsonLines(created.stdout)[0]!["id"] as string
        const tty = yield* inTerminal(["wait", id, "--interval", "100ms"], envFor(fake))
        assert.strictEqual(tty.code, 0, tty.output)
        assert.include(tty.output, "\r\u001b[2K")
        assert.match(tty.output, new RegExp(`${id} \\[█+\\] 100% completed 4/4 done, 0 failed`))
        const piped = yield* cli(["wait", id, "--interval", "100ms"])
        assert.strictEqual(piped.code, 0, piped.stderr)
        assert.notMatch(piped.stdout + piped.stderr, controlCharacters)
        assert.match(piped.stdout, new RegExp(`^\\S+Z ${id} completed 4/4 done, 0 failed\\n$`))
      }))

    it.effect("list prints a table on a terminal and JSON lines in a pipe", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(3)
        const tty = yield* inTerminal(["list", "--max", "3"], envFor(fake))
        assert.strictEqual(tty.code, 0, tty.output)
        assert.match(tty.output, /ID\s+STATUS\s+ENDPOINT\s+CREATED \(UTC\)/)
        const piped = yield* cli(["list", "--max", "3"])
        assert.strictEqual(jsonLines(piped.stdout).length, 3)
        assert.notMatch(piped.stdout, controlCharacters)
      }))

    it.effect("cancel asks on a terminal before cancelling several batches, and does nothing on no", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const ids = jsonLines((yield* cli(["list", "--max", "2"])).stdout).map((b) => b["id"] as string)
        const tty = yield* inTerminal(["cancel", ...ids], envFor(fake), "n")
        assert.strictEqual(tty.code, 0, tty.output)
        assert.include(tty.output, "Cancel 2 batches")
        assert.include(tty.output, "Nothing cancelled.")
      }))

    it.effect("cancel --all on a terminal cancels the matching batches once the question is answered yes", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.configure({ durations: { validating: "1 hour" } })
        const dir = tempDir()
        const make = (name: string) =>
          cli([
            "create",
            "--input",
            inputFile(dir, 1, name),
            "--endpoint",
            "/v1/chat/completions",
            "--metadata",
            "run=tty"
          ])
        const ids = [
          jsonLines((yield* make("a.jsonl")).stdout)[0]!["id"],
          jsonLines((yield* make("b.jsonl")).stdout)[0]!["id"]
        ]
        yield* fake.configure({ durations: { validating: fastDurations.validating } })
        const tty = yield* inTerminal(
          ["cancel", "--all", "--metadata", "run=tty", "--format", "jsonl"],
          envFor(fake),
          "y"
        )
        assert.strictEqual(tty.code, 0, tty.output)
        assert.include(tty.output, "Cancel 2 batches")
        const after = jsonLines((yield* cli(["get", ...ids as Array<string>])).stdout)
        assert.deepStrictEqual(after.map((b) => b["status"]), ["cancelling", "cancelling"])
      }))

    it.effect("help output in a pipe carries no escape codes", () =>
      Effect.gen(function*() {
        const r = yield* run(["wait", "--help"])
        assert.strictEqual(r.code, 0)
        assert.notMatch(r.stdout, controlCharacters)
        assert.include(r.stdout, "--interval DURATION")
      }))

    it.effect("list --format jsonl prints its first line while the listing is far from done", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(5000)
        yield* fake.configure({ latency: "20 millis" })
        const before = yield* fake.requestCount("GET /v1/batches")
        const { child, line } = yield* untilFirstLine(["list", "--limit", "1", "--format", "jsonl"], envFor(fake))
        const pages = (yield* fake.requestCount("GET /v1/batches")) - before
        child.kill("SIGKILL")
        yield* fake.configure({ latency: 0 })
        assert.strictEqual((JSON.parse(line) as { object: string }).object, "batch")
        // Listing everything takes 5,000 pages; the first line came with a handful fetched.
        assert.isBelow(pages, 1000)
      }))

    it.effect("Ctrl-C during wait exits 130", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.configure({ durations: { validating: "1 hour" } })
        const created = yield* cli(["create", "--input", inputFile(tempDir(), 1), "--endpoint", "/v1/chat/completions"])
        yield* fake.configure({ durations: { validating: fastDurations.validating } })
        const id = jsonLines(created.stdout)[0]!["id"] as string
        const { child, line } = yield* untilFirstLine(["wait", id, "--interval", "100ms"], envFor(fake))
        assert.include(line, `${id} validating`)
        child.kill("SIGINT")
        assert.strictEqual(yield* exitOf(child), 130)
        yield* cli(["cancel", id])
      }))
  }
)

layer(FakeOpenAi.layer(), { excludeTestServices: true, timeout: "60 seconds" })(
  "batchfx stand-alone: no API key, its own emulator",
  (it) => {
    it.effect("--help works on every command without a key; --version matches package.json; completions", () =>
      Effect.gen(function*() {
        for (const command of ["list", "get", "create", "cancel", "wait", "results", "submit", "fake-server", "demo"]) {
          const r = yield* run([command, "--help"])
          assert.strictEqual(r.code, 0, `${command}: ${r.stderr}`)
          assert.include(r.stdout, "USAGE")
        }
        const version = yield* run(["--version"])
        const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
        assert.strictEqual(version.stdout.trim(), pkg.version)
        const completions = yield* run(["--completions", "bash"])
        assert.strictEqual(completions.code, 0)
        assert.include(completions.stdout, "batchfx")
      }))

    it.effect("--version alone (answered by bin.ts) prints the same bytes as @effect/cli does", () =>
      Effect.gen(function*() {
        const fast = yield* run(["--version"])
        const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
        assert.strictEqual(fast.stdout, `${pkg.version}\n\n`)
        // The compiled modules and the bundle answer through @effect/cli.
        for (const script of ["main.js", join("bundle", "main.js")]) {
          assert.deepStrictEqual(yield* runScript(join(dirname(bin), script), ["--version"]), fast, script)
        }
      }))

    it.effect("fake-server prints its URL, serves the API until Ctrl-C, then exits 130", () =>
      Effect.gen(function*() {
        const { child, line } = yield* untilFirstLine(["fake-server", "--seed", "7", "--speed", "10"], {})
        assert.match(line, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
        const listed = yield* run(["list", "--base-url", line], { env: { OPENAI_API_KEY: "sk-fake-batchfx" } })
        assert.strictEqual(listed.code, 0, listed.stderr)
        assert.strictEqual(jsonLines(listed.stdout).length, 7)
        child.kill("SIGINT")
        assert.strictEqual(yield* exitOf(child), 130)
      }))

    it.effect("fake-server with --speed, --rps and --latency serves a submit --wait and a paced bulk get", () =>
      Effect.gen(function*() {
        const { child, line: url } = yield* untilFirstLine(
          ["fake-server", "--seed", "40", "--speed", "20", "--rps", "10", "--latency", "10ms"],
          {}
        )
        const env = { OPENAI_API_KEY: "sk-fake-batchfx", OPENAI_BASE_URL: url }
        const dir = tempDir()
        const out = join(dir, "out.jsonl")
        const submitted = yield* run(
          ["submit", inputFile(dir, 6), "-e", "/v1/chat/completions", "--wait", "--interval", "50ms", "--output", out],
          { env }
        )
        assert.strictEqual(submitted.code, 0, submitted.stderr)
        assert.strictEqual(jsonLines(readFileSync(out, "utf8")).length, 6)
        const ids = jsonLines((yield* run(["list", "--max", "30"], { env })).stdout).map((b) => b["id"] as string)
        assert.strictEqual(ids.length, 30)
        const got = yield* run(["get", ...ids, "--concurrency", "2", "--rpm", "1200"], { env })
        assert.strictEqual(got.code, 0, got.stderr)
        assert.deepStrictEqual(jsonLines(got.stdout).map((b) => b["id"]), ids)
        child.kill("SIGINT")
        assert.strictEqual(yield* exitOf(child), 130)
      }))

    it.effect("demo runs the whole tour in a pipe without a key", () =>
      Effect.gen(function*() {
        const r = yield* run(["demo"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.notMatch(r.stdout + r.stderr, controlCharacters)
        assert.match(r.stdout, / completed 10\/12 done, 2 failed/)
        assert.include(r.stdout, "results.jsonl (in completion order, matched to requests by custom_id): 10 lines")
        assert.include(r.stdout, "errors.jsonl: 2 lines")
        assert.match(r.stdout, /Done in [\d.]+ s\./)
      }))
  }
)
