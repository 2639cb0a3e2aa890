/**
 * An emulator of the OpenAI Batch and Files API: `/v1/files*` and `/v1/batches*` with the real wire
 * shapes, errors and headers, a lifecycle driven by the Effect `Clock`, and knobs for latency, rate
 * limits, quota, faults and seeded data.
 *
 * Two ways in, one app: `layer` serves it on a real socket (127.0.0.1, port 0 by default) for wire
 * tests; `layerInMemory` also provides an `HttpClient` that calls the app in-process, so a test can
 * drive the lifecycle with `TestClock` without sockets racing simulated time.
 *
 * @since 0.1.0
 */
import type { Batch, RequestLine } from "@batchfx/core"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import type { Fault } from "./Fault.js"
import * as Emulator from "./internal/emulator.js"
import * as InMemory from "./internal/inMemory.js"
import * as KnobsInternal from "./internal/knobs.js"
import type { FailLine, Responder } from "./Responder.js"
import type { Route } from "./Route.js"

/**
 * How long each phase of a batch lasts. A batch keeps the durations in force when it was created.
 *
 * - `validating`: from create to `in_progress` (or `failed`); default 1 s.
 * - `inProgress`: to run every request; requests finish evenly over it; default 5 s.
 * - `finalizing`: from `finalizing` to `completed`; default 1 s.
 * - `cancelling`: the drain from `cancelling` to `cancelled`; default 10 min, as observed.
 * - `expiring`: from `finalizing` at the deadline to `expired`; default 10 min.
 * - `completionWindow`: from `created_at` to `expires_at`; default 24 h.
 *
 * @since 0.1.0
 * @category models
 */
export interface Durations {
  readonly validating: Duration.DurationInput
  readonly inProgress: Duration.DurationInput
  readonly finalizing: Duration.DurationInput
  readonly cancelling: Duration.DurationInput
  readonly expiring: Duration.DurationInput
  readonly completionWindow: Duration.DurationInput
}

/**
 * A request-rate limit: at most `requests` per `window`, counted on the Effect `Clock`. Over it the
 * emulator answers 429 `rate_limit_exceeded` (type `requests`) with `retry-after` and
 * `retry-after-ms`. With `headers` (the default) every answer also carries
 * `x-ratelimit-limit-requests` (the limit per minute, as the API states it),
 * `x-ratelimit-remaining-requests` and `x-ratelimit-reset-requests`; `headers: false` leaves them
 * out, as the real batch and file endpoints do.
 *
 * `mode` is how the limit is counted:
 * - `"fixed-window"` (the default): a window opens with the first request after the last one
 *   closed; a per-minute window is `window: "1 minute"`;
 * - `"quantized"`: the limit per `window` is also enforced as its share of each one-second window,
 *   as the API documents for per-minute limits;
 * - `"token-bucket"`: tokens refill at `requests` per `window` up to `burst` (default one second's
 *   worth).
 *
 * `daily` adds a limit per UTC day; `longRetryAfter` answers the `nth` request (counted from when
 * this limit was set) with a 429 that asks to wait `wait`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimit {
  readonly requests: number
  readonly window: Duration.DurationInput
  readonly headers?: boolean
  readonly mode?: "fixed-window" | "quantized" | "token-bucket"
  readonly burst?: number
  readonly daily?: number
  readonly longRetryAfter?: { readonly nth: number; readonly wait: Duration.DurationInput }
}

/**
 * Faults drawn at random: each request (of `routes`, default all) gets one of `faults` with
 * probability `rate`. Draws are a pure function of `seed` and the request's sequence number.
 *
 * @since 0.1.0
 * @category models
 */
export interface RandomFaults {
  readonly rate: number
  readonly faults: ReadonlyArray<Fault>
  readonly seed?: number
  readonly routes?: ReadonlyArray<Route>
}

/**
 * The enqueued-token limit: one number for every model, or a limit per model (`"*"` for the models
 * not named; a model with no limit has none). A batch whose input tokens, added to those of the
 * batches of its model in flight (`validating`, `in_progress`, `finalizing`) when it is created,
 * pass the limit fails during validation: `errors.data[0]` has code `token_limit_exceeded` and the
 * API's message ("Enqueued token limit reached for … Limit: N enqueued tokens. …"). The model is
 * the first line's `body.model` as written. Tokens are counted with `gpt-tokenizer` by the rules of
 * `@batchfx/jobs`'s `TokenCount`, so a client that counts with it can stay under the limit exactly.
 *
 * @since 0.1.0
 * @category models
 */
export type TokenLimit = number | { readonly [model: string]: number }

/**
 * Everything that can be changed while the emulator runs.
 *
 * - `latency`: a delay (on the `Clock`) before each request is handled.
 * - `rateLimit`: see `RateLimit`; `undefined` for none.
 * - `quotaExhausted`: every authenticated request gets 429 `insufficient_quota` without `retry-after`.
 * - `randomFaults`: see `RandomFaults`.
 * - `stuckCursor`: `GET /v1/batches` ignores `after` and serves the first page again.
 * - `omitHasMore`: `GET /v1/batches` leaves `has_more` out.
 * - `breakContentAfterBytes`: every file content answer stops after this many bytes although its
 *   `Content-Length` promised more (a client resumes with `Range`).
 * - `listLag`: `GET /v1/batches` and `GET /v1/files` leave out what was created less than this long
 *   ago, as the real lists lag behind a create or an upload (retrieve by id finds it at once).
 * - `tokenLimit`: see `TokenLimit`; `undefined` for none.
 * - `durations`: see `Durations`; they apply to batches created afterwards.
 *
 * @since 0.1.0
 * @category models
 */
export interface Knobs {
  readonly latency: Duration.DurationInput
  readonly rateLimit: RateLimit | undefined
  readonly quotaExhausted: boolean
  readonly randomFaults: RandomFaults | undefined
  readonly stuckCursor: boolean
  readonly omitHasMore: boolean
  readonly breakContentAfterBytes: number | undefined
  readonly listLag: Duration.DurationInput | undefined
  readonly tokenLimit: TokenLimit | undefined
  readonly durations: Durations
}

/**
 * A change to the knobs: the keys given replace the current values (`undefined` clears an optional
 * knob); `durations` is merged key by key.
 *
 * @since 0.1.0
 * @category models
 */
export type KnobsPatch =
  & { readonly [K in Exclude<keyof Knobs, "durations">]?: Knobs[K] }
  & { readonly durations?: Partial<Durations> }

/**
 * Options of the emulator: the initial knobs plus what is fixed at construction.
 *
 * - `apiKey`: the only key accepted; without it any non-empty Bearer key is accepted, as other
 *   local fakes do, so a real key already in the environment works.
 * - `seed`: seeds ids, request ids, output order and random faults (deterministic runs).
 * - `responders`: replaces or adds the responder of an endpoint; the endpoints with a responder are
 *   the ones `POST /v1/batches` accepts.
 * - `failLine`: picks lines that fail with an HTTP-error result line.
 * - `inputLimits`: the line and byte limits of input validation (default 50,000 lines, 200 MB).
 * - `uploadLimits`: the largest upload, in bytes: `batch` with purpose `batch` (default 200 MB,
 *   209,715,200), `file` with any purpose (default 512 MB). A larger one is refused with a 400 as
 *   soon as it passes the limit (the purpose's limit once the form has named the purpose).
 * - `models`: the models lines may name (default `defaultModels`); a line naming another fails the
 *   batch with `model_not_found` on `body.model`, as the service does. Dated snapshots of a listed
 *   model and fine-tuned `ft:` models are known too; `["*"]` accepts every model.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends KnobsPatch {
  readonly apiKey?: string
  readonly seed?: number
  readonly responders?: { readonly [endpoint: string]: Responder }
  readonly failLine?: FailLine
  readonly inputLimits?: RequestLine.InputLimits
  readonly uploadLimits?: { readonly batch?: number; readonly file?: number }
  readonly models?: ReadonlyArray<string>
}

/**
 * Options of the socket server: where to listen (default 127.0.0.1, port 0 = any free port).
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions extends Options {
  readonly host?: string
  readonly port?: number
}

/**
 * How many answers a route gave with a status; status `0` counts connection resets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Counter {
  readonly method: string
  readonly route: Route
  readonly status: number
  readonly count: number
}

/**
 * A batch to seed with `seedBatch`: at the seeding instant it shows `status` and these counts, and
 * from then on it follows the lifecycle like a created batch (with `durations`, default the
 * emulator's), so a seeded `in_progress` batch completes, can be cancelled and has result files.
 *
 * - `endpoint`: default `/v1/chat/completions`; `model`: default a model of that endpoint.
 * - `request_counts`: `total` (default 3, or what the other counts need), `completed` (default all
 *   but `failed` for `finalizing` and `completed`, else 0), `failed` (default 0). A `validating` or
 *   `failed` batch has run nothing; `in_progress` and `expired` have requests left; `finalizing`
 *   and `completed` ran them all. Counts that cannot be fail with `IllegalArgumentException`.
 * - `errors`: the `errors.data` of a `failed` batch; default one `invalid_json_line` on line 1.
 *
 * Its input file holds `total` request lines (custom ids `request-1`, …); its timestamps are in
 * the past as its status needs (an `expired` batch was created a completion window ago).
 *
 * @since 0.1.0
 * @category models
 */
export interface SeedBatchOptions {
  readonly status:
    | "validating"
    | "failed"
    | "in_progress"
    | "finalizing"
    | "completed"
    | "expired"
    | "cancelling"
    | "cancelled"
  readonly endpoint?: string
  readonly model?: string
  readonly metadata?: { readonly [key: string]: string } | null
  readonly request_counts?: {
    readonly total?: number
    readonly completed?: number
    readonly failed?: number
  }
  readonly errors?: ReadonlyArray<{
    readonly code: string
    readonly message: string
    readonly param?: string | null
    readonly line?: number | null
  }>
  readonly durations?: Partial<Durations>
}

/**
 * The running emulator.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The base URL clients use, ending in `/v1`. */
  readonly baseUrl: string
  /** A key the emulator accepts: the required one, or `sk-fake-batchfx` when any key is accepted. */
  readonly apiKey: string
  /** The app itself, for serving it elsewhere or building another in-memory client. */
  readonly app: HttpApp.Default
  /** The knobs in force. */
  readonly knobs: Effect.Effect<Knobs>
  /** Changes knobs for the requests that follow. */
  readonly configure: (patch: KnobsPatch) => Effect.Effect<void>
  /** Makes `n` synthetic, terminal batches exist (older than every created one), without storing them. */
  readonly seedBatches: (n: number) => Effect.Effect<void>
  /** Stores one batch in any status, with its metadata and counts (see `SeedBatchOptions`); returns it as GET would. */
  readonly seedBatch: (
    options: SeedBatchOptions
  ) => Effect.Effect<Batch.BatchEncoded, Cause.IllegalArgumentException>
  /** Injects `fault` into the `nth` request (1 = the next one) that arrives at `route` from now on. */
  readonly scriptFault: (route: Route, nth: number, fault: Fault) => Effect.Effect<void>
  /** Drops faults scripted and not yet used. */
  readonly clearFaults: Effect.Effect<void>
  /** Answers so far, per method, route and status. */
  readonly counters: Effect.Effect<ReadonlyArray<Counter>>
  /** How many requests a route (or every route) answered since the last reset. */
  readonly requestCount: (route?: Route) => Effect.Effect<number>
  /** Sets every counter back to zero. */
  readonly resetCounters: Effect.Effect<void>
}

/**
 * The emulator service.
 *
 * @since 0.1.0
 * @category models
 */
export class FakeOpenAi extends Context.Tag("@batchfx/testkit/FakeOpenAi")<FakeOpenAi, Service>() {}

/**
 * Builds the emulator without serving it. Its `baseUrl` is `inMemoryBaseUrl`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service> =>
  Effect.map(Emulator.make(options), (emulator) => ({ ...emulator, baseUrl: inMemoryBaseUrl }))

/**
 * The base URL of an emulator reached in memory; its host is never resolved.
 *
 * @since 0.1.0
 * @category constants
 */
export const inMemoryBaseUrl = "http://fake-openai.batchfx.invalid/v1"

/**
 * An `HttpClient` whose requests go straight to `app` in the calling fiber: no socket, and the app
 * sees the caller's `Clock` (so `TestClock` drives it). Socket-level faults are approximated: a
 * reset fails the request with a transport `RequestError`, and a truncated body fails the response
 * body stream. A `SlowBody` waits on the caller's `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const httpClient: (app: HttpApp.Default) => HttpClient.HttpClient = InMemory.httpClient

/**
 * Provides `FakeOpenAi` and an `HttpClient` that reaches it in memory (see `httpClient`). Use it
 * with `TestClock`: real sockets and simulated time race each other. Connection resets and
 * truncated bodies are emulated at the client (no real socket exists).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerInMemory = (options: Options = {}): Layer.Layer<FakeOpenAi | HttpClient.HttpClient> =>
  Layer.effectContext(
    Effect.map(make(options), (service) =>
      Context.make(FakeOpenAi, service).pipe(
        Context.add(HttpClient.HttpClient, httpClient(service.app))
      ))
  )

/**
 * Serves the emulator on a real socket for the lifetime of the layer and provides `FakeOpenAi`
 * with its `baseUrl` (`http://127.0.0.1:PORT/v1`). Every fault is real here: resets reset the
 * connection, truncated bodies close it early. The lifecycle follows the `Clock` of the scope that
 * builds the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ServerOptions = {}): Layer.Layer<FakeOpenAi, HttpServerError.ServeError> => {
  const { host, port, ...rest } = options
  return Layer.scoped(
    FakeOpenAi,
    Effect.gen(function*() {
      const emulator = yield* Emulator.make(rest)
      yield* HttpServer.serveEffect(emulator.app)
      const address = (yield* HttpServer.HttpServer).address
      const baseUrl = address._tag === "TcpAddress"
        ? `http://${address.hostname.includes(":") ? `[${address.hostname}]` : address.hostname}:${address.port}/v1`
        : `http://localhost/v1`
      return { ...emulator, baseUrl }
    })
  ).pipe(
    // No request timeout: Node's default (five minutes) would cut a large upload from a slow client.
    Layer.provide(NodeHttpServer.layer(() => createServer({ requestTimeout: 0 }), {
      port: port ?? 0,
      host: host ?? "127.0.0.1"
    }))
  )
}

/**
 * The knobs in force when nothing is configured.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultKnobs: Knobs = KnobsInternal.defaultKnobs

/**
 * The models batch lines may name when the `models` option is absent.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultModels: ReadonlyArray<string> = KnobsInternal.defaultModels

/**
 * Why the emulator could not listen, as words for a sentence (`the port is already in use`, …),
 * from the cause of a `ServeError`.
 *
 * @since 0.1.0
 * @category utils
 */
export const listenFailureReason = (cause: unknown): string => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  return code === "EADDRINUSE"
    ? "the port is already in use"
    : code === "EACCES"
    ? "permission denied"
    : code === "EADDRNOTAVAIL"
    ? "the address is not available on this machine"
    : cause instanceof Error
    ? cause.message
    : String(cause)
}

/**
 * Ends when the process's standard input ends or closes, so a harness that started the emulator
 * and dies (or closes the pipe) stops it too: race the server against it.
 *
 * @since 0.1.0
 * @category utils
 */
export const stdinClosed: Effect.Effect<void> = Effect.async<void>((resume) => {
  const done = () => resume(Effect.void)
  process.stdin.once("end", done).once("close", done)
  process.stdin.resume()
  return Effect.sync(() => {
    process.stdin.off("end", done).off("close", done)
    process.stdin.pause()
  })
})
