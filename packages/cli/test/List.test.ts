/**
 * `batchfx list` (issue 22, points 6 and 8): pages of 100 when listing everything, `--since`
 * stopping the paging at the first older batch, a table cut to the terminal's width, a JSON
 * document closed when the listing fails midway, and JSON lines written a page at a time with the
 * wire text of each batch (no encode per batch, the same text as the encoder's).
 */
import * as Batch from "@batchfx/core/Batch"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import * as PlatformTerminal from "@effect/platform/Terminal"
import { assert, it, layer } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Either, Layer, Schema } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as Cli from "../src/Cli.js"
import * as Output from "../src/internal/output.js"
import { cli, envFor, jsonLines, runCli } from "./utils.js"

const listRoute = "GET /v1/batches"

/** Runs `list` against the emulator and counts the pages it asked for. */
const listCounting = (args: ReadonlyArray<string>, options: Parameters<typeof cli>[1] = {}) =>
  Effect.gen(function*() {
    const fake = yield* FakeOpenAi.FakeOpenAi
    yield* fake.resetCounters
    const run = yield* cli(["list", ...args], options)
    return { ...run, pages: yield* fake.requestCount(listRoute) }
  })

// 1,000 synthetic batches, a minute apart going back from when they were seeded.
const Seeded = Layer.tap(FakeOpenAi.layer(), (context) => Context.get(context, FakeOpenAi.FakeOpenAi).seedBatches(1000))

layer(Seeded, { excludeTestServices: true, timeout: "60 seconds" })("batchfx list", (it) => {
  it.effect("asks for pages of 100 when listing everything; --limit and a small --max still choose", () =>
    Effect.gen(function*() {
      const all = yield* listCounting([])
      assert.strictEqual(all.code, 0, all.stderr)
      assert.strictEqual(jsonLines(all.stdout).length, 1000)
      // 10 pages of 100 (the server's default of 20 would take 50)
      assert.strictEqual(all.pages, 10)
      const filtered = yield* listCounting(["--status", "completed"])
      assert.strictEqual(filtered.pages, 10)
      const limited = yield* listCounting(["--limit", "50", "--max", "120"])
      assert.strictEqual(jsonLines(limited.stdout).length, 120)
      // 3 pages hold 120 batches of 50: no page ahead of them is asked for
      assert.strictEqual(limited.pages, 3)
      const few = yield* listCounting(["--max", "3"])
      assert.strictEqual(jsonLines(few.stdout).length, 3)
      assert.strictEqual(few.pages, 1)
    }))

  it.effect("--since 5h stops paging at the first older batch; a date works; a bad value is a usage error", () =>
    Effect.gen(function*() {
      // A listing that stops early leaves its page ahead in flight, and the emulator may count it
      // after the next run's reset: the future date goes first (the test before leaves nothing in
      // flight: each of its listings ends at its last page), and a run not counted sits between it
      // and the 5 h listing.
      const future = yield* listCounting(["--since", "2999-01-01"])
      assert.strictEqual(future.code, 0, future.stderr)
      assert.strictEqual(future.stdout, "")
      assert.isAtMost(future.pages, 2)
      const old = yield* listCounting(["--since", "2001-09-09T01:46:40Z", "--max", "5"])
      assert.strictEqual(jsonLines(old.stdout).length, 5)
      const recent = yield* listCounting(["--since", "5h"])
      assert.strictEqual(recent.code, 0, recent.stderr)
      const lines = jsonLines(recent.stdout)
      const cutoff = Math.floor(Date.now() / 1000) - 5 * 3600 - 5
      assert.isAtLeast(lines.length, 298)
      assert.isAtMost(lines.length, 300)
      assert.isTrue(lines.every((b) => (b["created_at"] as number) >= cutoff))
      // 3 pages hold them (4 when the 300th is just in time), and the listing may have fetched one
      // page ahead: never the 10 of everything
      assert.isAtMost(recent.pages, 5)
      const bad = yield* cli(["list", "--since", "last tuesday"])
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, "--since: 'last tuesday' is neither an age (e.g. 7d, 12h) nor a date")
      const badDate = yield* cli(["list", "--since", "2026-13-45"])
      assert.strictEqual(badDate.code, 2)
      assert.include(badDate.stderr, "is not a date")
    }))

  it.effect("the table fits the terminal's width: narrower columns, then fewer, the id kept whole down to 51", () =>
    Effect.gen(function*() {
      for (const columns of [160, 120, 80, 60, 51, 41, 24]) {
        const r = yield* cli(["list", "--max", "5", "--format", "table"], { stdoutIsTTY: true, columns, colors: false })
        assert.strictEqual(r.code, 0, r.stderr)
        const rows = r.stdout.trimEnd().split("\n")
        assert.strictEqual(rows.length, 6, r.stdout)
        for (const line of rows) assert.isAtMost(Array.from(line).length, columns, `${columns}: '${line}'`)
        assert.match(rows[0]!, /^ID\s+STATUS/)
        const ids = rows.slice(1).map((line) => line.split(/\s+/)[0]!)
        if (columns >= 51) assert.isTrue(ids.every((id) => /^batch_[0-9a-f]{32}$/.test(id)), ids.join(" "))
        else assert.isTrue(ids.every((id) => id.endsWith("…")), ids.join(" "))
        if (columns >= 114) assert.match(rows[0]!, /ENDPOINT\s+CREATED \(UTC\)\s+DONE\/TOTAL\s+FAILED$/)
      }
      // Without a known width (a table asked for in a pipe) every column is whole.
      const piped = yield* cli(["list", "--max", "2", "--format", "table"])
      assert.match(piped.stdout.split("\n")[0]!, /^ID\s+STATUS\s+ENDPOINT\s+CREATED \(UTC\)\s+DONE\/TOTAL\s+FAILED$/)
    }))

  it.effect("a listing that fails midway still ends its JSON document, then exits 1 with the error", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault(listRoute, 2, Fault.status(500))
      const r = yield* cli(["list", "--format", "json", "--max-retries", "0"])
      assert.strictEqual(r.code, 1)
      const doc = JSON.parse(r.stdout) as ReadonlyArray<{ readonly id: string }>
      assert.isAtMost(doc.length, 100)
      assert.isTrue(doc.every((b) => b.id.startsWith("batch_")))
      assert.match(r.stderr, /^batchfx: .*500/)
      assert.strictEqual(r.stderr.trimEnd().split("\n").length, 1, r.stderr)
      // nothing printed before the failure: still a document
      yield* fake.scriptFault(listRoute, 1, Fault.status(500))
      const none = yield* cli(["list", "--format", "json", "--max-retries", "0"])
      assert.strictEqual(none.code, 1)
      assert.deepStrictEqual(JSON.parse(none.stdout), [])
    }))

  it.effect("--format jsonl writes a page of lines at a time", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const io = Output.makeTest()
      let writes = 0
      const counting: Output.Service = {
        ...io.service,
        stdout: {
          ...io.service.stdout,
          write: (chunk) => Effect.zipRight(Effect.sync(() => void writes++), io.service.stdout.write(chunk))
        }
      }
      const code = yield* Cli.run(["node", "batchfx", "list", "--format", "jsonl", "--max", "1000"]).pipe(
        Effect.provideService(Output.Output, counting),
        Effect.provideService(PlatformTerminal.Terminal, io.terminal),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(envFor(fake)))))
      )
      assert.strictEqual(code, 0, io.stderr.text())
      assert.strictEqual(jsonLines(io.stdout.text()).length, 1000)
      assert.strictEqual(writes, 10)
    }))
})

/** A batch as a server may send it: nulls, every optional part, and a field this version does not know. */
const wireBatch = {
  id: "batch_wire",
  object: "batch",
  endpoint: "/v1/chat/completions",
  model: null,
  errors: { object: "list", data: [{ code: "invalid_json_line", message: "bad \u007f line", param: null, line: 3 }] },
  input_file_id: "file-in",
  completion_window: "24h",
  status: "completed",
  output_file_id: "file-out",
  error_file_id: null,
  created_at: 1_800_000_000,
  in_progress_at: 1_800_000_005,
  expires_at: 1_800_086_400,
  finalizing_at: null,
  completed_at: 1_800_000_100,
  failed_at: null,
  expired_at: null,
  cancelling_at: null,
  cancelled_at: null,
  request_counts: { total: 3, completed: 2, failed: 1 },
  usage: {
    input_tokens: 10,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 5,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 15
  },
  metadata: { team: "é\u202e" },
  a_field_of_tomorrow: { nested: true }
}

const pageServer = Effect.acquireRelease(
  Effect.async<Server>((resume) => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({
        object: "list",
        data: [wireBatch, { ...wireBatch, id: "batch_wire2" }],
        first_id: "batch_wire",
        last_id: "batch_wire2",
        has_more: false
      }))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

it.scoped("each JSON line is what the schema's encoder gives for the batch, without an encode per batch", () =>
  Effect.gen(function*() {
    const server = yield* pageServer
    const env = {
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
    }
    const r = yield* runCli(["list", "--format", "jsonl"], { env })
    assert.strictEqual(r.code, 0, r.stderr)
    const decoded = Either.getOrThrow(Batch.decodeBatch(wireBatch))
    const encoded = JSON.stringify(Schema.encodeSync(Batch.Batch)(decoded))
      .replace(/[\u007f\u202e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    const lines = r.stdout.trimEnd().split("\n")
    assert.strictEqual(lines[0], encoded)
    assert.strictEqual(lines[1], encoded.replace("batch_wire", "batch_wire2"))
    assert.notInclude(r.stdout, "a_field_of_tomorrow")
    const json = yield* runCli(["list", "--format", "json"], { env })
    assert.deepStrictEqual(JSON.parse(json.stdout), lines.map((line) => JSON.parse(line)))
  }))
