/**
 * The floor: what bare `fetch` and `JSON.parse` cost, with no validation, no retries and no
 * abstraction. Nothing that checks its input can beat it; it says how close the others come.
 */
import { type Args, begin, finish, pageSize, parseArgs, report, spin } from "../measure.js"

interface Page {
  readonly data: ReadonlyArray<{ readonly id: string }>
  readonly has_more?: boolean
}

const fetchPage = async (args: Args, after: string | undefined): Promise<Page> => {
  const url = `${args.baseUrl}/batches?limit=${pageSize}${after === undefined ? "" : `&after=${after}`}`
  const res = await fetch(url, { headers: { authorization: `Bearer ${args.apiKey}` } })
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`)
  return JSON.parse(await res.text()) as Page
}

// With `lookAhead` the next page is requested before the work on this one, so that its latency
// passes during the work (scenario 2).
const list = async (args: Args) => {
  const started = begin()
  let items = 0
  let next = fetchPage(args, undefined)
  for (;;) {
    const page = await next
    const last = page.data[page.data.length - 1]
    const more = page.has_more === true && last !== undefined
    if (more && args.lookAhead) next = fetchPage(args, last.id)
    for (const _batch of page.data) {
      spin(args.workMicros)
      items++
    }
    if (!more) break
    if (!args.lookAhead) next = fetchPage(args, last.id)
  }
  report(finish(started, { items }))
}

// Streams the body, cuts it at newlines and parses each line: the least a reader of JSONL does.
const results = async (args: Args) => {
  const started = begin()
  const res = await fetch(`${args.baseUrl}/files/${args.fileId}/content`, {
    headers: { authorization: `Bearer ${args.apiKey}` }
  })
  if (!res.ok || res.body === null) throw new Error(`content: ${res.status}`)
  const decoder = new TextDecoder()
  let pending = ""
  let items = 0
  let bytes = 0
  const reader = res.body.getReader()
  for (;;) {
    const { done, value: chunk } = await reader.read()
    if (done) break
    bytes += chunk.length
    const text = pending + decoder.decode(chunk, { stream: true })
    let from = 0
    let newline = text.indexOf("\n")
    while (newline !== -1) {
      if (newline > from) {
        JSON.parse(text.slice(from, newline))
        items++
      }
      from = newline + 1
      newline = text.indexOf("\n", from)
    }
    pending = text.slice(from)
  }
  pending += decoder.decode()
  if (pending.trim() !== "") {
    JSON.parse(pending)
    items++
  }
  report(finish(started, { items, bytes }))
}

const cold = async (args: Args) => {
  const started = begin()
  const res = await fetch(`${args.baseUrl}/batches?limit=1`, { headers: { authorization: `Bearer ${args.apiKey}` } })
  const page = JSON.parse(await res.text()) as Page
  console.log(page.data[0]?.id)
  report(finish(started, { items: page.data.length }))
}

const args = parseArgs()
const run = { list, results, cold, retrieve: undefined }[args.scenario]
if (run === undefined) {
  console.error(`floor: no ${args.scenario} scenario`)
  process.exitCode = 2
} else {
  await run(args)
}
