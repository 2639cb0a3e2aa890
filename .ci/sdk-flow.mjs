// The official Node SDK (openai 6.49.0) against `batchfx fake-server`, started as a user starts it:
// the built CLI binary on a port of its own, then the SDK with that baseURL and a key of the user's
// (any key is accepted). The whole flow: upload, create, retrieve, list with auto-pagination, wait
// until completed, download and parse the output, cancel another batch and wait until cancelled,
// a 404 as the SDK's NotFoundError. Run after `pnpm build`; prints "sdk-flow: ok" or the first
// failure and exits non-zero.
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"

const repo = fileURLToPath(new URL("..", import.meta.url))
// The SDK as the bench installs it (the repository root has no node_modules of its own).
const require = createRequire(`${repo}packages/bench/package.json`)
const { default: OpenAI, NotFoundError, toFile } = require("openai")

const fail = (message) => {
  throw new Error(message)
}
const check = (condition, message) => condition || fail(message)

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const startServer = async () => {
  const port = await freePort()
  const child = spawn(process.execPath, [
    `${repo}packages/cli/dist/bin.js`,
    "fake-server",
    "--port",
    String(port),
    "--seed-batches",
    "150",
    "--validating-ms",
    "200",
    "--in-progress-ms",
    "600",
    "--finalizing-ms",
    "200",
    "--cancelling-ms",
    "300"
  ], { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stderr.on("data", (chunk) => stderr += chunk)
  const baseUrl = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL after 20 s; stderr: ${stderr}`)), 20_000)
    child.stdout.on("data", (chunk) => {
      stdout += chunk
      const line = stdout.split("\n")[0]
      if (stdout.includes("\n")) {
        clearTimeout(timer)
        resolve(line.trim())
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`batchfx fake-server exited (${code}) before it printed its URL: ${stderr}`))
    })
  })
  const stopped = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  return { port, baseUrl, stop: () => (child.kill("SIGINT"), stopped) }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const waitFor = async (client, id, wanted) => {
  const deadline = Date.now() + 30_000
  for (;;) {
    const batch = await client.batches.retrieve(id)
    if (wanted.includes(batch.status)) return batch
    if (Date.now() > deadline) fail(`batch ${id} is still ${batch.status} after 30 s`)
    await sleep(100)
  }
}

const lines = (n) =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      custom_id: `q-${i + 1}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Question ${i + 1}?` }] }
    })).join("\n") + "\n"

const main = async () => {
  const server = await startServer()
  try {
    check(server.baseUrl === `http://127.0.0.1:${server.port}/v1`, `unexpected URL line: ${server.baseUrl}`)
    // A key from the user's environment, not the emulator's: any non-empty key is accepted.
    const client = new OpenAI({ baseURL: server.baseUrl, apiKey: "sk-proj-users-own-key-0123456789", maxRetries: 0 })

    const file = await client.files.create({
      file: await toFile(Buffer.from(lines(5)), "input.jsonl"),
      purpose: "batch"
    })
    check(
      file.purpose === "batch" && file.filename === "input.jsonl" && file.bytes > 0,
      `upload: ${JSON.stringify(file)}`
    )

    const batch = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { flow: "sdk" }
    })
    check(batch.status === "validating", `create: status ${batch.status}`)
    const other = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h"
    })

    const retrieved = await client.batches.retrieve(batch.id)
    check(retrieved.id === batch.id && retrieved.metadata?.flow === "sdk", `retrieve: ${JSON.stringify(retrieved)}`)

    const cancelling = await client.batches.cancel(other.id)
    check(cancelling.status === "cancelling", `cancel: status ${cancelling.status}`)

    const seen = []
    for await (const b of client.batches.list({ limit: 40 })) seen.push(b.id)
    check(seen.length === 152, `list: ${seen.length} batches, expected 152`)
    check(new Set(seen).size === seen.length, "list: a batch came twice")
    check(seen[0] === other.id && seen[1] === batch.id, `list: newest first expected, got ${seen.slice(0, 2)}`)

    const done = await waitFor(client, batch.id, ["completed", "failed", "expired", "cancelled"])
    check(done.status === "completed", `wait: ended ${done.status}`)
    check(
      done.request_counts?.total === 5 && done.request_counts.completed === 5 && done.request_counts.failed === 0,
      `wait: counts ${JSON.stringify(done.request_counts)}`
    )
    const output = await (await client.files.content(done.output_file_id)).text()
    const results = output.trim().split("\n").map((line) => JSON.parse(line))
    check(results.length === 5, `download: ${results.length} result lines`)
    const ids = results.map((r) => r.custom_id).sort()
    check(JSON.stringify(ids) === JSON.stringify(["q-1", "q-2", "q-3", "q-4", "q-5"]), `download: custom ids ${ids}`)
    for (const r of results) {
      check(r.response?.status_code === 200, `parse: ${r.custom_id} answered ${r.response?.status_code}`)
      check(typeof r.response.body.choices?.[0]?.message?.content === "string", `parse: ${r.custom_id} has no message`)
    }

    const cancelled = await waitFor(client, other.id, ["cancelled"])
    const skipped = (await (await client.files.content(cancelled.error_file_id)).text()).trim().split("\n")
      .map((line) => JSON.parse(line))
    check(skipped.length === 5 && skipped.every((r) => r.error?.code === "batch_cancelled"), "cancel: error file")

    const missing = await client.batches.retrieve("batch_missing").then(() => undefined, (e) => e)
    check(missing instanceof NotFoundError, `a missing batch: ${missing}`)
  } finally {
    const { code, signal } = await server.stop()
    // Ctrl-C ends it with 130 (128 + SIGINT), as every batchfx command ends on a signal.
    check(code === 130 || code === 0 || signal === "SIGINT", `batchfx fake-server stopped with code ${code}`)
  }
  process.stdout.write("sdk-flow: ok\n")
}

main().catch((error) => {
  process.stdout.write(`sdk-flow: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
})
