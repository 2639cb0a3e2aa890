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
  sizes: { ratePerSecond: 1, retrieves: 1, memory: [] },
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

  it("judges batchfx's runForEach and shows its runFold runs beside it, unjudged", () => {
    const rows = Report.summarize(raw([
      ...judged,
      listed(Report.batchfxFold, 1, 16, 30),
      listed(Report.batchfxFold, 2, 16, 34)
    ]))
    assert.deepStrictEqual(rows.map((r) => [r.case, r.metric, r.batchfx, r.met]), [
      ["list 1000", "items/s (median)", "25,000", false],
      ["list 1000", "CPU ms per 1,000 items (median)", "80.0", undefined],
      ["list 1000, batchfx consumed by `Stream.runFold`", "items/s (median)", "62,500", undefined],
      ["list 1000, batchfx consumed by `Stream.runFold`", "CPU ms per 1,000 items (median)", "32.0", undefined]
    ])
    assert.strictEqual(rows[2]!.ratio, "1.25× SDK, 0.63× floor")
    assert.strictEqual(rows[2]!.runs, 2)
    assert.strictEqual(Report.render(raw(judged), rows).includes("Targets met by batchfx: 0 of 1"), true)
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
      ["1000 vs 10", "1.40×", "batchfx ≤ 1.25×", false],
      ["1000 vs 10, batchfx consumed by `Stream.runFold`", "1.10× (100 → 110 MB)", "", undefined]
    ])
  })

  it("has no runFold growth row when those runs are missing", () => {
    const rows = Report.summarize(raw(judged))
    assert.deepStrictEqual(rows.filter((r) => r.metric === "peak RSS growth").map((r) => r.case), ["1000 vs 10"])
  })
})
