/**
 * Worker processes and the emulator they share, for the tests and the bench that run `Jobs.run`
 * in processes of their own. The workers run the fixtures' built JavaScript
 * (`build/test/fixtures/*.js`), which `buildFixtures` brings up to date.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { HttpServer } from "@effect/platform"
import type { HttpApp } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

// This module runs from `test/` under vitest and from `build/test/` under the bench.
const packageRoot = fileURLToPath(new URL(import.meta.url.includes("/build/test/") ? "../../" : "../", import.meta.url))
const repositoryRoot = `${packageRoot}../../`

/** Compiles the tests' fixtures (`tsc -b`), for a test's `beforeAll`. */
export const buildFixtures = (): void => {
  execFileSync(
    process.execPath,
    [`${repositoryRoot}node_modules/typescript/bin/tsc`, "-b", "packages/jobs/tsconfig.test.json"],
    { cwd: repositoryRoot, stdio: "pipe" }
  )
}

/**
 * A fixture's built script: `worker` runs one job (`JOB_ID`) and exits; `clusterWorker` runs every
 * job as `batchfx jobs run` does, until it is stopped.
 */
export const fixture = (name: "worker" | "clusterWorker"): string => `${packageRoot}build/test/fixtures/${name}.js`

/**
 * The emulator on a socket of 127.0.0.1, for processes other than this one, until the scope
 * closes; `serve` answers each request (default the emulator's app as it is).
 */
export const servedEmulator = (
  options: FakeOpenAi.Options,
  serve: (fake: FakeOpenAi.Service) => HttpApp.Default = (fake) => fake.app
) =>
  Effect.gen(function*() {
    const server = yield* Layer.build(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }))
    return yield* Effect.gen(function*() {
      const fake = yield* FakeOpenAi.make(options)
      yield* HttpServer.serveEffect(serve(fake))
      const address = (yield* HttpServer.HttpServer).address
      const baseUrl = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}/v1` : ""
      return { fake, baseUrl }
    }).pipe(Effect.provide(server))
  })

export interface WorkerProcess {
  readonly id: string
  readonly child: ChildProcess
  /** The end of what it wrote to stderr (its logs). */
  readonly stderr: () => string
}

/**
 * A `clusterWorker` process with `env` (and `PATH`), SIGKILLed when the scope closes; its worker
 * id is its first line.
 */
export const startWorker = (env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.async<WorkerProcess, Error>((resume) => {
      const child = spawn(process.execPath, [fixture("clusterWorker")], {
        env: { PATH: process.env["PATH"] ?? "", ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stdout = ""
      let stderr = ""
      child.stderr.on("data", (d) => (stderr = (stderr + String(d)).slice(-20_000)))
      child.stdout.on("data", (d) => {
        stdout += String(d)
        const end = stdout.indexOf("\n")
        if (end >= 0) resume(Effect.succeed({ id: stdout.slice(0, end), child, stderr: () => stderr }))
      })
      child.on("exit", (code) =>
        resume(Effect.fail(new Error(`a worker exited with ${code} before starting: ${stderr}`))))
    }),
    (worker) =>
      Effect.sync(() => worker.child.kill("SIGKILL"))
  )
