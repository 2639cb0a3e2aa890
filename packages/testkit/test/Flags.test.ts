import { assert, describe, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import * as Flags from "../src/internal/flags.js"
import { goDuration } from "../src/internal/wire.js"

describe("batchfx-fake-server flags", () => {
  it("parses every knob", () => {
    const parsed = Flags.parse([
      "--host",
      "127.0.0.1",
      "--port",
      "8080",
      "--api-key",
      "sk-x",
      "--random-seed",
      "7",
      "--seed-batches",
      "1000000",
      "--latency-ms",
      "25",
      "--rate-limit",
      "60/60000",
      "--no-rate-limit-headers",
      "--quota-exhausted",
      "--fault-rate",
      "0.1",
      "--faults",
      "500,503,html502,reset,reset-after,truncate:10,slow:8:5",
      "--script-fault",
      "POST /v1/batches@2=reset-after",
      "--script-fault",
      "GET /v1/files/{id}/content@1=truncate:5",
      "--stuck-cursor",
      "--omit-has-more",
      "--break-content-after",
      "100",
      "--fail-pattern",
      "^bad",
      "--validating-ms",
      "10",
      "--in-progress-ms",
      "20",
      "--finalizing-ms",
      "30",
      "--cancelling-ms",
      "40",
      "--expiring-ms",
      "50",
      "--window-ms",
      "60"
    ])
    assert.isTrue(Either.isRight(parsed))
    if (Either.isLeft(parsed)) return
    const { options, scripted, seedBatches } = parsed.right
    assert.deepStrictEqual(scripted, [
      { route: "POST /v1/batches", nth: 2, fault: { _tag: "ResetAfterHandling" } },
      { route: "GET /v1/files/{id}/content", nth: 1, fault: { _tag: "TruncatedBody", afterBytes: 5 } }
    ])
    assert.strictEqual(seedBatches, 1_000_000)
    assert.strictEqual(options.host, "127.0.0.1")
    assert.strictEqual(options.port, 8080)
    assert.strictEqual(options.apiKey, "sk-x")
    assert.strictEqual(options.seed, 7)
    assert.strictEqual(options.latency, 25)
    assert.deepStrictEqual(options.rateLimit, { requests: 60, window: 60000, headers: false })
    assert.strictEqual(options.quotaExhausted, true)
    assert.strictEqual(options.randomFaults?.rate, 0.1)
    assert.deepStrictEqual(options.randomFaults?.faults.map((f) => f._tag), [
      "Status",
      "Status",
      "HtmlBadGateway",
      "ResetBeforeResponse",
      "ResetAfterHandling",
      "TruncatedBody",
      "SlowBody"
    ])
    assert.strictEqual(options.stuckCursor, true)
    assert.strictEqual(options.omitHasMore, true)
    assert.strictEqual(options.breakContentAfterBytes, 100)
    assert.strictEqual(
      options.failLine?.({ batchId: "b", createdAt: 0, endpoint: "e", line: 1, customId: "bad-1", body: {} }),
      true
    )
    assert.deepStrictEqual(options.durations, {
      validating: 10,
      inProgress: 20,
      finalizing: 30,
      cancelling: 40,
      expiring: 50,
      completionWindow: 60
    })
  })

  it("shares the names and meanings of batchfx fake-server: --seed, --random-seed, --speed, --rps, --latency", () => {
    const seeded = Flags.parse(["--seed", "12"])
    assert.strictEqual(Either.isRight(seeded) ? seeded.right.seedBatches : -1, 12)
    const parsed = Flags.parse([
      "--random-seed",
      "9",
      "--speed",
      "10",
      "--validating-ms",
      "5",
      "--rps",
      "2.5",
      "--latency",
      "1.5",
      "--models",
      "gpt-4o-mini, my-model",
      "--exit-on-stdin-close"
    ])
    assert.isTrue(Either.isRight(parsed))
    if (Either.isLeft(parsed)) return
    const { exitOnStdinClose, options } = parsed.right
    assert.strictEqual(options.seed, 9)
    assert.strictEqual(options.latency, 1500)
    assert.deepStrictEqual(options.models, ["gpt-4o-mini", "my-model"])
    assert.deepStrictEqual(options.rateLimit, { requests: 3, window: 1200, headers: true })
    assert.isTrue(exitOnStdinClose)
    assert.deepStrictEqual(options.durations, {
      validating: 5,
      inProgress: 500,
      finalizing: 100,
      cancelling: 60_000,
      expiring: 60_000,
      completionWindow: 8_640_000
    })
    assert.isTrue(Either.isLeft(Flags.parse(["--speed", "0"])))
    assert.isTrue(Either.isLeft(Flags.parse(["--latency", "soon"])))
  })

  it("rejects unknown flags, missing values and bad faults with a message", () => {
    assert.deepStrictEqual(Flags.parse(["--nope"]), Either.left("unknown flag --nope"))
    assert.deepStrictEqual(Flags.parse(["constructor", "1"]), Either.left("unknown flag constructor"))
    assert.deepStrictEqual(Flags.parse(["--port"]), Either.left("--port needs a value"))
    assert.deepStrictEqual(Flags.parse(["--faults", "boom"]), Either.left("unknown fault 'boom'"))
    assert.isTrue(Either.isLeft(Flags.parse(["--rate-limit", "fast"])))
    assert.isTrue(Either.isLeft(Flags.parse(["--script-fault", "GET /v1/nope@1=500"])))
    assert.isTrue(Either.isRight(Flags.parse([])))
  })
})

describe("Go durations of x-ratelimit-reset-requests", () => {
  it("renders as the API does", () => {
    assert.strictEqual(goDuration(0), "0ms")
    assert.strictEqual(goDuration(20), "20ms")
    assert.strictEqual(goDuration(1000), "1s")
    assert.strictEqual(goDuration(1428), "1.428s")
    assert.strictEqual(goDuration(Duration.toMillis("6 minutes")), "6m0s")
    assert.strictEqual(goDuration(Duration.toMillis("1 hour") + 2000), "1h0m2s")
  })
})
