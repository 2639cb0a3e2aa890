import { assert, describe, it } from "@effect/vitest"
import * as Report from "../src/report.js"
import type { RunRecord } from "../src/run.js"

// A run of scenario 1 that listed 1,000 batches in `ms` of wall time and `cpuMs` of CPU.
const listed = (contender: string, run: number, ms: number, cpuMs: number): RunRecord => ({
  scenario: 1,
  case: "list 1000",
  contender,
  run,
  report: { items: 1000, ms, cpuMs, maxRssMB: 100, heapUsedMB: 10 },
  wallMs: ms + 50,
  exitCode: 0
})

// A run of scenario 3 that peaked at `maxRssMB`.
const peaked = (size: number, contender: string, maxRssMB: number): RunRecord => ({
  scenario: 3,
  case: `memory ${size}`,
  contender,
  run: 1,
  report: { items: size, ms: 100, cpuMs: 100, maxRssMB, heapUsedMB: 10 },
  wallMs: 150,
  exitCode: 0
})

const raw = (records: ReadonlyArray<RunRecord>): Report.Raw => ({
  command: "pnpm bench",
  revision: "test",
  machine: { cpu: "test", cores: 2, memoryGB: 1, node: "v20", os: "linux" },
  startedAt: "",
  finishedAt: "",
  options: { smoke: false, runs: 2 },
  sizes: {
    ratePerSecond: 1,
    retrieves: 1,
    memory: [],
    latencyList: 1000,
    latencyMs: 20,
    workMicros: 200,
    pageSize: 100
  },
  records
})

describe("the table of scenario 1", () => {
  const judged = [
    listed("floor", 1, 10, 20),
    listed("floor", 2, 10, 20),
    listed("sdk", 1, 20, 40),
    listed("sdk", 2, 20, 40),
    listed("batchfx", 1, 40, 80),
    listed("batchfx", 2, 40, 80)
  ]

  it("judges batchfx's runForEach on CPU and shows its runFold runs beside it, unjudged", () => {
    const rows = Report.summarize(raw([
      ...judged,
      listed(Report.batchfxFold, 1, 16, 30),
      listed(Report.batchfxFold, 2, 16, 34)
    ]))
    assert.deepStrictEqual(rows.map((r) => [r.case, r.metric, r.batchfx, r.met]), [
      ["list 1000", "items/s (median)", "25,000", undefined],
      ["list 1000", "CPU ms per 1,000 items (median)", "80.0", false],
      ["list 1000, batchfx consumed by `Stream.runFold`", "items/s (median)", "62,500", undefined],
      ["list 1000, batchfx consumed by `Stream.runFold`", "CPU ms per 1,000 items (median)", "32.0", undefined]
    ])
    assert.strictEqual(rows[1]!.target, "≤ 1.5× SDK")
    assert.strictEqual(rows[2]!.ratio, "1.25× SDK, 0.63× floor")
    assert.strictEqual(rows[2]!.runs, 2)
    assert.strictEqual(Report.render(raw(judged), rows).includes("Targets met by batchfx: 0 of 1"), true)
  })

  it("meets the CPU target at 1.5× the SDK's CPU, not above", () => {
    const at = (cpuMs: number) =>
      Report.summarize(raw([listed("sdk", 1, 20, 40), listed("batchfx", 1, 40, cpuMs)]))[1]!.met
    assert.deepStrictEqual([at(60), at(61)], [true, false])
  })

  it("has no runFold rows when those runs are missing", () => {
    const rows = Report.summarize(raw(judged))
    assert.deepStrictEqual(rows.map((r) => r.case), ["list 1000", "list 1000"])
  })
})

describe("the table of scenario 3", () => {
  const judged = [10, 1000].flatMap((size) =>
    (["floor", "sdk", "batchfx"] as const).map((c) => peaked(size, c, size === 10 ? 100 : 140))
  )

  it("judges batchfx's growth and shows its runFold growth beside it, unjudged", () => {
    const rows = Report.summarize(
      raw([...judged, peaked(10, Report.batchfxFold, 100), peaked(1000, Report.batchfxFold, 110)])
    )
    const growth = rows.filter((r) => r.metric === "peak RSS growth")
    assert.deepStrictEqual(growth.map((r) => [r.case, r.batchfx, r.target, r.met]), [
      ["1000 vs 10", "1.40×", "batchfx ≤ 1.3×", false],
      ["1000 vs 10, batchfx consumed by `Stream.runFold`", "1.10× (100 → 110 MB)", "", undefined]
    ])
  })

  it("has no runFold growth row when those runs are missing", () => {
    const rows = Report.summarize(raw(judged))
    assert.deepStrictEqual(rows.filter((r) => r.metric === "peak RSS growth").map((r) => r.case), ["1000 vs 10"])
  })
})

describe("the table of scenario 2", () => {
  // A run of scenario 2 that took `ms` of wall time.
  const waited = (contender: string, ms: number): RunRecord => ({
    scenario: 2,
    case: "list 1000, 20 ms/page, 0.2 ms/item",
    contender,
    run: 1,
    report: { items: 1000, ms, cpuMs: ms / 2, maxRssMB: 100, heapUsedMB: 10 },
    wallMs: ms + 50,
    exitCode: 0
  })
  const row = (sdkMs: number, batchfxMs: number) =>
    Report.summarize(raw([waited("sdk", sdkMs), waited("batchfx", batchfxMs)]))[0]!

  it("computes the overlap limit as max(pages × latency, items × work)", () => {
    const sizes = raw([]).sizes
    // 10 pages × 20 ms = 0.2 s; 1,000 items × 0.2 ms = 0.2 s.
    assert.strictEqual(Report.overlapLimit(sizes), 0.2)
    assert.strictEqual(Report.overlapLimit({ ...sizes, latencyMs: 50 }), 0.5)
    assert.strictEqual(Report.overlapLimit({ ...sizes, workMicros: 1000 }), 1)
    // A last page that is not full is a page all the same.
    assert.strictEqual(Report.overlapLimit({ ...sizes, latencyList: 1001, workMicros: 0 }), 0.22)
  })

  it("shows the limit and judges batchfx against the SDK and the limit", () => {
    const met = row(420, 210)
    assert.strictEqual(met.metric, "wall s (median; overlap limit 0.20 s; the floor looks ahead)")
    assert.strictEqual(met.batchfx, "0.21 (1.05× limit)")
    assert.strictEqual(met.floor, "")
    assert.strictEqual(met.ratio, "0.50× SDK, 1.05× limit")
    assert.strictEqual(met.target, "≤ 0.6× SDK and ≤ 1.1× limit")
    assert.strictEqual(met.met, true)
    // Over 1.1× the limit, though well under 0.6× the SDK.
    assert.strictEqual(row(1000, 230).met, false)
    // Under 1.1× the limit, though over 0.6× the SDK.
    assert.strictEqual(row(340, 210).met, false)
  })

  it("shows the floor's wall time against the limit, and batchfx's against the floor's", () => {
    const [withFloor] = Report.summarize(raw([waited("floor", 220), waited("sdk", 420), waited("batchfx", 242)]))
    assert.strictEqual(withFloor!.floor, "0.22 (1.10× limit)")
    assert.strictEqual(withFloor!.ratio, "0.58× SDK, 1.21× limit, 1.10× floor")
    assert.strictEqual(withFloor!.met, false)
  })
})

describe("the table of scenario 4", () => {
  // A run of scenario 4 that read 256 MB in `ms`, peaking at `maxRssMB`.
  const read = (contender: string, ms: number, maxRssMB: number): RunRecord => ({
    scenario: 4,
    case: "results 256 MB",
    contender,
    run: 1,
    report: {
      items: 1000,
      bytes: 256 * 1024 * 1024,
      ms,
      cpuMs: ms,
      maxRssMB,
      startRssMB: 90,
      workPeakRssMB: maxRssMB,
      heapUsedMB: 10
    },
    wallMs: ms + 50,
    exitCode: 0
  })

  it("judges MB/s against the floor and the peak against 130 MB; the growth is shown, not judged", () => {
    const rows = Report.summarize(raw([read("floor", 2000, 100), read("sdk", 6000, 1000), read("batchfx", 2400, 129)]))
    assert.deepStrictEqual(rows.map((r) => [r.batchfx, r.target, r.met]), [
      ["107", "≥ 0.8× floor", true],
      ["129", "batchfx < 130 MB", true],
      ["39", "", undefined]
    ])
    const over = Report.summarize(raw([read("floor", 2000, 100), read("sdk", 6000, 1000), read("batchfx", 2600, 130)]))
    assert.deepStrictEqual(over.map((r) => r.met), [false, false, undefined])
  })
})
