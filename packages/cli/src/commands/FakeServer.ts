/**
 * `batchfx fake-server`: the emulator of the Batch and Files API on a local port, until Ctrl-C.
 * The testkit is loaded only when this command runs.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Opts from "../internal/options.js"
import { withSetup } from "../internal/root.js"
import * as Terminal from "../internal/terminal.js"

/**
 * The lifecycle durations of the emulator divided by `speed` (2 = twice as fast).
 *
 * @since 0.1.0
 * @category internals
 */
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

const positiveFloat = (name: string) =>
  Options.float(name).pipe(
    Options.filterMap(
      (n) => n > 0 && Number.isFinite(n) ? Option.some(n) : Option.none(),
      `--${name} must be more than 0`
    )
  )

/**
 * The `fake-server` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("fake-server", {
  verbose: Opts.globalOptions.verbose,
  host: Options.text("host").pipe(
    Options.withDescription("Address to listen on (default 127.0.0.1)."),
    Options.withDefault("127.0.0.1")
  ),
  port: Opts.nonNegativeInt("port").pipe(
    Options.withAlias("p"),
    Options.withDescription("Port to listen on (default 0: any free port; the URL is printed)."),
    Options.withDefault(0)
  ),
  seed: Opts.nonNegativeInt("seed").pipe(
    Options.withDescription("Make this many finished batches exist (synthetic, no memory per batch) for listing."),
    Options.withDefault(0)
  ),
  randomSeed: Options.integer("random-seed").pipe(
    Options.withDescription("Seed of ids, output order and random faults, for repeatable runs."),
    Options.optional
  ),
  rps: positiveFloat("rps").pipe(
    Options.withDescription("Answer 429 rate_limit_exceeded above this many requests per second."),
    Options.optional
  ),
  latency: Opts.duration("latency").pipe(
    Options.withDescription("Delay before each answer, e.g. 50ms."),
    Options.optional
  ),
  speed: positiveFloat("speed").pipe(
    Options.withDescription(
      "Run the batch lifecycle this many times faster (default 1: 1s validating, 5s running, 1s finalizing)."
    ),
    Options.withDefault(1)
  ),
  apiKey: Options.text("api-key").pipe(
    Options.withDescription("The key the emulator accepts (default sk-fake-batchfx)."),
    Options.optional
  )
}, (config) =>
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
      yield* Terminal.outLine(fake.baseUrl)
      yield* Terminal.errLine(
        `Emulator of the OpenAI Batch API at ${fake.baseUrl} (key ${fake.apiKey}${
          config.seed > 0 ? `, ${config.seed} batches seeded` : ""
        }). Try:\n  OPENAI_API_KEY=${fake.apiKey} batchfx --base-url ${fake.baseUrl} list\nCtrl-C to stop.`
      )
    }))
    return yield* Layer.launch(Layer.provide(announce, server))
  })).pipe(
    Command.withDescription(
      "Run the emulator of the OpenAI Batch and Files API (no key, no network) until Ctrl-C; prints its base URL."
    ),
    withSetup
  )
