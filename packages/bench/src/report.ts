/**
 * Medians, ratios and targets from the raw runs, as rows of a Markdown table.
 */
import type { Machine, RunRecord } from "./run.js"

/** Everything one bench invocation measured. */
export interface Raw {
  readonly command: string
  readonly revision: string
  readonly machine: Machine
  readonly startedAt: string
  readonly finishedAt: string
  readonly options: { readonly smoke: boolean; readonly runs: number }
  readonly sizes: {
    readonly ratePerSecond: number
    readonly retrieves: number
    readonly memory: ReadonlyArray<number>
    /** Scenario 2: batches listed, milliseconds of latency per page, microseconds of work per batch. */
    readonly latencyList: number
    readonly latencyMs: number
    readonly workMicros: number
    readonly pageSize: number
  }
  readonly records: ReadonlyArray<RunRecord>
  readonly notes?: ReadonlyArray<string> | undefined
  /** The scenarios done so far, while a run is still going; undefined once it has finished. */
  readonly partial?: ReadonlyArray<number> | undefined
}

/**
 * The records' name for batchfx consuming the listing with a synchronous `Stream.runFold` (scenarios
 * 1 and 3): unjudged rows beside the judged `Stream.runForEach`; they differ only in Effect's sink.
 */
export const batchfxFold = "batchfx-fold"

/** One line of the table. */
export interface Row {
  readonly scenario: number
  readonly case: string
  readonly metric: string
  readonly floor: string
  readonly sdk: string
  readonly batchfx: string
  readonly ratio: string
  readonly target: string
  /** Whether batchfx met the target; undefined where there is no target or no figure. */
  readonly met: boolean | undefined
  readonly runs: number
}

/** The median of some numbers (the mean of the middle two for an even count). */
export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const ok = (records: ReadonlyArray<RunRecord>) => records.filter((r) => r.exitCode === 0)

const pick = (raw: Raw, scenario: number, name: string, contender: string) =>
  ok(raw.records.filter((r) => r.scenario === scenario && r.case === name && r.contender === contender))

const stat = (
  raw: Raw,
  scenario: number,
  name: string,
  contender: string,
  f: (r: RunRecord) => number | undefined
): number => median(pick(raw, scenario, name, contender).flatMap((r) => f(r) ?? []))

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : "n/a"
const times = (n: number): string => Number.isFinite(n) ? `${n.toFixed(2)}×` : "n/a"
const checked = (...conditions: ReadonlyArray<number>) => conditions.every(Number.isFinite)

const perSecond = (r: RunRecord) =>
  r.report === undefined || r.report.ms === 0 ? undefined : r.report.items / (r.report.ms / 1000)
const cpuPerThousand = (r: RunRecord) =>
  r.report === undefined || r.report.items === 0 ? undefined : r.report.cpuMs / (r.report.items / 1000)
const seconds = (r: RunRecord) => r.report === undefined ? undefined : r.report.ms / 1000
const rss = (r: RunRecord) => r.report?.maxRssMB
// What the work itself added: its peak over the memory it started from (Linux only).
const growth = (r: RunRecord) =>
  r.report?.workPeakRssMB !== undefined && r.report.startRssMB !== undefined
    ? r.report.workPeakRssMB - r.report.startRssMB
    : undefined
const mbPerSecond = (r: RunRecord) =>
  r.report?.bytes === undefined ? undefined : r.report.bytes / 1024 / 1024 / (r.report.ms / 1000)
const count429 = (r: RunRecord) => r.server?.byStatus["429"] ?? 0
const share429 = (r: RunRecord) =>
  r.server === undefined || r.server.requests === 0 ? undefined : count429(r) / r.server.requests

/**
 * Scenario 2's overlap limit in seconds: the wall time of a listing whose fetches hide entirely
 * behind the consumer's work, or the reverse, max(pages × latency, items × work). Nothing that
 * fetches one page at a time and works on one thread finishes sooner; its own CPU comes on top.
 */
export const overlapLimit = (sizes: Raw["sizes"]): number => {
  const pages = Math.ceil(sizes.latencyList / sizes.pageSize)
  return Math.max(pages * sizes.latencyMs, sizes.latencyList * sizes.workMicros / 1000) / 1000
}

const cases = (raw: Raw, scenario: number): ReadonlyArray<string> => [
  ...new Set(raw.records.filter((r) => r.scenario === scenario).map((r) => r.case))
]

const sizeOf = (name: string) => Number(/\d+/.exec(name)?.[0] ?? Number.NaN)

const runsOf = (raw: Raw, scenario: number, name: string) =>
  Math.max(0, ...["floor", "sdk", "batchfx", "node"].map((c) => pick(raw, scenario, name, c).length))

/** The rows of the table, from the raw runs. */
export const summarize = (raw: Raw): ReadonlyArray<Row> => {
  const rows: Array<Row> = []
  const base = (scenario: number, name: string) => ({ scenario, case: name, runs: runsOf(raw, scenario, name) })
  // A row comparing the three contenders on one figure: their medians, and what `judge` says of them.
  // `batchfxAs` names the records that stand for batchfx (its `runFold` runs for the unjudged rows).
  const compared = (
    scenario: number,
    name: string,
    metric: string,
    figure: (r: RunRecord) => number | undefined,
    judge: (medians: { floor: number; sdk: number; bfx: number }) => Pick<Row, "ratio" | "target" | "met">,
    digits = 0,
    batchfxAs = "batchfx"
  ): Row => {
    const [floor, sdk, bfx] = ["floor", "sdk", batchfxAs].map((c) => stat(raw, scenario, name, c, figure))
    return {
      ...base(scenario, name),
      metric,
      floor: fmt(floor!, digits),
      sdk: fmt(sdk!, digits),
      batchfx: fmt(bfx!, digits),
      ...judge({ floor: floor!, sdk: sdk!, bfx: bfx! })
    }
  }

  // Ratios to the SDK and the floor, with no target.
  const unjudged = ({ bfx, floor, sdk }: { floor: number; sdk: number; bfx: number }) => ({
    ratio: `${times(bfx / sdk)} SDK, ${times(bfx / floor)} floor`,
    target: "",
    met: undefined
  })

  // Judged on CPU, which a busy machine moves less than wall time; items/s is shown, not judged.
  for (const name of cases(raw, 1)) {
    rows.push(compared(1, name, "items/s (median)", perSecond, unjudged))
    rows.push(compared(1, name, "CPU ms per 1,000 items (median)", cpuPerThousand, ({ bfx, floor, sdk }) => ({
      ratio: `${times(bfx / sdk)} SDK, ${times(bfx / floor)} floor`,
      target: "≤ 1.5× SDK",
      met: checked(sdk, bfx) ? bfx <= 1.5 * sdk : undefined
    }), 1))
    if (pick(raw, 1, name, batchfxFold).length > 0) {
      const folded = {
        case: `${name}, batchfx consumed by \`Stream.runFold\``,
        runs: pick(raw, 1, name, batchfxFold).length
      }
      rows.push(
        { ...compared(1, name, "items/s (median)", perSecond, unjudged, 0, batchfxFold), ...folded },
        { ...compared(1, name, "CPU ms per 1,000 items (median)", cpuPerThousand, unjudged, 1, batchfxFold), ...folded }
      )
    }
  }

  // The SDK fetches a page only when the loop asks for it; batchfx and the floor look ahead, so
  // their fetches can hide behind the consumer's work: judged against both the SDK and the overlap
  // limit, with the floor's wall time beside it.
  for (const name of cases(raw, 2)) {
    const limit = overlapLimit(raw.sizes)
    const [floor, sdk, bfx] = (["floor", "sdk", "batchfx"] as const).map((c) => stat(raw, 2, name, c, seconds))
    const againstLimit = (value: number) =>
      Number.isFinite(value) ? `${fmt(value, 2)} (${times(value / limit)} limit)` : ""
    rows.push({
      ...base(2, name),
      metric: `wall s (median; overlap limit ${fmt(limit, 2)} s; the floor looks ahead)`,
      floor: againstLimit(floor!),
      sdk: againstLimit(sdk!),
      batchfx: againstLimit(bfx!),
      ratio: `${times(bfx! / sdk!)} SDK, ${times(bfx! / limit)} limit${
        Number.isFinite(floor) ? `, ${times(bfx! / floor!)} floor` : ""
      }`,
      target: "≤ 0.6× SDK and ≤ 1.1× limit",
      met: checked(sdk!, bfx!, limit) && limit > 0 ? bfx! <= 0.6 * sdk! && bfx! <= 1.1 * limit : undefined
    })
  }

  // Smallest listing first, so that the growth row sets the largest against the smallest.
  const memoryCases = [...cases(raw, 3)].sort((a, b) => sizeOf(a) - sizeOf(b))
  for (const name of memoryCases) {
    const reused = raw.records.some((r) => r.scenario === 3 && r.case === name && r.reusedFrom !== undefined)
    rows.push({
      ...compared(3, name, "peak RSS MB (median)", rss, ({ bfx, sdk }) => ({
        ratio: `${times(bfx / sdk)} SDK`,
        target: "",
        met: undefined
      })),
      ...(reused ? { case: `${name} (runs of #1)` } : {})
    })
  }
  if (memoryCases.length >= 2) {
    const first = memoryCases[0]!
    const last = memoryCases[memoryCases.length - 1]!
    const [floor, sdk, bfx] = (["floor", "sdk", "batchfx"] as const).map((c) =>
      stat(raw, 3, last, c, rss) / stat(raw, 3, first, c, rss)
    )
    rows.push({
      scenario: 3,
      case: `${last.replace("memory ", "")} vs ${first.replace("memory ", "")}`,
      runs: Math.min(runsOf(raw, 3, first), runsOf(raw, 3, last)),
      metric: "peak RSS growth",
      floor: times(floor!),
      sdk: times(sdk!),
      batchfx: times(bfx!),
      ratio: "",
      target: "batchfx ≤ 1.3×",
      met: checked(bfx!) ? bfx! <= 1.3 : undefined
    })
    const folded = [first, last].map((c) => stat(raw, 3, c, batchfxFold, rss))
    if (checked(...folded)) {
      const [from, to] = folded
      rows.push({
        scenario: 3,
        case: `${last.replace("memory ", "")} vs ${
          first.replace("memory ", "")
        }, batchfx consumed by \`Stream.runFold\``,
        runs: Math.min(pick(raw, 3, first, batchfxFold).length, pick(raw, 3, last, batchfxFold).length),
        metric: "peak RSS growth",
        floor: times(floor!),
        sdk: times(sdk!),
        batchfx: `${times(to! / from!)} (${fmt(from!)} → ${fmt(to!)} MB)`,
        ratio: "",
        target: "",
        met: undefined
      })
    }
  }

  for (const name of cases(raw, 4)) {
    rows.push(compared(4, name, "MB/s read and parsed (median)", mbPerSecond, ({ bfx, floor, sdk }) => ({
      ratio: `${times(bfx / floor)} floor, ${times(bfx / sdk)} SDK`,
      target: "≥ 0.8× floor",
      met: checked(floor, bfx) ? bfx >= 0.8 * floor : undefined
    })))
    rows.push(compared(4, name, "peak RSS MB (median)", rss, ({ bfx, sdk }) => ({
      ratio: `${times(bfx / sdk)} SDK`,
      target: "batchfx < 130 MB",
      met: checked(bfx) ? bfx < 130 : undefined
    })))
    // What the read itself added, apart from loading modules: shown, not judged.
    rows.push(compared(4, name, "peak RSS growth MB during the read (median)", growth, ({ bfx, floor }) => ({
      ratio: `${times(bfx / floor)} floor`,
      target: "",
      met: undefined
    })))
  }

  // Issue 21's targets in every limiter mode: wall ≤ 1.1× the ideal (retrieves / rate), 429s ≤ 2%
  // of the requests and no failed id.
  for (const name of cases(raw, 5)) {
    const ideal = raw.sizes.retrieves / raw.sizes.ratePerSecond
    const [sdk, bfx] = (["sdk", "batchfx"] as const).map((c) => stat(raw, 5, name, c, seconds))
    const [sdk429, bfx429] = (["sdk", "batchfx"] as const).map((c) => stat(raw, 5, name, c, count429))
    const [sdkShare, bfxShare] = (["sdk", "batchfx"] as const).map((c) => stat(raw, 5, name, c, share429))
    const [sdkFailed, bfxFailed] = (["sdk", "batchfx"] as const).map((c) =>
      stat(raw, 5, name, c, (r) => r.report?.failures)
    )
    rows.push({
      ...base(5, name),
      metric: `wall s (median; ideal ${fmt(ideal, 1)} s)`,
      floor: "",
      sdk: `${fmt(sdk!, 2)} (${times(sdk! / ideal)} ideal)`,
      batchfx: `${fmt(bfx!, 2)} (${times(bfx! / ideal)} ideal)`,
      ratio: `${times(bfx! / sdk!)} SDK`,
      target: "≤ 1.1× ideal",
      met: checked(bfx!) ? bfx! <= 1.1 * ideal : undefined
    })
    rows.push({
      ...base(5, name),
      metric: "429 answers (median; % of requests) · failed ids",
      floor: "",
      sdk: `${fmt(sdk429!)} (${fmt(sdkShare! * 100, 1)}%) · ${fmt(sdkFailed!)}`,
      batchfx: `${fmt(bfx429!)} (${fmt(bfxShare! * 100, 1)}%) · ${fmt(bfxFailed!)}`,
      ratio: "",
      target: "≤ 2% of requests, 0 failed ids",
      met: checked(bfxShare!, bfxFailed!) ? bfxShare! <= 0.02 && bfxFailed! === 0 : undefined
    })
  }

  for (const name of cases(raw, 6)) {
    const ms = (c: string) => stat(raw, 6, name, c, (r) => r.wallMs)
    const [node, floor, sdk, bfx] = [ms("node"), ms("floor"), ms("sdk"), ms("batchfx")]
    const isVersion = name === "--version"
    rows.push({
      scenario: 6,
      case: name === "node -e 0" ? name : `batchfx ${name}`,
      runs: runsOf(raw, 6, name),
      metric: "ms from spawn to exit (median)",
      floor: name === "node -e 0" ? `${fmt(node)} (node alone)` : fmt(floor),
      sdk: fmt(sdk),
      batchfx: fmt(bfx),
      ratio: Number.isFinite(sdk) && Number.isFinite(bfx) ? `${times(bfx / sdk)} SDK script` : "",
      target: isVersion ? "< 300 ms" : "",
      met: isVersion && Number.isFinite(bfx) ? bfx < 300 : undefined
    })
  }
  return rows
}

const machineText = (m: Machine) => `${m.cores}× ${m.cpu}, ${m.memoryGB} GB, Node ${m.node.replace(/^v/, "")}`

/** The table alone. */
export const table = (raw: Raw, rows: ReadonlyArray<Row>): string => {
  const header =
    "| # | case | metric | floor (fetch + JSON.parse) | SDK (openai 6.49.0) | batchfx | batchfx ratio | target | met | runs | machine | command |"
  const rule = "|---|---|---|---:|---:|---:|---|---|---|---:|---|---|"
  const machine = machineText(raw.machine)
  const lines = rows.map((r) =>
    `| ${r.scenario} | ${r.case} | ${r.metric} | ${r.floor} | ${r.sdk} | ${r.batchfx} | ${r.ratio} | ${r.target} | ${
      r.met === undefined ? "" : r.met ? "yes" : "**no**"
    } | ${r.runs} | ${machine} | \`${raw.command}\` |`
  )
  return [header, rule, ...lines].join("\n")
}

/** The whole RESULTS.md. */
export const render = (raw: Raw, rows: ReadonlyArray<Row>): string =>
  `# pnpm bench: results

batchfx beside the floor (bare \`fetch\` and \`JSON.parse\`, no validation) and the official \`openai\`
SDK 6.49.0, each run in its own Node process against one server on 127.0.0.1. Medians of the runs;
the raw figures of every run are in [results.json](results.json). Run ${raw.startedAt} to
${raw.finishedAt} on ${machineText(raw.machine)} (${raw.machine.os}), at commit ${raw.revision}.

${
    raw.partial === undefined
      ? ""
      : `**Partial: scenarios ${raw.partial.join(", ")} of this run are done; the run was still going.**\n\n`
  }Targets met by batchfx: ${rows.filter((r) => r.met === true).length} of ${
    rows.filter((r) => r.met !== undefined).length
  }${
    rows.some((r) => r.met === false)
      ? ` (missed: ${
        rows.filter((r) => r.met === false).map((r) => `#${r.scenario} ${r.metric.replace(/ \(.*$/, "")}`).join("; ")
      })`
      : ""
  }. The targets and how each figure is measured are in [the bench's README](README.md#scenarios-and-targets).

${table(raw, rows)}
${(raw.notes ?? []).length > 0 ? `\n${(raw.notes ?? []).map((n) => `- ${n}`).join("\n")}\n` : ""}
Scenarios (see [the bench's README](README.md) for how each is measured):

1. List every batch, page size ${raw.sizes.pageSize}, no latency; batchfx decodes every batch with its
   Schema, is consumed by \`Stream.runForEach\` with an \`Effect.sync\` per batch, and is judged on
   CPU per batch; the unjudged rows "consumed by \`Stream.runFold\`" (here and in 3) show what that
   sink of Effect's costs.
2. ${raw.sizes.latencyList} batches, ${raw.sizes.latencyMs} ms of server latency per page, ${raw.sizes.workMicros} µs of consumer work (busy
   CPU) per batch. The overlap limit, max(pages × latency, batches × work), is the wall time if the
   fetches hid entirely behind the work (or the work behind the fetches). The floor requests each
   next page before the work on the one it has: what any client that parses its pages on the
   thread doing the work comes to.
3. Peak resident memory (\`VmHWM\` of the contender's process) listing ${raw.sizes.memory.join(", ")} batches.
4. Download an output file of chat-completion result lines and parse every line: MB/s and peak
   memory. batchfx streams and decodes each line with \`BatchResultLine\`; the SDK reads
   \`files.content()\` whole, splits and parses; the floor streams, splits and parses.
5. ${raw.sizes.retrieves} retrieves against a server allowing ${raw.sizes.ratePerSecond} requests per
   second, in each limiter mode of the case's name (a fixed 1 s window; a per-minute window; a
   per-minute limit also enforced per second; a token bucket holding one second's worth; with or
   without \`x-ratelimit-*\` headers stating the limit per minute; every 429 with \`retry-after-ms\`):
   batchfx \`Bulk.retrieveMany\` (concurrency 32, under the client's governor) beside the SDK in a
   32-wide promise pool with its default retries. The ideal is retrieves / rate.
6. Start-up: \`batchfx --version\` and \`batchfx list --max 1\` against the emulator
   (\`batchfx-fake-server\`), beside scripts that list one batch with the SDK and with \`fetch\`.
`
