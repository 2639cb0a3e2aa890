/**
 * Figures of durable jobs, against the emulator on 127.0.0.1 (batches take about half a second):
 *
 * 1. a job's own overhead: SQL statements (and writes) per shard, the store's and the engine's;
 * 2. `--jobs N` jobs of 2 shards (default 1,000) scheduled on one worker: wall time to all done;
 * 3. restart to resumed polling: a worker process SIGKILLed while it polls a batch, started
 *    again; time from its start to its first poll (beside a cold start's time to its first request);
 * 4. `--pg-jobs N` jobs of 3 shards (default 100) with 1, 2 and 3 worker processes on one Postgres
 *    store: wall time, jobs a minute, uploads and batches (`multiWorker.ts`);
 * 5. failover: of `--failover-workers W` (default 3) on Postgres running `--failover-jobs N` jobs
 *    (default 30), the one holding most running jobs SIGKILLed: time from the kill to another
 *    worker's first poll of one of its batches, and to all its jobs done (`multiWorker.ts`).
 *
 * Scenario 10 of `pnpm bench` builds and runs it (packages/bench/src/jobsScenario.ts); alone, after
 * `pnpm exec tsc -b packages/jobs/tsconfig.bench.json`: `node packages/jobs/build/bench/jobs.js
 * [--jobs N] [--pg-jobs N] [--failover-jobs N] [--failover-workers W] [--only 1,2,3,4,5]`. Prints
 * one JSON object per figure (a figure that could not run, for want of Postgres, has `notRun`).
 */
import { Jobs, JobStore } from "@batchfx/jobs"
import { FakeOpenAi } from "@batchfx/testkit"
import { HttpServer, HttpServerRequest } from "@effect/platform"
import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import * as LibsqlClient from "@effect/sql-libsql/LibsqlClient"
import * as Libsql from "@libsql/client"
import { Effect, Layer, Redacted, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createServer } from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as MultiWorker from "./multiWorker.js"

const argv = process.argv.slice(2)
const valueOf = (flag: string) => {
  const i = argv.indexOf(flag)
  return i === -1 ? undefined : argv[i + 1]
}
const jobsCount = Number(valueOf("--jobs") ?? "1000")
const pgJobs = Number(valueOf("--pg-jobs") ?? "100")
const failoverJobs = Number(valueOf("--failover-jobs") ?? "30")
const failoverWorkers = Number(valueOf("--failover-workers") ?? "3")
const only = new Set((valueOf("--only") ?? "1,2,3,4,5").split(",").map(Number))
const fixture = fileURLToPath(new URL("../test/fixtures/worker.js", import.meta.url))
const chat = "/v1/chat/completions"

const line = (job: number, i: number) => ({
  custom_id: `job-${job}-req-${i}`,
  method: "POST" as const,
  url: chat,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i}` }] }
})

const print = (figure: Record<string, unknown>) =>
  Effect.sync(() => process.stdout.write(`${JSON.stringify(figure)}\n`))

const tempDb = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batchfx-jobs-bench-"))
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, "jobs.db")
}

/** A store whose every statement is counted (by kind), in one process. */
const countingStore = (file: string) => {
  const counts = { statements: 0, writes: 0, storeWrites: 0 }
  const client = Libsql.createClient({ url: `file:${file}`, intMode: "bigint" })
  const count = (sql: string) => {
    counts.statements++
    if (/^\s*(INSERT|UPDATE|DELETE|REPLACE)/i.test(sql)) {
      counts.writes++
      if (/batchfx_/.test(sql)) counts.storeWrites++
    }
  }
  const wrap = <C extends object>(target: C): C =>
    new Proxy(target, {
      get(t, property, receiver) {
        const value = Reflect.get(t, property, receiver)
        if (property === "execute") {
          return (stmt: Libsql.InStatement) => {
            count(typeof stmt === "string" ? stmt : stmt.sql)
            return (value as (s: Libsql.InStatement) => Promise<unknown>).call(t, stmt)
          }
        }
        if (property === "transaction") {
          return async (mode?: Libsql.TransactionMode) =>
            wrap(await (value as (m?: Libsql.TransactionMode) => Promise<object>).call(t, mode))
        }
        return typeof value === "function" ? value.bind(t) : value
      }
    })
  // the pragmas of `Jobs.layerSql` (one connection here, so no busy wait is needed)
  const pragmas = Effect.promise(async () => {
    await client.execute("PRAGMA journal_mode = WAL")
    await client.execute("PRAGMA synchronous = NORMAL")
  })
  const layer = JobStore.layer.pipe(
    Layer.provideMerge(Layer.unwrapEffect(Effect.as(pragmas, LibsqlClient.layer({ liveClient: wrap(client) })))),
    Layer.orDie
  )
  return { counts, layer }
}

const emulator = FakeOpenAi.layer({
  durations: { validating: "100 millis", inProgress: "300 millis", finalizing: "100 millis" }
})

const clientLayer = Layer.unwrapEffect(
  Effect.map(
    FakeOpenAi.FakeOpenAi,
    (fake) => Jobs.layerClient({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.baseUrl })
  )
)

const workerOptions = (maxLines: number): Jobs.WorkerOptions => ({
  poll: Schedule.spaced("1 second"),
  limits: { maxLines },
  pickUp: "50 millis"
})

/** Figure 1: statements per shard of one job of `shards` shards. */
const overhead = (shards: number) =>
  Effect.gen(function*() {
    const { counts, layer } = countingStore(tempDb())
    yield* Effect.gen(function*() {
      const lines = Array.from({ length: shards * 2 }, (_, i) => line(0, i))
      const jobId = yield* Jobs.submit(lines, { endpoint: chat })
      const before = { ...counts }
      yield* Jobs.awaitJob(jobId, "20 millis").pipe(Effect.provide(Jobs.layerWorker(workerOptions(2))), Effect.scoped)
      yield* print({
        figure: "store statements per shard",
        shards,
        statementsPerShard: Math.round((counts.statements - before.statements) / shards),
        writesPerShard: Math.round((counts.writes - before.writes) / shards),
        jobStoreWritesPerShard: Math.round((counts.storeWrites - before.storeWrites) / shards),
        note: "statements include the engine's storage polls while the job ran"
      })
    }).pipe(Effect.provide(Layer.merge(layer, clientLayer)))
  })

/** Figure 2: `n` jobs of 2 shards on one worker. */
const manyJobs = (n: number) =>
  Effect.gen(function*() {
    const { counts, layer } = countingStore(tempDb())
    yield* Effect.gen(function*() {
      // the uploads and batches of this figure alone (figure 1 ran on the same emulator)
      yield* Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.resetCounters)
      const ids: Array<string> = []
      const submitted = Date.now()
      for (let j = 0; j < n; j++) ids.push(yield* Jobs.submit([line(j, 1), line(j, 2)], { endpoint: chat }))
      const submitMs = Date.now() - submitted
      const started = Date.now()
      yield* Effect.forEach(ids, (id) => Jobs.awaitJob(id, "200 millis"), { concurrency: 50, discard: true }).pipe(
        Effect.provide(Jobs.layerWorker({ ...workerOptions(1), shardConcurrency: 2 })),
        Effect.scoped
      )
      const wallMs = Date.now() - started
      const statuses = yield* Jobs.list
      const counters = yield* Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.counters)
      const ok = (route: string) =>
        counters.filter((c) => c.route === route && c.status === 200).reduce((n, c) => n + c.count, 0)
      yield* print({
        figure: "jobs of 2 shards on one worker",
        jobs: n,
        submitMs,
        wallMs,
        jobsPerMinute: Math.round(n / (wallMs / 60_000)),
        completed: statuses.filter((j) => j.status === "completed").length,
        // exactly 2 of each per job: nothing uploaded or created twice under load
        uploads: ok("POST /v1/files"),
        batchesCreated: ok("POST /v1/batches"),
        statements: counts.statements
      })
    }).pipe(Effect.provide(Layer.merge(layer, clientLayer)))
  })

/** Figure 3: from a restart to the first poll. */
const restart = Effect.gen(function*() {
  const fake = yield* FakeOpenAi.make({ durations: { inProgress: "1 hour" } })
  const polls: Array<number> = []
  const requests: Array<number> = []
  yield* HttpServer.serveEffect(Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    requests.push(Date.now())
    if (request.method === "GET" && /\/v1\/batches\/batch_/.test(request.url)) polls.push(Date.now())
    return yield* fake.app
  }))
  const address = (yield* HttpServer.HttpServer).address
  const baseUrl = address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}/v1` : ""
  const db = tempDb()
  const jobId = yield* Jobs.submit([line(0, 1)], { endpoint: chat }).pipe(
    Effect.provide(Jobs.layerStore(`file:${db}`).pipe(Layer.provide(NodeContext.layer), Layer.orDie))
  )
  const env = {
    PATH: process.env["PATH"] ?? "",
    BATCHFX_STORE: `file:${db}`,
    OPENAI_BASE_URL: baseUrl,
    OPENAI_API_KEY: fake.apiKey,
    JOB_ID: jobId
  }
  const start = () => spawn(process.execPath, [fixture], { env, stdio: "ignore" })
  const until = (p: () => boolean) =>
    Effect.promise(async () => {
      while (!p()) await new Promise((r) => setTimeout(r, 5))
    })
  const kill = (child: ChildProcess) =>
    Effect.async<void>((resume) => {
      child.once("exit", () => resume(Effect.void))
      child.kill("SIGKILL")
    })
  const coldStart = Date.now()
  const first = start()
  yield* until(() => requests.length > 0)
  const coldFirstRequestMs = requests[0]! - coldStart
  yield* until(() => polls.length >= 2)
  yield* kill(first)
  const pollsBefore = polls.length
  const restarted = Date.now()
  const second = start()
  yield* until(() => polls.length > pollsBefore)
  const resumedPollMs = polls[pollsBefore]! - restarted
  yield* kill(second)
  yield* print({ figure: "restart to resumed polling", coldFirstRequestMs, resumedPollMs })
}).pipe(Effect.provide(NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" })), Effect.scoped)

const program = Effect.gen(function*() {
  if (only.has(1)) yield* overhead(4)
  if (only.has(2)) yield* manyJobs(jobsCount)
  if (only.has(3)) yield* restart
  yield* MultiWorker.figures(only, { throughputJobs: pgJobs, failoverJobs, failoverWorkers })
}).pipe(
  Effect.provide(emulator),
  Effect.provide(Layer.merge(NodeContext.layer, NodeHttpClient.layerUndici))
)

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Failure") process.stderr.write(`bench failed: ${String(exit.cause)}\n`)
  process.exit(exit._tag === "Success" ? 0 : 1)
})
