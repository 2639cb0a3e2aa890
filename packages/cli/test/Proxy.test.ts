/**
 * Behind a proxy: a forward proxy written here (`node:http`: CONNECT tunnels, as undici opens for
 * every target, and absolute-form requests, with Basic proxy credentials) stands in front of the
 * emulator under a name only the proxy knows (`api.batchfx.test`), so a request that succeeds
 * went through it. Requests are counted inside the tunnels and compared with the emulator's count.
 * `NO_PROXY` and this machine's own addresses are reached directly.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { createServer, request as httpRequest, type Server } from "node:http"
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https"
import { type AddressInfo, connect } from "node:net"
import { fileURLToPath } from "node:url"
import { binary, cli, fastDurations, inputFile, jsonLines, poll, type Run, runCli, tempDir } from "./utils.js"

/** The name the proxy resolves to 127.0.0.1; nothing else can resolve it. */
const proxiedHost = "api.batchfx.test"
const credentials = { user: "alice", password: "s3cret-proxy-pw" }

interface Proxy {
  readonly url: string
  /** The URL with the proxy's credentials in it. */
  readonly urlWithCredentials: string
  /** Requests that went through: absolute-form ones and those counted inside CONNECT tunnels. */
  readonly requests: () => number
  readonly tunnels: () => number
  readonly refused: () => number
}

const resolve = (host: string) => (host === proxiedHost ? "127.0.0.1" : host)

/** A forward proxy on 127.0.0.1:0 that wants `alice`'s credentials. */
const forwardProxy = Effect.acquireRelease(
  Effect.async<readonly [Server, Proxy]>((resume) => {
    let absolute = 0
    let tunnels = 0
    let refused = 0
    const streams: Array<{ text: string }> = []
    const expected = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`
    const server = createServer((req, res) => {
      if (req.headers["proxy-authorization"] !== expected) {
        refused++
        res.writeHead(407, { "proxy-authenticate": "Basic realm=\"test\"" }).end()
        return
      }
      absolute++
      const target = new URL(req.url ?? "/")
      const headers = { ...req.headers }
      delete headers["proxy-authorization"]
      const upstream = httpRequest({
        host: resolve(target.hostname),
        port: target.port,
        path: target.pathname + target.search,
        method: req.method,
        headers
      }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      })
      upstream.on("error", () => res.destroy())
      req.pipe(upstream)
    })
    server.on("connect", (req, socket, head) => {
      if (req.headers["proxy-authorization"] !== expected) {
        refused++
        socket.end("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n\r\n")
        return
      }
      tunnels++
      const [host, port] = (req.url ?? "").split(":")
      const seen = { text: "" }
      streams.push(seen)
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
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed(
        [server, {
          url: `http://127.0.0.1:${port}`,
          urlWithCredentials: `http://${credentials.user}:${credentials.password}@127.0.0.1:${port}`,
          // a request line inside a tunnel (the emulator is plain HTTP, so the tunnel is readable)
          requests: () =>
            absolute +
            streams.reduce(
              (n, s) => n + (s.text.match(/(?:^|\r\n)(?:GET|POST|DELETE) \/v1\/\S* HTTP\/1\.1\r\n/g)?.length ?? 0),
              0
            ),
          tunnels: () => tunnels,
          refused: () => refused
        }] as const
      ))
    })
  }),
  ([server]) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map(([, proxy]) => proxy))

const chat = "/v1/chat/completions"

/** A file of `test/fixtures`: a self-signed certificate (and its key) for `api.batchfx.test`, for tests only. */
const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url))

/**
 * The API over TLS under `api.batchfx.test`: an https server on 127.0.0.1:0 that passes every
 * request on to the emulator, counting them.
 */
const tlsFront = (emulator: string) =>
  Effect.acquireRelease(
    Effect.async<readonly [HttpsServer, { readonly port: number; readonly requests: () => number }]>((resume) => {
      let requests = 0
      const target = new URL(emulator)
      const server = createHttpsServer({
        key: readFileSync(fixture("api.batchfx.test.key")),
        cert: readFileSync(fixture("api.batchfx.test.crt"))
      }, (req, res) => {
        requests++
        const upstream = httpRequest({
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: target.host }
        }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        })
        upstream.on("error", () => res.destroy())
        req.pipe(upstream)
      })
      server.listen(0, "127.0.0.1", () =>
        resume(Effect.succeed(
          [server, {
            port: (server.address() as AddressInfo).port,
            requests: () => requests
          }] as const
        )))
    }),
    ([server]) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(([, front]) => front))

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "HTTPS_PROXY, HTTP_PROXY and NO_PROXY",
  (it) => {
    it.scoped("every request of list, get and submit --wait goes through HTTP_PROXY, counted at both ends", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const proxy = yield* forwardProxy
        yield* fake.seedBatches(3)
        const port = new URL(fake.baseUrl).port
        const before = yield* fake.requestCount()
        const runs: Array<Run> = []
        for (const name of ["HTTP_PROXY", "http_proxy"]) {
          const env = {
            OPENAI_API_KEY: fake.apiKey,
            OPENAI_BASE_URL: `http://${proxiedHost}:${port}/v1`,
            [name]: proxy.urlWithCredentials
          }
          const listed = yield* runCli(["list"], { env })
          assert.strictEqual(listed.code, 0, listed.stderr)
          const ids = jsonLines(listed.stdout).map((b) => b["id"] as string)
          assert.isAtLeast(ids.length, 3)
          runs.push(listed, yield* runCli(["get", ...ids.slice(0, 3)], { env }))
          const submitted = yield* runCli(["submit", inputFile(tempDir(), 3), "-e", chat, "--wait", ...poll], { env })
          assert.strictEqual(submitted.code, 0, submitted.stderr)
          runs.push(submitted, yield* runCli(["--verbose", "list", "--max", "1"], { env }))
        }
        for (const r of runs) assert.notInclude(r.stdout + r.stderr, credentials.password)
        const answered = (yield* fake.requestCount()) - before
        assert.isAbove(answered, 10)
        assert.strictEqual(proxy.requests(), answered, "every request the emulator answered came through the proxy")
        assert.isAbove(proxy.tunnels(), 0)
      }))

    it.scoped("NO_PROXY and this machine's addresses are reached directly; the proxy sees nothing", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const proxy = yield* forwardProxy
        const port = new URL(fake.baseUrl).port
        // 127.0.0.1 is always direct, whatever NO_PROXY says
        const local = yield* cli(["list", "--max", "1"], {
          env: { HTTPS_PROXY: proxy.urlWithCredentials, HTTP_PROXY: proxy.urlWithCredentials }
        })
        assert.strictEqual(local.code, 0, local.stderr)
        // a host in NO_PROXY is reached directly: here nothing can resolve it, so the connection fails
        for (const noProxy of [proxiedHost, `.batchfx.test`, `${proxiedHost}:${port}`]) {
          const direct = yield* runCli(["get", "batch_x", "--max-retries", "0"], {
            env: {
              OPENAI_API_KEY: fake.apiKey,
              OPENAI_BASE_URL: `http://${proxiedHost}:${port}/v1`,
              HTTP_PROXY: proxy.urlWithCredentials,
              NO_PROXY: noProxy
            }
          })
          assert.strictEqual(direct.code, 1, direct.stderr)
          assert.match(direct.stderr, /connection failed/i)
        }
        assert.strictEqual(proxy.tunnels() + proxy.requests() + proxy.refused(), 0)
      }))

    it.scoped("wrong proxy credentials: one sentence, exit 1, the password never printed; a proxy that is not a URL: exit 2", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const proxy = yield* forwardProxy
        const port = new URL(fake.baseUrl).port
        const base = { OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: `http://${proxiedHost}:${port}/v1` }
        const wrong = proxy.urlWithCredentials.replace(credentials.password, "wrong-pw")
        for (const verbose of [[], ["--verbose"]]) {
          const r = yield* runCli([...verbose, "get", "batch_x", "--max-retries", "0"], {
            env: { ...base, HTTP_PROXY: wrong }
          })
          assert.strictEqual(r.code, 1, r.stderr)
          assert.notInclude(r.stdout + r.stderr, "wrong-pw")
          assert.match(r.stderr, /^batchfx: batch_x: The connection failed/m)
        }
        assert.isAbove(proxy.refused(), 0)
        const bad = yield* runCli(["list"], { env: { ...base, HTTPS_PROXY: "http://bob:pw-in-bad@[bad" } })
        assert.strictEqual(bad.code, 2, bad.stderr)
        assert.match(bad.stderr, /^batchfx: the proxy setting .* is not usable/)
        assert.notInclude(bad.stderr, "pw-in-bad")
      }))

    it.scoped("the built binary (undici loaded only now) reaches an https API through HTTPS_PROXY's tunnel", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const proxy = yield* forwardProxy
        const front = yield* tlsFront(fake.baseUrl)
        yield* fake.seedBatches(2)
        const before = yield* fake.requestCount()
        const r = yield* binary(["list", "--max", "2"], {
          env: {
            OPENAI_API_KEY: fake.apiKey,
            OPENAI_BASE_URL: `https://${proxiedHost}:${front.port}/v1`,
            HTTPS_PROXY: proxy.urlWithCredentials,
            NODE_EXTRA_CA_CERTS: fixture("api.batchfx.test.crt")
          }
        })
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(jsonLines(r.stdout).length, 2)
        const answered = (yield* fake.requestCount()) - before
        assert.isAbove(answered, 0)
        assert.strictEqual(front.requests(), answered, "every request came over TLS to the API's name")
        assert.isAbove(proxy.tunnels(), 0, "through the proxy's CONNECT tunnel")
        assert.notInclude(r.stdout + r.stderr, credentials.password)
      }))
  }
)
