/**
 * The acceptance of durable jobs: a worker process SIGKILLed at points drawn by fast-check across
 * the whole job (each point is the n-th request the emulator gets, killed before or after the
 * emulator acts on it), restarted each time; at the end the emulator counts exactly one upload and
 * one batch per shard, and the store holds every result line once.
 *
 * The worker runs the built JavaScript of `fixtures/worker.ts`, which `beforeAll` brings up to date.
 */
import { Jobs } from "@batchfx/jobs"
import { HttpServerResponse } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import * as fc from "fast-check"
import { type ChildProcess, spawn } from "node:child_process"
import { chat, chatLines, tempStore } from "./utils.js"
import { buildFixtures, fixture, servedEmulator } from "./workerProcess.js"

const script = fixture("worker")

beforeAll(buildFixtures, 120_000)

/** Lines and shards of the job each run submits. */
const lines = 6
const maxLines = 3
const shards = 2

interface Kill {
  /** The n-th request the emulator gets, counted over every worker process. */
  readonly nth: number
  /**
   * Whether the emulator acts on the request before the kill (the worker never sees its answer)
   * or never sees it (the worker died while sending).
   */
  readonly after: boolean
}

/** The emulator on a socket; the worker running now is killed when a request named in `kills` arrives. */
const killingEmulator = (kills: ReadonlyArray<Kill>, current: { child: ChildProcess | undefined }) => {
  let seen = 0
  const kill = () => current.child?.kill("SIGKILL")
  return servedEmulator({
    durations: { validating: "200 millis", inProgress: "600 millis", finalizing: "200 millis" },
    // the real lists lag behind uploads and creates; longer than a restart takes here
    listLag: "8 seconds"
  }, (fake) =>
    Effect.gen(function*() {
      const n = ++seen
      const due = kills.find((k) => k.nth === n)
      if (due !== undefined && !due.after) {
        // the emulator never acts on it: the worker died while sending
        kill()
        return HttpServerResponse.empty({ status: 503 })
      }
      const response = yield* fake.app
      if (due !== undefined && due.after) kill()
      return response
    }))
}

/** Runs the worker until it exits; its exit code (null when killed) and what it printed. */
const runWorker = (env: Record<string, string>, current: { child: ChildProcess | undefined }) =>
  Effect.async<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    current.child = child
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += String(d)))
    child.stderr.on("data", (d) => (stderr += String(d)))
    child.on("exit", (code) => {
      current.child = undefined
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const oneJob = (kills: ReadonlyArray<Kill>) =>
  Effect.gen(function*() {
    const current: { child: ChildProcess | undefined } = { child: undefined }
    const { baseUrl, fake } = yield* killingEmulator(kills, current)
    const store = tempStore()
    const storeLayer = Jobs.layerStore(store).pipe(Layer.provide(NodeContext.layer), Layer.orDie)
    const jobId = yield* Jobs.submit(chatLines(lines), { endpoint: chat }).pipe(Effect.provide(storeLayer))
    const env = {
      BATCHFX_STORE: store,
      OPENAI_BASE_URL: baseUrl,
      OPENAI_API_KEY: fake.apiKey,
      JOB_ID: jobId,
      MAX_LINES: String(maxLines),
      LIST_LAG: "10 seconds"
    }
    let runs = 0
    let last = { code: null as number | null, stdout: "", stderr: "" }
    while (runs <= kills.length) {
      runs++
      last = yield* runWorker(env, current)
      if (last.code !== null) break
    }
    assert.strictEqual(last.code, 0, `the last worker failed: ${last.stderr}`)
    assert.strictEqual(last.stdout.trim(), JSON.stringify({ status: "completed", error: null }), last.stderr)
    assert.strictEqual(yield* fake.requestCount("POST /v1/files"), shards, "uploads")
    assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), shards, "batches created")
    const results = yield* Stream.runCollect(Jobs.results(jobId)).pipe(Effect.provide(storeLayer))
    const report = yield* Jobs.status(jobId).pipe(Effect.provide(storeLayer))
    assert.strictEqual(report.results, lines, "result lines stored")
    const all = Chunk.toReadonlyArray(results)
    assert.deepStrictEqual(
      all.map((r) => `${r._tag} ${r.customId}`),
      chatLines(lines).map((l) => `Succeeded ${l.custom_id}`)
    )
    return runs
  }).pipe(Effect.scoped)

describe("Crash safety", () => {
  it.live(
    "a job completes once, whatever request its worker is killed at and however often",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.uniqueArray(fc.record({ nth: fc.integer({ min: 1, max: 12 }), after: fc.boolean() }), {
              minLength: 1,
              maxLength: 3,
              selector: (k) => k.nth
            }),
            (kills) => Effect.runPromise(Effect.asVoid(oneJob(kills)))
          ),
          {
            numRuns: 4,
            endOnFailure: true,
            // the first upload, then the first create, reach the server and the worker dies before the answer
            examples: [[[{ nth: 1, after: true }]], [[{ nth: 3, after: true }]]]
          }
        )
      ),
    { timeout: 600_000 }
  )
})
