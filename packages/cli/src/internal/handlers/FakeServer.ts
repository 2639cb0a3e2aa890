/**
 * What `batchfx fake-server` does once parsed (loaded when it runs; the options are in
 * `commands/FakeServer.ts`). The testkit is loaded only here.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { CommandFailed, UsageError } from "../../CliError.js"
import type { Config } from "../../commands/FakeServer.js"
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
    const rateLimit = Option.map(config.rps, (rps) => {
      const requests = Math.max(1, Math.round(rps))
      return { requests, window: Duration.millis((requests / rps) * 1000) }
    })
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
    const serve = Layer.launch(Layer.provide(announce, server)).pipe(
      Effect.asVoid,
      Effect.catchTag("ServeError", (e) =>
        new CommandFailed({
          description: `Cannot listen on ${config.host}:${config.port}: ${FakeOpenAi.listenFailureReason(e.cause)}.`
        }))
    )
    return yield* config.exitOnStdinClose ? Effect.raceFirst(serve, FakeOpenAi.stdinClosed) : serve
  })
