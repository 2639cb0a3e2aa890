/**
 * Server text is escaped before it reaches a terminal or a stream: a hostile `node:http` server
 * puts escape sequences (clear screen, set the window title, a C1 CSI), carriage returns, newlines
 * that forge a line, and a bidirectional override into a batch's fields and into an error message.
 * Tables, progress lines, JSON and the error sentence must carry none of them as they are.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { runCli } from "./utils.js"

const hostile = "\u001b[2J\u001b]0;pwned\u0007\rbatchfx: all good\n\u009b31m\u202eevil"
/** What must never reach the output as it is. */
const raw = /\u001b\[2J|\u001b\]0;|\u0007|\u009b|\u202e|\rbatchfx|\nbatchfx: all good/

const batch = {
  id: `batch_${hostile}`,
  object: "batch",
  endpoint: `/v1/chat/completions${hostile}`,
  input_file_id: "file-1",
  completion_window: "24h",
  status: "failed",
  created_at: 1_800_000_000,
  request_counts: { total: 1, completed: 0, failed: 1 },
  metadata: { note: hostile },
  errors: { object: "list", data: [{ code: "invalid", message: `bad line ${hostile}`, line: 1 }] }
}

/** `GET /v1/batches/ok` answers the batch above, anything else a 400 whose message is hostile. */
const hostileServer = Effect.acquireRelease(
  Effect.async<Server>((resume) => {
    const server = createServer((req, res) => {
      const ok = req.url === "/v1/batches/ok"
      res.writeHead(ok ? 200 : 400, { "content-type": "application/json", "x-request-id": "req_hostile" })
      res.end(JSON.stringify(ok ? batch : { error: { message: `Bad ${hostile}`, type: "invalid_request_error" } }))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
)

it.scoped("control characters from a server are escaped in tables, progress, JSON and errors", () =>
  Effect.gen(function*() {
    const server = yield* hostileServer
    const env = {
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
    }
    const terminal = { stdoutIsTTY: true, stderrIsTTY: true } as const
    const runs = [
      yield* runCli(["get", "ok"], { env, ...terminal }),
      yield* runCli(["get", "ok", "--format", "json"], { env, ...terminal }),
      yield* runCli(["get", "ok"], { env }),
      yield* runCli(["wait", "ok"], { env, ...terminal }),
      yield* runCli(["wait", "ok"], { env }),
      yield* runCli(["get", "bad", "--max-retries", "0"], { env, ...terminal }),
      yield* runCli(["cancel", "bad", "--max-retries", "0"], { env })
    ]
    for (const r of runs) {
      assert.notMatch(r.stdout, raw, r.stdout)
      assert.notMatch(r.stderr, raw, r.stderr)
    }
    const [table, json, piped, waited, , failed] = runs
    // the table shows the escapes as text, one row under the header
    assert.include(table!.stdout, "batch_\\x1b[2J\\x1b]0;pwned\\x07\\rbatchfx: all good\\n\\x9b31m\\u202eevil")
    assert.strictEqual(table!.stdout.trimEnd().split("\n").length, 2)
    // the JSON is the same value, with the characters JSON leaves alone written as \u escapes
    assert.deepStrictEqual(JSON.parse(json!.stdout), batch)
    assert.deepStrictEqual(JSON.parse(piped!.stdout), batch)
    // the wait ends failed, its reason escaped
    assert.strictEqual(waited!.code, 1)
    assert.include(waited!.stderr, "bad line \\x1b[2J")
    assert.strictEqual(failed!.code, 1)
    assert.match(failed!.stderr, /^batchfx: bad: .*Bad \\x1b\[2J.*request id req_hostile/)
    assert.strictEqual(failed!.stderr.trimEnd().split("\n").length, 2, "no forged line")
  }))
