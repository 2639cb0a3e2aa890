/**
 * `create --input` and `submit` check every create parameter before they upload anything, so bad
 * metadata or a bad endpoint never leaves an orphan input file on the server; `--metadata` without
 * `=` is a usage error that says what it expects.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { cli, fastDurations, inputFile, tempDir } from "./utils.js"

const chat = "/v1/chat/completions"
const input = inputFile(tempDir(), 2)
const longValue = `note=${"v".repeat(513)}`
const seventeenPairs = Array.from({ length: 17 }, (_, i) => ["--metadata", `k${i}=v`]).flat()

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "create parameters are checked before the upload",
  (it) => {
    const cases = [
      {
        name: "submit with a 513-character metadata value",
        args: ["submit", input, "-e", chat, "--metadata", longValue]
      },
      { name: "submit with 17 metadata pairs", args: ["submit", input, "-e", chat, ...seventeenPairs] },
      {
        name: "create --input with a 513-character metadata value",
        args: ["create", "--input", input, "-e", chat, "--metadata", longValue]
      },
      { name: "submit with an endpoint that is not an API path", args: ["submit", input, "-e", "chat"] },
      {
        name: "create --input with a __proto__ metadata key",
        args: ["create", "--input", input, "-e", chat, "--metadata", "team=search", "--metadata", "__proto__=x"],
        says: `metadata key "__proto__" cannot be sent`
      }
    ]
    for (const c of cases) {
      it.effect(`${c.name}: exit 1, nothing uploaded or created`, () =>
        Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          const uploads = yield* fake.requestCount("POST /v1/files")
          const creates = yield* fake.requestCount("POST /v1/batches")
          const r = yield* cli(c.args)
          assert.strictEqual(r.code, 1, r.stderr)
          assert.match(r.stderr, /^batchfx: Invalid parameters for create: .*\(nothing was sent\)\n$/)
          if ("says" in c) assert.include(r.stderr, c.says)
          assert.notInclude(r.stderr, "Uploaded")
          assert.strictEqual(yield* fake.requestCount("POST /v1/files"), uploads)
          assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), creates)
        }))
    }

    it.effect("--metadata without '=' is a usage error that names the pair", () =>
      Effect.gen(function*() {
        const r = yield* cli(["create", "--input-file-id", "file-x", "-e", chat, "--metadata", "novalue"])
        assert.strictEqual(r.code, 2)
        assert.include(r.stderr, `--metadata takes KEY=VALUE, got "novalue"`)
      }))

    it.effect("--metadata keeps an '=' inside the value, and repeats", () =>
      Effect.gen(function*() {
        const r = yield* cli([
          "submit",
          input,
          "-e",
          chat,
          "--metadata",
          "team=search",
          "--metadata",
          "query=a=b",
          "--format",
          "json"
        ])
        assert.strictEqual(r.code, 0, r.stderr)
        const batch = JSON.parse(r.stdout) as { readonly metadata: Record<string, string> }
        assert.strictEqual(batch.metadata.team, "search")
        assert.strictEqual(batch.metadata.query, "a=b")
      }))
  }
)
