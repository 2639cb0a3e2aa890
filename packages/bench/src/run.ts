/**
 * `pnpm bench`: runs every scenario for each contender (the bare-fetch floor, the official SDK,
 * batchfx), each run in its own child process against a server on 127.0.0.1, then writes medians
 * and ratios to `packages/bench/RESULTS.md` and every figure to `packages/bench/results.json`.
 *
 *   pnpm bench                      every scenario at full size, 3 runs
 *   pnpm bench --smoke              every scenario once at a tiny size (CI), no thresholds
 *   pnpm bench --only 1,4 --runs 5  some scenarios, more runs
 *   pnpm bench --cpu-prof           also writes a .cpuprofile per contender run to packages/bench/profiles
 *
 * Scenarios 7 (what loading the client and starting the installed CLI cost) and 8 (the emulator
 * at size through the official SDK) measure packaging and the testkit rather than a contender.
 */
import { execFileSync, spawn } from "node:child_process"
import {
  closeSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync
} from "node:fs"
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as CliList from "./cliList.js"
import * as ExtraRows from "./extraRows.js"
import * as JobsScenario from "./jobsScenario.js"
import { pageSize, type Report } from "./measure.js"
import * as Markdown from "./report.js"
import * as Server from "./server.js"
import * as Wire from "./wire.js"

const here = dirname(fileURLToPath(import.meta.url))
const packageDir = join(here, "..")
const repoDir = join(packageDir, "..", "..")

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  readonly smoke: boolean
  readonly runs: number
  readonly only: ReadonlySet<number>
  readonly cpuProf: boolean
  readonly write: boolean
}

const parseOptions = (argv: ReadonlyArray<string>): Options => {
  const smoke = argv.includes("--smoke")
  const valueOf = (flag: string) => {
    const at = argv.indexOf(flag)
    return at === -1 ? undefined : argv[at + 1]
  }
  const runs = Number(valueOf("--runs") ?? (smoke ? 1 : 3))
  const only = new Set((valueOf("--only") ?? "1,2,3,4,5,6,7,8,9,10").split(",").map(Number))
  return { smoke, runs, only, cpuProf: argv.includes("--cpu-prof"), write: !argv.includes("--no-write") }
}

// ---------------------------------------------------------------------------------------------
// Running one contender

/** The contenders, each a script in `dist/contenders`. */
export type Contender = "floor" | "sdk" | "batchfx"

/** One run of one command. */
export interface RunRecord {
  readonly scenario: number
  readonly case: string
  readonly contender: string
  readonly run: number
  /** What the child reported, if it reports. */
  readonly report: Report | undefined
  /** Spawn to exit, as the runner saw it. */
  readonly wallMs: number
  readonly exitCode: number | null
  readonly error?: string | undefined
  readonly server?: Server.Stats | undefined
  /** The scenario whose run this is, when a scenario reuses another's runs. */
  readonly reusedFrom?: number | undefined
  /** Scenario 8: the emulator process's resident memory before the work and its peak after, in MB. */
  readonly emulator?: { readonly idleRssMB: number; readonly peakRssMB: number } | undefined
  /** Scenario 10: the numbers of one figure of the jobs bench. */
  readonly figures?: { readonly [name: string]: number } | undefined
}

interface Spawned {
  readonly stdout: string
  readonly stderr: string
  readonly code: number | null
  readonly wallMs: number
}

export const exec = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<Spawned>((resolve, reject) => {
    const started = performance.now()
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => stdout += chunk.toString())
    child.stderr.on("data", (chunk: Buffer) => stderr += chunk.toString())
    child.once("error", reject)
    child.once("close", (code) => resolve({ stdout, stderr, code, wallMs: performance.now() - started }))
  })

const lastReport = (stdout: string): Report | undefined => {
  const lines = stdout.trim().split("\n")
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (line.startsWith("{") && line.includes("\"maxRssMB\"")) return JSON.parse(line) as Report
  }
  return undefined
}

const contenderScript = (contender: Contender) => join(here, "contenders", `${contender}.js`)

let profileCount = 0

const runContender = async (
  options: Options,
  contender: Contender,
  args: ReadonlyArray<string>,
  label: string
): Promise<Omit<RunRecord, "scenario" | "case" | "run">> => {
  const nodeArgs = options.cpuProf
    ? [
      "--cpu-prof",
      `--cpu-prof-dir=${join(packageDir, "profiles")}`,
      `--cpu-prof-name=${label.replace(/[^\w.-]+/g, "_")}-${++profileCount}.cpuprofile`
    ]
    : []
  const result = await exec(process.execPath, [...nodeArgs, contenderScript(contender), ...args])
  const report = result.code === 0 ? lastReport(result.stdout) : undefined
  return {
    contender,
    report,
    wallMs: result.wallMs,
    exitCode: result.code,
    ...(report === undefined ? { error: (result.stderr || result.stdout).trim().slice(-600) } : {})
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface Sizes {
  readonly list: number
  /** Scenario 2: batches listed, server latency per page, consumer work per batch. */
  readonly latencyList: number
  readonly latencyMs: number
  readonly workMicros: number
  /** The page size every contender lists with. */
  readonly pageSize: number
  readonly memory: ReadonlyArray<number>
  readonly fileBytes: number
  readonly retrieves: number
  readonly ratePerSecond: number
  /** Scenario 8: the file uploaded through the SDK, and the lines of the batch created. */
  readonly uploadBytes: number
  readonly createLines: number
}

const fullSizes: Sizes = {
  list: 100_000,
  latencyList: 100_000,
  latencyMs: 20,
  workMicros: 200,
  pageSize,
  memory: [10_000, 100_000, 1_000_000],
  fileBytes: 256 * 1024 * 1024,
  retrieves: 2_000,
  ratePerSecond: 200,
  // The API's largest batch input (209,715,200 bytes) and most lines.
  uploadBytes: 200 * 1024 * 1024,
  createLines: 50_000
}

const smokeSizes: Sizes = {
  list: 2_000,
  latencyList: 300,
  latencyMs: 20,
  workMicros: 200,
  pageSize,
  memory: [1_000, 2_000],
  fileBytes: 2 * 1024 * 1024,
  retrieves: 60,
  ratePerSecond: 50,
  uploadBytes: 2 * 1024 * 1024,
  createLines: 500
}

const contenders: ReadonlyArray<Contender> = ["floor", "sdk", "batchfx"]

interface Context {
  readonly options: Options
  readonly sizes: Sizes
  readonly server: Server.BenchServer
  readonly records: Array<RunRecord>
  /** Facts about the run that the table should say. */
  readonly notes: Array<string>
}

const log = (text: string) => process.stderr.write(text + "\n")

const describe = (record: RunRecord) => {
  const r = record.report
  if (r === undefined) return `FAILED (exit ${record.exitCode}): ${record.error ?? ""}`
  const rate = r.items > 0 ? ` ${(r.items / (r.ms / 1000)).toFixed(0)} items/s` : ""
  return `${r.items} items in ${r.ms.toFixed(0)} ms (CPU ${r.cpuMs.toFixed(0)} ms)${rate}, max RSS ${
    r.maxRssMB.toFixed(0)
  } MB`
}

/** A contender run another way: its records carry `name`, and its script gets `extraArgs`. */
interface Variant {
  readonly name: string
  readonly contender: Contender
  readonly extraArgs: ReadonlyArray<string>
}

const repeat = async (
  ctx: Context,
  scenario: number,
  name: string,
  who: ReadonlyArray<Contender | Variant>,
  configure: () => void,
  args: (contender: Contender) => ReadonlyArray<string>
) => {
  for (let run = 1; run <= ctx.options.runs; run++) {
    // Interleaved, so that a slow minute on a shared machine hurts every contender alike.
    for (const entrant of who) {
      const { contender, extraArgs, name: label } = typeof entrant === "string"
        ? { contender: entrant, extraArgs: [], name: entrant }
        : entrant
      configure()
      ctx.server.resetStats()
      const result = await runContender(
        ctx.options,
        contender,
        [...args(contender), ...extraArgs],
        `s${scenario}-${name}-${label}`
      )
      const record: RunRecord = { scenario, case: name, run, ...result, contender: label, server: ctx.server.stats() }
      ctx.records.push(record)
      log(`  [${scenario}] ${name} ${label} run ${run}: ${describe(record)}`)
    }
  }
}

const key = `key=${Wire.apiKey}`

// The listings (1, 3) also run batchfx consumed by a synchronous `Stream.runFold`: unjudged rows.
const listers: ReadonlyArray<Contender | Variant> = [
  ...contenders,
  { name: Markdown.batchfxFold, contender: "batchfx", extraArgs: ["consumer=fold"] }
]

const scenarioList = (ctx: Context) =>
  repeat(
    ctx,
    1,
    `list ${ctx.sizes.list}`,
    listers,
    () => ctx.server.configure({ total: ctx.sizes.list, latencyMs: 0, rateLimit: undefined }),
    () => ["list", ctx.server.baseUrl, key]
  )

// The floor runs with look-ahead here (the next page requested before the work on this one): how
// near the overlap limit a client that parses its pages on the same thread as the work can come.
// It follows --runs like the others: the target against the limit leaves 10 %, so one noisy run
// of two would move the median by as much.
const scenarioLatency = (ctx: Context) =>
  repeat(
    ctx,
    2,
    `list ${ctx.sizes.latencyList}, ${ctx.sizes.latencyMs} ms/page, ${ctx.sizes.workMicros / 1000} ms/item`,
    [{ name: "floor", contender: "floor", extraArgs: ["lookahead=1"] }, "sdk", "batchfx"],
    () => ctx.server.configure({ total: ctx.sizes.latencyList, latencyMs: ctx.sizes.latencyMs, rateLimit: undefined }),
    () => ["list", ctx.server.baseUrl, key, `work=${ctx.sizes.workMicros}`]
  )

// A size that scenario 1 already listed reuses its runs (same command, same server); the largest
// size runs once, as its memory hardly varies and a run takes a minute or more.
const scenarioMemory = async (ctx: Context) => {
  const largest = Math.max(...ctx.sizes.memory)
  for (const size of ctx.sizes.memory) {
    const name = `memory ${size}`
    const listed = ctx.records.filter((r) => r.scenario === 1 && r.case === `list ${size}`)
    if (listed.length > 0) {
      for (const r of listed) ctx.records.push({ ...r, scenario: 3, case: name, reusedFrom: 1 })
      log(`  [3] ${name}: the runs of scenario 1`)
      continue
    }
    await repeat(
      { ...ctx, options: { ...ctx.options, runs: size === largest && !ctx.options.smoke ? 1 : ctx.options.runs } },
      3,
      name,
      listers,
      () => ctx.server.configure({ total: size, latencyMs: 0, rateLimit: undefined }),
      () => ["list", ctx.server.baseUrl, key]
    )
  }
}

const scenarioResults = async (ctx: Context) => {
  ctx.server.configure({ fileBytes: ctx.sizes.fileBytes, latencyMs: 0, rateLimit: undefined })
  const file = ctx.server.prepareFile()
  log(`  [4] output file: ${(file.bytes / 1024 / 1024).toFixed(1)} MB, ${file.lines} lines`)
  await repeat(
    ctx,
    4,
    `results ${Math.round(ctx.sizes.fileBytes / 1024 / 1024)} MB`,
    contenders,
    () => undefined,
    () => ["results", ctx.server.baseUrl, key, `file=${Wire.outputFileId}`]
  )
}

// Scenario 5 in each kind of limiter a server in front of the API may use, with and without the
// per-minute rate-limit headers.
const retrieveModes = [
  { name: "fixed 1 s window", mode: "fixed-window", perMinute: false, headers: false },
  { name: "per-minute window, headers", mode: "fixed-window", perMinute: true, headers: true },
  { name: "per-minute quantized to 1 s, headers", mode: "quantized", perMinute: true, headers: true },
  { name: "per-minute quantized to 1 s", mode: "quantized", perMinute: true, headers: false },
  { name: "token bucket, headers", mode: "token-bucket", perMinute: false, headers: true },
  { name: "token bucket", mode: "token-bucket", perMinute: false, headers: false }
] as const

const scenarioRetrieve = async (ctx: Context) => {
  for (const m of retrieveModes) {
    await repeat(
      ctx,
      5,
      `retrieve ${ctx.sizes.retrieves} at ${ctx.sizes.ratePerSecond}/s, ${m.name}`,
      ["sdk", "batchfx"],
      () =>
        ctx.server.configure({
          total: ctx.sizes.retrieves,
          latencyMs: 0,
          rateLimit: {
            requests: m.perMinute ? ctx.sizes.ratePerSecond * 60 : ctx.sizes.ratePerSecond,
            windowMs: m.perMinute ? 60_000 : 1000,
            mode: m.mode,
            headers: m.headers
          }
        }),
      () => ["retrieve", ctx.server.baseUrl, key, `count=${ctx.sizes.retrieves}`, "concurrency=32"]
    )
  }
}

// Scenario 6 runs the real binaries against the emulator (`batchfx-fake-server`), each start timed
// by the runner from spawn to exit.
const startEmulator = (args: ReadonlyArray<string> = ["--seed-batches", "1000"]) =>
  new Promise<{ readonly baseUrl: string; readonly pid: number; readonly stop: () => void }>((resolve, reject) => {
    const bin = join(repoDir, "packages", "testkit", "dist", "bin.js")
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`the emulator exited (${code}) before it printed its URL`)))
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split("\n").find((l) => l.startsWith("http"))
      if (line !== undefined) resolve({ baseUrl: line.trim(), pid: child.pid!, stop: () => child.kill("SIGINT") })
    })
  })

// Whether `batchfx` will run its bundle: the rule of packages/cli/src/bin.ts (the bundle is newer
// than the CLI's compiled entry and the last build of each package it uses).
const cliBundleFresh = (): boolean => {
  const mtime = (path: string) => {
    try {
      return statSync(path).mtimeMs
    } catch {
      return -1
    }
  }
  const dist = join(repoDir, "packages", "cli", "dist")
  const builds = ["cli", "client", "core", "testkit"].map((name) =>
    join(repoDir, "packages", name, "build", "tsbuildinfo", "src.tsbuildinfo")
  )
  return mtime(join(dist, "bundle", "main.js")) >= Math.max(mtime(join(dist, "main.js")), ...builds.map(mtime))
}

const scenarioCold = async (ctx: Context) => {
  const cli = join(repoDir, "packages", "cli", "dist", "bin.js")
  const fresh = cliBundleFresh()
  ctx.notes.push(
    fresh
      ? "#6: the CLI ran from its bundle (packages/cli/dist/bundle, made by `pnpm bench` before the run)."
      : "#6: the CLI bundle was missing or older than the last build, so `batchfx` ran from its compiled modules."
  )
  log(`  [6] CLI bundle ${fresh ? "fresh" : "missing or stale: the compiled modules run"}`)
  const emulator = await startEmulator()
  const fakeKey = "sk-fake-batchfx"
  const env = { ...process.env, OPENAI_API_KEY: fakeKey, OPENAI_BASE_URL: emulator.baseUrl }
  const commands: ReadonlyArray<{ readonly name: string; readonly contender: string; readonly args: Array<string> }> = [
    { name: "node -e 0", contender: "node", args: ["-e", "0"] },
    { name: "--version", contender: "batchfx", args: [cli, "--version"] },
    { name: "list --max 1", contender: "batchfx", args: [cli, "list", "--max", "1"] },
    {
      name: "list --max 1",
      contender: "floor",
      args: [contenderScript("floor"), "cold", emulator.baseUrl, `key=${fakeKey}`]
    },
    {
      name: "list --max 1",
      contender: "sdk",
      args: [contenderScript("sdk"), "cold", emulator.baseUrl, `key=${fakeKey}`]
    }
  ]
  try {
    const runs = Math.max(ctx.options.runs, ctx.options.smoke ? 1 : 5)
    for (let run = 1; run <= runs; run++) {
      for (const command of commands) {
        if (command.args[0] === cli && !existsSync(cli)) {
          if (run === 1) log(`  [6] ${command.contender} ${command.name}: skipped, ${cli} is not built`)
          continue
        }
        const result = await exec(process.execPath, command.args, env)
        const record: RunRecord = {
          scenario: 6,
          case: command.name,
          contender: command.contender,
          run,
          report: undefined,
          wallMs: result.wallMs,
          exitCode: result.code,
          ...(result.code === 0 ? {} : { error: (result.stderr || result.stdout).trim().slice(-600) })
        }
        ctx.records.push(record)
        log(
          `  [6] ${command.contender} ${command.name} run ${run}: ${result.wallMs.toFixed(0)} ms${
            result.code === 0 ? "" : ` FAILED (exit ${result.code}): ${record.error ?? ""}`
          }`
        )
      }
    }
  } finally {
    emulator.stop()
  }
}

// Scenario 7 (issue 19): what a user pays to load the client, beside what any Effect program over
// HTTP loads anyway (and the SDK, for scale); and `batchfx --help` as `npm install -g` of the CLI's
// tarball installs it, beside the in-repo bundle it was packed from. Each figure is one fresh
// process; the installed CLI and the bundle are spawned the same way (their own shebang).
const probe = (name: string) => join(here, "probes", `${name}.js`)

const checkedExec = async (command: string, args: ReadonlyArray<string>) => {
  const result = await exec(command, args)
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")}: exit ${result.code}: ${result.stderr.trim()}`)
  return result
}

// Packs the CLI and installs the tarball globally into a temporary prefix: the user's `batchfx`.
const installCli = async (dir: string): Promise<string> => {
  await checkedExec("pnpm", ["--dir", repoDir, "--filter", "@batchfx/cli", "pack", "--pack-destination", dir])
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz") && f.includes("cli"))
  if (tarball === undefined) throw new Error(`pnpm pack wrote no tarball to ${dir}`)
  const prefix = join(dir, "global")
  await checkedExec("npm", [
    "install",
    "-g",
    "--prefix",
    prefix,
    "--no-audit",
    "--no-fund",
    "--silent",
    join(dir, tarball)
  ])
  return join(prefix, "bin", "batchfx")
}

const scenarioPackaging = async (ctx: Context) => {
  const runs = Math.max(ctx.options.runs, ctx.options.smoke ? 1 : 7)
  const push = (record: RunRecord) => {
    ctx.records.push(record)
    log(`  [7] ${record.case} ${record.contender} run ${record.run}: ${
      record.exitCode === 0
        ? `${(record.report?.ms ?? record.wallMs).toFixed(0)} ms`
        : `FAILED (exit ${record.exitCode}): ${record.error ?? ""}`
    }`)
  }
  for (let run = 1; run <= runs; run++) {
    for (const [which, contender] of [["effect", "effect"], ["client", "batchfx"], ["sdk", "sdk"]] as const) {
      const result = await exec(process.execPath, [probe("importCost"), which])
      const report = result.code === 0 ? lastReport(result.stdout) : undefined
      push({
        scenario: 7,
        case: ExtraRows.importCase,
        contender,
        run,
        report,
        wallMs: result.wallMs,
        exitCode: result.code,
        ...(report === undefined ? { error: (result.stderr || result.stdout).trim().slice(-600) } : {})
      })
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "batchfx-bench-cli-"))
  try {
    // A copy of the in-repo bundle (it needs nothing beside it), taken when the tarball is packed
    // from it, so that a rebuild during the run changes neither.
    cpSync(join(repoDir, "packages", "cli", "dist", "bundle"), join(dir, "bundle"), { recursive: true })
    const bundle = join(dir, "bundle", "batchfx.js")
    const installed = await installCli(dir)
    log(`  [7] installed the CLI's tarball: ${installed}`)
    for (let run = 1; run <= runs; run++) {
      for (const [bin, contender] of [[bundle, "bundle"], [installed, "installed"]] as const) {
        const result = await exec(bin, ["--help"])
        push({
          scenario: 7,
          case: ExtraRows.helpCase,
          contender,
          run,
          report: undefined,
          wallMs: result.wallMs,
          exitCode: result.code,
          ...(result.code === 0 ? {} : { error: (result.stderr || result.stdout).trim().slice(-600) })
        })
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// Scenario 8 (issue 23): the emulator at the API's sizes, through the official SDK: the largest
// input file uploaded (time, and the emulator's peak memory), and a batch of the most lines
// created (how long the create takes to answer). A fresh emulator per run, so that its peak is
// this run's.

/** Writes a JSONL file of chat requests: `lines` of them, or as many as fit in `bytes`. */
const writeRequests = (path: string, target: { readonly bytes?: number; readonly lines?: number }) => {
  const fd = openSync(path, "w")
  try {
    const lineOf = (n: number, pad: number) =>
      JSON.stringify({
        custom_id: `r-${n}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Question ${n}: ${"x".repeat(pad)}` }] }
      }) + "\n"
    // Lines of about 4.3 KB: 200 MB in under the API's 50,000 lines.
    const pad = target.bytes === undefined ? 40 : 4_200
    let written = 0
    let chunk = ""
    for (let n = 1;; n++) {
      if (target.lines !== undefined && n > target.lines) break
      const line = lineOf(n, pad)
      if (target.bytes !== undefined && written + chunk.length + line.length > target.bytes) break
      chunk += line
      if (chunk.length > 1 << 20) {
        written += writeSync(fd, chunk)
        chunk = ""
      }
    }
    written += writeSync(fd, chunk)
    return written
  } finally {
    closeSync(fd)
  }
}

/** The resident memory of a process now and at its peak, in MB (Linux; 0 elsewhere). */
const memoryOf = (pid: number): { readonly rssMB: number; readonly peakMB: number } => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status)?.[1] ?? 0)
    return { rssMB: kb("VmRSS") / 1024, peakMB: kb("VmHWM") / 1024 }
  } catch {
    return { rssMB: 0, peakMB: 0 }
  }
}

const scenarioEmulatorAtSize = async (ctx: Context) => {
  const dir = mkdtempSync(join(tmpdir(), "batchfx-bench-emulator-"))
  try {
    const uploadPath = join(dir, "upload.jsonl")
    const createPath = join(dir, "create.jsonl")
    const uploadBytes = writeRequests(uploadPath, { bytes: ctx.sizes.uploadBytes })
    writeRequests(createPath, { lines: ctx.sizes.createLines })
    log(`  [8] files: ${(uploadBytes / 1024 / 1024).toFixed(1)} MB to upload, ${ctx.sizes.createLines} lines to create`)
    const cases = [
      { name: ExtraRows.uploadCase(uploadBytes), args: ["upload", uploadPath] },
      { name: ExtraRows.createCase(ctx.sizes.createLines), args: ["create", createPath] }
    ]
    // Other work on the machine slows the upload more than anything in the emulator: the load is noted.
    const loads: Array<number> = []
    for (let run = 1; run <= ctx.options.runs; run++) {
      for (const c of cases) {
        const emulator = await startEmulator([])
        try {
          const load = loadavg()[0] ?? 0
          loads.push(load)
          const idle = memoryOf(emulator.pid)
          const result = await exec(process.execPath, [probe("sdkEmulator"), c.args[0]!, emulator.baseUrl, c.args[1]!])
          const after = memoryOf(emulator.pid)
          const report = result.code === 0 ? lastReport(result.stdout) : undefined
          const record: RunRecord = {
            scenario: 8,
            case: c.name,
            contender: "sdk",
            run,
            report,
            wallMs: result.wallMs,
            exitCode: result.code,
            emulator: { idleRssMB: idle.rssMB, peakRssMB: after.peakMB },
            ...(report === undefined ? { error: (result.stderr || result.stdout).trim().slice(-600) } : {})
          }
          ctx.records.push(record)
          log(`  [8] ${c.name} run ${run}: ${
            report === undefined
              ? `FAILED (exit ${result.code}): ${record.error ?? ""}`
              : `${report.ms.toFixed(0)} ms, emulator ${idle.rssMB.toFixed(0)} MB idle, peak ${
                after.peakMB.toFixed(0)
              } MB`
          } (load ${load.toFixed(1)})`)
        } finally {
          emulator.stop()
        }
      }
    }
    ctx.notes.push(
      `#8: 1-minute load average ${Math.min(...loads).toFixed(1)}–${
        Math.max(...loads).toFixed(1)
      } on ${cpus().length} cores at the start of the runs.`
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// Main

export interface Machine {
  readonly cpu: string
  readonly cores: number
  readonly memoryGB: number
  readonly node: string
  readonly os: string
}

// The commit measured, with "+ uncommitted changes" when the tree differs from it.
const revision = (): string => {
  try {
    const git = (...args: Array<string>) => execFileSync("git", args, { cwd: repoDir, encoding: "utf8" }).trim()
    const head = git("rev-parse", "--short", "HEAD")
    const dirty = git("status", "--porcelain", "--untracked-files=no", "--", "packages", "examples").length > 0
    return dirty ? `${head} + uncommitted changes` : head
  } catch {
    return "unknown"
  }
}

const machine = (): Machine => ({
  cpu: cpus()[0]?.model.trim() ?? "unknown",
  cores: cpus().length,
  memoryGB: Math.round(totalmem() / 1024 ** 3),
  node: process.version,
  os: `${process.platform} ${release()}`
})

const usage = () =>
  [
    "usage: pnpm bench [--smoke] [--only 1,4] [--runs N] [--cpu-prof] [--no-write]",
    "  --smoke      every scenario once at a tiny size (CI), no thresholds",
    "  --only LIST  the scenarios to run (1-10)",
    "  --runs N     runs per contender (default 3)",
    "  --cpu-prof   a .cpuprofile per contender run in packages/bench/profiles",
    "  --no-write   leave RESULTS.md and results.json as they are",
    ""
  ].join("\n")

const main = async () => {
  // Any flag this runner does not know (`--help` among them) prints the usage instead of starting
  // a full run that would overwrite RESULTS.md.
  const known = new Set(["--smoke", "--runs", "--only", "--cpu-prof", "--no-write"])
  const argv = process.argv.slice(2)
  const unknown = argv.filter((a, i) =>
    !known.has(a) && !(i > 0 && (argv[i - 1] === "--runs" || argv[i - 1] === "--only"))
  )
  if (unknown.length > 0) {
    const text = usage()
    if (unknown.some((a) => a === "--help" || a === "-h")) return void process.stdout.write(text)
    process.stderr.write(`bench: unknown argument ${unknown[0]}\n${text}`)
    process.exitCode = 2
    return
  }
  const options = parseOptions(argv)
  const sizes = options.smoke ? smokeSizes : fullSizes
  const command = `pnpm bench${process.argv.slice(2).length > 0 ? " " + process.argv.slice(2).join(" ") : ""}`
  const server = await Server.start()
  const records: Array<RunRecord> = []
  const notes: Array<string> = []
  const ctx: Context = { options, sizes, server, records, notes }
  const startedAt = new Date().toISOString()
  const measured = revision()
  log(`bench: ${options.smoke ? "smoke" : "full"}, ${options.runs} run(s), server ${server.baseUrl}`)
  // Start-up (6) runs first, right after `pnpm bench` bundled the CLI; the two longest scenarios
  // (2 and 3) run last, so that a run cut short has the others.
  const scenarios: ReadonlyArray<readonly [number, (ctx: Context) => Promise<void>]> = [
    [6, scenarioCold],
    [7, scenarioPackaging],
    [1, scenarioList],
    [4, scenarioResults],
    [8, scenarioEmulatorAtSize],
    [5, scenarioRetrieve],
    [
      CliList.scenario,
      (ctx) =>
        CliList.run({
          runs: ctx.options.runs,
          smoke: ctx.options.smoke,
          repoDir,
          records: ctx.records,
          notes: ctx.notes,
          log,
          startEmulator
        })
    ],
    [JobsScenario.scenario, (ctx) => JobsScenario.run(ctx.options, repoDir, exec, ctx.records, log)],
    [2, scenarioLatency],
    [3, scenarioMemory]
  ]
  // The files are written after every scenario, so that a run cut short still leaves its figures
  // (the table then says which scenarios it covers).
  const write = (done: ReadonlyArray<number>, final: boolean) => {
    const finishedAt = new Date().toISOString()
    const partial = final ? undefined : done
    const raw = {
      command,
      revision: measured,
      machine: machine(),
      startedAt,
      finishedAt,
      options,
      sizes,
      records,
      notes,
      partial
    }
    const rows = [
      ...Markdown.summarize(raw),
      ...ExtraRows.summarize(raw),
      ...CliList.summarize(raw),
      ...JobsScenario.summarize(raw)
    ]
    const markdown = Markdown.render(raw, rows)
    const dir = options.write && !options.smoke ? packageDir : join(packageDir, "build")
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, "results.json"), JSON.stringify({ ...raw, rows }, null, 2) + "\n")
    writeFileSync(join(dir, "RESULTS.md"), markdown)
    return { raw, rows }
  }
  const done: Array<number> = []
  try {
    for (const [n, run] of scenarios) {
      if (!options.only.has(n)) continue
      await run(ctx)
      done.push(n)
      if (done.length < options.only.size) write(done, false)
    }
  } finally {
    await server.close()
  }
  const { raw, rows } = write(done, true)
  if (options.write && !options.smoke) log(`bench: wrote packages/bench/RESULTS.md and packages/bench/results.json`)
  process.stdout.write(Markdown.table(raw, rows) + "\n")
  const failed = records.filter((r) => r.exitCode !== 0)
  if (failed.length > 0) {
    log(`bench: ${failed.length} run(s) failed`)
    process.exitCode = 1
  }
}

await main()
