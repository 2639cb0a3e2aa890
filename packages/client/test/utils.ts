import { BatchClient, type ClientConfig, Retry } from "@batchfx/client"
import { FakeOpenAi } from "@batchfx/testkit"
import { HttpClient, type HttpServerResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted, Tracer } from "effect"

/** A quick retry schedule for wire tests: the client's rules, waits of a few milliseconds. */
export const quickRetry = (maxRetries = 2) =>
  Retry.backoff({ base: "1 millis", cap: "5 millis", maxRetries, jitter: false })

/** The client of the emulator in context, over the `HttpClient` in context. */
export const clientOfFake = (options: Partial<ClientConfig.Options> = {}) =>
  Layer.unwrapEffect(Effect.map(FakeOpenAi.FakeOpenAi, (fake) =>
    BatchClient.layer({
      apiKey: Redacted.make(fake.apiKey),
      baseUrl: fake.baseUrl,
      ...options
    })))

/**
 * The emulator on a real socket on 127.0.0.1 and a client that reaches it through the `HttpClient`
 * layer given, by default the platform's undici client.
 */
export const wire = (
  options: Partial<ClientConfig.Options> = {},
  fake: FakeOpenAi.ServerOptions = {},
  http: Layer.Layer<HttpClient.HttpClient> = NodeHttpClient.layerUndici
) =>
  clientOfFake(options).pipe(
    Layer.provideMerge(FakeOpenAi.layer(fake)),
    Layer.provide(http),
    Layer.orDie
  )

/** The emulator in memory (for `TestClock`) and a client that reaches it. */
export const inMemory = (options: Partial<ClientConfig.Options> = {}, fake: FakeOpenAi.Options = {}) =>
  clientOfFake(options).pipe(Layer.provideMerge(FakeOpenAi.layerInMemory(fake)))

/**
 * The emulator in memory, with its answers passed through `edit` before the client sees them: for
 * headers the emulator does not send (`x-should-retry`, `retry-after` without `retry-after-ms`,
 * an HTTP date) and bodies it does not break on its own.
 */
export const inMemoryEdited = (
  edit: (response: HttpServerResponse.HttpServerResponse) => HttpServerResponse.HttpServerResponse,
  options: Partial<ClientConfig.Options> = {},
  fake: FakeOpenAi.Options = {}
) =>
  clientOfFake(options).pipe(
    Layer.provide(Layer.effect(
      HttpClient.HttpClient,
      Effect.map(FakeOpenAi.FakeOpenAi, (service) => FakeOpenAi.httpClient(Effect.map(service.app, edit)))
    )),
    Layer.provideMerge(FakeOpenAi.layerInMemory(fake))
  )

/** A tracer that makes its spans with `base` and keeps each one in `spans`, for tests to read. */
export const recordSpans = (base: Tracer.Tracer, spans: Array<Tracer.Span>): Tracer.Tracer =>
  Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: base.context
  })
