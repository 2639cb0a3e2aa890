/* eslint-disable no-console */
// Times `FastDecode.decodeOwnedEither(BatchPage)` on list pages as the client decodes them, in a
// fresh process, so that the first pages show the cost before V8 has optimized the checks (a CLI
// listing 100,000 batches lives entirely in that window).
//
// Each page is a fresh `JSON.parse` of one 100-batch page text, shaped like the bench server's
// (packages/bench/src/wire.ts `batchJson`, mirrored here); parse time is measured apart.
//
// Run: pnpm exec tsc -b packages/core/tsconfig.src.json && node packages/core/scripts/decode-bench.mjs [options]
//   --dist DIR     the built core to load (default packages/core/dist)
//   --closures     use the closure compiler (the path taken where `new Function` is forbidden)
//   --pages N      pages in the cold and warm runs (default 1000)
//   --runs N       instead of measuring here, run N fresh processes of each variant, interleaved
//                  (this build, `--closures`, and `--before DIR` if given), and print the medians
//   --before DIR   with --runs: another built core to compare with, e.g. a copy of dist made before a change
import { execFileSync } from "node:child_process"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { pathToFileURL } from "node:url"

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  return i === -1 ? fallback : args[i + 1]
}
const here = path.dirname(new URL(import.meta.url).pathname)
const dist = path.resolve(option("--dist", path.join(here, "..", "dist")))
const pages = Number(option("--pages", "1000"))
const closures = args.includes("--closures")
const perPage = 100

const runs = option("--runs", undefined)
if (runs !== undefined) {
  // The machine may be busy: fresh processes, variants interleaved, medians.
  const before = option("--before", undefined)
  const variants = [["--dist", dist], ["--dist", dist, "--closures"]]
  if (before !== undefined) variants.unshift(["--dist", path.resolve(before)])
  const results = variants.map(() => [])
  for (let r = 0; r < Number(runs); r++) {
    variants.forEach((variant, v) => {
      const script = new URL(import.meta.url).pathname
      const out = execFileSync(process.execPath, [script, ...variant, "--pages", String(pages)], { encoding: "utf8" })
      results[v].push(JSON.parse(out))
    })
  }
  const median = (values) => {
    const sorted = values.map(Number).sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)].toFixed(2)
  }
  const rows = results.map((all) => {
    const row = { compiler: all[0].compiler, dist: all[0].dist }
    for (const key of Object.keys(all[0])) {
      if (!["compiler", "dist", "unit"].includes(key)) row[key] = median(all.map((one) => one[key]))
    }
    return row
  })
  console.log(`median of ${runs} fresh processes each; µs per batch, compile in ms`)
  console.table(rows)
  process.exit(0)
}

// Mirrors packages/bench/src/wire.ts (batchJson, pageJson): every field the API sends.
const mix = (n) => {
  let h = (n ^ 0x5bd1e995) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39) >>> 0
  return (h ^ (h >>> 15)) >>> 0
}
const hex = (n, width) => n.toString(16).padStart(width, "0").slice(-width)
const batchId = (index) => "batch_bench" + index.toString(16).padStart(24, "0")
const fileId = (index, n) => "file-" + hex(mix(index * 4 + n), 8) + hex(mix(index * 4 + n + 7), 8) + hex(index, 8)
const epoch = 1_780_000_000
const endpoints = ["/v1/chat/completions", "/v1/embeddings", "/v1/responses"]
const models = ["gpt-4o-mini-2024-07-18", "text-embedding-3-small", "gpt-4.1-2025-04-14"]
const batch = (index) => {
  const created = epoch - 60 * index
  const h = mix(index)
  const total = 1 + (h % 500)
  const kind = index % 20
  const status = kind === 16 ? "failed" : kind === 17 ? "expired" : kind === 18 ? "cancelled" : "completed"
  const failedCount = status === "completed" ? (kind === 19 ? 1 + (h % total) : 0) : 0
  const completed = status === "completed" ? total - failedCount : status === "failed" ? 0 : Math.floor(total / 2)
  const when = (condition, value) => condition ? value : null
  return {
    id: batchId(index),
    object: "batch",
    endpoint: endpoints[index % 3],
    model: when(status !== "failed", models[index % 3]),
    errors: when(status === "failed", {
      object: "list",
      data: [{
        code: "invalid_json_line",
        message: "This line is not parseable as valid JSON.",
        param: null,
        line: 1 + (h % 7)
      }]
    }),
    input_file_id: fileId(index, 0),
    completion_window: "24h",
    status,
    output_file_id: when(completed > 0, fileId(index, 1)),
    error_file_id: when(failedCount > 0 || status === "expired" || status === "cancelled", fileId(index, 2)),
    created_at: created,
    in_progress_at: when(status !== "failed", created + 5),
    expires_at: created + 86400,
    finalizing_at: status === "completed" ? created + 600 : status === "expired" ? created + 86400 : null,
    completed_at: when(status === "completed", created + 660),
    failed_at: when(status === "failed", created + 5),
    expired_at: when(status === "expired", created + 87000),
    cancelling_at: when(status === "cancelled", created + 60),
    cancelled_at: when(status === "cancelled", created + 660),
    request_counts: { total: status === "failed" ? 0 : total, completed, failed: failedCount },
    usage: {
      input_tokens: completed * 40,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: completed * 12,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: completed * 52
    },
    metadata: { team: "search", job: `nightly-${index % 1000}` }
  }
}
const text = JSON.stringify({
  object: "list",
  data: Array.from({ length: perPage }, (_, i) => batch(i)),
  first_id: batchId(0),
  last_id: batchId(perPage - 1),
  has_more: true
})

const { FastDecode, BatchPage } = await import(pathToFileURL(path.join(dist, "index.js")).href)
const { Either } = await import("effect")
const compileStart = performance.now()
let decode
if (closures) {
  const internal = await import(pathToFileURL(path.join(dist, "internal", "fastCheck.js")).href)
  if (internal.compileClosures === undefined) throw new Error(`${dist} has no closure-only compiler`)
  const check = internal.compileClosures(BatchPage.BatchPage.ast, "reuse")
  decode = (input) => {
    const value = check(input)
    return value === internal.unsure ? Either.left("unsure") : Either.right(value)
  }
} else {
  decode = FastDecode.decodeOwnedEither(BatchPage.BatchPage)
}
const compileMs = performance.now() - compileStart

// Parses and decodes `count` pages; the milliseconds of each part, page by page.
const run = (count) => {
  const parse = []
  const decoding = []
  for (let i = 0; i < count; i++) {
    const t0 = performance.now()
    const page = JSON.parse(text)
    const t1 = performance.now()
    const result = decode(page)
    const t2 = performance.now()
    if (Either.isLeft(result)) throw new Error("the page did not decode")
    parse.push(t1 - t0)
    decoding.push(t2 - t1)
  }
  return { parse, decoding }
}

const perBatch = (ms, from, to) => {
  const total = ms.slice(from, to).reduce((a, b) => a + b, 0)
  return (total * 1000 / ((to - from) * perPage)).toFixed(3)
}
const cold = run(pages)
const warm = run(pages)
console.log(JSON.stringify({
  compiler: closures ? "closures" : "default",
  dist: path.relative(process.cwd(), dist),
  compileMs: compileMs.toFixed(3),
  decodePage1: perBatch(cold.decoding, 0, 1),
  decodeFirst10: perBatch(cold.decoding, 0, 10),
  decodeFirst100: perBatch(cold.decoding, 0, 100),
  decodeAll: perBatch(cold.decoding, 0, pages),
  decodeWarm: perBatch(warm.decoding, 0, pages),
  parseFirst100: perBatch(cold.parse, 0, 100),
  parseAll: perBatch(cold.parse, 0, pages),
  parseWarm: perBatch(warm.parse, 0, pages),
  // Both: a collection triggered while decoding is mostly the parsed pages' garbage.
  bothFirst100: perBatch(cold.parse.map((ms, i) => ms + cold.decoding[i]), 0, 100),
  bothAll: perBatch(cold.parse.map((ms, i) => ms + cold.decoding[i]), 0, pages),
  unit: "µs per batch"
}))
