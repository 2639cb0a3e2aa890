/**
 * The emulator and the `@batchfx/client` services pointed at it, in one layer, so that a test of
 * code that uses `BatchClient` or `Files` needs one line:
 *
 * ```ts
 * import * as FakeOpenAiClient from "@batchfx/testkit/FakeOpenAiClient"
 *
 * it.layer(FakeOpenAiClient.layer())((it) => …)  // BatchClient, Files and FakeOpenAi, over 127.0.0.1
 * ```
 *
 * This is the only module of the testkit that imports `@batchfx/client` (an optional peer): the
 * emulator itself shares no code with the client it tests, and `@batchfx/testkit` alone does not
 * need the client installed.
 *
 * @since 0.1.0
 */
import * as BatchClient from "@batchfx/client/BatchClient"
import type * as ClientConfig from "@batchfx/client/ClientConfig"
import type * as Files from "@batchfx/client/Files"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as FakeOpenAi from "./FakeOpenAi.js"

/**
 * The client's options other than where it connects and with which key, which the emulator gives.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientOptions = Omit<ClientConfig.Options, "apiKey" | "baseUrl">

/**
 * Options of the emulator and of the client pointed at it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends FakeOpenAi.ServerOptions {
  /** Options of the client (retries, timeout, governor, …); the defaults of `BatchClient.layer` otherwise. */
  readonly client?: ClientOptions
}

/**
 * The services this module provides: the client's (`BatchClient`, `Files`) and the emulator's
 * (`FakeOpenAi`, to seed data, change knobs and count requests).
 *
 * @since 0.1.0
 * @category models
 */
export type Services = BatchClient.BatchClient | Files.Files | FakeOpenAi.FakeOpenAi

const clientLayer = (client: ClientOptions | undefined) =>
  Layer.unwrapEffect(
    Effect.map(FakeOpenAi.FakeOpenAi, (fake) =>
      BatchClient.layer({ ...client, apiKey: Redacted.make(fake.apiKey), baseUrl: fake.baseUrl }))
  )

/**
 * Serves the emulator on 127.0.0.1 (a free port unless `port` is given) and provides `BatchClient`
 * and `Files` connected to it over `NodeHttpClient.layerUndici`, as an application connects to the
 * API, beside `FakeOpenAi`. Every fault is real here (resets, truncated bodies); the lifecycle
 * follows the `Clock` of the scope that builds the layer, so shorten `durations` rather than use
 * `TestClock` (see `layerInMemory` for that).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Services, HttpServerError.ServeError> => {
  const { client, ...emulator } = options
  return clientLayer(client).pipe(
    Layer.provide(NodeHttpClient.layerUndici),
    Layer.provideMerge(FakeOpenAi.layer(emulator))
  )
}

/**
 * Provides `BatchClient` and `Files` connected to an emulator in memory (no socket), beside
 * `FakeOpenAi`: the emulator runs in the caller's fiber and sees its `Clock`, so `TestClock`
 * drives the lifecycle and the client's retries and polls alike. Connection resets and truncated
 * bodies are emulated at the client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerInMemory = (options: Omit<Options, "host" | "port"> = {}): Layer.Layer<Services> => {
  const { client, ...emulator } = options
  // The in-memory HttpClient reaches the client only: the layer outputs what a test asks for.
  return Layer.merge(clientLayer(client), Layer.effect(FakeOpenAi.FakeOpenAi, FakeOpenAi.FakeOpenAi)).pipe(
    Layer.provide(FakeOpenAi.layerInMemory(emulator))
  )
}
