/* eslint-disable no-console */
// Lists N seeded batches (default 1,000,000) page by page (limit 100) through the emulator and
// prints the heap before seeding, while listing and after. Run after a build:
//
//   pnpm exec tsc -b packages/testkit && node --expose-gc packages/testkit/scripts/heap-1m.mjs [N] [--socket]
//
// In-memory mode calls the app in-process (no socket); --socket serves it on 127.0.0.1 and lists
// over HTTP with the Node client. Seeded batches are computed from their index, so the heap should
// not grow with N.
import { HttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { FakeOpenAi } from "../dist/index.js"

const args = process.argv.slice(2)
const total = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000)
const socket = args.includes("--socket")
const mb = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`
const heap = () => {
  globalThis.gc?.()
  return process.memoryUsage().heapUsed
}

const program = Effect.gen(function*() {
  const fake = yield* FakeOpenAi.FakeOpenAi
  const http = yield* HttpClient.HttpClient
  const before = heap()
  yield* fake.seedBatches(total)
  const seeded = heap()
  let after
  let pages = 0
  let seen = 0
  let peak = 0
  const samples = []
  const started = Date.now()
  for (;;) {
    const url = `${fake.baseUrl}/batches?limit=100${after === undefined ? "" : `&after=${after}`}`
    const res = yield* http.get(url, { headers: { authorization: `Bearer ${fake.apiKey}` } })
    const page = yield* res.json
    seen += page.data.length
    pages++
    if (pages % 1000 === 0) {
      const h = heap()
      peak = Math.max(peak, h)
      samples.push(`${pages} pages: ${mb(h)}`)
    }
    if (page.has_more !== true) break
    after = page.last_id
  }
  const end = heap()
  console.log(`mode: ${socket ? "socket (127.0.0.1)" : "in memory"}`)
  console.log(`listed ${seen} batches in ${pages} pages in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  console.log(`heapUsed before seeding: ${mb(before)}`)
  console.log(`heapUsed after seeding:  ${mb(seeded)}`)
  for (const s of samples) console.log(`heapUsed after ${s}`)
  console.log(`heapUsed after listing:  ${mb(end)} (peak sampled ${mb(peak)})`)
  console.log(`rss at end: ${mb(process.memoryUsage().rss)}`)
})

const layer = socket
  ? Layer.merge(FakeOpenAi.layer(), NodeHttpClient.layer)
  : FakeOpenAi.layerInMemory()

await Effect.runPromise(Effect.provide(program, layer))
