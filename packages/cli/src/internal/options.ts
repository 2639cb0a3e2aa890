/** Options shared by several commands and their parsers. */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * Parses a duration such as `500ms`, `2s`, `1m30s`, `1h`, `7d` (a bare number means seconds).
 */
export const parseDuration = (text: string): Either.Either<Duration.Duration, string> => {
  const trimmed = text.trim().toLowerCase()
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Either.right(Duration.millis(Number(trimmed) * 1000))
  const terms = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(trimmed)
    ? [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)]
    : []
  if (terms.length === 0) {
    return Either.left(`'${text}' is not a duration: use a number and a unit, e.g. 500ms, 10s, 5m, 2h, 7d`)
  }
  return Either.right(Duration.millis(terms.reduce((n, [, value, unit]) => n + Number(value) * units[unit!]!, 0)))
}

const invalid = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/** A duration option (`--interval 5s`). */
export const duration = (name: string): Options.Options<Duration.Duration> =>
  Options.text(name).pipe(
    Options.withPseudoName("DURATION"),
    Options.mapEffect((text) =>
      Either.match(parseDuration(text), {
        onLeft: (message) => Effect.fail(invalid(`--${name}: ${message}`)),
        onRight: Effect.succeed
      })
    )
  )

/** A point in time given as an age (`7d`: that long before now) or as a date or instant. */
export type Since =
  | { readonly _tag: "Ago"; readonly duration: Duration.Duration }
  | { readonly _tag: "At"; readonly epochMillis: number }

const isoDate = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * Parses `--since`: a duration back from now (`7d`, `12h`, `90m`) or a date (`2026-11-01`, UTC
 * midnight) or instant (`2026-11-01T12:00:00Z`; without a zone, UTC).
 */
export const parseSince = (text: string): Either.Either<Since, string> => {
  const trimmed = text.trim()
  if (isoDate.test(trimmed)) {
    const zoned = /[zZ]|[+-]\d{2}:?\d{2}$/.test(trimmed.slice(10)) ?
      trimmed :
      `${trimmed.replace(" ", "T")}${trimmed.length > 10 ? "Z" : ""}`
    const epochMillis = Date.parse(zoned)
    if (!Number.isNaN(epochMillis)) return Either.right({ _tag: "At", epochMillis })
    return Either.left(`'${text}' is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ`)
  }
  return Either.match(parseDuration(trimmed), {
    onLeft: () =>
      Either.left(`'${text}' is neither an age (e.g. 7d, 12h) nor a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)`),
    onRight: (duration) => Either.right({ _tag: "Ago", duration })
  })
}

/** The instant a `Since` stands for, in Unix seconds, given the time now in milliseconds. */
export const sinceSeconds = (since: Since, nowMillis: number): number =>
  Math.floor((since._tag === "At" ? since.epochMillis : nowMillis - Duration.toMillis(since.duration)) / 1000)

/** `--since 7d|DATE`. */
export const since = (name: string): Options.Options<Since> =>
  Options.text(name).pipe(
    Options.withPseudoName("AGE|DATE"),
    Options.mapEffect((text) =>
      Either.match(parseSince(text), {
        onLeft: (message) => Effect.fail(invalid(`--${name}: ${message}`)),
        onRight: Effect.succeed
      })
    )
  )

/** A positive integer option. */
export const positiveInt = (name: string): Options.Options<number> =>
  Options.integer(name).pipe(
    Options.mapEffect((n) =>
      n >= 1 ? Effect.succeed(n) : Effect.fail(invalid(`--${name} must be at least 1, got ${n}`))
    )
  )

/** A non-negative integer option. */
export const nonNegativeInt = (name: string): Options.Options<number> =>
  Options.integer(name).pipe(
    Options.mapEffect((n) => n >= 0 ? Effect.succeed(n) : Effect.fail(invalid(`--${name} must be 0 or more, got ${n}`)))
  )

/** `--metadata k=v`, repeatable, as a plain record; a pair without `=` is a usage error that says so. */
export const metadata = (description: string): Options.Options<Record<string, string>> =>
  Options.text("metadata").pipe(
    Options.withPseudoName("KEY=VALUE"),
    Options.withDescription(description),
    Options.repeated,
    Options.mapEffect((pairs) => {
      const entries: Array<[string, string]> = []
      for (const pair of pairs) {
        const at = pair.indexOf("=")
        if (at <= 0) {
          return Effect.fail(
            ValidationError.invalidValue(HelpDoc.p(`--metadata takes KEY=VALUE, got "${pair}"`))
          )
        }
        entries.push([pair.slice(0, at), pair.slice(at + 1)])
      }
      // Own keys, as `JSON.parse` makes them: `record[key] = value` would drop a `__proto__`
      // key unseen, where the client's check names it.
      return Effect.succeed(Object.fromEntries(entries))
    })
  )

/** The output formats of commands that print batches. */
export type Format = "table" | "json" | "jsonl"

/** `--format table|json|jsonl`; without it, `table` on a terminal and `jsonl` in a pipe. */
export const format: Options.Options<Option.Option<Format>> = Options.choice("format", ["table", "json", "jsonl"]).pipe(
  Options.withAlias("f"),
  Options.withDescription(
    "Output format: table (default on a terminal), json (one document) or jsonl (one batch per line, default in a pipe)."
  ),
  Options.optional
)

/** The global options: accepted before the command (`batchfx --verbose list`) or after it. */
export const globalOptions = {
  baseUrl: Options.text("base-url").pipe(
    Options.withPseudoName("URL"),
    Options.withDescription(
      "API root (default $OPENAI_BASE_URL, else OpenAI's)."
    ),
    Options.optional
  ),
  organization: Options.text("organization").pipe(
    Options.withPseudoName("ORG"),
    Options.withDescription("Sent as OpenAI-Organization (default $OPENAI_ORG_ID)."),
    Options.optional
  ),
  project: Options.text("project").pipe(
    Options.withPseudoName("PROJECT"),
    Options.withDescription("Sent as OpenAI-Project (default $OPENAI_PROJECT_ID)."),
    Options.optional
  ),
  maxRetries: nonNegativeInt("max-retries").pipe(
    Options.withDescription("Retries of a failed request (default 2)."),
    Options.optional
  ),
  timeout: duration("timeout").pipe(
    Options.withDescription("Timeout of one request attempt (default 60s)."),
    Options.optional
  ),
  concurrency: positiveInt("concurrency").pipe(
    Options.withDescription("Requests in flight at once (default 8)."),
    Options.optional
  ),
  rpm: positiveInt("rpm").pipe(
    Options.withDescription("At most this many requests a minute (default: no limit)."),
    Options.optional
  ),
  verbose: Options.boolean("verbose").pipe(
    Options.withDescription("Debug logs on stderr (never the key) and stack traces.")
  )
}

/** The parsed global options. */
export interface Globals {
  readonly baseUrl: Option.Option<string>
  readonly organization: Option.Option<string>
  readonly project: Option.Option<string>
  readonly maxRetries: Option.Option<number>
  readonly timeout: Option.Option<Duration.Duration>
  readonly concurrency: Option.Option<number>
  readonly rpm: Option.Option<number>
  readonly verbose: boolean
}

/** Global options given after the command win over the same ones given before it. */
export const mergeGlobals = (before: Globals, after: Globals): Globals => ({
  baseUrl: Option.orElse(after.baseUrl, () => before.baseUrl),
  organization: Option.orElse(after.organization, () => before.organization),
  project: Option.orElse(after.project, () => before.project),
  maxRetries: Option.orElse(after.maxRetries, () => before.maxRetries),
  timeout: Option.orElse(after.timeout, () => before.timeout),
  concurrency: Option.orElse(after.concurrency, () => before.concurrency),
  rpm: Option.orElse(after.rpm, () => before.rpm),
  verbose: before.verbose || after.verbose
})

/** Picks the global options out of a command's parsed config. */
export const pickGlobals = (config: Globals): Globals => ({
  baseUrl: config.baseUrl,
  organization: config.organization,
  project: config.project,
  maxRetries: config.maxRetries,
  timeout: config.timeout,
  concurrency: config.concurrency,
  rpm: config.rpm,
  verbose: config.verbose
})
