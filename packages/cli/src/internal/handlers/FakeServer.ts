/**
 * What `batchfx fake-server` does once parsed (loaded when it runs; the options are in
 * `commands/FakeServer.ts`). The testkit is loaded only here.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { CommandFailed, UsageError } from "../../CliError.js"
import type { Config } from "../../commands/FakeServer.js"
import * as Opts from "../options.js"
import * as Output from "../output.js"

/** The lifecycle durations of the emulator divided by `speed` (2 = twice as fast). */
export const scaledDurations = (
  defaults: {
    readonly [K in "validating" | "inProgress" | "finalizing" | "cancelling" | "expiring" | "completionWindow"]:
      Duration.DurationInput
  },
  speed: number
) => {
  const scale = (d: Duration.DurationInput) =>
    Duration.millis(Math.max(1, Duration.toMillis(Duration.decode(d)) / speed))
  return {
    validating: scale(defaults.validating),
    inProgress: scale(defaults.inProgress),
    finalizing: scale(defaults.finalizing),
    cancelling: scale(defaults.cancelling),
    expiring: scale(defaults.expiring),
    completionWindow: scale(defaults.completionWindow)
  }
}

const some = <A, K extends string>(key: K, option: Option.Option<A>) =>
  Option.match(option, { onNone: () => ({}), onSome: (value) => ({ [key]: value }) as { [P in K]: A } })

/** A window of `--rate-limit`: bare digits are milliseconds (as in `60/60000`), else a duration. */
const windowMillis = (text: string): number =>
  /^\d+$/.test(text)
    ? Number(text)
    : Either.match(Opts.parseDuration(text), { onLeft: () => Number.NaN, onRight: Duration.toMillis })

/**
 * The emulator's rate limit from the rate-limit flags, by the rules of `batchfx-fake-server`: the
 * mode and the burst shape a per-window limit, so they need `--rps` or `--rate-limit`; a daily
 * limit or a long retry-after alone counts nothing per window (and sends no x-ratelimit-* header).
 */
const rateLimitOf = <E>(config: Config, usage: (description: string) => E) =>
  Effect.gen(function*() {
    if (Option.isSome(config.rps) && Option.isSome(config.rateLimit)) {
      return yield* Effect.fail(usage("Give --rps or --rate-limit, not both."))
    }
    let rate: { readonly requests: number; readonly window: number } | undefined
    if (Option.isSome(config.rps)) {
      const requests = Math.max(1, Math.round(config.rps.value))
      rate = { requests, window: (requests / config.rps.value) * 1000 }
    }
    if (Option.isSome(config.rateLimit)) {
      const match = /^(\d+)\/(.+)$/.exec(config.rateLimit.value.trim())
      const window = match === null ? Number.NaN : windowMillis(match[2]!)
      if (match === null || Number(match[1]) <= 0 || !(window > 0)) {
        return yield* Effect.fail(
          usage(`--rate-limit needs <requests>/<window>, e.g. 60/60000 or 3000/1m, got '${config.rateLimit.value}'.`)
        )
      }
      rate = { requests: Number(match[1]), window }
    }
    let longRetryAfter: { readonly nth: number; readonly wait: number } | undefined
    if (Option.isSome(config.longRetryAfter)) {
      const match = /^(\d+)=(.+)$/.exec(config.longRetryAfter.value.trim())
      const wait = match === null
        ? Number.NaN
        : Either.match(Opts.parseDuration(match[2]!), { onLeft: () => Number.NaN, onRight: Duration.toMillis })
      if (match === null || Number(match[1]) < 1 || !(wait > 0)) {
        return yield* Effect.fail(
          usage(`--long-retry-after needs <n>=<duration>, e.g. 5=5m, got '${config.longRetryAfter.value}'.`)
        )
      }
      longRetryAfter = { nth: Number(match[1]), wait }
    }
    const mode = Option.getOrUndefined(config.rateLimitMode)
    const burst = Option.getOrUndefined(config.rateLimitBurst)
    const daily = Option.getOrUndefined(config.dailyLimit)
    if (rate === undefined && mode !== undefined) {
      return yield* Effect.fail(usage("--rate-limit-mode needs --rps or --rate-limit."))
    }
    if (rate === undefined && burst !== undefined) {
      return yield* Effect.fail(usage("--rate-limit-burst needs --rps or --rate-limit."))
    }
    if (burst !== undefined && mode !== "token-bucket") {
      return yield* Effect.fail(
        usage("--rate-limit-burst is the size of a token bucket: add --rate-limit-mode token-bucket.")
      )
    }
    if (rate === undefined && daily === undefined && longRetryAfter === undefined) return Option.none()
    return Option.some({
      ...(rate ?? { requests: Number.POSITIVE_INFINITY, window: 60_000 }),
      headers: !config.noRateLimitHeaders,
      ...(mode === undefined ? {} : { mode }),
      ...(burst === undefined ? {} : { burst }),
      ...(daily === undefined ? {} : { daily }),
      ...(longRetryAfter === undefined ? {} : { longRetryAfter })
    })
  })

/**
 * The emulator's enqueued-token limit from `--token-limit` values, by the rules of
 * `batchfx-fake-server`: `N` for every model, or `MODEL=N` (several in one value, separated by
 * commas); a model given twice keeps its last limit.
 */
const tokenLimitOf = <E>(values: ReadonlyArray<string>, usage: (description: string) => E) =>
  Effect.gen(function*() {
    if (values.length === 0) return Option.none<number | Record<string, number>>()
    const limits: Record<string, number> = {}
    for (const value of values) {
      for (const pair of value.split(",")) {
        const at = pair.lastIndexOf("=")
        const model = at < 0 ? "*" : pair.slice(0, at).trim()
        const digits = pair.slice(at + 1).trim().replace(/_/g, "")
        const n = Number(digits)
        if (model === "" || !/^\d+$/.test(digits) || !Number.isSafeInteger(n) || n < 1) {
          return yield* Effect.fail(
            usage(`--token-limit needs MODEL=N or N, with N a whole number of tokens of at least 1, got '${value}'.`)
          )
        }
        limits[model] = n
      }
    }
    const models = Object.keys(limits)
    return Option.some(models.length === 1 && models[0] === "*" ? limits["*"]! : limits)
  })

/** Runs the emulator until interrupted (or until stdin ends), after printing its URL. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const FakeOpenAi = yield* Effect.promise(() => import("@batchfx/testkit/FakeOpenAi"))
    const Fault = yield* Effect.promise(() => import("@batchfx/testkit/Fault"))
    const Route = yield* Effect.promise(() => import("@batchfx/testkit/Route"))
    const usage = (description: string) => new UsageError({ description, command: "fake-server" })
    const faults = yield* Effect.forEach(
      Option.match(config.faults, { onNone: () => [], onSome: (text) => text.split(",") }),
      (text) => Effect.mapError(Fault.parse(text), (message) => usage(`--faults: ${message}.`))
    )
    const scripted = yield* Effect.forEach(config.scriptFault, (text) => {
      const match = /^(.+)@(\d+)=(.+)$/.exec(text)
      const route = Route.all.find((r) => r === match?.[1]?.trim())
      return match === null || route === undefined
        ? usage(`--script-fault needs <route>@<n>=<fault> with a known route, got '${text}'.`)
        : Effect.map(
          Effect.mapError(Fault.parse(match[3]!), (message) => usage(`--script-fault: ${message}.`)),
          (fault) => ({ route, nth: Number(match[2]), fault })
        )
    })
    const randomFaults = Option.map(config.faultRate, (rate) => ({
      rate,
      faults: faults.length > 0 ? faults : [Fault.status(500)]
    }))
    const rateLimit = yield* rateLimitOf(config, usage)
    const tokenLimit = yield* tokenLimitOf(config.tokenLimit, usage)
    const scaled = scaledDurations(FakeOpenAi.defaultKnobs.durations, config.speed)
    const exact = (option: Option.Option<number>, otherwise: Duration.Duration) =>
      Option.match(option, { onNone: () => otherwise, onSome: Duration.millis })
    const server = FakeOpenAi.layer({
      host: config.host,
      port: config.port,
      durations: {
        validating: exact(config.validatingMs, scaled.validating),
        inProgress: exact(config.inProgressMs, scaled.inProgress),
        finalizing: exact(config.finalizingMs, scaled.finalizing),
        cancelling: exact(config.cancellingMs, scaled.cancelling),
        expiring: exact(config.expiringMs, scaled.expiring),
        completionWindow: exact(config.windowMs, scaled.completionWindow)
      },
      quotaExhausted: config.quotaExhausted,
      stuckCursor: config.stuckCursor,
      omitHasMore: config.omitHasMore,
      ...some("seed", config.randomSeed),
      ...some("randomFaults", randomFaults),
      ...some("rateLimit", rateLimit),
      ...some("tokenLimit", tokenLimit),
      ...some("latency", config.latency),
      ...some("apiKey", config.apiKey),
      ...some("breakContentAfterBytes", config.breakContentAfter),
      ...some(
        "models",
        Option.map(config.models, (text) => text.split(",").map((m) => m.trim()).filter((m) => m !== ""))
      ),
      ...some(
        "failLine",
        Option.map(config.failPattern, (pattern) => {
          const regex = new RegExp(pattern)
          return (request: { readonly customId: string }) => regex.test(request.customId)
        })
      )
    })
    const announce = Layer.effectDiscard(Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      if (config.seed > 0) yield* fake.seedBatches(config.seed)
      for (const { fault, nth, route } of scripted) yield* fake.scriptFault(route, nth, fault)
      yield* Output.outLine(fake.baseUrl)
      const key = Option.isSome(config.apiKey) ? `key ${fake.apiKey}` : "any key"
      yield* Output.errLine(
        `Emulator of the OpenAI Batch API at ${fake.baseUrl} (${key}${
          config.seed > 0 ? `, ${config.seed} batches seeded` : ""
        }). Try:\n  OPENAI_API_KEY=${fake.apiKey} batchfx --base-url ${fake.baseUrl} list\nCtrl-C to stop.`
      )
    }))
    // The system's name of the error (EADDRINUSE), which is what a user searches for.
    const errnoCode = (cause: unknown): string =>
      typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
        ? ` (${cause.code})`
        : ""
    const serve = Layer.launch(Layer.provide(announce, server)).pipe(
      Effect.asVoid,
      Effect.catchTag("ServeError", (e) =>
        new CommandFailed({
          description: `Cannot listen on ${config.host}:${config.port}: ${FakeOpenAi.listenFailureReason(e.cause)}${
            errnoCode(e.cause)
          }.`
        }))
    )
    return yield* config.exitOnStdinClose ? Effect.raceFirst(serve, FakeOpenAi.stdinClosed) : serve
  })
