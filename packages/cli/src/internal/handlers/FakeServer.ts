/**
 * What `batchfx fake-server` does once parsed (loaded when it runs; the options are in
 * `commands/FakeServer.ts`). The testkit is loaded only here.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
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

/** Runs the emulator until interrupted, after printing its URL. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const FakeOpenAi = yield* Effect.promise(() => import("@batchfx/testkit/FakeOpenAi"))
    const rateLimit = Option.map(config.rps, (rps) => {
      const requests = Math.max(1, Math.round(rps))
      return { requests, window: Duration.millis((requests / rps) * 1000) }
    })
    const server = FakeOpenAi.layer({
      host: config.host,
      port: config.port,
      durations: scaledDurations(FakeOpenAi.defaultKnobs.durations, config.speed),
      ...Option.match(config.randomSeed, { onNone: () => ({}), onSome: (seed) => ({ seed }) }),
      ...Option.match(rateLimit, { onNone: () => ({}), onSome: (rateLimit) => ({ rateLimit }) }),
      ...Option.match(config.latency, { onNone: () => ({}), onSome: (latency) => ({ latency }) }),
      ...Option.match(config.apiKey, { onNone: () => ({}), onSome: (apiKey) => ({ apiKey }) })
    })
    const announce = Layer.effectDiscard(Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      if (config.seed > 0) yield* fake.seedBatches(config.seed)
      yield* Output.outLine(fake.baseUrl)
      yield* Output.errLine(
        `Emulator of the OpenAI Batch API at ${fake.baseUrl} (key ${fake.apiKey}${
          config.seed > 0 ? `, ${config.seed} batches seeded` : ""
        }). Try:\n  OPENAI_API_KEY=${fake.apiKey} batchfx --base-url ${fake.baseUrl} list\nCtrl-C to stop.`
      )
    }))
    return yield* Layer.launch(Layer.provide(announce, server))
  })
