import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { cli, configured, jsonLines } from "./utils.js"

// A bulk command against a server that asks for long waits: it never parks in silence.

const Fake = FakeOpenAi.layer({ apiKey: "sk-fake-batchfx" })

/** Seeds `n` batches and returns their ids, before any rate limit is set. */
const seeded = (n: number) =>
  Effect.gen(function*() {
    const fake = yield* FakeOpenAi.FakeOpenAi
    yield* fake.seedBatches(n)
    const r = yield* cli(["list", "--max", String(n), "--format", "jsonl"])
    return jsonLines(r.stdout).map((b) => b["id"] as string)
  })

layer(Fake, { excludeTestServices: true, timeout: "60 seconds" })("bulk commands under a rate limit", (it) => {
  it.effect("get with one 5-minute 429 among the answers ends at once with exit 1 and a sentence", () =>
    Effect.gen(function*() {
      const ids = yield* seeded(40)
      yield* configured({
        rateLimit: { requests: 1000, window: "1 second", headers: false, longRetryAfter: { nth: 5, wait: "5 minutes" } }
      })
      const r = yield* cli(["get", ...ids, "--concurrency", "4"])
      assert.strictEqual(r.code, 1, r.stderr)
      assert.match(r.stderr, /batchfx: \d+ of 40 batches could not be retrieved\./)
      assert.include(r.stderr, "Rate limited")
      assert.notInclude(r.stderr, "waiting")
    }).pipe(Effect.scoped))

  it.effect("get that the server holds for several seconds says so on stderr, then succeeds", () =>
    Effect.gen(function*() {
      const ids = yield* seeded(6)
      yield* configured({
        rateLimit: { requests: 1000, window: "1 second", headers: false, longRetryAfter: { nth: 2, wait: "6 seconds" } }
      })
      const r = yield* cli(["get", ...ids, "--concurrency", "2"])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.match(r.stderr, /^batchfx: rate limited until \d\d:\d\d:\d\d, waiting$/m)
      assert.strictEqual(r.stderr.match(/rate limited until/g)?.length, 1, r.stderr)
      assert.strictEqual(jsonLines(r.stdout).length, 6)
    }).pipe(Effect.scoped))
})
