/** The flags of the stand-alone server, parsed from `process.argv` without a framework. */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import * as Fault from "../Fault.js"
import * as Responder from "../Responder.js"
import * as Route from "../Route.js"
import { defaults } from "./knobs.js"

/** What the flags ask for. */
export interface Parsed {
  readonly options: FakeOpenAi.ServerOptions
  readonly seedBatches: number
  readonly scripted: ReadonlyArray<{ readonly route: Route.Route; readonly nth: number; readonly fault: Fault.Fault }>
  readonly help: boolean
  /** Stop when standard input ends, so a harness in another language that dies takes the server with it. */
  readonly exitOnStdinClose: boolean
}

/** The usage text. */
export const usage = `batchfx-fake-server: an emulator of the OpenAI Batch and Files API

Usage: batchfx-fake-server [flags]

  --host <host>                 listen address (default 127.0.0.1)
  --port <port>                 port (default 0: any free port)
  --api-key <key>               require this API key (default: any non-empty Bearer key)
  --random-seed <n>             seed of ids, output order and random faults
  --seed, --seed-batches <n>    synthetic terminal batches to list (up to millions, no memory)
  --models <list>               comma list of the models lines may name (default: current OpenAI models; * = any)
  --latency-ms <ms>, --latency <duration>
                                delay before each request (e.g. 50ms, 1s)
  --speed <x>                   run the lifecycle x times faster (durations not given are divided by x)
  --rps <n>                     at most n requests per second (429 rate_limit_exceeded)
  --rate-limit <n>/<window>     at most n requests per window (ms, or a duration such as 1m)
  --rate-limit-mode <mode>      how the limit counts: fixed-window (default), quantized (the
                                window's limit also enforced per second) or token-bucket
  --rate-limit-burst <n>        the token bucket's size (default one second's worth)
  --no-rate-limit-headers       answers carry no x-ratelimit-* headers (429s keep retry-after)
  --daily-limit <n>             at most n requests per UTC day (429 until midnight)
  --long-retry-after <n>=<duration>
                                the n-th request gets a 429 asking to wait that long, e.g. 5=5m
  --quota-exhausted             every request gets 429 insufficient_quota
  --fault-rate <0..1>           probability of a random fault per request
  --faults <list>               comma list of 500,502,503,html502,reset,reset-after,truncate:<bytes>,slow:<bytes>:<ms>
  --script-fault <route>@<n>=<fault>
                                the n-th request of a route gets a fault, e.g. "POST /v1/batches@1=reset-after"
                                (repeatable; routes: ${Route.all.join(", ")})
  --stuck-cursor                GET /v1/batches ignores after
  --omit-has-more               GET /v1/batches leaves out has_more
  --break-content-after <bytes> file content answers stop after this many bytes
  --fail-pattern <regex>        batch lines whose custom_id matches fail with an HTTP 400 result line
  --token-limit <n>, --token-limit <model>=<n>,…
                                enqueued input tokens per model (in validating, in_progress, finalizing
                                batches); a batch past it fails with token_limit_exceeded (* = other models;
                                repeatable: each adds its models, <n> alone is *)
  --validating-ms, --in-progress-ms, --finalizing-ms, --cancelling-ms, --expiring-ms, --window-ms <ms>
                                lifecycle durations
  --exit-on-stdin-close         stop when standard input ends (for harnesses in other languages)
  --help                        this text

The first line on stdout is the base URL, printed once the server listens.
`

const parseFault = (text: string): Fault.Fault | string =>
  Either.match(Fault.parse(text), { onLeft: (message) => message, onRight: (fault) => fault })

/** A duration in milliseconds from "250ms", "1.5s", "2m" or a bare number of seconds, as `batchfx` reads them. */
const parseMillis = (flag: string, text: string): number => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(text.trim())
  if (match === null) throw new Error(`${flag} needs a duration such as 50ms, 1s or 2m, got '${text}'`)
  return Number(match[1]) * (match[2] === "ms" ? 1 : match[2] === "m" ? 60_000 : 1000)
}

/** The modes of `--rate-limit-mode`. */
export const rateLimitModes = ["fixed-window", "quantized", "token-bucket"] as const

/**
 * Builds the emulator's rate limit from the rate-limit flags, or says what is wrong: the mode and
 * the burst shape a per-window limit, so they need `--rps` or `--rate-limit`; a daily limit or a
 * long retry-after alone counts nothing per window. `batchfx fake-server` applies the same rules.
 */
export const rateLimitOf = (flags: {
  readonly rate: { readonly requests: number; readonly window: number } | undefined
  readonly headers: boolean
  readonly mode: FakeOpenAi.RateLimit["mode"] | undefined
  readonly burst: number | undefined
  readonly daily: number | undefined
  readonly longRetryAfter: { readonly nth: number; readonly wait: number } | undefined
}): Either.Either<FakeOpenAi.RateLimit | undefined, string> => {
  const { burst, daily, headers, longRetryAfter, mode, rate } = flags
  if (rate === undefined && mode !== undefined) return Either.left("--rate-limit-mode needs --rps or --rate-limit")
  if (rate === undefined && burst !== undefined) return Either.left("--rate-limit-burst needs --rps or --rate-limit")
  if (burst !== undefined && mode !== "token-bucket") {
    return Either.left("--rate-limit-burst is the size of a token bucket: add --rate-limit-mode token-bucket")
  }
  if (rate === undefined && daily === undefined && longRetryAfter === undefined) return Either.right(undefined)
  return Either.right({
    ...(rate ?? { requests: Number.POSITIVE_INFINITY, window: 60_000 }),
    headers,
    ...(mode === undefined ? {} : { mode }),
    ...(burst === undefined ? {} : { burst }),
    ...(daily === undefined ? {} : { daily }),
    ...(longRetryAfter === undefined ? {} : { longRetryAfter })
  })
}

/** `--token-limit`: a number for every model, or `<model>=<n>` pairs separated by commas. */
export const parseTokenLimit = (text: string): FakeOpenAi.TokenLimit => {
  const count = (n: string) => {
    const v = Number(n.replace(/_/g, ""))
    if (n.trim() === "" || !Number.isInteger(v) || v < 1) {
      throw new Error(`--token-limit needs a whole number of tokens of at least 1, or <model>=<n>,…; got '${text}'`)
    }
    return v
  }
  if (!text.includes("=")) return count(text.trim())
  const limits: Record<string, number> = {}
  for (const pair of text.split(",")) {
    const at = pair.lastIndexOf("=")
    const model = pair.slice(0, at).trim()
    if (at < 0 || model === "") throw new Error(`--token-limit needs <model>=<n>,…; got '${text}'`)
    limits[model] = count(pair.slice(at + 1).trim())
  }
  return limits
}

/**
 * A `--token-limit` given again adds to the ones before, as `batchfx fake-server` does: a model
 * given twice keeps its last limit, and `N` alone is the limit of every model not named (`*`).
 */
export const addTokenLimit = (
  before: FakeOpenAi.TokenLimit | undefined,
  next: FakeOpenAi.TokenLimit
): FakeOpenAi.TokenLimit => {
  if (before === undefined) return next
  const asRecord = (limit: FakeOpenAi.TokenLimit) => (typeof limit === "number" ? { "*": limit } : limit)
  const merged = { ...asRecord(before), ...asRecord(next) }
  const models = Object.keys(merged)
  return models.length === 1 && models[0] === "*" ? merged["*"]! : merged
}

const millisOrNaN = (text: string): number => {
  try {
    return parseMillis("", text)
  } catch {
    return Number.NaN
  }
}

const durationFlags: { readonly [flag: string]: keyof FakeOpenAi.Durations } = {
  "--validating-ms": "validating",
  "--in-progress-ms": "inProgress",
  "--finalizing-ms": "finalizing",
  "--cancelling-ms": "cancelling",
  "--expiring-ms": "expiring",
  "--window-ms": "completionWindow"
}

/** Parses the arguments after the script name. */
export const parse = (args: ReadonlyArray<string>): Either.Either<Parsed, string> => {
  const options: Record<string, unknown> = {}
  const durations: Record<string, number> = {}
  let seedBatches = 0
  const scripted: Array<{ route: Route.Route; nth: number; fault: Fault.Fault }> = []
  let help = false
  let exitOnStdinClose = false
  let speed = 1
  let faultRate: number | undefined
  let faults: Array<Fault.Fault> = []
  let rateHeaders = true
  let rate: { requests: number; window: number } | undefined
  let rateMode: FakeOpenAi.RateLimit["mode"] | undefined
  let burst: number | undefined
  let daily: number | undefined
  let longRetryAfter: { nth: number; wait: number } | undefined
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!
    const value = (): string => {
      const v = args[++i]
      if (v === undefined) throw new Error(`${flag} needs a value`)
      return v
    }
    const number = (): number => {
      const v = Number(value())
      if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`)
      return v
    }
    try {
      switch (flag) {
        case "--help":
        case "-h":
          help = true
          break
        case "--host":
          options.host = value()
          break
        case "--port":
          options.port = number()
          break
        case "--api-key":
          options.apiKey = value()
          break
        case "--random-seed":
          options.seed = number()
          break
        case "--seed":
        case "--seed-batches":
          seedBatches = number()
          break
        case "--latency-ms":
          options.latency = number()
          break
        case "--latency":
          options.latency = parseMillis(flag, value())
          break
        case "--speed":
          speed = number()
          if (speed <= 0) throw new Error("--speed must be more than 0")
          break
        case "--rps": {
          if (rate !== undefined) throw new Error("give --rps or --rate-limit, not both")
          const rps = number()
          if (rps <= 0) throw new Error("--rps must be more than 0")
          const requests = Math.max(1, Math.round(rps))
          rate = { requests, window: (requests / rps) * 1000 }
          break
        }
        case "--models":
          options.models = value().split(",").map((m) => m.trim()).filter((m) => m !== "")
          break
        case "--exit-on-stdin-close":
          exitOnStdinClose = true
          break
        case "--rate-limit": {
          if (rate !== undefined) throw new Error("give --rps or --rate-limit, not both")
          const text = value()
          const match = /^(\d+)\/(.+)$/.exec(text)
          const window = match === null
            ? Number.NaN
            : /^\d+$/.test(match[2]!)
            ? Number(match[2])
            : millisOrNaN(match[2]!)
          if (match === null || Number(match[1]) <= 0 || !(window > 0)) {
            throw new Error(`--rate-limit needs <requests>/<window>, e.g. 60/60000 or 3000/1m, got '${text}'`)
          }
          rate = { requests: Number(match[1]), window }
          break
        }
        case "--rate-limit-mode": {
          const text = value()
          rateMode = rateLimitModes.find((m) => m === text)
          if (rateMode === undefined) {
            throw new Error(`--rate-limit-mode needs one of ${rateLimitModes.join(", ")}, got '${text}'`)
          }
          break
        }
        case "--rate-limit-burst":
          burst = number()
          if (burst < 1) throw new Error("--rate-limit-burst must be at least 1")
          break
        case "--no-rate-limit-headers":
          rateHeaders = false
          break
        case "--daily-limit":
          daily = number()
          if (!Number.isInteger(daily)) throw new Error("--daily-limit needs a whole number")
          break
        case "--long-retry-after": {
          const text = value()
          const match = /^(\d+)=(.+)$/.exec(text)
          const wait = match === null ? Number.NaN : millisOrNaN(match[2]!)
          if (match === null || Number(match[1]) < 1 || !(wait > 0)) {
            throw new Error(`--long-retry-after needs <n>=<duration>, e.g. 5=5m, got '${text}'`)
          }
          longRetryAfter = { nth: Number(match[1]), wait }
          break
        }
        case "--quota-exhausted":
          options.quotaExhausted = true
          break
        case "--fault-rate":
          faultRate = number()
          break
        case "--faults":
          faults = value().split(",").map((f) => {
            const parsed = parseFault(f.trim())
            if (typeof parsed === "string") throw new Error(parsed)
            return parsed
          })
          break
        case "--script-fault": {
          const text = value()
          const match = /^(.+)@(\d+)=(.+)$/.exec(text)
          const route = Route.all.find((r) => r === match?.[1]?.trim())
          if (match === null || route === undefined) {
            throw new Error(`--script-fault needs <route>@<n>=<fault> with a known route, got '${text}'`)
          }
          const fault = parseFault(match[3]!.trim())
          if (typeof fault === "string") throw new Error(fault)
          scripted.push({ route, nth: Number(match[2]), fault })
          break
        }
        case "--stuck-cursor":
          options.stuckCursor = true
          break
        case "--omit-has-more":
          options.omitHasMore = true
          break
        case "--break-content-after":
          options.breakContentAfterBytes = number()
          break
        case "--fail-pattern":
          options.failLine = Responder.failCustomIds(new RegExp(value()))
          break
        case "--token-limit":
          options.tokenLimit = addTokenLimit(
            options.tokenLimit as FakeOpenAi.TokenLimit | undefined,
            parseTokenLimit(value())
          )
          break
        default: {
          const duration = Object.hasOwn(durationFlags, flag) ? durationFlags[flag] : undefined
          if (duration === undefined) throw new Error(`unknown flag ${flag}`)
          durations[duration] = number()
        }
      }
    } catch (e) {
      return Either.left(e instanceof Error ? e.message : String(e))
    }
  }
  const rateLimit = rateLimitOf({ rate, headers: rateHeaders, mode: rateMode, burst, daily, longRetryAfter })
  if (Either.isLeft(rateLimit)) return Either.left(rateLimit.left)
  if (rateLimit.right !== undefined) options.rateLimit = rateLimit.right
  if (faultRate !== undefined) {
    options.randomFaults = { rate: faultRate, faults: faults.length > 0 ? faults : [Fault.status(500)] }
  }
  // Durations given explicitly are taken as they are; the others are the defaults run `speed` times faster.
  for (const [key, d] of Object.entries(defaults.durations)) {
    if (!(key in durations) && speed !== 1) durations[key] = Math.max(1, Duration.toMillis(d) / speed)
  }
  options.durations = durations
  return Either.right({
    options: options as FakeOpenAi.ServerOptions,
    seedBatches,
    scripted,
    help,
    exitOnStdinClose
  })
}
