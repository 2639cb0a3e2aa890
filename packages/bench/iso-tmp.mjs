import * as Server from "./dist/server.js"
import * as W from "./dist/wire.js"
import * as BatchClient from "@batchfx/client/BatchClient"
import * as Transport from "@batchfx/client/Transport"
import { BatchPage } from "@batchfx/core"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted, Schema, Stream } from "effect"
const total = Number(process.argv[2] ?? 30000)
const s = await Server.start({ total })
const pages = total / 100
const after = (p) => p === 0 ? {} : { after: W.batchId(p * 100 - 1) }
const L = BatchClient.layerNode({ apiKey: Redacted.make(W.apiKey), baseUrl: s.baseUrl })
const variants = {
  "undici fetch + JSON.parse": () => Effect.promise(async () => { for (let p = 0; p < pages; p++) { const q = new URLSearchParams({ limit: "100", ...after(p) }); JSON.parse(await (await fetch(`${s.baseUrl}/batches?${q}`, { headers: { authorization: `Bearer ${W.apiKey}` } })).text()) } }),
  "platform HttpClient (undici) + text + JSON.parse": () => Effect.gen(function*() { const http = yield* HttpClient.HttpClient; for (let p = 0; p < pages; p++) { const r = yield* http.execute(HttpClientRequest.get(`${s.baseUrl}/batches`, { urlParams: { limit: "100", ...after(p) } }).pipe(HttpClientRequest.bearerToken(W.apiKey))); JSON.parse(yield* r.text) } }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)),
  "Transport.json(Schema.Unknown)": () => Effect.gen(function*() { const t = yield* Transport.Transport; for (let p = 0; p < pages; p++) yield* t.json(HttpClientRequest.get("/batches", { urlParams: { limit: "100", ...after(p) } }), Schema.Unknown, { operation: "x" }) }).pipe(Effect.provide(L)),
  "Transport.json(BatchPage)": () => Effect.gen(function*() { const t = yield* Transport.Transport; for (let p = 0; p < pages; p++) yield* t.json(HttpClientRequest.get("/batches", { urlParams: { limit: "100", ...after(p) } }), BatchPage.BatchPage, { operation: "x" }) }).pipe(Effect.provide(L)),
  "BatchClient.list (Stream)": () => BatchClient.list({ limit: 100 }).pipe(Stream.runDrain, Effect.provide(L)),
}
for (let round = 0; round < 2; round++) for (const [name, v] of Object.entries(variants).filter(([n]) => n.includes(process.argv[3] ?? ""))) {
  const c0 = process.cpuUsage(), t0 = performance.now()
  await Effect.runPromise(v())
  const c = process.cpuUsage(c0)
  console.log(`${((c.user + c.system) / 1000 / pages).toFixed(2)} ms CPU/page  ${((performance.now() - t0) / pages).toFixed(2)} ms wall/page  ${name}`)
}
await s.close()
