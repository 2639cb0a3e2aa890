/**
 * What every contender shares: its arguments, the consumer's simulated work, and the one JSON line
 * it prints when done (the runner reads it).
 */
import { readFileSync, writeFileSync } from "node:fs"

/** The page size every contender lists with (the API's largest). */
export const pageSize = 100

/** The scenarios a contender knows. */
export type Scenario = "list" | "results" | "retrieve" | "cold"

/** The arguments of a contender: `node dist/contenders/<x>.js <scenario> <baseUrl> [key=value…]`. */
export interface Args {
  readonly scenario: Scenario
  readonly baseUrl: string
  readonly apiKey: string
  /** Microseconds of work the consumer does per item (list). */
  readonly workMicros: number
  /** How many retrieves (retrieve). */
  readonly count: number
  /** Requests at once (retrieve). */
  readonly concurrency: number
  /** The file to read (results). */
  readonly fileId: string
  /**
   * How batchfx consumes the listing (list): `forEach`, one `Effect.sync` per batch (the default and
   * the figure judged), or `fold`, a synchronous fold like the SDK's loop body (a diagnostic row).
   */
  readonly consumer: "forEach" | "fold"
  /**
   * Whether the floor requests the next page as soon as it knows the cursor, before the work on
   * the page it has (list, scenario 2): the best a client that overlaps fetches with work can do.
   */
  readonly lookAhead: boolean
}

const scenarios: ReadonlyArray<Scenario> = ["list", "results", "retrieve", "cold"]

/** Parses `process.argv`. */
export const parseArgs = (argv: ReadonlyArray<string> = process.argv.slice(2)): Args => {
  const [scenario, baseUrl, ...rest] = argv
  if (scenario === undefined || !scenarios.includes(scenario as Scenario) || baseUrl === undefined) {
    throw new Error(`usage: <contender> ${scenarios.join("|")} <baseUrl> [key=value…]`)
  }
  const kv = new Map(rest.map((a) => {
    const at = a.indexOf("=")
    return [a.slice(0, at), a.slice(at + 1)] as const
  }))
  const num = (key: string, fallback: number) => {
    const v = kv.get(key)
    return v === undefined ? fallback : Number(v)
  }
  return {
    scenario: scenario as Scenario,
    baseUrl,
    apiKey: kv.get("key") ?? process.env["OPENAI_API_KEY"] ?? "",
    workMicros: num("work", 0),
    count: num("count", 0),
    concurrency: num("concurrency", 32),
    fileId: kv.get("file") ?? "",
    consumer: kv.get("consumer") === "fold" ? "fold" : "forEach",
    lookAhead: kv.get("lookahead") === "1"
  }
}

/** Keeps the CPU busy for `micros` microseconds: the consumer's work per item. */
export const spin = (micros: number): void => {
  if (micros <= 0) return
  const until = performance.now() + micros / 1000
  while (performance.now() < until) {
    // busy
  }
}

/** What a contender measured. */
export interface Measured {
  /** Items listed, lines parsed or retrieves made. */
  readonly items: number
  /** Bytes read (results). */
  readonly bytes?: number
  /** Calls that failed for good (retrieve). */
  readonly failures?: number
  /** Wall time of the work, in milliseconds (module loading excluded). */
  readonly ms: number
  /** CPU time (user + system) of the work, in milliseconds: steadier than wall time on a busy machine. */
  readonly cpuMs: number
  /** Resident memory when the work started, in MB (after modules were loaded). */
  readonly startRssMB?: number
}

/** Where the work started: wall clock, CPU usage and resident memory. */
export interface Start {
  readonly at: number
  readonly cpu: NodeJS.CpuUsage
  readonly rssMB: number
}

// The process's peak before the work, kept when `begin` resets the kernel's high-water mark.
let peakBeforeWorkMB = 0
// Whether the high-water mark was reset, so that `VmHWM` afterwards is the work's own peak.
let peakReset = false

/**
 * Marks the start of the work. On Linux the peak resident memory is reset to the current one
 * (`/proc/self/clear_refs`), so that the work's own peak can be read at the end, apart from the
 * peak of loading modules.
 */
export const begin = (): Start => {
  peakBeforeWorkMB = peakRssMB()
  try {
    writeFileSync("/proc/self/clear_refs", "5")
    peakReset = true
  } catch {
    // not Linux, or not allowed: the work's peak is then not known apart
  }
  return { at: performance.now(), cpu: process.cpuUsage(), rssMB: process.memoryUsage().rss / 1024 / 1024 }
}

/** The figures of the work started at `start`. */
export const finish = (start: Start, figures: Omit<Measured, "ms" | "cpuMs" | "startRssMB">): Measured => {
  const cpu = process.cpuUsage(start.cpu)
  return {
    ...figures,
    ms: performance.now() - start.at,
    cpuMs: (cpu.user + cpu.system) / 1000,
    startRssMB: start.rssMB
  }
}

/** The line a contender prints: what it measured plus its peak resident memory. */
export interface Report extends Measured {
  /** The peak resident memory of the whole process, module loading included. */
  readonly maxRssMB: number
  /** The peak resident memory during the work (Linux), to set against `startRssMB`. */
  readonly workPeakRssMB?: number
  readonly heapUsedMB: number
}

/**
 * The peak resident memory of this process in MB: `VmHWM` of `/proc/self/status` on Linux. Not
 * `process.resourceUsage().maxRSS`: Linux carries `ru_maxrss` across `exec`, so a child forked by
 * a big parent reports the parent's size.
 */
export const peakRssMB = (): number => {
  try {
    const status = readFileSync("/proc/self/status", "utf8")
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
    if (match !== null) return Number(match[1]) / 1024
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024
}

/** Prints the report line on stdout. */
export const report = (measured: Measured): void => {
  const peak = peakRssMB()
  const report: Report = {
    ...measured,
    maxRssMB: Math.max(peak, peakBeforeWorkMB),
    ...(peakReset ? { workPeakRssMB: peak } : {}),
    heapUsedMB: process.memoryUsage().heapUsed / 1024 / 1024
  }
  process.stdout.write(JSON.stringify(report) + "\n")
}
