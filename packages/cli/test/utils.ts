/**
 * Runs `batchfx` in this process (`runCli`, `startCli`, `cli`): `Cli.run`, the code the binary
 * runs, on captured output, with an environment of its own and the exit code the binary would
 * give. `binary` spawns the built `dist/bin.js` for what only a process shows: exit codes of the
 * executable, signals, a pseudo-terminal.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import * as PlatformTerminal from "@effect/platform/Terminal"
import { ConfigProvider, Effect, Fiber, type Scope } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Cli from "../src/Cli.js"
import { fromExit } from "../src/internal/exitCode.js"
import * as Output from "../src/internal/output.js"

/** What a run printed and how it ended. */
export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of an in-process run: what is a terminal, keys typed at questions, the environment. */
export interface Options extends Output.TestOptions {
  /** The whole environment the command sees (nothing of this process's). */
  readonly env?: Record<string, string> | undefined
}

/** A run in progress: its output so far, its end, and Ctrl-C. */
export interface Started {
  readonly stdout: Output.Captured
  readonly stderr: Output.Captured
  /** Waits for the end. */
  readonly exit: Effect.Effect<Run>
  /** Interrupts the run as a signal does, and waits for the end. */
  readonly interrupt: Effect.Effect<Run>
}

/** Starts `batchfx ...args` in a fiber of this process. */
export const startCli = (args: ReadonlyArray<string>, options: Options = {}): Effect.Effect<Started> =>
  Effect.gen(function*() {
    const io = Output.makeTest(options)
    const fiber = yield* Cli.run(["node", "batchfx", ...args]).pipe(
      Effect.provideService(Output.Output, io.service),
      Effect.provideService(PlatformTerminal.Terminal, io.terminal),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(options.env ?? {})))),
      Effect.fork
    )
    const result = (exit: Fiber.Fiber<number>) =>
      Effect.map(
        Fiber.await(exit),
        (e): Run => ({ code: fromExit(e), stdout: io.stdout.text(), stderr: io.stderr.text() })
      )
    return {
      stdout: io.stdout,
      stderr: io.stderr,
      exit: result(fiber),
      interrupt: Effect.zipRight(Fiber.interruptFork(fiber), result(fiber))
    }
  })

/** Runs `batchfx ...args` in this process to its end. */
export const runCli = (args: ReadonlyArray<string>, options: Options = {}): Effect.Effect<Run> =>
  Effect.flatMap(startCli(args, options), (started) => started.exit)

/** The environment that points the CLI at an emulator. */
export const envFor = (fake: FakeOpenAi.Service): Record<string, string> => ({
  OPENAI_API_KEY: fake.apiKey,
  OPENAI_BASE_URL: fake.baseUrl
})

/** Runs `batchfx ...args` in this process against the emulator in context. */
export const cli = (args: ReadonlyArray<string>, options: Options = {}) =>
  Effect.flatMap(
    FakeOpenAi.FakeOpenAi,
    (fake) => runCli(args, { ...options, env: { ...envFor(fake), ...options.env } })
  )

/**
 * Changes the emulator's knobs until the scope closes, then puts back the ones in force before.
 * Durations apply to batches created meanwhile: a batch created under `validating: "1 hour"` stays
 * validating after the knobs are back.
 */
export const configured = (patch: FakeOpenAi.KnobsPatch) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) =>
    Effect.acquireRelease(
      Effect.zipLeft(fake.knobs, fake.configure(patch)),
      (before) => fake.configure(before)
    ))

/** Creates a batch of one request that stays validating; returns its id. */
export const createValidating = (args: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    yield* configured({ durations: { validating: "1 hour" } })
    const r = yield* cli(["create", "--input", inputFile(tempDir(), 1), "-e", "/v1/chat/completions", ...args])
    if (r.code !== 0) return yield* Effect.dieMessage(`create failed: ${r.stderr}`)
    return jsonLines(r.stdout)[0]!["id"] as string
  }).pipe(Effect.scoped)

/** The id in `Created batch_…` of `submit --wait`. */
export const createdId = (stderr: string): string => {
  const id = /Created (batch_\w+)/.exec(stderr)?.[1]
  if (id === undefined) throw new Error(`no batch was created: ${stderr}`)
  return id
}

// ---- the built binary ---------------------------------------------------------------------------

/** The built entry point. */
export const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))

/** Options of a run of the binary. */
export interface BinaryOptions {
  /** Extra environment (merged over a clean one: PATH and HOME only). */
  readonly env?: Record<string, string | undefined>
  /** What the process reads on stdin, then the end of it (default: stdin ends at once). */
  readonly input?: string | undefined
}

/** The environment of a spawned binary: PATH and HOME, then `env`. */
export const processEnv = (env: Record<string, string | undefined> = {}): Record<string, string | undefined> => ({
  PATH: process.env["PATH"] ?? "/usr/bin:/bin",
  HOME: process.env["HOME"] ?? tmpdir(),
  ...env
})

/** Runs `node script ...args` in a pipe (stdin carrying `input`, then closed) and waits for it to end. */
export const runScript = (
  script: string,
  args: ReadonlyArray<string>,
  options: BinaryOptions = {}
): Effect.Effect<Run> =>
  Effect.async<Run>((resume) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: processEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => void (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => void (stderr += d))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    // A child that exits before reading all of it closes the pipe: not this helper's failure.
    child.stdin.on("error", () => {})
    child.stdin.end(options.input)
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** Runs `node dist/bin.js ...args` in a pipe and waits for it to end. */
export const binary = (args: ReadonlyArray<string>, options: BinaryOptions = {}): Effect.Effect<Run> =>
  runScript(bin, args, options)

/** A running binary whose output is collected as it comes. */
export interface Spawned {
  readonly stdout: () => string
  readonly stderr: () => string
  /** Succeeds once `ready` holds, checked on every output; fails if the process ends first. */
  readonly until: (what: string, ready: () => boolean) => Effect.Effect<void, Error>
  /** Sends a signal and waits for the exit code, with the milliseconds from the signal to the exit. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<{ readonly code: number | null; readonly ms: number }>
}

/** Starts `node dist/bin.js ...args` in a pipe; it is killed when the scope closes. */
export const spawnBinary = (
  args: ReadonlyArray<string>,
  options: BinaryOptions & { readonly cwd?: string } = {}
): Effect.Effect<Spawned, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [bin, ...args], {
          env: processEnv(options.env),
          stdio: ["pipe", "pipe", "pipe"],
          ...(options.cwd === undefined ? {} : { cwd: options.cwd })
        })
      ),
      (child) => Effect.sync(() => void child.kill("SIGKILL"))
    ),
    (child) => {
      let stdout = ""
      let stderr = ""
      child.stdout.setEncoding("utf8").on("data", (d: string) => void (stdout += d))
      child.stderr.setEncoding("utf8").on("data", (d: string) => void (stderr += d))
      let done = false
      const closed = new Promise<number | null>((resolve) =>
        child.on("close", (code) => {
          done = true
          resolve(code)
        })
      )
      return {
        stdout: () => stdout,
        stderr: () => stderr,
        until: (what, ready) =>
          Effect.async<void, Error>((resume) => {
            const check = () => {
              if (!ready()) return false
              stop()
              resume(Effect.void)
              return true
            }
            const ended = () => {
              if (check()) return
              stop()
              resume(Effect.fail(new Error(`never saw ${what}; stdout: ${stdout} stderr: ${stderr}`)))
            }
            const stop = () => {
              child.stdout.off("data", check)
              child.stderr.off("data", check)
              child.off("close", ended)
            }
            if (check()) return
            if (done) return ended()
            child.stdout.on("data", check)
            child.stderr.on("data", check)
            child.on("close", ended)
            return Effect.sync(stop)
          }),
        signal: (signal) =>
          Effect.promise(async () => {
            const sent = performance.now()
            child.kill(signal)
            const code = await closed
            return { code, ms: Math.round(performance.now() - sent) }
          })
      }
    }
  )

// ---- files and output ---------------------------------------------------------------------------

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

/** A short lifecycle, so that a batch ends a moment after it is created. */
export const fastDurations = { validating: "20 millis", inProgress: "100 millis", finalizing: "20 millis" } as const

/** `--interval` for `wait` and `submit --wait` against `fastDurations`. */
export const poll = ["--interval", "20ms"] as const
