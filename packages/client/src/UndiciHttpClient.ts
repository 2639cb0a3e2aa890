/**
 * An `HttpClient` over undici with the least work per request: what `layerNode` uses.
 *
 * `@effect/platform-node`'s undici client runs every request through `HttpClient.make`, which adds
 * per request a span of its own (with the trace context sent to the server as headers), a
 * `FinalizationRegistry` entry and a wrapping response, and its response rebuilds the headers on
 * every read and runs a fiber to cache each body. The client's transport already spans every
 * attempt (method, path, status, request id) and reads every body it asks for, so this client does
 * only the exchange: listing 100,000 batches in a fresh process took about a fifth less CPU with it
 * (the bench README, "What the profiles say"). It sends no trace-context headers to the API.
 *
 * Interruption aborts the request, or the body being read. Bodies are read once: `text`,
 * `arrayBuffer` and `json` share one read, so any of them may be asked for more than once.
 *
 * A JSON answer (`application/json` or `…+json`) to a request that accepts JSON is read whole
 * before the response is handed over, unless its `Content-Length` says more than 16 MiB: such an
 * answer is read whole anyway, and handing over the response first and its bytes in a second
 * asynchronous step cost more than a third more CPU per request in a bare listing loop
 * (young-generation collections kept every body that arrived in that second step: the bench
 * README, "Listing speed (1)"). Other answers are handed over at their headers and read as they
 * are asked for; so is any answer to a request that does not accept JSON, such as a file's content
 * (the API's description calls that JSON too).
 *
 * @since 0.1.0
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Undici from "@effect/platform-node/Undici"
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Effect from "effect/Effect"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** What the client needs of a dispatcher: its promise-returning `request`. */
interface Dispatcher {
  readonly request: (options: Undici.Dispatcher.RequestOptions<null>) => Promise<Undici.Dispatcher.ResponseData<null>>
}
type Source = Undici.Dispatcher.ResponseData<null>
type RequestBody = Exclude<Undici.Dispatcher.RequestOptions<null>["body"], undefined>

// Timeouts are the transport's (`Clock`-driven, per attempt); undici's own would race them.
const headersTimeout = 60 * 60 * 1000

const utf8 = new TextDecoder()

// The largest JSON answer read whole before the response is handed over.
const wholeBodyLimit = 16 * 1024 * 1024

const isJsonMedia = (type: string): boolean => {
  const semicolon = type.indexOf(";")
  const media = (semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase()
  return media === "application/json" || media.endsWith("+json")
}

/**
 * Whether an answer is read whole with its headers: the request accepts JSON, and the answer is
 * JSON of at most `wholeBodyLimit` bytes (or of no declared length).
 */
const readsWhole = (request: HttpClientRequest.HttpClientRequest, headers: Source["headers"]): boolean => {
  const accept = request.headers["accept"]
  if (accept === undefined || !accept.split(",").some(isJsonMedia)) return false
  const type = headers["content-type"]
  if (typeof type !== "string" || !isJsonMedia(type)) return false
  const length = headers["content-length"]
  return typeof length !== "string" || Number(length) <= wholeBodyLimit
}

/** A body read whole before the response was handed over: its bytes, or why the read failed. */
type Whole =
  | { readonly _tag: "Read"; readonly bytes: ArrayBuffer }
  | { readonly _tag: "Failed"; readonly cause: unknown }

const ignoreError = (_: unknown) => {}

// A response dropped unread (its fiber interrupted between the answer and the read) would hold
// its connection: its body is destroyed when the response is collected. The registry holds the
// body only until a read starts: holding it longer kept each body alive until the response was
// collected, often only at a full collection (listing 100,000 batches: 50 MB more peak memory).
interface Unread {
  body: Source["body"] | undefined
}
const unread = new FinalizationRegistry<Unread>((held) => held.body?.destroy())

interface Outgoing {
  readonly body: RequestBody
  readonly headers: Headers.Headers
}

// Form data is encoded by the global `Response` (boundary and all): undici's own encoder
// expects its own `FormData` class, not the global one a caller builds.
const outgoing = (request: HttpClientRequest.HttpClientRequest): Effect.Effect<Outgoing> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed({ body: null, headers: request.headers })
    case "Uint8Array":
    case "Raw":
      return Effect.succeed({ body: body.body as RequestBody, headers: request.headers })
    case "FormData": {
      const encoded = new Response(body.formData)
      return Effect.succeed({
        body: encoded.body as unknown as RequestBody,
        headers: Headers.set(request.headers, "content-type", encoded.headers.get("content-type") ?? "")
      })
    }
    case "Stream":
      return Effect.map(
        NodeStream.toReadable(body.stream),
        (readable) => ({ body: readable, headers: request.headers })
      )
  }
}

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly request: HttpClientRequest.HttpClientRequest
  readonly status: number
  private readonly source: Source
  private cachedHeaders: Headers.Headers | undefined
  private cachedCookies: Cookies.Cookies | undefined
  // One read of the body, shared by `text`, `arrayBuffer` and `json`.
  private bytes: Promise<ArrayBuffer> | undefined
  // What the registry destroys if this response is collected unread.
  readonly unread: Unread

  constructor(
    request: HttpClientRequest.HttpClientRequest,
    source: Source,
    // The body, when it was read whole before the response was made.
    private readonly whole: Whole | undefined
  ) {
    super()
    this.request = request
    this.source = source
    this.unread = { body: whole === undefined ? source.body : undefined }
    this.status = source.statusCode
    // An error after the body was handed over is reported to whoever reads it.
    source.body.on("error", ignoreError)
  }

  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.source.headers as Headers.Input)
  }

  get cookies(): Cookies.Cookies {
    if (this.cachedCookies !== undefined) return this.cachedCookies
    const header = this.source.headers["set-cookie"]
    return this.cachedCookies = header === undefined
      ? Cookies.empty
      : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  // Reads the body once; interruption destroys it (and so frees the connection).
  private read<A>(start: () => Promise<A>): Effect.Effect<A, HttpClientError.ResponseError> {
    return Effect.async<A, HttpClientError.ResponseError>((resume, signal) => {
      this.unread.body = undefined
      const onAbort = () => this.source.body.destroy()
      signal.addEventListener("abort", onAbort, { once: true })
      start().then(
        (value) => {
          signal.removeEventListener("abort", onAbort)
          resume(Effect.succeed(value))
        },
        (cause) => {
          signal.removeEventListener("abort", onAbort)
          resume(Effect.fail(this.decodeError(cause)))
        }
      )
    })
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    const whole = this.whole
    if (whole !== undefined) {
      return whole._tag === "Read" ? Effect.succeed(whole.bytes) : Effect.fail(this.decodeError(whole.cause))
    }
    return this.read(() => this.bytes ??= this.source.body.arrayBuffer())
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.arrayBuffer, (bytes) => utf8.decode(bytes))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => text === "" ? null : JSON.parse(text) as unknown,
        catch: (cause) => this.decodeError(cause)
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => this.decodeError(cause)
      }))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    if (this.whole !== undefined) {
      return Effect.flatMap(this.arrayBuffer, (bytes) =>
        Effect.tryPromise({
          try: () =>
            new Response(bytes, { headers: { "content-type": this.headers["content-type"] ?? "" } }).formData(),
          catch: (cause) => this.decodeError(cause)
        }))
    }
    return this.read(() => this.source.body.formData() as Promise<FormData>)
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    if (this.whole !== undefined) {
      return Stream.map(Stream.fromEffect(this.arrayBuffer), (bytes) => new Uint8Array(bytes))
    }
    // The stream destroys the body when it ends or is interrupted.
    this.unread.body = undefined
    return NodeStream.fromReadable<HttpClientError.ResponseError, Uint8Array>(
      () => this.source.body,
      (cause) => this.decodeError(cause)
    )
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

/**
 * An `HttpClient` over an undici dispatcher (an `Agent`, a `Pool`, a `MockAgent`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient =>
  HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) =>
      Effect.flatMap(effect, (request) => {
        const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
        if (url._tag === "Left") {
          return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: url.left }))
        }
        const { hash, origin, pathname, search } = url.right
        return Effect.flatMap(outgoing(request), ({ body, headers }) =>
          Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume, signal) => {
            dispatcher.request({
              signal,
              method: request.method,
              headers,
              origin,
              path: pathname + search + hash,
              body,
              headersTimeout,
              bodyTimeout: 0
            }).then(
              (source) => {
                if (signal.aborted) {
                  source.body.destroy()
                  return
                }
                if (!readsWhole(request, source.headers)) {
                  const response = new UndiciResponse(request, source, undefined)
                  unread.register(response, response.unread)
                  resume(Effect.succeed(response))
                  return
                }
                // An abort now (the signal is undici's) destroys the body and fails this read.
                const handOver = (whole: Whole): void => {
                  if (!signal.aborted) {
                    resume(Effect.succeed(new UndiciResponse(request, source, whole)))
                  }
                }
                source.body.arrayBuffer().then(
                  (bytes) =>
                    handOver({ _tag: "Read", bytes }),
                  (cause) => handOver({ _tag: "Failed", cause })
                )
              },
              (cause) => resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
            )
          }))
      }),
    Effect.succeed
  )

/**
 * The client over its own undici `Agent`, closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new Undici.Agent()),
      (agent) => Effect.promise(() => agent.destroy())
    ),
    make
  )
)
