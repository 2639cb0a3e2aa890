/**
 * Scenario 10 (issue 24): durable jobs (`@batchfx/jobs`) against the emulator. The figures come
 * from the jobs package's own bench (`packages/jobs/bench/jobs.ts`, built here with `tsc -b`, as
 * `pnpm bench` builds only the packages' sources), run once in a child process:
 *
 * 1. a job's own overhead: job-store writes (and every SQL statement, the engine's included) per shard;
 * 2. jobs of 2 shards scheduled on one worker (1,000; `--smoke` 20): wall time, and the uploads
 *    and batches the emulator created (exactly 2 of each per job when nothing is done twice);
 * 3. a worker process SIGKILLed while it polls, started again: time from its start to its first
 *    poll, beside a cold start's time to its first request.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import type { Raw, Row } from "./report.js"
import type { RunRecord } from "./run.js"

/** The scenario's number in the table. */
export const scenario = 10

/** Jobs scheduled on one worker: the 1,000, or a few for `--smoke`. */
export const jobsAt = (smoke: boolean): number => smoke ? 20 : 1000

/** The figures the jobs bench prints, one JSON object per line, each named by `figure`. */
type Figures = { readonly figure: string } & { readonly [name: string]: unknown }

const spawnFigures = async (
  exec: (command: string, args: ReadonlyArray<string>) => Promise<
    { readonly stdout: string; readonly stderr: string; readonly code: number | null; readonly wallMs: number }
  >,
  script: string,
  jobs: number
) => {
  const result = await exec(process.execPath, [script, "--jobs", String(jobs)])
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
  log(`  [${scenario}] durable jobs: ${jobs} jobs of 2 shards on one worker (a few minutes at 1,000)`)
  const script = join(repoDir, "packages", "jobs", "build", "bench", "jobs.js")
  const result = await spawnFigures(exec, script, jobs)
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
      ...(error === undefined ? {} : { error })
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
  return rows
}
