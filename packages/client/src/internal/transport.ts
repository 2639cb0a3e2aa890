/**
 * The HTTP plumbing every service of a client shares: one `send` through which every request
 * passes (the place the rate-limit governor wraps), typed error mapping, per-attempt timeouts,
 * a span per attempt, debug logs, and retries under the client's rules.
 *
 * A request given to the transport has a path relative to the base URL (`/batches`) or a full URL;
 * the transport adds the base URL and the `Authorization`, `OpenAI-Organization`, `OpenAI-Project`
 * and `Accept` headers itself, so the `HttpClient` it runs on must not prefix URLs.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import {
  type BatchClientError,
  type CallError,
  type ConnectionError,
  RateLimited,
  ResponseDecodeError,
  TimeoutError
} from "../BatchClientError.js"
import type * as ClientConfig from "../ClientConfig.js"
import * as Retry from "../Retry.js"
import * as InternalErrors from "./errors.js"
import * as Governor from "./governor.js"
import * as InternalSettings from "./settings.js"

/** Options of one attempt. */
export interface AttemptOptions {
  /** The operation, used as span name `batchfx.<operation>` (`batches.list`, `files.content`, …). */
  readonly operation: string
  /** The attempt number, 1-based. */
  readonly attempt: number
  /** The timeout of this attempt; default the client's. */
  readonly timeout?: Duration.DurationInput | undefined
  /** The span to put the attempt's span under, instead of the current one (a listing's). */
  readonly parentSpan?: Tracer.AnySpan | undefined
  /** A scope whose closing aborts the request, its body included (a download's stall watchdog). */
  readonly abortScope?: Scope.Scope | undefined
}

/** Options of a retried call. */
export interface ExecuteOptions extends ClientConfig.CallOptions {
  /** The operation, used as span name `batchfx.<operation>`. */
  readonly operation: string
  /** Whether failures after which the server may have acted are retried; default true. */
  readonly retryAmbiguous?: boolean | undefined
  /** The span to put each attempt's span under, instead of the current one. */
  readonly parentSpan?: Tracer.AnySpan | undefined
}

/** A decoder of a freshly parsed JSON body, such as `Batch.decodeBatch`. */
export type Decode<A> = (json: unknown) => Either.Either<A, ParseResult.ParseError>

/** What a handler of a 2xx answer does with it. */
export type Handle<A> = (
  response: HttpClientResponse.HttpClientResponse,
  attempt: number
) => Effect.Effect<A, CallError>

/** The transport's operations. */
export interface Service {
  /** The client's settings, defaults filled in. */
  readonly settings: InternalSettings.Settings
  /**
   * One attempt under the governor: sends the request, maps a failure or a non-2xx answer to its
   * typed error, and runs `handle` on a 2xx answer, in a span, logged. The timeout covers the
   * time the governor holds the request, the exchange and `handle`.
   */
  readonly attempt: <A>(
    request: HttpClientRequest.HttpClientRequest,
    handle: Handle<A>,
    options: AttemptOptions
  ) => Effect.Effect<A, CallError>
  /** Runs attempts (numbered from 1) under the retry schedule and rules. */
  readonly retrying: <A, E extends BatchClientError>(
    f: (attempt: number) => Effect.Effect<A, E>,
    options?: Omit<ExecuteOptions, "operation" | "timeout">
  ) => Effect.Effect<A, E>
  /** `attempt` retried. */
  readonly execute: <A>(
    request: HttpClientRequest.HttpClientRequest,
    handle: Handle<A>,
    options: ExecuteOptions
  ) => Effect.Effect<A, CallError>
  /** `execute` that decodes the JSON body. */
  readonly json: <A>(
    request: HttpClientRequest.HttpClientRequest,
    decode: Decode<A>,
    options: ExecuteOptions
  ) => Effect.Effect<A, CallError>
  /** A handler that reads the body of an answer and decodes it as JSON. */
  readonly decodeJson: <A>(decode: Decode<A>) => Handle<A>
  /** The retry schedule a call uses: its own, else the client's, else the default bounded by `maxRetries`. */
  readonly schedule: (override?: ClientConfig.RetrySchedule | undefined) => ClientConfig.RetrySchedule
  /** Removes the API key from a text. */
  readonly scrub: (text: string) => string
  /** The client's rate-limit governor, shared by every request. */
  readonly governor: Governor.Governor
}

/** The transport of a client, shared by its services (batches, files). */
export class Transport extends Context.Tag("@batchfx/client/Transport")<Transport, Service>() {}

const pathOf = (url: string): string => {
  try {
    return new URL(url).pathname
  } catch {
    return url
  }
}

/** The largest JSON answer the client reads: 64 MiB. A list page of 100 batches is well under 1 MB. */
export const defaultMaxJsonBytes = 64 * 1024 * 1024

const utf8 = new TextDecoder()

/** The largest announced body read as bytes rather than text: a list page of 100 batches is about 80 KB. */
const smallBodyBytes = 256 * 1024

/** Builds a transport over the `HttpClient` in context. */
export const make = (
  options: ClientConfig.Options
): Effect.Effect<Service, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const settings = InternalSettings.settings(options)
    const maxJsonBytes = options.maxJsonBytes ?? defaultMaxJsonBytes
    // The API has no use for our trace ids, so no `traceparent`/`b3` header leaves the process,
    // and each attempt has our span (below), so the platform client makes none of its own.
    const http = (yield* HttpClient.HttpClient).pipe(
      HttpClient.withTracerPropagation(false),
      HttpClient.withTracerDisabledWhen(() => true)
    )
    const scrub = InternalErrors.makeScrub(settings.apiKey)
    const defaultSchedule = Option.getOrElse(settings.retry, () => Retry.backoff({ maxRetries: settings.maxRetries }))
    const governor = yield* Governor.make({ serverWaitCap: settings.serverWaitCap, ...settings.governor })

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

    // The one place the client touches the network: every request of every service passes here.
    const scopedHttp = HttpClient.withScope(http)
    const exchange = (
      request: HttpClientRequest.HttpClientRequest,
      info: InternalErrors.Exchange,
      abortScope: Scope.Scope | undefined
    ): Effect.Effect<HttpClientResponse.HttpClientResponse, ConnectionError> =>
      (abortScope === undefined
        ? http.execute(resolve(request))
        : Scope.extend(scopedHttp.execute(resolve(request)), abortScope)).pipe(
          Effect.mapError((error) => InternalErrors.fromHttpClientError(info, error, scrub))
        )

    // Sends once under the governor (which sees every answer, a 429 included, before it becomes an
    // error), then runs `after` on a 2xx answer. The timeout covers the governor's hold too, so a
    // call never waits longer than its timeout; a hold beyond the wait cap fails at once.
    const sendThen = <A>(
      request: HttpClientRequest.HttpClientRequest,
      info: InternalErrors.Exchange,
      after: (response: HttpClientResponse.HttpClientResponse) => Effect.Effect<A, CallError>,
      timeout: Duration.Duration,
      abortScope: Scope.Scope | undefined
    ): Effect.Effect<A, CallError> =>
      governor.run((observe) =>
        Effect.flatMap(exchange(request, info, abortScope), (response) => {
          if (response.status >= 200 && response.status < 300) {
            return Effect.zipRight(observe({ status: response.status, headers: response.headers }), after(response))
          }
          return Effect.flatMap(
            Effect.zip(
              // An error body past the cap is not read further; the status still says what failed.
              Effect.catchTag(readText(response, info), "ResponseDecodeError", () => Effect.succeed("")),
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
        }), (held) =>
        new RateLimited({
          method: info.method,
          url: info.url,
          status: 429,
          attempt: info.attempt,
          apiMessage: `The client holds requests until ${new Date(held.until).toISOString()} (${held.reason})`,
          retryAfter: held.retryAfter
        })).pipe(
          // An infinite timeout is none: an upload bounded by its idle guard instead.
          (effect) =>
            Duration.isFinite(timeout)
              ? Effect.timeoutFail(effect, {
                duration: timeout,
                onTimeout: () =>
                  new TimeoutError({ method: info.method, url: info.url, attempt: info.attempt, timeout })
              })
              : effect
        )

    const attempt: Service["attempt"] = (request, handle, attemptOptions) => {
      const info = exchangeOf(request, attemptOptions.attempt)
      const timeout = attemptOptions.timeout === undefined ? settings.timeout : Duration.decode(attemptOptions.timeout)
      const path = pathOf(info.url)
      const annotations = { method: info.method, path, attempt: info.attempt }
      const after = (response: HttpClientResponse.HttpClientResponse) => {
        const requestId = response.headers["x-request-id"] ?? ""
        return Effect.annotateCurrentSpan({
          "http.response.status_code": response.status,
          "batchfx.request_id": requestId
        }).pipe(
          Effect.zipRight(
            Effect.logDebug(`${info.method} ${path} answered ${response.status}`).pipe(
              Effect.annotateLogs({ ...annotations, status: response.status, requestId })
            )
          ),
          Effect.zipRight(handle(response, attemptOptions.attempt))
        )
      }
      return sendThen(request, info, after, timeout, attemptOptions.abortScope).pipe(
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
          // The span's name and attributes say where it comes from; a stack trace per request
          // would cost more than the rest of the span.
          captureStackTrace: false,
          ...(attemptOptions.parentSpan === undefined ? {} : { parent: attemptOptions.parentSpan }),
          attributes: {
            "http.request.method": info.method,
            "url.path": path,
            "batchfx.attempt": info.attempt
          }
        })
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

    // A body of unknown length is read as a stream of chunks joined once at the end, so that the
    // cap holds whatever the HTTP client (the platform's readers take all there is).
    const readText = (
      response: HttpClientResponse.HttpClientResponse,
      info: InternalErrors.Exchange
    ): Effect.Effect<string, ConnectionError | ResponseDecodeError> => {
      const tooLarge = (what: string) =>
        new ResponseDecodeError({
          method: info.method,
          url: info.url,
          status: response.status,
          attempt: info.attempt,
          requestId: response.headers["x-request-id"],
          reason: "TooLarge",
          description: `${what}, more than the ${maxJsonBytes} bytes a JSON answer may have`,
          bodyPreview: ""
        })
      // A Content-Length counts the bytes on the wire; with a Content-Encoding they are not the text's.
      const encoded = (response.headers["content-encoding"] ?? "identity") !== "identity"
      const announced = Number(response.headers["content-length"])
      if (!encoded && Number.isFinite(announced) && announced > maxJsonBytes) {
        return Effect.fail(tooLarge(`its Content-Length is ${announced} bytes`))
      }
      // A body whose length is announced cannot pass the cap, so the client's own read serves,
      // without a stream per answer. A small one is read as bytes: read as text, it stays alive
      // past young collections (bench README, scenario 3); a large one as text, as node:http's
      // `arrayBuffer` joins the bytes again on every chunk.
      if (!encoded && Number.isFinite(announced)) {
        return Effect.mapError(
          announced <= smallBodyBytes ? Effect.map(response.arrayBuffer, (bytes) => utf8.decode(bytes)) : response.text,
          (error) => InternalErrors.fromHttpClientError(info, error, scrub)
        )
      }
      return Effect.suspend(() => {
        const parts: Array<Uint8Array> = []
        let size = 0
        return response.stream.pipe(
          Stream.mapError((error) => InternalErrors.fromHttpClientError(info, error, scrub)),
          Stream.runForEachChunk((chunk) => {
            for (const part of chunk) {
              size += part.length
              parts.push(part)
            }
            return size > maxJsonBytes ? Effect.fail(tooLarge(`it went on past ${maxJsonBytes} bytes`)) : Effect.void
          }),
          Effect.map(() => {
            if (parts.length === 1) return utf8.decode(parts[0])
            const joined = new Uint8Array(size)
            let at = 0
            for (const part of parts) {
              joined.set(part, at)
              at += part.length
            }
            return utf8.decode(joined)
          })
        )
      })
    }

    const decodeJson: Service["decodeJson"] = (decode) => (response, n) => {
      const info = exchangeOf(response.request, n)
      return readText(response, info).pipe(
        Effect.flatMap((text) => {
          const decoded = InternalErrors.decodeBody(info, response, text, decode, scrub)
          return decoded instanceof ResponseDecodeError ? Effect.fail(decoded) : Effect.succeed(decoded)
        })
      )
    }

    const json: Service["json"] = (request, decode, executeOptions) =>
      execute(request, decodeJson(decode), executeOptions)

    return { settings, attempt, retrying, execute, json, decodeJson, schedule, scrub, governor }
  })

/** The transport as a layer, from explicit options. */
export const layer = (
  options: ClientConfig.Options
): Layer.Layer<Transport, never, HttpClient.HttpClient> => Layer.effect(Transport, make(options))
