/** Runs the built `batchfx` binary as a child process. */
import { FakeOpenAi } from "@batchfx/testkit"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The built entry point. */
export const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

/** What a run printed and how it ended. */
export interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of a run. */
export interface RunOptions {
  /** Extra environment (merged over a clean one: PATH and HOME only). */
  readonly env?: Record<string, string | undefined>
  /** Text on stdin (default: none, stdin closed). */
  readonly input?: string
}

const baseEnv = (): Record<string, string> => ({
  PATH: process.env["PATH"] ?? "/usr/bin:/bin",
  HOME: process.env["HOME"] ?? tmpdir()
})

/** Runs `node dist/bin.js ...args` in a pipe and waits for it to end. */
export const run = (args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Run> =>
  runScript(bin, args, options)

/** Runs `node script ...args` in a pipe and waits for it to end. */
export const runScript = (script: string, args: ReadonlyArray<string>, options: RunOptions = {}): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...baseEnv(), ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => void (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => void (stderr += d))
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, stdout, stderr })))
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** The environment that points the CLI at an emulator. */
export const envFor = (fake: FakeOpenAi.Service): Record<string, string> => ({
  OPENAI_API_KEY: fake.apiKey,
  OPENAI_BASE_URL: fake.baseUrl
})

/** Runs the CLI against the emulator in context. */
export const cli = (args: ReadonlyArray<string>, options: RunOptions = {}) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => run(args, { ...options, env: { ...envFor(fake), ...options.env } }))

/** A fresh temporary directory. */
export const tempDir = (): string => mkdtempSync(join(tmpdir(), "batchfx-cli-test-"))

/** A valid input file of `n` chat requests; returns its path. */
export const inputFile = (dir: string, n: number, name = "input.jsonl"): string => {
  const path = join(dir, name)
  writeFileSync(
    path,
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `req-${i + 1}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i + 1}` }] }
      })).join("\n") + "\n"
  )
  return path
}

/** Parses JSON lines, failing on any line that is not JSON. */
export const jsonLines = (text: string): Array<Record<string, unknown>> =>
  text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>)

/** ESC or a carriage return: what piped output must never carry. */

export const controlCharacters = /[\u001b\r]/

/** A short lifecycle so that batches end in about a second. */
export const fastDurations = { validating: "100 millis", inProgress: "600 millis", finalizing: "100 millis" } as const
