/**
 * The rows of scenarios 7 (loading the client, the installed CLI's `--help`) and 8 (the emulator at
 * the API's sizes through the official SDK), beside report.ts's rows of 1 to 6, in the same table.
 * Their columns hold other things than the three contenders: each row's case and metric say what.
 */
import type { Raw, Row } from "./report.js"
import { median } from "./report.js"
import type { RunRecord } from "./run.js"

/** The record cases of scenarios 7 and 8, shared with the runner. */
export const importCase = "import"
export const helpCase = "--help"
export const uploadCase = (bytes: number) => `upload ${(bytes / 1024 / 1024).toFixed(0)} MB`
export const createCase = (lines: number) => `create ${lines.toLocaleString("en-US")} lines`

const ok = (raw: Raw, scenario: number, name: string, contender: string) =>
  raw.records.filter((r) => r.scenario === scenario && r.case === name && r.contender === contender && r.exitCode === 0)

const med = (records: ReadonlyArray<RunRecord>, f: (r: RunRecord) => number | undefined) =>
  median(records.flatMap((r) => f(r) ?? []))

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a"
const times = (n: number): string => Number.isFinite(n) ? `${n.toFixed(2)}×` : "n/a"

/** The rows of scenarios 7 and 8. */
export const summarize = (raw: Raw): ReadonlyArray<Row> => {
  const rows: Array<Row> = []
  const cases = (scenario: number) => [
    ...new Set(raw.records.filter((r) => r.scenario === scenario).map((r) => r.case))
  ]

  for (const name of cases(7)) {
    if (name === importCase) {
      const [effect, sdk, client] = ["effect", "sdk", "batchfx"].map((c) => ok(raw, 7, name, c))
      const runs = Math.max(effect!.length, sdk!.length, client!.length)
      const ms = (rs: ReadonlyArray<RunRecord>) => med(rs, (r) => r.report?.ms)
      const wall = (rs: ReadonlyArray<RunRecord>) => med(rs, (r) => r.wallMs)
      const rss = (rs: ReadonlyArray<RunRecord>) => med(rs, (r) => r.report?.maxRssMB)
      const [e, s, c] = [effect!, sdk!, client!]
      rows.push(
        {
          scenario: 7,
          case:
            "`import(\"@batchfx/client\")` (batchfx) beside `effect` + `@effect/platform/HttpClient` (floor column) and `openai`",
          metric: "ms to import, fresh process (median)",
          floor: `${fmt(ms(e))} (effect + HttpClient)`,
          sdk: fmt(ms(s)),
          batchfx: fmt(ms(c)),
          ratio: `${times(ms(c) / ms(e))} effect + HttpClient`,
          target: "",
          met: undefined,
          runs
        },
        {
          scenario: 7,
          case: "the same processes",
          metric: "ms from spawn to exit (median)",
          floor: `${fmt(wall(e))} (effect + HttpClient)`,
          sdk: fmt(wall(s)),
          batchfx: fmt(wall(c)),
          ratio: `${times(wall(c) / wall(e))} effect + HttpClient`,
          target: "",
          met: undefined,
          runs
        },
        {
          scenario: 7,
          case: "the same processes",
          metric: "peak RSS MB (median)",
          floor: `${fmt(rss(e))} (effect + HttpClient)`,
          sdk: fmt(rss(s)),
          batchfx: fmt(rss(c)),
          ratio: `${times(rss(c) / rss(e))} effect + HttpClient`,
          target: "",
          met: undefined,
          runs
        }
      )
    } else if (name === helpCase) {
      const bundle = med(ok(raw, 7, name, "bundle"), (r) => r.wallMs)
      const installed = med(ok(raw, 7, name, "installed"), (r) => r.wallMs)
      const ratio = installed / bundle
      rows.push({
        scenario: 7,
        case:
          "`batchfx --help`: installed with `npm install -g` of the tarball (batchfx) beside the in-repo bundle (floor column)",
        metric: "ms from spawn to exit (median)",
        floor: `${fmt(bundle)} (in-repo bundle)`,
        sdk: "",
        batchfx: fmt(installed),
        ratio: `${times(ratio)} in-repo bundle`,
        target: "≤ 1.2× in-repo bundle",
        met: Number.isFinite(ratio) ? ratio <= 1.2 : undefined,
        runs: Math.min(ok(raw, 7, name, "bundle").length, ok(raw, 7, name, "installed").length)
      })
    }
  }

  for (const name of cases(8)) {
    const records = ok(raw, 8, name, "sdk")
    const base = { scenario: 8, floor: "", sdk: "", ratio: "", runs: records.length }
    if (name.startsWith("upload")) {
      const mb = med(records, (r) => r.report?.bytes) / 1024 / 1024
      const seconds = med(records, (r) => r.report === undefined ? undefined : r.report.ms / 1000)
      const peak = med(records, (r) => r.emulator?.peakRssMB)
      const idle = med(records, (r) => r.emulator?.idleRssMB)
      rows.push(
        {
          ...base,
          case: `${name} to the emulator through the openai SDK (\`files.create\`)`,
          metric: "wall s of the upload (median)",
          batchfx: fmt(seconds, 2),
          target: "≤ 10 s",
          met: Number.isFinite(seconds) ? seconds <= 10 : undefined
        },
        {
          ...base,
          case: `${name}, the emulator's process`,
          metric: "peak RSS MB (median; idle before the upload)",
          batchfx: `${fmt(peak)} (idle ${fmt(idle)})`,
          // The growth (peak over idle) is what the upload itself holds; the judged figure is the whole peak.
          ratio: `${times(peak / mb)} the file (growth ${times((peak - idle) / mb)})`,
          target: "≤ 2× the file",
          met: Number.isFinite(peak) && Number.isFinite(mb) ? peak <= 2 * mb : undefined
        }
      )
    } else {
      const ms = med(records, (r) => r.report?.ms)
      rows.push({
        ...base,
        case: `${name} through the openai SDK (\`batches.create\`, the file uploaded before)`,
        metric: "ms until the create is answered (median)",
        batchfx: fmt(ms),
        target: "< 300 ms",
        met: Number.isFinite(ms) ? ms < 300 : undefined
      })
    }
  }
  return rows
}
