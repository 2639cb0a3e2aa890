/**
 * The official `openai` SDK against the emulator at size (issue 23's acceptance), one report line:
 *
 *   upload <baseUrl> <path>   `files.create` of the file at `path` (purpose batch), streamed from
 *                             disk as the SDK's README shows: `ms` is the upload, `bytes` its size
 *   create <baseUrl> <path>   uploads `path` first (not timed), then times `batches.create` alone:
 *                             `ms` is how long the create took to answer, `items` the lines
 */
import { createReadStream, readFileSync, statSync } from "node:fs"
import OpenAI from "openai"
import { begin, finish, report } from "../measure.js"

const [what, baseUrl, path] = process.argv.slice(2)
if ((what !== "upload" && what !== "create") || baseUrl === undefined || path === undefined) {
  throw new Error("usage: sdkEmulator upload|create <baseUrl> <path>")
}
// Any key: the emulator accepts every non-empty one.
const openai = new OpenAI({ apiKey: "sk-bench", baseURL: baseUrl, maxRetries: 0, timeout: 600_000 })
const bytes = statSync(path).size

if (what === "upload") {
  const started = begin()
  const file = await openai.files.create({ file: createReadStream(path), purpose: "batch" })
  if (file.bytes !== bytes) throw new Error(`the emulator stored ${file.bytes} bytes of ${bytes}`)
  report(finish(started, { items: 1, bytes }))
} else {
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l !== "").length
  const file = await openai.files.create({ file: createReadStream(path), purpose: "batch" })
  const started = begin()
  const batch = await openai.batches.create({
    input_file_id: file.id,
    endpoint: "/v1/chat/completions",
    completion_window: "24h"
  })
  const measured = finish(started, { items: lines, bytes })
  if (batch.status !== "validating") throw new Error(`create answered ${batch.status}`)
  report(measured)
}
