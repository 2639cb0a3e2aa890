/**
 * Behind a proxy, as the README shows: the platform's HTTP client layers take an undici dispatcher
 * (`NodeHttpClient.Dispatcher` for `layerUndiciWithoutDispatcher`, `FetchHttpClient.RequestInit`'s
 * `dispatcher` for Node's fetch), and undici's `EnvHttpProxyAgent` or `ProxyAgent` sends every
 * request through a proxy. The proxy here (`node:http`: CONNECT tunnels and absolute-form requests)
 * is the only one that can resolve the name the client is given, and counts what goes through.
 */
import { BatchClient } from "@batchfx/client"
import { FakeOpenAi } from "@batchfx/testkit"
import { FetchHttpClient, type HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import * as Undici from "@effect/platform-node/Undici"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Stream } from "effect"
import { createServer, request as httpRequest, type Server } from "node:http"
import { type AddressInfo, connect } from "node:net"

const proxiedHost = "api.batchfx.test"
const resolve = (host: string) => (host === proxiedHost ? "127.0.0.1" : host)

/** A forward proxy on 127.0.0.1:0: requests counted as absolute-form ones and request lines in tunnels. */
const forwardProxy = Effect.acquireRelease(
  Effect.async<
    readonly [Server, { readonly url: string; readonly absolute: () => number; readonly tunnelled: () => number }]
  >(
    (resume) => {
      let absolute = 0
      const tunnels: Array<{ text: string }> = []
      const server = createServer((req, res) => {
        absolute++
        const target = new URL(req.url ?? "/")
        const upstream = httpRequest({
          host: resolve(target.hostname),
          port: target.port,
          path: target.pathname + target.search,
          method: req.method,
          headers: req.headers
        }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        upstream.on("error", () => res.destroy())
        req.pipe(upstream)
      })
      server.on("connect", (req, socket, head) => {
        const [host, port] = (req.url ?? "").split(":")
        const seen = { text: "" }
        tunnels.push(seen)
        const upstream = connect(Number(port), resolve(host ?? ""), () => {
          socket.write("HTTP/1.1 200 Connection Established\r\n\r\n")
          upstream.write(head)
          socket.on("data", (chunk: Buffer) => void (seen.text += chunk.toString("latin1")))
          upstream.pipe(socket)
          socket.pipe(upstream)
        })
        upstream.on("error", () => socket.destroy())
        socket.on("error", () => upstream.destroy())
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed(
          [server, {
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            absolute: () => absolute,
            tunnelled: () =>
              tunnels.reduce(
                (n, t) => n + (t.text.match(/(?:^|\r\n)(?:GET|POST) \/v1\/\S* HTTP\/1\.1\r\n/g)?.length ?? 0),
                0
              )
          }] as const
        )))
    }
  ),
  ([server]) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(([, proxy]) => proxy))

/** Lists every batch through `http`, with the emulator under the proxy's name. */
const listThrough = (http: Layer.Layer<HttpClient.HttpClient>) =>
  Effect.gen(function*() {
    const fake = yield* FakeOpenAi.FakeOpenAi
    const before = yield* fake.requestCount()
    const client = BatchClient.layer({
      apiKey: Redacted.make(fake.apiKey),
      baseUrl: `http://${proxiedHost}:${new URL(fake.baseUrl).port}/v1`,
      maxRetries: 0
    }).pipe(Layer.provide(http))
    const batches = yield* BatchClient.list({ limit: 2 }).pipe(Stream.runCollect, Effect.provide(client))
    return { listed: batches.length, answered: (yield* fake.requestCount()) - before }
  })

/** An undici dispatcher that lives as long as the layer. */
const dispatcher = (make: () => Undici.Dispatcher) =>
  Effect.acquireRelease(Effect.sync(make), (d) => Effect.promise(() => d.destroy()))

describe("a proxy through the dispatcher of the HTTP client layer", () => {
  it.scoped("NodeHttpClient.layerUndiciWithoutDispatcher with EnvHttpProxyAgent: requests tunnel through the proxy", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(5)
      const proxy = yield* forwardProxy
      const http = NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
        Layer.provide(Layer.scoped(
          NodeHttpClient.Dispatcher,
          dispatcher(() => new Undici.EnvHttpProxyAgent({ httpProxy: proxy.url, httpsProxy: proxy.url, noProxy: "" }))
        ))
      )
      const { answered, listed } = yield* listThrough(http)
      assert.strictEqual(listed, 5)
      assert.strictEqual(answered, 3, "three pages of two")
      assert.strictEqual(proxy.tunnelled(), answered)
    }).pipe(Effect.provide(FakeOpenAi.layer())))

  it.scoped("FetchHttpClient.layer with RequestInit's dispatcher: Node's fetch goes through the proxy", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(3)
      const proxy = yield* forwardProxy
      const agent = yield* dispatcher(() => new Undici.EnvHttpProxyAgent({ httpProxy: proxy.url, noProxy: "" }))
      const http = FetchHttpClient.layer.pipe(
        Layer.provide(Layer.succeed(FetchHttpClient.RequestInit, { dispatcher: agent } as globalThis.RequestInit))
      )
      const { answered, listed } = yield* listThrough(http)
      assert.strictEqual(listed, 3)
      assert.strictEqual(proxy.tunnelled(), answered)
      assert.isAbove(answered, 0)
    }).pipe(Effect.provide(FakeOpenAi.layer())))

  it.scoped("ProxyAgent without a tunnel sends absolute-form requests for http; NO_PROXY hosts go direct", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(2)
      const proxy = yield* forwardProxy
      const http = NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
        Layer.provide(Layer.scoped(
          NodeHttpClient.Dispatcher,
          dispatcher(() => new Undici.ProxyAgent({ uri: proxy.url, proxyTunnel: false }))
        ))
      )
      const { answered, listed } = yield* listThrough(http)
      assert.strictEqual(listed, 2)
      assert.strictEqual(proxy.absolute(), answered)
      // the proxy's name in noProxy: the client goes direct, where nothing resolves the name
      const direct = NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
        Layer.provide(Layer.scoped(
          NodeHttpClient.Dispatcher,
          dispatcher(() => new Undici.EnvHttpProxyAgent({ httpProxy: proxy.url, noProxy: proxiedHost }))
        ))
      )
      const error = yield* Effect.flip(listThrough(direct))
      assert.strictEqual(error._tag, "ConnectionError")
      assert.strictEqual(proxy.absolute() + proxy.tunnelled(), answered, "the proxy saw nothing more")
    }).pipe(Effect.provide(FakeOpenAi.layer())))
})
