/**
 * The input tokens of request lines, as the API counts them against a model's enqueued-token limit,
 * counted with `gpt-tokenizer` (the encodings ship in the package; each loads on first use) by the
 * rules of `@batchfx/core/InputTokens`.
 *
 * @since 0.1.0
 */
import { InputTokens } from "@batchfx/core"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

interface Tokenizer {
  readonly countTokens: (text: string, options: { readonly disallowedSpecial: Set<string> }) => number
}

const loaded = new Map<InputTokens.Encoding, Promise<Tokenizer>>()

// Special-token text in a prompt (`<|endoftext|>`) is plain text to the API: count it as text.
const noSpecial = { disallowedSpecial: new Set<string>() }

/**
 * The counter of an encoding; the encoding is loaded once per process (a few hundred milliseconds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const counter = (encoding: InputTokens.Encoding): Effect.Effect<InputTokens.Counter> =>
  Effect.map(
    Effect.promise(() => {
      let tokenizer = loaded.get(encoding)
      if (tokenizer === undefined) {
        tokenizer = encoding === "cl100k_base"
          ? import("gpt-tokenizer/encoding/cl100k_base")
          : import("gpt-tokenizer/encoding/o200k_base")
        loaded.set(encoding, tokenizer)
      }
      return tokenizer
    }),
    (tokenizer): InputTokens.Counter => (text) => text === "" ? 0 : tokenizer.countTokens(text, noSpecial)
  )

/**
 * A request line as counted: its endpoint (`url`) and `body`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Countable {
  readonly url: string
  readonly body: unknown
}

/**
 * The input tokens of request lines per model (a line without a model is counted under `""`).
 * Lines may be given as objects or as their JSON text.
 *
 * @since 0.1.0
 * @category utils
 */
export const ofLines = (
  lines: Iterable<Countable | string>
): Effect.Effect<ReadonlyMap<string, number>> =>
  Effect.gen(function*() {
    const totals = new Map<string, number>()
    for (const raw of lines) {
      const line = typeof raw === "string" ? (JSON.parse(raw) as Countable) : raw
      const model = InputTokens.modelOf(line.body)
      const count = yield* counter(InputTokens.encodingOf(model))
      const key = model ?? ""
      totals.set(key, (totals.get(key) ?? 0) + InputTokens.ofBody(line.url, line.body, count))
    }
    return totals
  })

/**
 * The input tokens of a stream of request lines per model (a shard's lines read from the store,
 * say), counted as they pass.
 *
 * @since 0.1.0
 * @category utils
 */
export const ofStream = <E, R>(
  lines: Stream.Stream<Countable | string, E, R>
): Effect.Effect<ReadonlyMap<string, number>, E, R> =>
  Stream.runFoldEffect(lines, new Map<string, number>(), (totals, raw) =>
    Effect.map(ofLines([raw]), (one) => {
      for (const [model, tokens] of one) totals.set(model, (totals.get(model) ?? 0) + tokens)
      return totals
    }))
