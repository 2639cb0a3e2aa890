/**
 * Many workers, one queue: three worker processes share thirty jobs of three shards each on a real
 * Postgres, under the emulator's enqueued-token limit of two shards; one worker is SIGKILLed while
 * it holds jobs, and the others finish them. Every job completes, no batch is refused, no file or
 * batch is made twice, and the results equal those of the same jobs on SQLite with one worker.
 *
 * The workers run the built JavaScript of `fixtures/clusterWorker.ts`, which `beforeAll` brings up
 * to date.
 */
import { BatchClient } from "@batchfx/client"
import type { RequestLine } from "@batchfx/core"
import { Jobs } from "@batchfx/jobs"
import type * as JobStore from "@batchfx/jobs/JobStore"
import * as TokenCount from "@batchfx/jobs/TokenCount"
import type { FakeOpenAi } from "@batchfx/testkit"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Logger, Redacted, Schedule, Stream } from "effect"
import * as PostgresServer from "./postgresServer.js"
import { chat, tempStore } from "./utils.js"
import { buildFixtures, servedEmulator, startWorker } from "./workerProcess.js"

beforeAll(buildFixtures, 120_000)

/** Three models, ten jobs each: the limit holds per model, as the API's does. */
const models = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"] as const
const modelOf = (k: number) => models[k % models.length]!
const jobCount = 30
const linesPerJob = 9
const maxLines = 3
const shardsPerJob = linesPerJob / maxLines

/** Job `k`'s lines; every fifth fails at the emulator, so results hold both kinds. */
const jobLines = (k: number): ReadonlyArray<RequestLine.BatchRequestLine> =>
  Array.from({ length: linesPerJob }, (_, i) => ({
    custom_id: `j${k}-${i + 1}`,
    method: "POST",
    url: chat,
    body: { model: modelOf(k), messages: [{ role: "user", content: `question ${i + 1} of job ${k}` }] }
  }))

/** Per model, the tokens of its largest shard of any job: the limit fits two such shards and never three. */
const twoShards = Effect.gen(function*() {
  const limits: Record<string, number> = {}
  for (let k = 0; k < jobCount; k++) {
    const lines = jobLines(k)
    for (let i = 0; i < linesPerJob; i += maxLines) {
      const totals = yield* TokenCount.ofLines(lines.slice(i, i + maxLines))
      for (const [model, tokens] of totals) limits[model] = Math.max(limits[model] ?? 0, 2 * tokens)
    }
  }
  return limits
})

const emulatorOptions = (tokenLimit: { readonly [model: string]: number } | undefined): FakeOpenAi.Options => ({
  durations: { validating: "100 millis", inProgress: "300 millis", finalizing: "100 millis" },
  tokenLimit,
  failLine: (request) => request.customId.endsWith("-5")
})

/** Polls the store until `done` holds of its jobs, for at most `limit`; a timeout tells where the jobs were. */
const waitFor = (
  done: (jobs: ReadonlyArray<JobStore.Job>) => boolean,
  limit: string,
  logs: () => string = () => ""
) =>
  Effect.suspend(() => {
    let last: ReadonlyArray<JobStore.Job> = []
    return Jobs.list.pipe(
      Effect.tap((jobs) => (last = jobs)),
      Effect.filterOrFail(done, () => "not yet" as const),
      Effect.retry({ schedule: Schedule.spaced("250 millis"), while: (e) => e === "not yet" }),
      Effect.timeoutFail({
        duration: limit as "1 minute",
        onTimeout: () => {
          const counts: Record<string, number> = {}
          for (const job of last) counts[job.status] = (counts[job.status] ?? 0) + 1
          return new Error(`jobs not done within ${limit}: ${JSON.stringify(counts)}\n${logs()}`)
        }
      })
    )
  })

/** A job's results as comparable text, in custom_id order: the outcome, and the answer's text or error. */
const resultsOf = (jobId: string) =>
  Stream.runCollect(Jobs.results(jobId)).pipe(
    Effect.map((chunk) =>
      Chunk.toReadonlyArray(chunk).map((r) =>
        r._tag === "Succeeded"
          ? `${r.customId} ok ${
            (r.body as { choices: ReadonlyArray<{ message: { content: string } }> }).choices[0]!.message.content
          }`
          : `${r.customId} ${r._tag} ${
            JSON.stringify([
              (r as { statusCode?: unknown }).statusCode,
              (r as { code?: unknown }).code,
              (r as { message?: unknown }).message
            ])
          }`
      ).sort()
    )
  )

/** Every job's results by name. */
const allResults = (jobs: ReadonlyArray<JobStore.Job>) =>
  Effect.map(
    Effect.forEach(jobs, (job) => Effect.map(resultsOf(job.id), (lines) => [job.name ?? job.id, lines] as const)),
    (entries) => Object.fromEntries(entries)
  )

const submitAll = Effect.forEach(
  Array.from({ length: jobCount }, (_, k) => k),
  (k) => Jobs.submit(jobLines(k), { endpoint: chat, name: `job ${k}` })
)

/** What the emulator holds: batches by status, refusals, and the distinct input files. */
const atEmulator = Effect.gen(function*() {
  const client = yield* BatchClient.BatchClient
  const batches = Chunk.toReadonlyArray(yield* Stream.runCollect(client.list({ limit: 100 })))
  return {
    batches: batches.length,
    completed: batches.filter((b) => b.status === "completed").length,
    refused: batches.filter((b) => b.errors?.data?.some((e) => e.code === "token_limit_exceeded")).length,
    inputs: new Set(batches.map((b) => b.input_file_id)).size
  }
})

/** Waits until a runner is registered at `address` in the store's cluster tables. */
const waitForRunner = (address: string) =>
  Effect.flatMap(
    SqlClient.SqlClient,
    (sql) =>
      sql<{ readonly n: number }>`SELECT COUNT(*)::int AS n FROM cluster_runners WHERE address = ${address}`.pipe(
        Effect.catchAll(() => Effect.succeed([{ n: 0 }])),
        Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (rows) => rows[0]?.n === 1 }),
        Effect.timeoutFail({
          duration: "1 minute",
          onTimeout: () => new Error(`no runner at ${address} within a minute`)
        })
      )
  )

const clientOf = (baseUrl: string, apiKey: string) =>
  BatchClient.layer({ apiKey: Redacted.make(apiKey), baseUrl }).pipe(Layer.provide(NodeHttpClient.layerUndici))

/** A worker in this process on the store at `url`, with a pool of its own (as a separate process has). */
const workerOn = (
  url: string,
  emulator: { readonly baseUrl: string; readonly apiKey: string },
  options: Jobs.WorkerOptions
) =>
  Jobs.layerWorker(options).pipe(
    Layer.provide(clientOf(emulator.baseUrl, emulator.apiKey)),
    Layer.provide(Jobs.layerStore(url)),
    Layer.provide(NodeContext.layer)
  )

/** The emulator served to other processes, a fresh database, and workers in this process on it. */
const onFreshDatabase = Effect.gen(function*() {
  const { baseUrl, fake } = yield* servedEmulator(emulatorOptions(undefined))
  const url = yield* PostgresServer.freshDatabase
  const worker = (options: Jobs.WorkerOptions) => workerOn(url, { baseUrl, apiKey: fake.apiKey }, options)
  return { baseUrl, fake, url, worker }
})

describe("many workers, one queue", () => {
  it.live(
    "three workers on Postgres, one SIGKILLed and one stopped while holding jobs: every job completes once, under the token limit, as on SQLite",
    () =>
      Effect.gen(function*() {
        const limits = yield* twoShards
        const { baseUrl, fake } = yield* servedEmulator(emulatorOptions(limits))
        const url = yield* PostgresServer.freshDatabase
        const store = Jobs.layerStore(url).pipe(Layer.provide(NodeContext.layer), Layer.orDie)
        yield* submitAll.pipe(Effect.provide(store))

        const env = {
          BATCHFX_STORE: url,
          OPENAI_BASE_URL: baseUrl,
          OPENAI_API_KEY: fake.apiKey,
          MAX_LINES: String(maxLines),
          BATCHFX_TOKEN_LIMITS: Object.entries(limits).map(([model, limit]) => `${model}=${limit}`).join(",")
        }
        const workers = yield* Effect.all([startWorker(env), startWorker(env), startWorker(env)])

        // A third of the way, one worker is SIGKILLed; two thirds of the way, another stops answering
        // (SIGSTOP: its connections stay open, as a machine that lost its network); each time the one
        // recorded on most running jobs, so that it held work.
        const logs = () => workers.map((w) => w.stderr().slice(-3000)).join("\n")
        const live = new Set(workers)
        const stopAfter = (batches: number, signal: NodeJS.Signals) =>
          Effect.gen(function*() {
            yield* fake.requestCount("POST /v1/batches").pipe(
              Effect.repeat({ schedule: Schedule.spaced("250 millis"), until: (n) => n >= batches }),
              Effect.timeoutFail({
                duration: "3 minutes",
                onTimeout: () => new Error(`${batches} batches not made in 3 minutes\n${logs()}`)
              })
            )
            const jobs = yield* Jobs.list.pipe(Effect.provide(store))
            const holding = (id: string) => jobs.filter((j) => j.status === "running" && j.worker === id)
            const victim = [...live].reduce((a, b) => holding(b.id).length > holding(a.id).length ? b : a)
            assert.isAbove(holding(victim.id).length, 0, `the worker sent ${signal} held running jobs`)
            live.delete(victim)
            victim.child.kill(signal)
            return { victim, jobs: holding(victim.id).map((j) => j.id) }
          })
        const stopped = [yield* stopAfter(30, "SIGKILL"), yield* stopAfter(55, "SIGSTOP")]

        const finished = yield* waitFor(
          (jobs) => jobs.every((j) => j.status !== "pending" && j.status !== "running"),
          "4 minutes",
          logs
        )
          .pipe(Effect.provide(store))
        assert.deepStrictEqual(
          finished.filter((j) => j.status !== "completed").map((j) => `${j.name} ${j.status} ${j.error}`),
          [],
          workers.map((w) => w.stderr()).join("\n")
        )
        // Every job of a stopped worker completed (above): a killed or stopped process ends none,
        // so the others finished each one still running when the signal came. (`worker` is not
        // evidence: a worker records itself on a job only at some steps.)
        assert.deepStrictEqual(stopped.map((v) => v.jobs.length > 0), [true, true])

        const shards = jobCount * shardsPerJob
        assert.strictEqual(yield* fake.requestCount("POST /v1/files"), shards, "uploads")
        assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), shards, "batches created")
        const held = yield* atEmulator.pipe(Effect.provide(clientOf(baseUrl, fake.apiKey)))
        assert.deepStrictEqual(held, { batches: shards, completed: shards, refused: 0, inputs: shards })

        const onPostgres = yield* allResults(finished).pipe(Effect.provide(store))
        for (const [name, lines] of Object.entries(onPostgres)) {
          assert.strictEqual(lines.length, linesPerJob, `${name}: one result per line`)
          assert.strictEqual(new Set(lines.map((l) => l.split(" ")[0])).size, linesPerJob, `${name}: no line twice`)
        }

        // the same jobs on SQLite, one worker in this process, against an emulator of the same answers
        const sqlite = yield* servedEmulator(emulatorOptions(undefined))
        const sqliteStore = Jobs.layerStore(tempStore()).pipe(Layer.provide(NodeContext.layer), Layer.orDie)
        const sqliteWorker = Jobs.layerWorker({
          poll: Schedule.spaced("250 millis"),
          limits: { maxLines },
          pickUp: "200 millis"
        }).pipe(Layer.provide(clientOf(sqlite.baseUrl, sqlite.fake.apiKey)), Layer.orDie)
        const onSqlite = yield* Effect.gen(function*() {
          yield* submitAll
          const done = yield* waitFor((jobs) => jobs.every((j) => j.status === "completed"), "2 minutes")
          return yield* allResults(done)
        }).pipe(Effect.provide(sqliteWorker), Effect.provide(sqliteStore), Effect.scoped)
        assert.deepStrictEqual(onPostgres, onSqlite)
      }).pipe(Effect.provide(PostgresServer.layer), Effect.scoped),
    { timeout: 420_000 }
  )

  it.live(
    "six workers starting at the same moment on a new Postgres database all start",
    () =>
      Effect.gen(function*() {
        const { baseUrl, fake } = yield* servedEmulator(emulatorOptions(undefined))
        for (let round = 0; round < 3; round++) {
          const url = yield* PostgresServer.freshDatabase
          const worker = workerOn(url, { baseUrl, apiKey: fake.apiKey }, { pickUp: "1 second" })
          const started = yield* Effect.all(
            Array.from({ length: 6 }, () => Effect.exit(Layer.build(worker))),
            { concurrency: "unbounded" }
          ).pipe(Effect.scoped)
          assert.deepStrictEqual(
            started.filter((exit) => exit._tag === "Failure").map(String),
            [],
            `round ${round}`
          )
        }
      }).pipe(Effect.provide(PostgresServer.layer), Effect.scoped),
    { timeout: 180_000 }
  )

  it.live(
    "a worker at the address of a live one fails with one sentence; once that one is killed, a worker takes its address and works",
    () =>
      Effect.gen(function*() {
        const { baseUrl, fake, url, worker } = yield* onFreshDatabase
        const store = Jobs.layerStore(url).pipe(Layer.provide(NodeContext.layer), Layer.orDie)
        const [port, otherPort] = yield* Effect.all([PostgresServer.freePort, PostgresServer.freePort])
        const address = `127.0.0.1:${port}`
        const env = { BATCHFX_STORE: url, OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: fake.apiKey }
        const first = yield* startWorker({ ...env, BATCHFX_RUNNER_ADDRESS: address })
        yield* waitForRunner(address).pipe(Effect.provide(store))

        // the same advertised address, spelled another way and listening elsewhere (a second
        // machine given the first's address)
        const twin = worker({ runnerAddress: `127.1:${port}`, listenAddress: `127.0.0.1:${otherPort}` })
        const refused = yield* Effect.flip(Effect.scoped(Layer.build(twin)))
        assert.include(String(refused), `another worker is registered at ${address} and alive`)

        first.child.kill("SIGKILL")
        const second = yield* startWorker({ ...env, BATCHFX_RUNNER_ADDRESS: address })
        const id = yield* Jobs.submit(jobLines(0), { endpoint: chat }).pipe(Effect.provide(store))
        const [done] = yield* waitFor((jobs) => jobs.every((j) => j.status === "completed"), "1 minute", second.stderr)
          .pipe(Effect.provide(store))
        assert.strictEqual(done?.id, id)
        assert.strictEqual(second.child.exitCode, null, second.stderr())
      }).pipe(Effect.provide(PostgresServer.layer), Effect.scoped),
    { timeout: 180_000 }
  )

  it.live(
    "two workers given one address at the same moment: one starts, the other fails with one sentence",
    () =>
      Effect.gen(function*() {
        const { worker } = yield* onFreshDatabase
        const [port, otherPort] = yield* Effect.all([PostgresServer.freePort, PostgresServer.freePort])
        const listeningOn = (listen: number) =>
          worker({ runnerAddress: `127.0.0.1:${port}`, listenAddress: `127.0.0.1:${listen}` })
        const started = yield* Effect.all(
          [Effect.exit(Layer.build(listeningOn(port))), Effect.exit(Layer.build(listeningOn(otherPort)))],
          { concurrency: "unbounded" }
        ).pipe(Effect.scoped)
        assert.deepStrictEqual(started.map((exit) => exit._tag).sort(), ["Failure", "Success"])
        const failed = started.find((exit) => exit._tag === "Failure")!
        assert.include(String(failed), `another worker is registered at 127.0.0.1:${port} and alive`)
      }).pipe(Effect.provide(PostgresServer.layer), Effect.scoped),
    { timeout: 120_000 }
  )

  it.live(
    "a worker whose runner address does not reach it says so once it has started; one listening on every interface behind its address does not",
    () =>
      Effect.gen(function*() {
        const { worker } = yield* onFreshDatabase
        const [nobody, listen, shared] = yield* Effect.all([
          PostgresServer.freePort,
          PostgresServer.freePort,
          PostgresServer.freePort
        ])
        const warnings: Array<string> = []
        const collect = Logger.replace(
          Logger.defaultLogger,
          Logger.make(({ logLevel, message }) => {
            if (logLevel._tag === "Warning") warnings.push(String(message))
          })
        )
        const started = (runnerAddress: string, listenAddress: string) =>
          Layer.build(worker({ runnerAddress, listenAddress })).pipe(
            Effect.scoped,
            Effect.provide(collect)
          )
        // a typo in the address: nothing answers at it
        yield* started(`127.0.0.1:${nobody}`, `127.0.0.1:${listen}`)
        assert.deepStrictEqual(warnings.filter((w) => w.includes("does not reach this worker")), [
          `the runner address 127.0.0.1:${nobody} does not reach this worker from its own machine (ECONNREFUSED): other workers will pass it by unless they reach it there`
        ])
        warnings.length = 0
        yield* started(`127.0.0.1:${shared}`, `0.0.0.0:${shared}`)
        assert.deepStrictEqual(warnings.filter((w) => w.includes("does not reach this worker")), [])
      }).pipe(Effect.provide(PostgresServer.layer), Effect.scoped),
    { timeout: 120_000 }
  )
})
