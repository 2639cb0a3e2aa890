/**
 * `batchfx fake-server`: the emulator of the Batch and Files API on a local port, until Ctrl-C.
 * The testkit is loaded only when this command runs.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Opts from "../internal/options.js"
import { lazy, withSetup } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

const rateLimitModes = ["fixed-window", "quantized", "token-bucket"] as const

const positiveFloat = (name: string) =>
  Options.float(name).pipe(
    Options.filterMap(
      (n) => n > 0 && Number.isFinite(n) ? Option.some(n) : Option.none(),
      `--${name} must be more than 0`
    )
  )

const options = {
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
    Options.withAlias("seed-batches"),
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
  rateLimit: Options.text("rate-limit").pipe(
    Options.withPseudoName("N/WINDOW"),
    Options.withDescription("Answer 429 above N requests per window (ms, or a duration such as 1m), e.g. 3000/1m."),
    Options.optional
  ),
  rateLimitMode: Options.text("rate-limit-mode").pipe(
    Options.withPseudoName("MODE"),
    // A text checked here rather than a choice, so that a wrong mode names the flag.
    Options.mapEffect((text) => {
      const mode = rateLimitModes.find((m) => m === text)
      return mode === undefined
        ? Effect.fail(
          ValidationError.invalidValue(
            HelpDoc.p(`--rate-limit-mode needs one of ${rateLimitModes.join(", ")}, got '${text}'`)
          )
        )
        : Effect.succeed(mode)
    }),
    Options.withDescription(
      "How the limit counts: fixed-window (default), quantized (the window's limit also per second) or token-bucket."
    ),
    Options.optional
  ),
  rateLimitBurst: Opts.positiveInt("rate-limit-burst").pipe(
    Options.withDescription("The token bucket's size (default one second's worth)."),
    Options.optional
  ),
  noRateLimitHeaders: Options.boolean("no-rate-limit-headers").pipe(
    Options.withDescription("Send no x-ratelimit-* headers (429s keep retry-after).")
  ),
  dailyLimit: Opts.nonNegativeInt("daily-limit").pipe(
    Options.withDescription("Answer 429 above this many requests per UTC day, until midnight."),
    Options.optional
  ),
  longRetryAfter: Options.text("long-retry-after").pipe(
    Options.withPseudoName("N=DURATION"),
    Options.withDescription("The N-th request gets a 429 asking to wait DURATION, e.g. 5=5m."),
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
    Options.withDescription("Require this key (default: any non-empty key is accepted)."),
    Options.optional
  ),
  models: Options.text("models").pipe(
    Options.withDescription("Comma list of the models batch lines may name (default: current OpenAI models; * = any)."),
    Options.optional
  ),
  quotaExhausted: Options.boolean("quota-exhausted").pipe(
    Options.withDescription("Answer every request with 429 insufficient_quota.")
  ),
  failPattern: Options.text("fail-pattern").pipe(
    Options.withDescription("Batch lines whose custom_id matches this regular expression fail with an HTTP 400."),
    Options.optional
  ),
  stuckCursor: Options.boolean("stuck-cursor").pipe(Options.withDescription("The batch list ignores after.")),
  omitHasMore: Options.boolean("omit-has-more").pipe(Options.withDescription("The batch list leaves out has_more.")),
  breakContentAfter: Opts.nonNegativeInt("break-content-after").pipe(
    Options.withDescription("File downloads stop after this many bytes (clients resume with Range)."),
    Options.optional
  ),
  validatingMs: Opts.nonNegativeInt("validating-ms").pipe(
    Options.withDescription("How long a batch validates (overrides --speed)."),
    Options.optional
  ),
  inProgressMs: Opts.nonNegativeInt("in-progress-ms").pipe(
    Options.withDescription("How long a batch runs its requests (overrides --speed)."),
    Options.optional
  ),
  finalizingMs: Opts.nonNegativeInt("finalizing-ms").pipe(
    Options.withDescription("How long a batch finalizes (overrides --speed)."),
    Options.optional
  ),
  cancellingMs: Opts.nonNegativeInt("cancelling-ms").pipe(
    Options.withDescription("How long a cancel drains (overrides --speed)."),
    Options.optional
  ),
  expiringMs: Opts.nonNegativeInt("expiring-ms").pipe(
    Options.withDescription("How long from the deadline to expired (overrides --speed)."),
    Options.optional
  ),
  windowMs: Opts.nonNegativeInt("window-ms").pipe(
    Options.withDescription("The completion window (overrides --speed)."),
    Options.optional
  ),
  faultRate: Options.float("fault-rate").pipe(
    Options.withDescription("Probability (0 to 1) that a request gets one of --faults (default 500)."),
    Options.optional
  ),
  faults: Options.text("faults").pipe(
    Options.withDescription("Comma list of 500,502,503,html502,reset,reset-after,truncate:<bytes>,slow:<bytes>:<ms>."),
    Options.optional
  ),
  scriptFault: Options.text("script-fault").pipe(
    Options.withDescription("<route>@<n>=<fault>: the n-th request of a route gets a fault (repeatable)."),
    Options.repeated
  ),
  tokenLimit: Options.text("token-limit").pipe(
    Options.withPseudoName("MODEL=N"),
    Options.withDescription(
      "Fail a batch with token_limit_exceeded when its input tokens and those of the model's batches in flight pass N (repeatable; N alone: every model)."
    ),
    Options.repeated
  ),
  exitOnStdinClose: Options.boolean("exit-on-stdin-close").pipe(
    Options.withDescription("Stop when standard input ends (for test harnesses in other languages).")
  )
}

/**
 * The parsed options of `fake-server`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `fake-server` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "fake-server",
  options,
  lazy(() => import("../internal/handlers/FakeServer.js"))
).pipe(
  Spec.about({
    summary: "Run the emulator of the Batch and Files API (no key, no network).",
    details: [
      "Runs until Ctrl-C; the first line on stdout is its base URL, printed once it listens. The flags are " +
      "those of batchfx-fake-server."
    ],
    examples: [
      ["batchfx fake-server --port 8080 --seed-batches 1000", "An emulator on port 8080 with 1,000 old batches"],
      [
        "OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=sk-any batchfx list",
        "Point batchfx (or any SDK) at it"
      ]
    ]
  }),
  withSetup
)
