/* eslint-disable no-console */
// Measures the memory of reading a large output file through `Results.streamById`.
//
// A child process serves a completed batch and its output file (about 200 MB of result lines,
// generated on the fly with back-pressure, so the server holds nothing); this process reads it as
// a stream of decoded results, counting them, while sampling its own RSS. The figure reported is
// the peak RSS growth over the baseline taken just before the read.
//
// Run: pnpm build && node --expose-gc packages/client/scripts/results-memory.mjs [megabytes] [--break]
//   megabytes  size of the output file (default 200)
//   --break    the server cuts the body 3 times mid-way (honouring Range), to measure resumption too
//
// V8 lets garbage pile up before it collects, so the peak RSS growth under default flags says as
// much about the collector as about the read: run it also with `--max-old-space-size=100`, under
// which a leak would run out of memory, to see the working set.
import { fork } from "node:child_process"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"

const lineBytes = 1024
const args = process.argv.slice(2)
const megabytes = Number(args.find((a) => /^\d+$/.test(a)) ?? "200")
const breaks = args.includes("--break")
const lineCount = Math.ceil((megabytes * 1024 * 1024) / lineBytes)
const total = lineCount * lineBytes

/** Result line `n` (1-based), padded to exactly `lineBytes` bytes with its newline. */
const line = (n) => {
  const id = String(n).padStart(9, "0")
  const head =
    `{"id":"batch_req_${id}","custom_id":"req-${id}","response":{"status_code":200,"request_id":"req_${id}",` +
    `"body":{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`
  const tail = `"}}]}},"error":null}\n`
  return head + "x".repeat(lineBytes - head.length - tail.length) + tail
}

const serve = () => {
  let cuts = breaks ? [0.2, 0.5, 0.8].map((f) => Math.floor(total * f) + 7) : []
  const batch = {
    id: "batch_big",
    object: "batch",
    endpoint: "/v1/chat/completions",
    input_file_id: "file-in",
    completion_window: "24h",
    status: "completed",
    output_file_id: "file-big",
    error_file_id: null,
    created_at: 1_700_000_000,
    request_counts: { total: lineCount, completed: lineCount, failed: 0 }
  }
  const server = createServer((req, res) => {
    if (req.url === "/v1/batches/batch_big") {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify(batch))
      return
    }
    if (req.url !== "/v1/files/file-big/content") {
      res.writeHead(404, { "content-type": "application/json" })
      res.end(
        JSON.stringify({ error: { message: "not found", type: "invalid_request_error", param: null, code: null } })
      )
      return
    }
    const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? "")
    const start = match === null ? 0 : Number(match[1])
    const cut = cuts.find((c) => c > start)
    cuts = cuts.filter((c) => c !== cut)
    res.writeHead(match === null ? 200 : 206, {
      "content-type": "application/octet-stream",
      "content-length": String(total - start),
      ...(match === null ? {} : { "content-range": `bytes ${start}-${total - 1}/${total}` })
    })
    let at = start
    const write = () => {
      while (at < total) {
        const n = Math.floor(at / lineBytes) + 1
        let piece = line(n).slice(at % lineBytes)
        for (let k = n + 1; piece.length < 64 * 1024 && k <= lineCount; k++) piece += line(k)
        if (cut !== undefined && at + piece.length >= cut) {
          res.write(piece.slice(0, cut - at))
          res.socket.destroy()
          return
        }
        at += piece.length
        if (!res.write(piece)) return res.once("drain", write)
      }
      res.end()
    }
    write()
  })
  server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }))
}

const measure = async (port) => {
  const { Redacted, Effect, Stream } = await import("effect")
  const Submit = await import("../dist/Submit.js")
  const Results = await import("../dist/Results.js")
  const rss = () => process.memoryUsage().rss
  const layer = Submit.layerNode({ apiKey: Redacted.make("sk-bench"), baseUrl: `http://127.0.0.1:${port}/v1` })
  // warm up: load every module and JIT-compile the read path on the first results, so that the
  // baseline holds the fixed costs and the growth measured is the read's own
  await Effect.runPromise(
    Results.streamById("batch_big").pipe(Stream.take(2000), Stream.runDrain, Effect.provide(layer))
  )
  globalThis.gc?.()
  await new Promise((r) => setTimeout(r, 200))
  const baseline = rss()
  let peak = baseline
  const timer = setInterval(() => {
    peak = Math.max(peak, rss())
  }, 20)
  const started = Date.now()
  let results = 0
  let lastLine = 0
  const program = Results.streamById("batch_big").pipe(
    Stream.runForEach((r) =>
      Effect.sync(() => {
        results++
        if (r.position.line !== lastLine + 1) throw new Error(`line ${r.position.line} after ${lastLine}`)
        lastLine = r.position.line
      })
    ),
    Effect.provide(layer)
  )
  await Effect.runPromise(program)
  clearInterval(timer)
  peak = Math.max(peak, rss())
  const seconds = (Date.now() - started) / 1000
  const mb = (n) => (n / 1024 / 1024).toFixed(1)
  console.log(JSON.stringify({
    fileMB: Number(mb(total)),
    lines: lineCount,
    results,
    breaks: breaks ? 3 : 0,
    seconds,
    MBps: Number((total / 1024 / 1024 / seconds).toFixed(1)),
    baselineRssMB: Number(mb(baseline)),
    peakRssMB: Number(mb(peak)),
    peakGrowthMB: Number(mb(peak - baseline))
  }))
  if (results !== lineCount) throw new Error(`expected ${lineCount} results, got ${results}`)
}

if (process.argv.includes("--serve")) {
  serve()
} else {
  // no execArgv: flags such as --cpu-prof or --trace-gc are for the reader, not the server
  const child = fork(fileURLToPath(import.meta.url), [...args, "--serve"], { stdio: "inherit", execArgv: [] })
  child.once("message", async ({ port }) => {
    try {
      await measure(port)
    } finally {
      child.kill()
    }
  })
}
