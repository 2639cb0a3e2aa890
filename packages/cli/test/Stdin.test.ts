/**
 * `-` (stdin) and file names as positionals with options anywhere after the command:
 * `batchfx submit - -e /v1/embeddings`, `batchfx jobs submit - --endpoint E --name x`, `--` making
 * the rest positional; `create --input -` reads stdin too. Run by the built executable with its stdin piped, as a shell runs it.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import * as Cli from "../src/Cli.js"
import * as Argv from "../src/internal/argv.js"
import { binary, cli, envFor, fastDurations, jsonLines, poll, tempDir } from "./utils.js"

const lines = (url: string, body: (i: number) => unknown, n: number): string =>
  Array.from({ length: n }, (_, i) => JSON.stringify({ custom_id: `in-${i + 1}`, method: "POST", url, body: body(i) }))
    .join("\n") + "\n"

const embeddings = lines("/v1/embeddings", (i) => ({ model: "text-embedding-3-small", input: `text ${i}` }), 3)
const chat = lines(
  "/v1/chat/completions",
  (i) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: `q ${i}` }] }),
  4
)

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "90 seconds" })(
  "stdin and positionals among options",
  (it) => {
    it.effect("the command line hands the parser options first, then -- and the positionals", () =>
      Effect.sync(() => {
        const tree = Cli.commandTree()
        const args = (argv: ReadonlyArray<string>) => {
          const prepared = Argv.prepare(tree, argv)
          return prepared._tag === "Run" ? prepared.args : prepared
        }
        assert.deepStrictEqual(args(["submit", "-", "-e", "/v1/embeddings", "--wait"]), [
          "submit",
          "-e",
          "/v1/embeddings",
          "--wait",
          "--",
          "-"
        ])
        assert.deepStrictEqual(args(["jobs", "submit", "-", "--endpoint=/v1/x", "--name", "x"]), [
          "jobs",
          "submit",
          "--endpoint",
          "/v1/x",
          "--name",
          "x",
          "--",
          "-"
        ])
        // `--` makes the rest positional, options-looking or not
        assert.deepStrictEqual(args(["get", "--", "--help"]), ["get", "--", "--help"])
        assert.deepStrictEqual(args(["list", "--max", "3"]), ["list", "--max", "3"])
        const extra = Argv.prepare(tree, ["list", "extra"])
        assert.strictEqual(extra._tag, "Usage")
        assert.include(extra._tag === "Usage" ? extra.message : "", "'batchfx list' takes no arguments (got 'extra')")
      }))

    it.effect("submit - and create --input - read stdin, with options after the -, before it, or after --", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const env = envFor(fake)
        for (
          const args of [
            ["submit", "-", "-e", "/v1/embeddings", "--format", "jsonl"],
            ["submit", "-e", "/v1/embeddings", "-", "--format=jsonl"],
            ["submit", "--format", "jsonl", "--", "-"],
            ["create", "--input", "-", "-e", "/v1/embeddings"]
          ]
        ) {
          const r = yield* binary(args, { env, input: embeddings })
          assert.strictEqual(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
          assert.match(r.stderr, /^Uploaded stdin as file-\w+ \(\d+ bytes\)\.$/m, args.join(" "))
          const [batch] = jsonLines(r.stdout)
          assert.strictEqual(batch!["endpoint"], "/v1/embeddings", args.join(" "))
          const uploaded = yield* Effect.promise(() =>
            fetch(`${fake.baseUrl}/files/${batch!["input_file_id"]}/content`, {
              headers: { authorization: `Bearer ${fake.apiKey}` }
            }).then((response) => response.text())
          )
          assert.strictEqual(uploaded, embeddings, args.join(" "))
        }
      }))

    it.effect("submit - --wait -o - writes every result of the piped lines; stdin's temporary copy is removed", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const tmp = tempDir()
        const env = { ...envFor(fake), TMPDIR: tmp }
        const r = yield* binary(["submit", "-", "--wait", ...poll, "-o", "-"], { env, input: chat })
        assert.strictEqual(r.code, 0, r.stderr)
        assert.deepStrictEqual(jsonLines(r.stdout).map((l) => l["custom_id"]).sort(), ["in-1", "in-2", "in-3", "in-4"])
        assert.deepStrictEqual(readdirSync(tmp), [])
        // a bad line is named by its line of stdin, not by the temporary file
        const bad = yield* binary(["submit", "-", "-e", "/v1/chat/completions"], { env, input: chat + "not json\n" })
        assert.strictEqual(bad.code, 1)
        assert.include(bad.stderr, "The input stdin has 1 problem, so nothing was uploaded: line 5:")
        assert.notInclude(bad.stderr, tmp)
        assert.deepStrictEqual(readdirSync(tmp), [])
      }))

    it.effect("jobs submit - --endpoint E --name x stores the piped lines as a job", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const store = `file:${join(tempDir(), "jobs.db")}`
        const r = yield* binary(
          ["jobs", "submit", "-", "--endpoint", "/v1/chat/completions", "--name", "x", "--store", store],
          { env: envFor(fake), input: chat }
        )
        assert.strictEqual(r.code, 0, r.stderr)
        const id = r.stdout.trim()
        assert.match(id, /^job_[0-9a-f]+$/)
        const status = yield* cli(["jobs", "status", id, "--format", "json", "--store", store])
        assert.strictEqual(status.code, 0, status.stderr)
        const job = JSON.parse(status.stdout) as Record<string, unknown>
        assert.strictEqual(job["name"], "x")
        assert.strictEqual(job["lines"], 4)
      }))
  }
)
