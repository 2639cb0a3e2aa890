/** Knobs and options: defaults, patches and resolution. */
import type { RequestLine } from "@batchfx/core"
import * as Duration from "effect/Duration"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import * as Responder from "../Responder.js"

export const defaults = {
  durations: {
    validating: Duration.seconds(1),
    inProgress: Duration.seconds(5),
    finalizing: Duration.seconds(1),
    cancelling: Duration.minutes(10),
    expiring: Duration.minutes(10),
    completionWindow: Duration.hours(24)
  }
} as const

/** The knobs in force when nothing is configured. */
export const defaultKnobs: FakeOpenAi.Knobs = {
  latency: Duration.zero,
  rateLimit: undefined,
  quotaExhausted: false,
  randomFaults: undefined,
  stuckCursor: false,
  omitHasMore: false,
  breakContentAfterBytes: undefined,
  durations: defaults.durations
}

/** Applies a patch to knobs; `durations` is merged key by key. */
export const patchKnobs = (knobs: FakeOpenAi.Knobs, patch: FakeOpenAi.KnobsPatch): FakeOpenAi.Knobs => {
  const { durations, ...rest } = patch
  return { ...knobs, ...rest, durations: { ...knobs.durations, ...durations } }
}

export const millis = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

/** The options of the emulator, resolved. */
export interface Resolved {
  /** The one key accepted; `undefined` accepts any non-empty key. */
  readonly apiKey: string | undefined
  readonly seed: number
  readonly responders: { readonly [endpoint: string]: Responder.Responder }
  readonly failLine: Responder.FailLine | undefined
  readonly inputLimits: RequestLine.InputLimits
  readonly knobs: FakeOpenAi.Knobs
}

/** Resolves the options of the emulator against the defaults. */
export const resolve = (options: FakeOpenAi.Options = {}): Resolved => {
  const { apiKey, failLine, inputLimits, responders, seed, ...patch } = options
  return {
    apiKey,
    seed: seed ?? 0x0ba7c4,
    responders: { ...Responder.defaults, ...responders },
    failLine,
    inputLimits: inputLimits ?? {},
    knobs: patchKnobs(defaultKnobs, patch)
  }
}
