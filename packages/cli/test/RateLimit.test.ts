import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { cli, configured, jsonLines, runCli, startCli } from "./utils.js"

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

  it.effect("fake-server takes the rate-limit modes of batchfx-fake-server: a bucket without headers, then a long wait", () =>
    Effect.gen(function*() {
      const server = yield* startCli([
        "fake-server",
        "--seed",
        "3",
        "--rate-limit",
        "2/1m",
        "--rate-limit-mode",
        "token-bucket",
        "--rate-limit-burst",
        "2",
        "--no-rate-limit-headers",
        "--long-retry-after",
        "4=5m"
      ])
      const url = (yield* server.stdout.until((text) => text.includes("\n"))).trim()
      const answers = yield* Effect.forEach([1, 2, 3, 4, 5], () => get(url))
      assert.deepStrictEqual(answers.map((a) => a.status), [200, 200, 429, 429, 429])
      assert.isFalse(answers.some((a) => [...a.headers.keys()].some((k) => k.startsWith("x-ratelimit-"))))
      // The bucket of 2 a minute refills one in 30 s; the 4th request is asked for 5 minutes.
      assert.isAtMost(Number(answers[2]!.headers.get("retry-after-ms")), 30_000)
      assert.isAbove(Number(answers[2]!.headers.get("retry-after-ms")), 29_000)
      assert.strictEqual(answers[3]!.headers.get("retry-after"), "300")
      assert.isAtMost(Number(answers[4]!.headers.get("retry-after-ms")), 30_000)
      assert.strictEqual((yield* server.interrupt).code, 130)
    }).pipe(Effect.scoped))

  it.effect("fake-server --daily-limit answers 429 until midnight UTC, beside a per-second limit", () =>
    Effect.gen(function*() {
      const server = yield* startCli([
        "fake-server",
        "--daily-limit",
        "1",
        "--rate-limit-mode",
        "quantized",
        "--rps",
        "50"
      ])
      const url = (yield* server.stdout.until((text) => text.includes("\n"))).trim()
      const [first, second] = yield* Effect.forEach([1, 2], () => get(url))
      assert.strictEqual(first!.status, 200)
      assert.strictEqual(first!.headers.get("x-ratelimit-limit-requests"), "3000")
      assert.strictEqual(second!.status, 429)
      assert.include(second!.body, "on requests per day: Limit 1")
      const untilMidnight = 86_400_000 - (Date.now() % 86_400_000)
      assert.isAtMost(Math.abs(Number(second!.headers.get("retry-after-ms")) - untilMidnight), 60_000)
      assert.strictEqual((yield* server.interrupt).code, 130)
    }).pipe(Effect.scoped))

  it.effect("fake-server: a bad or incomplete rate-limit flag is a usage error (exit 2) in one sentence", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["--rate-limit-mode", "quantized"], "--rate-limit-mode needs --rps or --rate-limit."],
        [["--rps", "5", "--rate-limit", "5/1s"], "Give --rps or --rate-limit, not both."],
        [
          ["--rps", "5", "--rate-limit-burst", "3"],
          "--rate-limit-burst is the size of a token bucket: add --rate-limit-mode token-bucket."
        ],
        [["--long-retry-after", "5m"], "--long-retry-after needs <n>=<duration>, e.g. 5=5m, got '5m'."],
        [
          ["--rate-limit", "10/soon"],
          "--rate-limit needs <requests>/<window>, e.g. 60/60000 or 3000/1m, got '10/soon'."
        ],
        [
          ["--rate-limit-mode", "leaky"],
          "--rate-limit-mode needs one of fixed-window, quantized, token-bucket, got 'leaky'"
        ]
      ]
      for (const [args, sentence] of cases) {
        const r = yield* runCli(["fake-server", ...args])
        assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
        assert.strictEqual(r.stdout, "")
        assert.include(r.stderr, sentence)
      }
      const help = yield* runCli(["fake-server", "--help"])
      for (
        const flag of [
          "--rate-limit-mode",
          "--rate-limit-burst",
          "--no-rate-limit-headers",
          "--daily-limit",
          "--long-retry-after"
        ]
      ) {
        assert.include(help.stdout, flag)
      }
    }))
})

/** One GET of the first seeded batch's list page, with its status, headers and body. */
const get = (baseUrl: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${baseUrl}/batches?limit=1`, { headers: { authorization: "Bearer sk-any" } })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })
