/**
 * The official `openai` SDK (6.49.0), used the way its README shows: `for await` over
 * `batches.list`, `files.content()` read whole, `batches.retrieve` in a promise pool, default
 * retries (2) and timeouts.
 */
import OpenAI from "openai"
import { type Args, parseArgs, report, type Scenario, spin } from "../measure.js"
import { batchId } from "../wire.js"

const client = (args: Args) => new OpenAI({ apiKey: args.apiKey, baseURL: args.baseUrl })

const list = async (args: Args) => {
  const started = performance.now()
  const openai = client(args)
  let items = 0
  for await (const _batch of openai.batches.list({ limit: 100 })) {
    spin(args.workMicros)
    items++
  }
  report({ items, ms: performance.now() - started })
}

// What the SDK offers for an output file: the raw Response, read whole, split and parsed.
const results = async (args: Args) => {
  const started = performance.now()
  const openai = client(args)
  const res = await openai.files.content(args.fileId)
  const text = await res.text()
  let items = 0
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    JSON.parse(line)
    items++
  }
  report({ items, bytes: Buffer.byteLength(text), ms: performance.now() - started })
}

// A `concurrency`-wide promise pool over `count` ids, each with the SDK's default retries.
const retrieve = async (args: Args) => {
  const started = performance.now()
  const openai = client(args)
  let next = 0
  let items = 0
  let failures = 0
  const worker = async () => {
    while (next < args.count) {
      const id = batchId(next++)
      try {
        await openai.batches.retrieve(id)
        items++
      } catch {
        failures++
      }
    }
  }
  await Promise.all(Array.from({ length: args.concurrency }, worker))
  report({ items, failures, ms: performance.now() - started })
}

const cold = async (args: Args) => {
  const started = performance.now()
  const openai = client(args)
  const page = await openai.batches.list({ limit: 1 })
  console.log(page.data[0]?.id)
  report({ items: page.data.length, ms: performance.now() - started })
}

const scenarios: Record<Scenario, (args: Args) => Promise<void>> = { list, results, retrieve, cold }
const args = parseArgs()
await scenarios[args.scenario](args)
