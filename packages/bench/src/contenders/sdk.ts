/**
 * The official `openai` SDK (6.49.0), used the way its README shows: `for await` over
 * `batches.list`, `files.content()` read whole, `batches.retrieve` in a promise pool, default
 * retries (2) and timeouts.
 */
import OpenAI from "openai"
import { type Args, begin, finish, pageSize, parseArgs, report, type Scenario, spin } from "../measure.js"
import { batchId } from "../wire.js"

const client = (args: Args) => new OpenAI({ apiKey: args.apiKey, baseURL: args.baseUrl })

const list = async (args: Args) => {
  const started = begin()
  const openai = client(args)
  let items = 0
  for await (const _batch of openai.batches.list({ limit: pageSize })) {
    spin(args.workMicros)
    items++
  }
  report(finish(started, { items }))
}

// What the SDK offers for an output file: the raw Response, read whole, split and parsed.
const results = async (args: Args) => {
  const started = begin()
  const openai = client(args)
  const res = await openai.files.content(args.fileId)
  const text = await res.text()
  let items = 0
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    JSON.parse(line)
    items++
  }
  report(finish(started, { items, bytes: Buffer.byteLength(text) }))
}

// A `concurrency`-wide promise pool over `count` ids, each with the SDK's default retries.
const retrieve = async (args: Args) => {
  const started = begin()
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
  report(finish(started, { items, failures }))
}

const cold = async (args: Args) => {
  const started = begin()
  const openai = client(args)
  const page = await openai.batches.list({ limit: 1 })
  console.log(page.data[0]?.id)
  report(finish(started, { items: page.data.length }))
}

const scenarios: Record<Scenario, (args: Args) => Promise<void>> = { list, results, retrieve, cold }
const args = parseArgs()
await scenarios[args.scenario](args)
