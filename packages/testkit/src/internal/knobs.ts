/** Knobs and options: defaults, patches and resolution. */
import type { RequestLine } from "@batchfx/core"
import * as Duration from "effect/Duration"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import * as Responder from "../Responder.js"
import { snapshots } from "./bodies.js"

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
  listLag: undefined,
  tokenLimit: undefined,
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
  /** Whether a line's `body.model` names a model the emulator serves. */
  readonly knownModel: (model: string) => boolean
  readonly knobs: FakeOpenAi.Knobs
}

/** The models lines may name when the `models` option is absent: current OpenAI models and their aliases. */
export const defaultModels: ReadonlyArray<string> = [
  "gpt-5.2",
  "gpt-5.1",
  "gpt-5",
  "gpt-5-mini",
  "gpt-5-nano",
  "gpt-4.1",
  "gpt-4.1-mini",
  "gpt-4.1-nano",
  "gpt-4o",
  "gpt-4o-mini",
  "gpt-4-turbo",
  "gpt-4",
  "gpt-3.5-turbo",
  "gpt-3.5-turbo-instruct",
  "o1",
  "o3",
  "o3-mini",
  "o3-pro",
  "o4-mini",
  "davinci-002",
  "babbage-002",
  "text-embedding-3-small",
  "text-embedding-3-large",
  "text-embedding-ada-002",
  "omni-moderation-latest",
  "text-moderation-latest",
  "gpt-image-1",
  "gpt-image-1-mini",
  "dall-e-2",
  "dall-e-3",
  "sora-2",
  "sora-2-pro",
  ...Object.values(snapshots)
]

/**
 * A model is known when it is listed, is a dated snapshot of a listed one (`gpt-4o-2024-08-06`),
 * or is a fine-tuned model (`ft:…`); `"*"` in the list accepts every model.
 */
const knownModelOf = (models: ReadonlyArray<string>) => {
  const set = new Set(models)
  if (set.has("*")) return () => true
  return (model: string) => {
    if (set.has(model) || model.startsWith("ft:")) return true
    const base = /^(.+)-(\d{4}-\d{2}-\d{2}|\d{4})$/.exec(model)?.[1]
    return base !== undefined && set.has(base)
  }
}

/** Resolves the options of the emulator against the defaults. */
export const resolve = (options: FakeOpenAi.Options = {}): Resolved => {
  const { apiKey, failLine, inputLimits, models, responders, seed, ...patch } = options
  return {
    apiKey,
    seed: seed ?? 0x0ba7c4,
    responders: { ...Responder.defaults, ...responders },
    failLine,
    inputLimits: inputLimits ?? {},
    knownModel: knownModelOf(models ?? defaultModels),
    knobs: patchKnobs(defaultKnobs, patch)
  }
}
