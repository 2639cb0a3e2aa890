import * as TokenCount from "@batchfx/jobs/TokenCount"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { inputFile, jsonLines, runCli, startCli, tempDir } from "./utils.js"

/** The input tokens of a file of chat request lines, as the emulator counts them. */
const tokensOf = (path: string) =>
  Effect.map(
    TokenCount.ofLines(readFileSync(path, "utf8").split("\n").filter((l) => l !== "")),
    (totals) => totals.get("gpt-4o-mini") ?? 0
  )

describe("batchfx fake-server --token-limit", () => {
  it.live(
    "a batch whose tokens and those in flight pass the model's limit fails with token_limit_exceeded",
    () =>
      Effect.gen(function*() {
        const input = inputFile(tempDir(), 3)
        const tokens = yield* tokensOf(input)
        const server = yield* startCli([
          "fake-server",
          "--token-limit",
          "gpt-4o=5",
          "--token-limit",
          `gpt-4o-mini=${tokens}`,
          "--validating-ms",
          "50",
          "--in-progress-ms",
          "60000"
        ])
        const url = (yield* server.stdout.until((text) => text.includes("\n"))).trim()
        const env = { OPENAI_API_KEY: "sk-any", OPENAI_BASE_URL: url }
        const submit = () =>
          Effect.map(
            runCli(["submit", input, "--endpoint", "/v1/chat/completions", "--format", "jsonl"], { env }),
            (r) => {
              assert.strictEqual(r.code, 0, r.stderr)
              return jsonLines(r.stdout)[0]!["id"] as string
            }
          )
        // the first batch holds exactly the limit; the second one passes it
        const first = yield* submit()
        const second = yield* submit()
        const waited = yield* runCli(["wait", second, "--interval", "20ms", "--format", "jsonl"], { env })
        assert.notStrictEqual(waited.code, 0)
        const [refused] = jsonLines((yield* runCli(["get", second, "--format", "jsonl"], { env })).stdout)
        assert.strictEqual(refused!["status"], "failed")
        const error = (refused!["errors"] as { data: ReadonlyArray<{ code: string; message: string }> }).data[0]!
        assert.strictEqual(error.code, "token_limit_exceeded")
        assert.include(error.message, `Limit: ${tokens.toLocaleString("en-US")} enqueued tokens`)
        const [held] = jsonLines((yield* runCli(["get", first, "--format", "jsonl"], { env })).stdout)
        assert.oneOf(held!["status"], ["validating", "in_progress"])
        assert.strictEqual((yield* server.interrupt).code, 130)
      }),
    60_000
  )

  it.effect("a bad --token-limit is a usage error (exit 2) that names the flag", () =>
    Effect.gen(function*() {
      for (const bad of ["lots", "gpt-4o-mini=0", "=5", "gpt-4o-mini=1.5"]) {
        const r = yield* runCli(["fake-server", "--token-limit", bad])
        assert.strictEqual(r.code, 2, `${bad}: ${r.stderr}`)
        assert.include(
          r.stderr,
          `--token-limit needs MODEL=N or N, with N a whole number of tokens of at least 1, got '${bad}'.`
        )
        assert.strictEqual(r.stdout, "")
      }
    }))
})
