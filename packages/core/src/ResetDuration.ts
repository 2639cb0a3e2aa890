/**
 * The Go-style durations of the `x-ratelimit-reset-*` headers (`6m0s`, `1.428s`, `20ms`, `0s`).
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"

const unitMillis: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  "µs": 0.001,
  "μs": 0.001,
  ns: 0.000001
}

// `ms` must be tried before `m`, and `µs`/`us` before `s`, hence the order in the alternation.
const term = /(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|μs|ns|h|m|s)/y

/**
 * Parses a reset duration. An unparseable value gives none, never zero, so a caller does not
 * mistake garbage for "reset now".
 *
 * @since 0.1.0
 * @category decoding
 */
export const parse = (text: string): Option.Option<Duration.Duration> => {
  const input = text.trim()
  if (input === "0") return Option.some(Duration.zero)
  if (input === "") return Option.none()
  let millis = 0
  term.lastIndex = 0
  let position = 0
  while (position < input.length) {
    term.lastIndex = position
    const match = term.exec(input)
    if (match === null) return Option.none()
    millis += Number(match[1]) * unitMillis[match[2]!]!
    position = term.lastIndex
  }
  return Number.isFinite(millis) ? Option.some(Duration.millis(millis)) : Option.none()
}
