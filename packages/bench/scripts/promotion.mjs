// What each layer of a listing promotes to V8's old space, per listed batch.
//
//   pnpm build && node packages/bench/scripts/promotion.mjs [--items 100000]
//
// Starts the bench server, then lists the batches once per mode, each in a child process run with
// `--trace-gc-nvp`, and sums what the young-generation collections promoted. Memory that is
// promoted and then dropped is freed only by a full collection, so it sets how high old space
// climbs between two of them: the growth of scenario 3's peak with the number of batches (README).
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const key = "sk-bench-batchfx"

const child = async (mode, baseUrl) => {
  const BatchClient = await import("@batchfx/client/BatchClient")
  const NodeHttpClient = await import("@effect/platform-node/NodeHttpClient")
  const Undici = await import("@effect/platform-node/Undici")
  const HttpClient = await import("@effect/platform/HttpClient")
  const Effect = await import("effect/Effect")
  const Layer = await import("effect/Layer")
  const Redacted = await import("effect/Redacted")
  const Stream = await import("effect/Stream")
  const pageUrl = (after) => `${baseUrl}/batches?limit=100${after === undefined ? "" : `&after=${after}`}`
  const headers = { authorization: `Bearer ${key}` }
  let items = 0
  // One page: counts it and gives the cursor of the next, or undefined after the last.
  const next = (page) => {
    items += page.data.length
    return page.has_more && page.data.length > 0 ? page.data[page.data.length - 1].id : undefined
  }
  // The platform's client, with the body read one way or another in the step after the answer.
  const platform = (read) =>
    Effect.gen(function*() {
      const http = (yield* HttpClient.HttpClient).pipe(HttpClient.withTracerDisabledWhen(() => true))
      let after
      do {
        const response = yield* http.get(pageUrl(after), { headers })
        after = next(JSON.parse(yield* read(response)))
      } while (after !== undefined)
    })
  const utf8 = new TextDecoder()
  const modes = {
    // The floor: fetch, text, JSON.parse.
    "fetch": () =>
      Effect.promise(async () => {
        let after
        do after = next(JSON.parse(await (await fetch(pageUrl(after), { headers })).text()))
        while (after !== undefined)
      }),
    // undici, the answer and its body awaited in one async function.
    "undici": () =>
      Effect.promise(async () => {
        const agent = new Undici.Agent()
        let after
        do {
          const url = new URL(pageUrl(after))
          const response = await agent.request({
            origin: url.origin,
            path: url.pathname + url.search,
            method: "GET",
            headers
          })
          after = next(JSON.parse(await response.body.text()))
        } while (after !== undefined)
        await agent.close()
      }),
    // undici, the answer and its body awaited in two steps of a fiber.
    "undici, two fiber steps": () =>
      Effect.gen(function*() {
        const agent = new Undici.Agent()
        let after
        do {
          const url = new URL(pageUrl(after))
          const response = yield* Effect.promise(() =>
            agent.request({ origin: url.origin, path: url.pathname + url.search, method: "GET", headers })
          )
          after = next(yield* Effect.promise(async () => JSON.parse(await response.body.text())))
        } while (after !== undefined)
      }),
    "HttpClient, response.text": () => platform((response) => response.text),
    "HttpClient, response.arrayBuffer": () =>
      platform((response) => Effect.map(response.arrayBuffer, (bytes) => utf8.decode(bytes))),
    "BatchClient.listPages, lookAhead 0": () =>
      BatchClient.listPages({ limit: 100 }, { lookAhead: 0 }).pipe(
        Stream.runForEach((page) => Effect.sync(() => next(page)))
      ),
    "BatchClient.listPages": () =>
      BatchClient.listPages({ limit: 100 }).pipe(Stream.runForEach((page) => Effect.sync(() => next(page)))),
    // The contender of scenario 3.
    "BatchClient.list, runForEach": () =>
      BatchClient.list({ limit: 100 }).pipe(Stream.runForEach(() => Effect.sync(() => items++)))
  }
  const layer = Layer.merge(
    BatchClient.layer({ apiKey: Redacted.make(key), baseUrl }).pipe(Layer.provide(NodeHttpClient.layerUndici)),
    NodeHttpClient.layerUndici
  )
  await Effect.runPromise(Effect.provide(modes[mode](), layer))
  const peak = /^VmHWM:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))
  process.stdout.write(`${JSON.stringify({ items, peakMB: peak === null ? undefined : Number(peak[1]) / 1024 })}\n`)
}

const run = (mode, baseUrl) =>
  new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--trace-gc-nvp", self, "--child", mode, baseUrl], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    proc.stdout.on("data", (chunk) => out += chunk)
    proc.stderr.on("data", (chunk) => out += chunk)
    proc.once("error", reject)
    proc.once("close", (code) => {
      if (code !== 0) return reject(new Error(`${mode}: exit ${code}\n${out.slice(-2000)}`))
      let promoted = 0
      let scavenges = 0
      let fullGCs = 0
      for (const line of out.split("\n")) {
        if (line.includes(" gc=s ")) {
          scavenges++
          promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0)
        } else if (/ gc=mc /.test(line)) fullGCs++
      }
      const report = JSON.parse(out.split("\n").find((line) => line.startsWith("{\"items\"")))
      resolve({ ...report, promoted, scavenges, fullGCs })
    })
  })

const argv = process.argv.slice(2)
if (argv[0] === "--child") {
  await child(argv[1], argv[2])
} else {
  const at = argv.indexOf("--items")
  const total = at === -1 ? 100_000 : Number(argv[at + 1])
  const Server = await import("../dist/server.js")
  const server = await Server.start({ total })
  console.log(`| mode (${total} batches) | promoted MB | KB per batch | scavenges | full GCs | peak RSS MB |`)
  console.log("|---|---:|---:|---:|---:|---:|")
  for (
    const mode of [
      "fetch",
      "undici",
      "undici, two fiber steps",
      "HttpClient, response.text",
      "HttpClient, response.arrayBuffer",
      "BatchClient.listPages, lookAhead 0",
      "BatchClient.listPages",
      "BatchClient.list, runForEach"
    ]
  ) {
    const r = await run(mode, server.baseUrl)
    console.log(
      `| ${mode} | ${(r.promoted / 1e6).toFixed(0)} | ${
        (r.promoted / 1024 / r.items).toFixed(2)
      } | ${r.scavenges} | ${r.fullGCs} | ${r.peakMB?.toFixed(0)} |`
    )
  }
  await server.close()
}
