/**
 * Figures 4 and 5 of the jobs bench: worker processes (the multi-worker test's
 * `test/fixtures/clusterWorker.ts`) sharing one Postgres store.
 * Postgres is started by the bench on 127.0.0.1 (test/postgresServer.ts: `initdb` in a temporary
 * directory, stopped and removed at the end), with a fresh database for each run; the emulator is
 * served from this process on 127.0.0.1 and sees every request of the workers.
 *
 * 4. the same `n` jobs of 3 one-line shards with 1, 2 and 3 workers: from the first submit to all
 *    jobs ended (wall time, jobs a minute), uploads and batches counted at the emulator;
 * 5. failover: the worker holding most running jobs is SIGKILLed once one of their batches has been
 *    polled; from the kill to another worker's first poll of one of its batches (and of all of
 *    them), to its shard locks all held by the others, and to all its jobs done.
 *
 * Without Postgres's binaries each figure prints `notRun` with one sentence instead of numbers.
 * With `BENCH_WORKER_LOGS` set, figure 4 writes the end of each worker's log to stderr.
 */
import { Jobs } from "@batchfx/jobs"
import * as JobStore from "@batchfx/jobs/JobStore"
import type { FakeOpenAi } from "@batchfx/testkit"
import { HttpServerRequest } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { Duration, Effect, Fiber, Layer, Schedule } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as PostgresServer from "../test/postgresServer.js"
import * as WorkerProcess from "../test/workerProcess.js"
const chat = "/v1/chat/completions"

/** Shards of every job of figures 4 and 5 (one line each: the worker's `maxLines` is 1). */
export const shardsPerJob = 3

/** The worker counts of figure 4. */
export const workerCounts = [1, 2, 3] as const

/** The names figures 4 and 5 print under `figure`. */
export const throughputFigure = (workers: number) => `jobs on Postgres, ${workers} worker${workers === 1 ? "" : "s"}`
export const failoverFigure = "failover on Postgres"

/** Shard locks of the cluster (`shardsPerGroup` of `Jobs.singleRunnerSharding`, one group). */
const clusterShards = 300

const print = (figure: Record<string, unknown>) =>
  Effect.sync(() => process.stdout.write(`${JSON.stringify(figure)}\n`))

const load1 = () => Math.round(os.loadavg()[0]! * 100) / 100

const jobLines = (job: number) =>
  Array.from({ length: shardsPerJob }, (_, i) => ({
    custom_id: `job-${job}-req-${i}`,
    method: "POST" as const,
    url: chat,
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i} of job ${job}` }] }
  }))

/** Figure 4's batches: 1.4 s from create to completed. */
const throughputDurations = { validating: "200 millis", inProgress: "1 second", finalizing: "200 millis" } as const
/** Figure 5's batches: in progress 5 s, so that the one killed is polling them (every second). */
const failoverDurations = { validating: "200 millis", inProgress: "5 seconds", finalizing: "200 millis" } as const

/**
 * The emulator on a socket of 127.0.0.1, until the scope closes, with the arrival time of every
 * poll (`GET /v1/batches/{id}`) by batch id.
 */
const servedEmulator = (options: FakeOpenAi.Options) => {
  const polls = new Map<string, Array<number>>()
  return WorkerProcess.servedEmulator(options, (fake) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const poll = request.method === "GET" ? /\/v1\/batches\/([^/?]+)(?:\?|$)/.exec(request.url) : null
      if (poll !== null) {
        const times = polls.get(poll[1]!) ?? []
        times.push(Date.now())
        polls.set(poll[1]!, times)
      }
      return yield* fake.app
    })).pipe(Effect.map((served) => ({ ...served, polls })))
}

/**
 * Worker processes polling each batch every second (as figure 2's worker does), one line per
 * shard, looking for new jobs every second (as `batchfx jobs run` does).
 */
const startWorkers = (count: number, env: Record<string, string>) =>
  Effect.all(
    Array.from(
      { length: count },
      () => WorkerProcess.startWorker({ ...env, POLL: "1 second", PICK_UP: "1 second", MAX_LINES: "1" })
    ),
    { concurrency: "unbounded" }
  )

/** CPU ms a live process has used (user and system, from /proc; 0 where /proc is missing). */
const cpuMsOf = (pid: number | undefined): number => {
  try {
    // the fields after the command's closing parenthesis: utime and stime are the 12th and 13th
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return Math.round((Number(fields[11]) + Number(fields[12])) * 1000 / 100)
  } catch {
    return 0
  }
}

const kill = (worker: WorkerProcess.WorkerProcess) =>
  Effect.async<void>((resume) => {
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) return resume(Effect.void)
    worker.child.once("exit", () => resume(Effect.void))
    worker.child.kill("SIGKILL")
  })

const logsOf = (workers: ReadonlyArray<WorkerProcess.WorkerProcess>) => () =>
  workers.map((w) => `--- worker ${w.id}\n${w.stderr().slice(-2000)}`).join("\n")

/** The cluster's shard locks: how many, held by how many runners. */
const locks = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql<{ readonly runners: number; readonly locks: number }>`
      SELECT COUNT(DISTINCT address)::int AS runners, COUNT(*)::int AS locks FROM cluster_locks`
).pipe(Effect.map((rows) => rows[0] ?? { runners: 0, locks: 0 }))

/** Waits until every shard lock is held and `runners` runners hold them, for at most `limit`. */
const locksHeldBy = (runners: number, limit: Duration.DurationInput, logs: () => string) =>
  locks.pipe(
    Effect.filterOrFail((l) => l.runners === runners && l.locks === clusterShards),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutFail({
      duration: limit,
      onTimeout: () =>
        new Error(
          `the ${clusterShards} shard locks were not held by ${runners} workers within ${
            Duration.format(Duration.decode(limit))
          }\n${logs()}`
        )
    })
  )

/** Polls the store every 100 ms until `done` holds of its jobs, for at most `limit`. */
const untilJobs = (
  done: (jobs: ReadonlyArray<JobStore.Job>) => boolean,
  limit: Duration.DurationInput,
  logs: () => string,
  observe: (jobs: ReadonlyArray<JobStore.Job>) => void = () => {}
) =>
  Effect.suspend(() => {
    let last: ReadonlyArray<JobStore.Job> = []
    return Jobs.list.pipe(
      Effect.tap((jobs) => {
        last = jobs
        observe(jobs)
      }),
      Effect.filterOrFail(done, () => "not yet" as const),
      Effect.retry({ schedule: Schedule.spaced("100 millis"), while: (e) => e === "not yet" }),
      Effect.timeoutFail({
        duration: limit,
        onTimeout: () => {
          const counts: Record<string, number> = {}
          for (const job of last) counts[job.status] = (counts[job.status] ?? 0) + 1
          return new Error(
            `jobs not done within ${Duration.format(Duration.decode(limit))}: ${JSON.stringify(counts)}\n${logs()}`
          )
        }
      })
    )
  })

const allEnded = (jobs: ReadonlyArray<JobStore.Job>) =>
  jobs.every((j) => j.status !== "pending" && j.status !== "running")

/** Uploads and batches the emulator created (answered 200). */
const created = (fake: FakeOpenAi.Service) =>
  Effect.map(fake.counters, (counters) => {
    const ok = (route: string) =>
      counters.filter((c) => c.route === route && c.status === 200).reduce((n, c) => n + c.count, 0)
    const all = (route: string) => counters.filter((c) => c.route === route).reduce((n, c) => n + c.count, 0)
    return {
      uploads: ok("POST /v1/files"),
      batchesCreated: ok("POST /v1/batches"),
      // every request the workers sent, and the polls of batches among them
      requests: counters.reduce((n, c) => n + c.count, 0),
      polls: all("GET /v1/batches/{id}")
    }
  })

const storeLayer = (url: string) => Jobs.layerStore(url).pipe(Layer.provide(NodeContext.layer), Layer.orDie)

/** A run against a fresh database and emulator: the workers' environment, and the store in context. */
const onFreshStore = <A, E, R>(
  durations: Partial<FakeOpenAi.Durations>,
  body: (
    env: Record<string, string>,
    emulator: Effect.Effect.Success<ReturnType<typeof servedEmulator>>
  ) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const emulator = yield* servedEmulator({ durations })
    const url = yield* PostgresServer.freshDatabase
    const env = { BATCHFX_STORE: url, OPENAI_BASE_URL: emulator.baseUrl, OPENAI_API_KEY: emulator.fake.apiKey }
    // the store's tables are made here, before the workers start
    return yield* body(env, emulator).pipe(Effect.provide(storeLayer(url)))
  }).pipe(Effect.scoped)

/** Figure 4 for one worker count. */
const throughput = (workers: number, n: number) =>
  onFreshStore(throughputDurations, (env, { fake }) =>
    Effect.gen(function*() {
      const loadBefore = load1()
      const spawned = Date.now()
      const procs = yield* startWorkers(workers, env)
      const logs = logsOf(procs)
      yield* locksHeldBy(workers, "2 minutes", logs)
      const settleMs = Date.now() - spawned
      const cpuBefore = procs.map((w) => cpuMsOf(w.child.pid))
      const benchCpuBefore = process.cpuUsage()
      // every 500 ms, whether every shard lock is held by one of the workers (a lock lost under
      // load stops its jobs until it expires and is taken again)
      const lockSamples = { all: 0, short: 0 }
      const sampler = yield* locks.pipe(
        Effect.tap((l) =>
          Effect.sync(() => {
            lockSamples.all++
            if (l.runners !== workers || l.locks !== clusterShards) lockSamples.short++
          })
        ),
        Effect.ignore,
        Effect.repeat(Schedule.spaced("500 millis")),
        Effect.fork
      )
      const started = Date.now()
      for (let j = 0; j < n; j++) yield* Jobs.submit(jobLines(j), { endpoint: chat })
      const submitMs = Date.now() - started
      let halfMs = -1
      const jobs = yield* untilJobs(allEnded, "15 minutes", logs, (jobs) => {
        if (halfMs < 0 && jobs.filter((j) => JobStore.isFinished(j.status)).length * 2 >= n) {
          halfMs = Date.now() - started
        }
      })
      const wallMs = Date.now() - started
      const benchCpu = process.cpuUsage(benchCpuBefore)
      yield* Fiber.interrupt(sampler)
      yield* print({
        figure: throughputFigure(workers),
        workers,
        jobs: n,
        shardsPerJob,
        settleMs,
        submitMs,
        halfMs,
        wallMs,
        jobsPerMinute: Math.round(n / (wallMs / 60_000)),
        lockSamples: lockSamples.all,
        lockSamplesShort: lockSamples.short,
        // CPU from the first submit to the end: the workers', and this process's (emulator, submits, store polls)
        workersCpuMs: procs.reduce((sum, w, i) => sum + cpuMsOf(w.child.pid) - cpuBefore[i]!, 0),
        benchCpuMs: Math.round((benchCpu.user + benchCpu.system) / 1000),
        completed: jobs.filter((j) => j.status === "completed").length,
        ...(yield* created(fake)),
        loadBefore,
        loadAfter: load1()
      })
      if (process.env["BENCH_WORKER_LOGS"] !== undefined) yield* Effect.sync(() => process.stderr.write(logs()))
    }))

/** Figure 5. */
const failover = (workers: number, n: number) =>
  onFreshStore(failoverDurations, (env, { fake, polls }) =>
    Effect.gen(function*() {
      const loadBefore = load1()
      const procs = yield* startWorkers(workers, env)
      const logs = logsOf(procs)
      yield* locksHeldBy(workers, "2 minutes", logs)
      for (let j = 0; j < n; j++) yield* Jobs.submit(jobLines(j), { endpoint: chat })

      // the victim: the worker recorded on most running jobs, once one of their batches was polled
      const victim = yield* Effect.gen(function*() {
        const jobs = yield* Jobs.list
        const holding = (id: string) => jobs.filter((j) => j.status === "running" && j.worker === id)
        const worker = procs.reduce((a, b) => holding(b.id).length > holding(a.id).length ? b : a)
        const held = holding(worker.id)
        const reports = yield* Effect.forEach(held, (j) => Jobs.status(j.id))
        const polled = reports.some((r) => r.shards.some((s) => s.batchId !== undefined && polls.has(s.batchId)))
        return polled ? { worker, jobs: held.map((j) => j.id) } : yield* Effect.fail("not yet" as const)
      }).pipe(
        Effect.retry({ schedule: Schedule.spaced("50 millis"), while: (e) => e === "not yet" }),
        Effect.timeoutFail({
          duration: "2 minutes",
          onTimeout: () => new Error(`no batch polled in 2 minutes\n${logs()}`)
        })
      )
      yield* kill(victim.worker)
      const killedAt = Date.now()
      const loadAtKill = load1()

      // the dead worker's jobs (those it ran when killed) and the batches the store holds for them
      const reports = yield* Effect.forEach(victim.jobs, (id) => Jobs.status(id))
      const batchIds = reports.flatMap((r) => r.shards.flatMap((s) => s.batchId === undefined ? [] : [s.batchId]))
      const inProgressAtKill = reports.flatMap((r) =>
        r.shards.filter((s) => s.batchId !== undefined && s.batchStatus !== "completed")
      ).length

      const [locksMovedMs, victimDoneMs] = yield* Effect.all([
        Effect.map(locksHeldBy(workers - 1, "5 minutes", logs), () => Date.now() - killedAt),
        Effect.map(
          untilJobs(
            (jobs) => victim.jobs.every((id) => jobs.some((j) => j.id === id && j.status !== "running")),
            "5 minutes",
            logs
          ),
          () => Date.now() - killedAt
        )
      ], { concurrency: 2 })
      const jobs = yield* untilJobs(allEnded, "5 minutes", logs)
      const allDoneMs = Date.now() - killedAt

      // polls after the kill come from the workers left
      const firstPolls = batchIds.map((id) => (polls.get(id) ?? []).find((t) => t > killedAt))
      const seen = firstPolls.filter((t): t is number => t !== undefined).map((t) => t - killedAt)
      const finishedBy = yield* Effect.forEach(victim.jobs, (id) => Effect.map(Jobs.status(id), (r) => r.worker))
      yield* print({
        figure: failoverFigure,
        workers,
        jobs: n,
        shardsPerJob,
        victimJobs: victim.jobs.length,
        victimBatches: batchIds.length,
        victimBatchesInProgressAtKill: inProgressAtKill,
        firstPollMs: seen.length > 0 ? Math.min(...seen) : -1,
        allPolledMs: seen.length === batchIds.length && seen.length > 0 ? Math.max(...seen) : -1,
        locksMovedMs,
        victimDoneMs,
        allDoneMs,
        victimJobsCompleted: victim.jobs.filter((id) => jobs.some((j) => j.id === id && j.status === "completed"))
          .length,
        victimJobsFinishedElsewhere: finishedBy.filter((w) => w !== undefined && w !== victim.worker.id).length,
        completed: jobs.filter((j) => j.status === "completed").length,
        ...(yield* created(fake)),
        loadBefore,
        loadAtKill,
        loadAfter: load1()
      })
    }))

/** Why figures 4 and 5 cannot run here, in one sentence; undefined when Postgres is installed. */
export const missingPostgres = (): string | undefined =>
  PostgresServer.binDir() === undefined
    ? "Postgres is not installed (no initdb and postgres in /usr/lib/postgresql/*/bin, BATCHFX_PG_BIN or PATH): figures 4 and 5 were not run; `apt-get install -y postgresql` provides them."
    : undefined

/**
 * Figures 4 and 5 as `only` selects them, on one Postgres server started here; without Postgres,
 * each prints `notRun` and one sentence on stderr.
 */
export const figures = (
  only: ReadonlySet<number>,
  sizes: { readonly throughputJobs: number; readonly failoverJobs: number; readonly failoverWorkers: number }
) =>
  Effect.gen(function*() {
    const names = [
      ...(only.has(4) ? workerCounts.map(throughputFigure) : []),
      ...(only.has(5) ? [failoverFigure] : [])
    ]
    if (names.length === 0) return
    const missing = missingPostgres()
    if (missing !== undefined) {
      yield* Effect.sync(() => process.stderr.write(`${missing}\n`))
      for (const figure of names) yield* print({ figure, notRun: missing })
      return
    }
    yield* Effect.gen(function*() {
      if (only.has(4)) { for (const workers of workerCounts) yield* throughput(workers, sizes.throughputJobs) }
      if (only.has(5)) yield* failover(sizes.failoverWorkers, sizes.failoverJobs)
    }).pipe(Effect.provide(PostgresServer.layer))
  })
