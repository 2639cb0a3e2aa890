/**
 * Scenario 9 (issue 22, point 8): the `batchfx` binary as a shell user runs it.
 *
 * - `batchfx list --format jsonl` of every batch of an emulator seeded with 100,000 (`batchfx-fake-
 *   server --seed-batches`, 20 ms of latency before each answer, as scenario 2's pages have) beside
 *   an SDK script that lists and writes the same JSON lines (`contenders/sdkJsonl.ts`). Each run is
 *   one process from spawn to exit, its stdout a pipe the runner drains; the runs alternate. Both
 *   outputs are compared: the same lines, byte for byte, or the run says how they differ.
 * - `batchfx --help` from the bundle (`dist/bundle/batchfx.js`, what the published package runs),
 *   from spawn to exit, beside `node -e 0`.
 *
 * Both run a copy of the bundle taken when the scenario starts (`pnpm bench` bundles first).
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import { cpSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Raw, Row } from "./report.js"
import { median } from "./report.js"
import type { RunRecord } from "./run.js"

/** The scenario's number in the table. */
export const scenario = 9

/** The record cases. */
export const listCase = (n: number) => `list --format jsonl ${n.toLocaleString("en-US")}, 20 ms/page`
export const helpCase = "batchfx --help (bundle)"

/** What one run of a process printed, from spawn to exit. */
interface Piped {
  readonly code: number | null
  readonly wallMs: number
  readonly bytes: number
  readonly lines: number
  readonly sha256: string
  readonly stderr: string
}

const runPiped = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<Piped>((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "pipe", "pipe"] })
    const hash = createHash("sha256")
    let bytes = 0
    let lines = 0
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      bytes += chunk.length
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++
      hash.update(chunk)
    })
    child.stderr.on("data", (chunk: Buffer) => void (stderr += chunk.toString()))
    child.once("error", reject)
    child.once("close", (code) =>
      resolve({ code, wallMs: performance.now() - started, bytes, lines, sha256: hash.digest("hex"), stderr }))
  })

/** What the runner gives the scenario. */
export interface Context {
  readonly runs: number
  readonly smoke: boolean
  readonly repoDir: string
  readonly records: Array<RunRecord>
  readonly notes: Array<string>
  readonly log: (text: string) => void
  /** Starts `batchfx-fake-server` with these flags; `stop` ends it. */
  readonly startEmulator: (
    args: ReadonlyArray<string>
  ) => Promise<{ readonly baseUrl: string; readonly stop: () => void }>
}

const fakeKey = "sk-fake-batchfx"

export const run = async (ctx: Context): Promise<void> => {
  const size = ctx.smoke ? 2_000 : 100_000
  const latencyMs = 20
  // A copy of the CLI's bundle (it needs nothing beside it), so that a rebuild by someone else
  // during the run cannot remove it (scenario 7 does the same); `batchfx.js` is what the published
  // package runs.
  const copy = mkdtempSync(join(tmpdir(), "batchfx-bench-cli-"))
  cpSync(join(ctx.repoDir, "packages", "cli", "dist", "bundle"), copy, { recursive: true })
  const bundle = join(copy, "batchfx.js")
  const sdk = join(ctx.repoDir, "packages", "bench", "dist", "contenders", "sdkJsonl.js")
  const emulator = await ctx.startEmulator(["--seed-batches", String(size), "--latency", `${latencyMs}ms`])
  const push = (name: string, contender: string, run: number, result: Piped, extra: Partial<RunRecord> = {}) => {
    const record: RunRecord = {
      scenario,
      case: name,
      contender,
      run,
      report: undefined,
      wallMs: result.wallMs,
      exitCode: result.code,
      ...(result.code === 0 ? {} : { error: result.stderr.trim().slice(-600) }),
      ...extra
    }
    ctx.records.push(record)
    ctx.log(
      `  [${scenario}] ${name} ${contender} run ${run}: ${result.wallMs.toFixed(0)} ms, ${result.lines} lines${
        result.code === 0 ? "" : ` FAILED (exit ${result.code}): ${record.error ?? ""}`
      }`
    )
    return record
  }
  try {
    const env = { ...process.env, OPENAI_API_KEY: fakeKey, OPENAI_BASE_URL: emulator.baseUrl }
    const name = listCase(size)
    const outputs = new Map<string, string>()
    for (let run = 1; run <= ctx.runs; run++) {
      // Alternated, so that a slow minute on a shared machine hurts both alike.
      const commands = [
        ["sdk", [sdk, emulator.baseUrl, fakeKey]],
        ["batchfx", [bundle, "list", "--format", "jsonl"]]
      ] as const
      for (const [contender, args] of run % 2 === 1 ? commands : [...commands].reverse()) {
        const result = await runPiped(args, env)
        push(name, contender, run, result)
        if (result.code === 0) outputs.set(contender, `${result.lines} lines, ${result.bytes} bytes, ${result.sha256}`)
      }
    }
    const [fromSdk, fromBatchfx] = [outputs.get("sdk"), outputs.get("batchfx")]
    ctx.notes.push(
      fromSdk === fromBatchfx
        ? `#${scenario}: batchfx and the SDK script wrote the same bytes (${fromBatchfx ?? "no run"}).`
        : `#${scenario}: the outputs differ: SDK ${fromSdk ?? "no run"}, batchfx ${fromBatchfx ?? "no run"}.`
    )
    const runs = Math.max(ctx.runs, ctx.smoke ? 1 : 7)
    for (let run = 1; run <= runs; run++) {
      push("node -e 0", "node", run, await runPiped(["-e", "0"], process.env))
      push(helpCase, "batchfx", run, await runPiped([bundle, "--help"], process.env))
    }
  } finally {
    emulator.stop()
    rmSync(copy, { recursive: true, force: true })
  }
}

const ok = (raw: Raw, name: string, contender: string) =>
  raw.records.filter((r) => r.scenario === scenario && r.case === name && r.contender === contender && r.exitCode === 0)

const fmt = (n: number): string => Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: 0 }) : "n/a"

/** The rows of scenario 9. */
export const summarize = (raw: Raw): ReadonlyArray<Row> => {
  const rows: Array<Row> = []
  const cases = [...new Set(raw.records.filter((r) => r.scenario === scenario).map((r) => r.case))]
  for (const name of cases.filter((c) => c.startsWith("list"))) {
    const sdk = ok(raw, name, "sdk")
    const batchfx = ok(raw, name, "batchfx")
    const [s, b] = [sdk, batchfx].map((rs) => median(rs.map((r) => r.wallMs)))
    const ratio = b! / s!
    rows.push({
      scenario,
      case: `\`batchfx ${name}\` beside an SDK script writing the same lines`,
      metric: "ms from spawn to exit (median)",
      floor: "",
      sdk: fmt(s!),
      batchfx: fmt(b!),
      ratio: Number.isFinite(ratio) ? `${ratio.toFixed(2)}× SDK` : "n/a",
      target: "≤ 1.1× SDK",
      met: raw.options.smoke || !Number.isFinite(ratio) ? undefined : ratio <= 1.1,
      runs: Math.min(sdk.length, batchfx.length)
    })
  }
  const help = ok(raw, helpCase, "batchfx")
  if (help.length > 0) {
    const ms = median(help.map((r) => r.wallMs))
    const node = median(ok(raw, "node -e 0", "node").map((r) => r.wallMs))
    rows.push({
      scenario,
      case: `\`${helpCase}\` beside \`node -e 0\` (floor column)`,
      metric: "ms from spawn to exit (median)",
      floor: `${fmt(node)} (node -e 0)`,
      sdk: "",
      batchfx: fmt(ms),
      ratio: Number.isFinite(node) ? `${(ms / node).toFixed(2)}× node -e 0` : "n/a",
      target: "≤ 400 ms",
      met: raw.options.smoke ? undefined : ms <= 400,
      runs: help.length
    })
  }
  return rows
}
