/**
 * Scenario 10 (issue 24): durable jobs (`@batchfx/jobs`) against the emulator. The figures come
 * from the jobs package's own bench (`packages/jobs/bench/jobs.ts`, built here with `tsc -b`, as
 * `pnpm bench` builds only the packages' sources), run once in a child process:
 *
 * 1. a job's own overhead: job-store writes (and every SQL statement, the engine's included) per shard;
 * 2. jobs of 2 shards scheduled on one worker (1,000; `--smoke` 20): wall time, and the uploads
 *    and batches the emulator created (exactly 2 of each per job when nothing is done twice);
 * 3. a worker process SIGKILLed while it polls, started again: time from its start to its first
 *    poll, beside a cold start's time to its first request;
 * 4. the same jobs of 3 shards (100; `--smoke` 6) with 1, 2 and 3 worker processes on one Postgres
 *    store (started by the bench on 127.0.0.1): wall time and jobs a minute side by side, and the
 *    uploads and batches the emulator created (exactly one of each per shard);
 * 5. failover: of 3 workers on Postgres (`--smoke` 2) running 30 jobs (`--smoke` 6), the one
 *    holding most running jobs SIGKILLed while their batches are polled: from the kill to another
 *    worker's first poll of one of its batches, and to all its jobs done.
 *
 * Without Postgres figures 4 and 5 print `notRun` with one sentence; their rows say "not run".
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import type { Raw, Row } from "./report.js"
import type { RunRecord } from "./run.js"

/** The scenario's number in the table. */
export const scenario = 10

/** Jobs scheduled on one worker: the 1,000, or a few for `--smoke`. */
export const jobsAt = (smoke: boolean): number => smoke ? 20 : 1000

/** Figures 4 and 5's sizes: jobs with 1, 2 and 3 workers, and the failover's jobs and workers. */
export const postgresSizesAt = (smoke: boolean) =>
  smoke ? { pgJobs: 6, failoverJobs: 6, failoverWorkers: 2 } : { pgJobs: 100, failoverJobs: 30, failoverWorkers: 3 }

/** The figures the jobs bench prints, one JSON object per line, each named by `figure`. */
type Figures = { readonly figure: string } & { readonly [name: string]: unknown }

const spawnFigures = async (
  exec: (command: string, args: ReadonlyArray<string>) => Promise<
    { readonly stdout: string; readonly stderr: string; readonly code: number | null; readonly wallMs: number }
  >,
  script: string,
  jobs: number,
  sizes: ReturnType<typeof postgresSizesAt>,
  smoke: boolean
) => {
  const result = await exec(process.execPath, [
    script,
    // figures 4 and 5 start Postgres and several workers and wait out a lock expiry: over a minute
    // of CI for figures MultiWorker.test already checks, so `--smoke` leaves them out
    ...(smoke ? ["--only", "1,2,3"] : []),
    "--jobs",
    String(jobs),
    "--pg-jobs",
    String(sizes.pgJobs),
    "--failover-jobs",
    String(sizes.failoverJobs),
    "--failover-workers",
    String(sizes.failoverWorkers)
  ])
  const figures = result.stdout.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l) as Figures)
  return { ...result, figures }
}

/**
 * Builds the jobs bench, runs it once, and records each figure as a run of its own (case = the
 * figure's name, `figures` = what it printed). A run that printed nothing is one failed record.
 */
export const run = async (
  options: { readonly smoke: boolean },
  repoDir: string,
  exec: Parameters<typeof spawnFigures>[0],
  records: Array<RunRecord>,
  log: (text: string) => void
): Promise<void> => {
  const tsc = join(repoDir, "node_modules", "typescript", "bin", "tsc")
  try {
    execFileSync(process.execPath, [tsc, "-b", "packages/jobs/tsconfig.bench.json"], { cwd: repoDir, stdio: "pipe" })
  } catch (error) {
    // tsc still writes what it can: the run below fails if the bench itself was not built
    const output = (error as { readonly stdout?: Buffer }).stdout?.toString().trim() ?? String(error)
    log(`  [${scenario}] tsc -b packages/jobs/tsconfig.bench.json reported errors: ${output.split("\n")[0]}`)
  }
  const jobs = jobsAt(options.smoke)
  const sizes = postgresSizesAt(options.smoke)
  log(
    `  [${scenario}] durable jobs: ${jobs} jobs of 2 shards on one worker (a few minutes at 1,000); ` +
      (options.smoke ? "" : `${sizes.pgJobs} jobs `) +
      (options.smoke
        ? "figures 4 and 5 (Postgres) left out in --smoke"
        : `of 3 shards with 1, 2 and 3 workers on Postgres; failover of ${sizes.failoverWorkers} workers`)
  )
  const script = join(repoDir, "packages", "jobs", "build", "bench", "jobs.js")
  const result = await spawnFigures(exec, script, jobs, sizes, options.smoke)
  const failed = result.code !== 0 || result.figures.length === 0
  const error = failed ? (result.stderr || result.stdout).trim().slice(-600) : undefined
  for (const figures of result.figures) {
    records.push({
      scenario,
      case: figures.figure,
      contender: "batchfx",
      run: 1,
      report: undefined,
      wallMs: result.wallMs,
      exitCode: result.code,
      figures: Object.fromEntries(
        Object.entries(figures).filter((e): e is [string, number] => typeof e[1] === "number")
      ),
      // a figure not run (no Postgres) carries its sentence where a failure carries its error
      ...(error === undefined ? {} : { error }),
      ...(typeof figures["notRun"] === "string" && error === undefined
        ? { error: `not run: ${figures["notRun"]}` }
        : {})
    })
    log(`  [${scenario}] ${JSON.stringify(figures)}`)
  }
  if (result.figures.length === 0) {
    records.push({
      scenario,
      case: "jobs bench",
      contender: "batchfx",
      run: 1,
      report: undefined,
      wallMs: result.wallMs,
      exitCode: result.code ?? 1,
      error
    })
    log(`  [${scenario}] FAILED (exit ${result.code}): ${error ?? ""}`)
  }
}

const fmt = (n: number | undefined, digits = 0): string =>
  n !== undefined && Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a"

/** The rows of scenario 10: one per figure, batchfx's column only. */
export const summarize = (raw: Raw): ReadonlyArray<Row> => {
  const rows: Array<Row> = []
  const find = (figure: string) =>
    raw.records.find((r) => r.scenario === scenario && r.case === figure && r.exitCode === 0)?.figures
  const base = { scenario, floor: "", sdk: "", ratio: "", runs: 1 }
  const overhead = find("store statements per shard")
  if (overhead !== undefined) {
    rows.push({
      ...base,
      case: `a job of ${fmt(overhead["shards"])} shards: the job's own overhead`,
      metric: "job-store writes per shard (all writes, all statements with the engine's)",
      batchfx: `${fmt(overhead["jobStoreWritesPerShard"])} (${fmt(overhead["writesPerShard"])}, ${
        fmt(overhead["statementsPerShard"])
      })`,
      target: "",
      met: undefined
    })
  }
  const many = find("jobs of 2 shards on one worker")
  if (many !== undefined) {
    const jobs = many["jobs"] ?? Number.NaN
    const exact = many["uploads"] === 2 * jobs && many["batchesCreated"] === 2 * jobs &&
      many["completed"] === jobs
    rows.push(
      {
        ...base,
        case: `${fmt(jobs)} jobs of 2 shards scheduled on one worker`,
        metric: "wall s until all ended (jobs a minute)",
        batchfx: `${fmt((many["wallMs"] ?? Number.NaN) / 1000, 1)} (${fmt(many["jobsPerMinute"])})`,
        target: "",
        met: undefined
      },
      {
        ...base,
        case: "the same jobs, counted at the emulator",
        metric: "uploads / batches created / jobs completed",
        batchfx: `${fmt(many["uploads"])} / ${fmt(many["batchesCreated"])} / ${fmt(many["completed"])}`,
        target: `exactly ${fmt(2 * jobs)} / ${fmt(2 * jobs)} / ${fmt(jobs)}`,
        met: Number.isFinite(jobs) ? exact : undefined
      }
    )
  }
  const restart = find("restart to resumed polling")
  if (restart !== undefined) {
    rows.push({
      ...base,
      case: "a worker SIGKILLed while it polls a batch, started again",
      metric: "ms from the new process's start to its first poll (a cold start's first request)",
      batchfx: `${fmt(restart["resumedPollMs"])} (${fmt(restart["coldFirstRequestMs"])})`,
      target: "",
      met: undefined
    })
  }
  rows.push(...postgresRows(raw, base))
  return rows
}

/** The figure names of figures 4 and 5 (as `packages/jobs/bench/multiWorker.ts` prints them). */
const throughputFigure = (workers: number) => `jobs on Postgres, ${workers} worker${workers === 1 ? "" : "s"}`
const failoverFigure = "failover on Postgres"

/** The rows of figures 4 and 5, or one "not run" row each when the bench found no Postgres. */
const postgresRows = (raw: Raw, base: Omit<Row, "case" | "metric" | "batchfx" | "target" | "met">) => {
  const rows: Array<Row> = []
  const records = raw.records.filter((r) => r.scenario === scenario && r.exitCode === 0)
  const find = (figure: string) => records.find((r) => r.case === figure && r.error === undefined)?.figures
  const notRun = (figure: string) => {
    const error = records.find((r) => r.case === figure)?.error
    return error?.startsWith("not run: ") ? error.slice("not run: ".length) : undefined
  }
  const notRunRow = (what: string, sentence: string): Row => ({
    ...base,
    case: what,
    metric: sentence,
    batchfx: "not run",
    target: "",
    met: undefined
  })
  const counts = [1, 2, 3].map((w) => find(throughputFigure(w)))
  const skipped = notRun(throughputFigure(1))
  if (skipped !== undefined) rows.push(notRunRow("jobs on Postgres with 1, 2 and 3 worker processes", skipped))
  for (const [i, f] of counts.entries()) {
    if (f === undefined) continue
    rows.push({
      ...base,
      case: `${fmt(f["jobs"])} jobs of ${fmt(f["shardsPerJob"])} shards, ${i + 1} worker process${
        i === 0 ? "" : "es"
      } on one Postgres store`,
      metric:
        "wall s from the first submit to all ended (jobs a minute; s to half ended; the workers' CPU s; samples of the shard locks, every 0.5 s, with one not held)",
      batchfx: `${fmt((f["wallMs"] ?? Number.NaN) / 1000, 1)} (${fmt(f["jobsPerMinute"])}; ${
        fmt((f["halfMs"] ?? Number.NaN) / 1000, 1)
      }; ${fmt((f["workersCpuMs"] ?? Number.NaN) / 1000, 1)}; ${fmt(f["lockSamplesShort"])} of ${
        fmt(f["lockSamples"])
      })`,
      target: "",
      met: undefined
    })
  }
  const ran = counts.filter((f) => f !== undefined)
  if (ran.length > 0) {
    const shards = (f: NonNullable<typeof ran[number]>) => (f["jobs"] ?? Number.NaN) * (f["shardsPerJob"] ?? Number.NaN)
    const exact = ran.every((f) =>
      f["uploads"] === shards(f) && f["batchesCreated"] === shards(f) && f["completed"] === f["jobs"]
    )
    rows.push({
      ...base,
      case: "the same jobs on Postgres, counted at the emulator (each worker count)",
      metric: "uploads / batches created / jobs completed",
      batchfx: ran.map((f) => `${fmt(f["uploads"])} / ${fmt(f["batchesCreated"])} / ${fmt(f["completed"])}`).join(
        "; "
      ),
      target: `exactly ${fmt(shards(ran[0]!))} / ${fmt(shards(ran[0]!))} / ${fmt(ran[0]!["jobs"])} each`,
      met: exact
    })
  }
  const failoverSkipped = notRun(failoverFigure)
  if (failoverSkipped !== undefined) rows.push(notRunRow("failover on Postgres", failoverSkipped))
  const failover = find(failoverFigure)
  if (failover !== undefined) {
    const s = (name: string) => fmt((failover[name] ?? Number.NaN) / 1000, 1)
    const shards = (failover["jobs"] ?? Number.NaN) * (failover["shardsPerJob"] ?? Number.NaN)
    const exact = failover["uploads"] === shards && failover["batchesCreated"] === shards &&
      failover["completed"] === failover["jobs"] && failover["victimJobsFinishedElsewhere"] === failover["victimJobs"]
    rows.push(
      {
        ...base,
        case: `of ${fmt(failover["workers"])} workers on Postgres, the one holding ${
          fmt(failover["victimJobs"])
        } running jobs (${fmt(failover["victimBatches"])} batches) SIGKILLed while they are polled`,
        metric:
          "s from the kill to another worker's first poll of one of its batches (of all of them; its shard locks all held by the others)",
        batchfx: `${s("firstPollMs")} (${s("allPolledMs")}; ${s("locksMovedMs")})`,
        target: "",
        met: undefined
      },
      {
        ...base,
        case: "the same failover",
        metric: "s from the kill to all its jobs done (uploads / batches / jobs completed of the run)",
        batchfx: `${s("victimDoneMs")} (${fmt(failover["uploads"])} / ${fmt(failover["batchesCreated"])} / ${
          fmt(failover["completed"])
        })`,
        target: `exactly ${fmt(shards)} / ${fmt(shards)} / ${fmt(failover["jobs"])}, its jobs finished by the others`,
        met: Number.isFinite(shards) ? exact : undefined
      }
    )
  }
  return rows
}
