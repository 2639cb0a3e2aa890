// Times decoding list pages as the client decodes them, in a fresh process, so that the first
// pages show the cost before V8 has optimized anything (a CLI listing 100,000 batches lives
// entirely in that window). Two decoders of the same schema:
//
//   compiled  `BatchPage.decodeBatchPage`, what the client uses: core's check compiled with
//             `new Function`, falling back to the schema for a page it rejects
//   schema    `Schema.decodeUnknownEither(BatchPage.BatchPage)`: stock Effect, and what every page
//             costs where `new Function` is forbidden (a CSP)
//
// Each page is a fresh `JSON.parse` of one 100-batch page text from the bench server's wire
// (src/wire.ts `pageJson`); parse time is measured apart.
//
// Run: pnpm build && node packages/bench/scripts/decode-bench.mjs [options]
//   --dist DIR     the built core to load (default packages/core/dist)
//   --schema       decode with the schema instead of the compiled check
//   --pages N      pages in the cold and warm runs (default 1000)
//   --runs N       instead of measuring here, run N fresh processes of each variant, interleaved
//                  (this build compiled, this build `--schema`, and `--before DIR` compiled if
//                  given), and print the medians
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
const dist = path.resolve(option("--dist", path.join(here, "..", "..", "core", "dist")))
const pages = Number(option("--pages", "1000"))
const schemaOnly = args.includes("--schema")
const perPage = 100

const runs = option("--runs", undefined)
if (runs !== undefined) {
  // The machine may be busy: fresh processes, variants interleaved, medians.
  const before = option("--before", undefined)
  const variants = [["--dist", dist], ["--dist", dist, "--schema"]]
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
    const row = { decoder: all[0].decoder, dist: all[0].dist }
    for (const key of Object.keys(all[0])) {
      if (!["decoder", "dist", "unit"].includes(key)) row[key] = median(all.map((one) => one[key]))
    }
    return row
  })
  console.log(`median of ${runs} fresh processes each; µs per batch, first call in ms`)
  console.table(rows)
  process.exit(0)
}

// The first page of a listing from the bench's server: every field the API sends.
const { pageJson } = await import(pathToFileURL(path.join(here, "..", "dist", "wire.js")).href)
const text = pageJson(10 * perPage, undefined, perPage)

const { BatchPage } = await import(pathToFileURL(path.join(dist, "index.js")).href)
if (typeof BatchPage.decodeBatchPage !== "function") throw new Error(`${dist} has no BatchPage.decodeBatchPage`)
const { Either, Schema } = await import("effect")
const decode = schemaOnly ? Schema.decodeUnknownEither(BatchPage.BatchPage) : BatchPage.decodeBatchPage

// The first call compiles the check (or builds the schema's parser): timed apart.
const firstStart = performance.now()
if (Either.isLeft(decode(JSON.parse(text)))) throw new Error("the page did not decode")
const firstCallMs = performance.now() - firstStart

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
  decoder: schemaOnly ? "schema" : "compiled",
  dist: path.relative(process.cwd(), dist),
  firstCallMs: firstCallMs.toFixed(3),
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
