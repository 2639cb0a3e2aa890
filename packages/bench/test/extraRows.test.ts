import { assert, describe, it } from "@effect/vitest"
import * as ExtraRows from "../src/extraRows.js"
import type * as Report from "../src/report.js"
import type { RunRecord } from "../src/run.js"

const raw = (records: ReadonlyArray<RunRecord>): Report.Raw => ({
  command: "pnpm bench",
  revision: "test",
  machine: { cpu: "test", cores: 2, memoryGB: 1, node: "v20", os: "linux" },
  startedAt: "",
  finishedAt: "",
  options: { smoke: false, runs: 3 },
  sizes: { ratePerSecond: 1, retrieves: 1, memory: [], latencyList: 1, latencyMs: 1, workMicros: 1, pageSize: 100 },
  records
})

// A `--help` run of scenario 7, timed by the runner from spawn to exit.
const help = (contender: "bundle" | "installed", run: number, wallMs: number): RunRecord => ({
  scenario: 7,
  case: ExtraRows.helpCase,
  contender,
  run,
  report: undefined,
  wallMs,
  exitCode: 0
})

// A run of scenario 8 through the SDK: `ms` of work, and the emulator's memory around it.
const emulated = (name: string, ms: number, bytes: number, peakRssMB: number, exitCode = 0): RunRecord => ({
  scenario: 8,
  case: name,
  contender: "sdk",
  run: 1,
  report: { items: 1, ms, cpuMs: 1, bytes, maxRssMB: 50, heapUsedMB: 10 },
  wallMs: ms + 300,
  exitCode,
  emulator: { idleRssMB: 100, peakRssMB }
})

describe("scenario 7: the installed CLI beside the in-repo bundle", () => {
  it("judges the medians against 1.2×, each from its own runs", () => {
    const within = ExtraRows.summarize(raw([
      help("bundle", 1, 300),
      help("installed", 1, 340),
      help("bundle", 2, 320),
      help("installed", 2, 370),
      help("bundle", 3, 900), // one slow run moves neither median
      help("installed", 3, 360)
    ]))
    assert.strictEqual(within.length, 1)
    assert.strictEqual(within[0]!.floor, "320 (in-repo bundle)")
    assert.strictEqual(within[0]!.batchfx, "360")
    assert.strictEqual(within[0]!.ratio, "1.13× in-repo bundle")
    assert.isTrue(within[0]!.met)

    const over = ExtraRows.summarize(raw([help("bundle", 1, 300), help("installed", 1, 361)]))
    assert.isFalse(over[0]!.met)
  })

  it("sets the client's import beside effect + HttpClient, unjudged", () => {
    const imported = (contender: string, ms: number): RunRecord => ({
      scenario: 7,
      case: ExtraRows.importCase,
      contender,
      run: 1,
      report: { items: 1, ms, cpuMs: ms, maxRssMB: 80, heapUsedMB: 10 },
      wallMs: ms + 40,
      exitCode: 0
    })
    const rows = ExtraRows.summarize(raw([imported("effect", 200), imported("batchfx", 250), imported("sdk", 100)]))
    assert.deepStrictEqual(rows.map((r) => r.metric), [
      "ms to import, fresh process (median)",
      "ms from spawn to exit (median)",
      "peak RSS MB (median)"
    ])
    assert.strictEqual(rows[0]!.ratio, "1.25× effect + HttpClient")
    assert.strictEqual(rows[0]!.sdk, "100")
    assert.isTrue(rows.every((r) => r.met === undefined))
  })
})

describe("scenario 8: the emulator at size", () => {
  const mb = 1024 * 1024
  it("judges the upload on 10 s and the emulator's whole peak on twice the file; the create on 300 ms", () => {
    const upload = ExtraRows.uploadCase(200 * mb)
    const create = ExtraRows.createCase(50_000)
    assert.strictEqual(upload, "upload 200 MB")
    assert.strictEqual(create, "create 50,000 lines")
    const rows = ExtraRows.summarize(raw([
      emulated(upload, 9_000, 200 * mb, 390),
      emulated(create, 120, 10 * mb, 140)
    ]))
    assert.deepStrictEqual(rows.map((r) => r.met), [true, true, true])
    assert.strictEqual(rows[1]!.batchfx, "390 (idle 100)")
    assert.strictEqual(rows[1]!.ratio, "1.95× the file (growth 1.45×)")

    const missed = ExtraRows.summarize(raw([
      emulated(upload, 11_000, 200 * mb, 410),
      emulated(create, 300, 10 * mb, 140)
    ]))
    assert.deepStrictEqual(missed.map((r) => r.met), [false, false, false])
  })

  it("leaves failed runs out of the medians, and judges nothing without a figure", () => {
    const upload = ExtraRows.uploadCase(200 * mb)
    const rows = ExtraRows.summarize(raw([emulated(upload, 1, 200 * mb, 1, 1)]))
    assert.strictEqual(rows[0]!.batchfx, "n/a")
    assert.strictEqual(rows[0]!.runs, 0)
    assert.isUndefined(rows[0]!.met)
    assert.isUndefined(rows[1]!.met)
  })
})
