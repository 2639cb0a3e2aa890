/**
 * The HTTP plumbing every service of the client shares: one `send` through which every request
 * passes (the place a rate-limit governor wraps), typed error mapping, per-attempt timeouts, spans
 * and debug logs, and retries under the client's rules.
 *
 * A request given to the transport has a path relative to the base URL (`/batches`) or a full URL;
 * the transport adds the base URL and the `Authorization`, `OpenAI-Organization`, `OpenAI-Project`
 * and `Accept` headers itself, so the `HttpClient` it runs on must not prefix URLs.
 *
 * @since 0.1.0
 */
import { FastDecode } from "@batchfx/core"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { type BatchClientError, type ConnectionError, ResponseDecodeError, TimeoutError } from "./BatchClientError.js"
import * as ClientConfig from "./ClientConfig.js"
import * as Governor from "./Governor.js"
import * as Deadlines from "./internal/deadlines.js"
import * as InternalErrors from "./internal/errors.js"
import * as Retry from "./Retry.js"

/**
 * Options a caller may give to one call: a retry schedule and a timeout that replace the client's.
 *
 * @since 0.1.0
 * @category models
 */
export interface CallOptions {
  /** Replaces the client's retry schedule for this call (`Retry.never` for none). */
  readonly retry?: ClientConfig.RetrySchedule | undefined
  /** Replaces the client's timeout of each attempt of this call. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * Options of one attempt.
 *
 * @since 0.1.0
 * @category models
 */
export interface AttemptOptions {
  /** The operation, used as span name `batchfx.<operation>` (`batches.list`, `files.content`, …). */
  readonly operation: string
  /** The attempt number, 1-based. */
  readonly attempt: number
  /** The timeout of this attempt; default the client's. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The span to put the attempt's span under, instead of the current one (a listing's). */
  readonly parentSpan?: Tracer.AnySpan | undefined
}

/**
 * Options of a retried call.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecuteOptions extends CallOptions {
  /** The operation, used as span name `batchfx.<operation>`. */
  readonly operation: string
  /** Whether failures after which the server may have acted are retried; default true. */
  readonly retryAmbiguous?: boolean | undefined
  /** The span to put each attempt's span under, instead of the current one. */
  readonly parentSpan?: Tracer.AnySpan | undefined
}

/**
 * The transport's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The client's settings, defaults filled in. */
  readonly settings: ClientConfig.Settings
  /**
   * Sends one request, once: adds base URL and headers, maps a transport failure to
   * `ConnectionError` and a non-2xx answer (whose body it reads) to its typed error. The body of a
   * 2xx answer is left unread. Every request of the client goes through this function.
   */
  readonly send: (
    request: HttpClientRequest.HttpClientRequest,
    attempt: number
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, BatchClientError>
  /**
   * One attempt: `send`, then `handle` of the answer, in a span, logged. The timeout covers the
   * exchange and `handle`; it starts once the governor admits the request.
   */
  readonly attempt: <A>(
    request: HttpClientRequest.HttpClientRequest,
    handle: (response: HttpClientResponse.HttpClientResponse, attempt: number) => Effect.Effect<A, BatchClientError>,
    options: AttemptOptions
  ) => Effect.Effect<A, BatchClientError>
  /** Runs attempts (numbered from 1) under the retry schedule and rules. */
  readonly retrying: <A>(
    f: (attempt: number) => Effect.Effect<A, BatchClientError>,
    options?: Omit<ExecuteOptions, "operation" | "timeout">
  ) => Effect.Effect<A, BatchClientError>
  /** `attempt` retried. */
  readonly execute: <A>(
    request: HttpClientRequest.HttpClientRequest,
    handle: (response: HttpClientResponse.HttpClientResponse, attempt: number) => Effect.Effect<A, BatchClientError>,
    options: ExecuteOptions
  ) => Effect.Effect<A, BatchClientError>
  /** `execute` that decodes the JSON body with the schema. */
  readonly json: <A, I>(
    request: HttpClientRequest.HttpClientRequest,
    schema: Schema.Schema<A, I>,
    options: ExecuteOptions
  ) => Effect.Effect<A, BatchClientError>
  /** A handler that reads the body of an answer and decodes it as JSON with the schema. */
  readonly decodeJson: <A, I>(
    schema: Schema.Schema<A, I>
  ) => (response: HttpClientResponse.HttpClientResponse, attempt: number) => Effect.Effect<A, BatchClientError>
  /** The retry schedule a call uses: its own, else the client's, else the default bounded by `maxRetries`. */
  readonly schedule: (override?: ClientConfig.RetrySchedule | undefined) => ClientConfig.RetrySchedule
  /** Removes the API key from a text. */
  readonly scrub: (text: string) => string
  /** The client's rate-limit governor, shared by every request; its `state` is for display. */
  readonly governor: Governor.Governor
}

/**
 * The transport of a client, shared by its services (batches, files) so that they share one
 * `send`.
 *
 * @since 0.1.0
 * @category tags
 */
export class Transport extends Context.Tag("@batchfx/client/Transport")<Transport, Service>() {}

// A debug line costs a message and an annotation map per request: built only when it is printed.
const whenDebug = (log: () => Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(
    FiberRef.get(FiberRef.currentMinimumLogLevel),
    (min) => LogLevel.lessThanEqual(min, LogLevel.Debug) ? log() : Effect.void
  )

/**
 * Runs `effect` inside `wrap` (a span, a timeout) and hands its value out through a variable
 * instead of through `wrap`: `wrap` then ends with `void`, so the span it ends and the fiber it
 * forks keep nothing of the value. An object that lives across an asynchronous wait (a span, a
 * fiber) and is then made to point at data created after the wait keeps that data alive through
 * young-generation collections: with the value going through the attempt's span and its timeout's
 * fiber, every decoded page of a listing went to the old generation (per 100,000 batches, 162 MB
 * promoted instead of 98, and a scavenge time a half higher).
 */
const outOfBand = <A, E, R, E2, R2>(
  effect: Effect.Effect<A, E, R>,
  wrap: (inner: Effect.Effect<void, E, R>) => Effect.Effect<void, E2, R2>
): Effect.Effect<A, E2, R2> =>
  Effect.suspend(() => {
    let value: A | undefined
    return Effect.map(
      wrap(Effect.map(effect, (a) => {
        value = a
      })),
      () => {
        const a = value as A
        value = undefined
        return a
      }
    )
  })

// Decodes response bodies as `response.text` does: UTF-8, a byte order mark dropped, malformed
// bytes replaced. Stateless between calls (no `stream` option), so one serves every response.
const utf8 = new TextDecoder()

const pathOf = (url: string): string => {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

/**
 * Builds a transport over the `HttpClient` in context; its deadline watchdog lives in the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: ClientConfig.Options
): Effect.Effect<Service, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.gen(function*() {
    const settings = ClientConfig.settings(options)
    const http = yield* HttpClient.HttpClient
    const scrub = InternalErrors.makeScrub(settings.apiKey)
    const defaultSchedule = Option.getOrElse(settings.retry, () => Retry.backoff({ maxRetries: settings.maxRetries }))

    const resolve = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest => {
      let out = request.url.startsWith("/")
        ? HttpClientRequest.setUrl(request, settings.baseUrl + request.url)
        : request
      out = HttpClientRequest.bearerToken(out, settings.apiKey)
      if (out.headers["accept"] === undefined) out = HttpClientRequest.acceptJson(out)
      if (Option.isSome(settings.organization)) {
        out = HttpClientRequest.setHeader(out, "OpenAI-Organization", settings.organization.value)
      }
      if (Option.isSome(settings.project)) {
        out = HttpClientRequest.setHeader(out, "OpenAI-Project", settings.project.value)
      }
      return out
    }

    const exchangeOf = (request: HttpClientRequest.HttpClientRequest, attempt: number): InternalErrors.Exchange => ({
      method: request.method,
      url: request.url.startsWith("/") ? settings.baseUrl + request.url : request.url,
      attempt
    })

    // The one place the client touches the network: every request of every service passes here,
    // and every answer (a 429 included, before it becomes an error) comes back through here. A
    // rate-limit governor wraps this function to hold requests and to read the answers' headers.
    const exchange = (
      request: HttpClientRequest.HttpClientRequest,
      attempt: number
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, ConnectionError> =>
      http.execute(resolve(request)).pipe(
        Effect.catchAll((error) =>
          Effect.fail(InternalErrors.fromHttpClientError(exchangeOf(request, attempt), error, scrub))
        )
      )

    const governor = yield* Governor.make(settings.governor)
    const deadlines = yield* Deadlines.make

    // Sends once under the governor, then runs `after` on a 2xx answer. The timeout, when given,
    // starts once the governor has admitted the request: waiting for the governor (after a 429, for
    // the server's budget) is not part of the request's time.
    const sendThen = <A>(
      request: HttpClientRequest.HttpClientRequest,
      attempt: number,
      after: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, BatchClientError>,
      timeout: Option.Option<Duration.Duration>
    ): Effect.Effect<A, BatchClientError> =>
      governor.run((observe) => {
        const once = Effect.flatMap(exchange(request, attempt), (response) => {
          if (response.status >= 200 && response.status < 300) {
            return Effect.zipRight(observe({ status: response.status, headers: response.headers }), after(response))
          }
          const info = exchangeOf(request, attempt)
          return Effect.flatMap(
            Effect.zip(
              response.text.pipe(
                Effect.catchAll((error) => Effect.fail(InternalErrors.fromHttpClientError(info, error, scrub)))
              ),
              Clock.currentTimeMillis
            ),
            ([text, now]) => {
              const error = InternalErrors.fromResponse(info, response, text, now, scrub)
              return Effect.zipRight(
                observe({
                  status: response.status,
                  headers: response.headers,
                  quotaExhausted: error._tag === "QuotaExhausted"
                }),
                Effect.fail(error)
              )
            }
          )
        })
        if (Option.isNone(timeout)) return once
        const info = exchangeOf(request, attempt)
        return outOfBand(once, (timed) =>
          deadlines.timeout(
            timed,
            timeout.value,
            () =>
              new TimeoutError({ method: info.method, url: info.url, attempt: info.attempt, timeout: timeout.value })
          ))
      })

    const send: Service["send"] = (request, attempt) => sendThen(request, attempt, Effect.succeed, Option.none())

    const attempt: Service["attempt"] = (request, handle, attemptOptions) => {
      const info = exchangeOf(request, attemptOptions.attempt)
      const timeout = attemptOptions.timeout === undefined ? settings.timeout : Duration.decode(attemptOptions.timeout)
      const path = pathOf(info.url)
      const annotations = { method: info.method, path, attempt: info.attempt }
      const after = (response: HttpClientResponse.HttpClientResponse) =>
        Effect.annotateCurrentSpan({
          "http.response.status_code": response.status,
          "batchfx.request_id": response.headers["x-request-id"] ?? ""
        }).pipe(
          Effect.zipRight(
            whenDebug(() =>
              Effect.logDebug(`${info.method} ${path} answered ${response.status}`).pipe(
                Effect.annotateLogs({
                  ...annotations,
                  status: response.status,
                  requestId: response.headers["x-request-id"] ?? ""
                })
              )
            )
          ),
          Effect.zipRight(handle(response, attemptOptions.attempt))
        )
      return outOfBand(
        sendThen(request, attemptOptions.attempt, after, Option.some(timeout)),
        (spanned) =>
          spanned.pipe(
            Effect.tapError((error) => {
              const status = "status" in error && typeof error.status === "number" ? error.status : undefined
              const requestId = "requestId" in error && typeof error.requestId === "string" ? error.requestId : ""
              return Effect.zipRight(
                Effect.annotateCurrentSpan({
                  "batchfx.error": error._tag,
                  "batchfx.request_id": requestId,
                  ...(status === undefined ? {} : { "http.response.status_code": status })
                }),
                Effect.logDebug(`${info.method} ${path} failed: ${scrub(error.message)}`).pipe(
                  Effect.annotateLogs({ ...annotations, error: error._tag, status: status ?? "", requestId })
                )
              )
            }),
            Effect.withSpan(`batchfx.${attemptOptions.operation}`, {
              kind: "client",
              // A stack trace per request costs more than the rest of the span; the span's name and
              // attributes already say where it comes from.
              captureStackTrace: false,
              ...(attemptOptions.parentSpan === undefined ? {} : { parent: attemptOptions.parentSpan }),
              attributes: {
                "http.request.method": info.method,
                "url.path": path,
                "batchfx.attempt": info.attempt
              }
            })
          )
      )
    }

    const schedule: Service["schedule"] = (override) => override ?? defaultSchedule

    const retrying: Service["retrying"] = (f, retryOptions = {}) =>
      Effect.suspend(() => {
        let attempts = 0
        return Effect.suspend(() => f(++attempts)).pipe(
          Retry.retry(schedule(retryOptions.retry), {
            serverWaitCap: settings.serverWaitCap,
            retryAmbiguous: retryOptions.retryAmbiguous
          })
        )
      })

    const execute: Service["execute"] = (request, handle, executeOptions) =>
      retrying(
        (n) =>
          attempt(request, handle, {
            operation: executeOptions.operation,
            attempt: n,
            timeout: executeOptions.timeout,
            parentSpan: executeOptions.parentSpan
          }),
        executeOptions
      )

    const decodeJson: Service["decodeJson"] = (schema) => {
      // Compiled once per handler: the fast check where a body passes it, the schema otherwise; the
      // parsed body is ours, so objects already in shape are kept instead of copied.
      const decode = FastDecode.decodeOwnedEither(schema)
      return (response, n) => {
        const exchange = exchangeOf(response.request, n)
        // The body is read as bytes and made text here, not with `response.text`: a platform
        // client's response (made when the headers came) caches the text it reads (`UndiciHttpClient`
        // makes its text from these same bytes, so either way is one read), and an object made before
        // an asynchronous wait that points at data made after it keeps that data alive through
        // young-generation collections, so every body's text went to the old generation. Per
        // 100,000 batches: 100 MB promoted instead of 30, scavenges 300 ms instead of 150. (With
        // `UndiciHttpClient` the bytes arrive with the response and die young: 2 MB of them at the
        // peak of a 1,000,000-batch listing, 57–66 MB when they came in a second step.)
        return response.arrayBuffer.pipe(
          Effect.catchAll((error) => Effect.fail(InternalErrors.fromHttpClientError(exchange, error, scrub))),
          Effect.flatMap((bytes) => {
            const text = utf8.decode(bytes)
            const decoded = InternalErrors.decodeBody(exchange, response, text, decode, scrub)
            return decoded instanceof ResponseDecodeError ? Effect.fail(decoded) : Effect.succeed(decoded)
          })
        )
      }
    }

    const json: Service["json"] = (request, schemaOf, executeOptions) =>
      execute(request, decodeJson(schemaOf), executeOptions)

    return { settings, send, attempt, retrying, execute, json, decodeJson, schedule, scrub, governor }
  })

/**
 * The transport as a layer, from explicit options. It keeps one fiber that watches the attempts'
 * deadlines for as long as the layer is open: close it (or dispose a `ManagedRuntime` built on it)
 * when done, or a sleeping watchdog may hold the process for up to one timeout.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: ClientConfig.Options): Layer.Layer<Transport, never, HttpClient.HttpClient> =>
  Layer.scoped(Transport, make(options))
