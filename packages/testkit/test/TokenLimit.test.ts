import { Batch } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema, TestClock } from "effect"
import { countTokens } from "gpt-tokenizer/encoding/o200k_base"
import * as Flags from "../src/internal/flags.js"
import { chatLines, createBatch, getJson, live, upload } from "./helpers.js"

// The enqueued-token limit per model over a real socket, with the lifecycle on TestClock.

const decodeBatch = Schema.decodeUnknownSync(Batch.Batch)

/** The tokens the emulator counts for `chatLines(ids)`: 3 for the reply, then 3 per message and its text. */
const tokensOf = (ids: ReadonlyArray<string>) => ids.reduce((n, id) => n + 3 + 3 + countTokens(`question ${id}`), 0)

const statusOf = (id: string) => Effect.map(getJson(`/batches/${id}`), (r) => decodeBatch(r.json))

const batchOf = (ids: ReadonlyArray<string>, model = "gpt-4o-mini") =>
  Effect.gen(function*() {
    const file = yield* upload(chatLines(ids, model))
    const created = yield* createBatch(file)
    assert.strictEqual(created.status, 200, JSON.stringify(created.json))
    return decodeBatch(created.json).id
  })

const shardA = ["a1", "a2", "a3"]
const shardB = ["b1", "b2", "b3"]
const shardC = ["c1", "c2", "c3"]

describe("enqueued-token limit", () => {
  it.effect("batches past a model's limit fail in validation with token_limit_exceeded; the others run, and room comes back when they end", () =>
    Effect.gen(function*() {
      const a = yield* batchOf(shardA)
      const b = yield* batchOf(shardB)
      const c = yield* batchOf(shardC)
      // another model has no limit
      const other = yield* batchOf(shardC, "gpt-4.1-mini")
      assert.strictEqual((yield* statusOf(c)).status, "validating")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* statusOf(a)).status, "in_progress")
      assert.strictEqual((yield* statusOf(b)).status, "in_progress")
      assert.strictEqual((yield* statusOf(other)).status, "in_progress")
      const failed = yield* statusOf(c)
      assert.strictEqual(failed.status, "failed")
      const limit = tokensOf(shardA) + tokensOf(shardB)
      assert.deepStrictEqual(failed.errors?.data, [{
        code: "token_limit_exceeded",
        message: `Enqueued token limit reached for gpt-4o-mini in organization org-batchfx. Limit: ${
          limit.toLocaleString("en-US")
        } enqueued tokens. Please try again once some in_progress batches have been completed.`,
        param: null,
        line: null
      }])
      // a failed batch holds nothing: once a and b end, c's lines fit again
      yield* TestClock.adjust("6 seconds")
      assert.strictEqual((yield* statusOf(a)).status, "completed")
      const again = yield* batchOf(shardC)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* statusOf(again)).status, "in_progress")
    }).pipe(Effect.provide(live({ tokenLimit: { "gpt-4o-mini": tokensOf(shardA) + tokensOf(shardB) } }))))

  it.effect("the limit is exact: one token short of two shards lets one through; a shard alone above it fails too", () =>
    Effect.gen(function*() {
      const a = yield* batchOf(shardA)
      const b = yield* batchOf(shardB)
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* statusOf(a)).status, "in_progress")
      assert.strictEqual((yield* statusOf(b)).status, "failed")
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.configure({ tokenLimit: tokensOf(shardC) - 1 })
      const big = yield* batchOf(shardC, "gpt-4.1")
      yield* TestClock.adjust("1 second")
      const failed = yield* statusOf(big)
      assert.strictEqual(failed.status, "failed")
      assert.strictEqual(failed.errors?.data?.[0]?.code, "token_limit_exceeded")
      yield* fake.configure({ tokenLimit: undefined })
      const free = yield* batchOf(shardC, "gpt-4.1")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* statusOf(free)).status, "in_progress")
    }).pipe(Effect.provide(live({ tokenLimit: tokensOf(shardA) + tokensOf(shardB) - 1 }))))

  it("--token-limit takes a number for every model or <model>=<n> pairs, and says what is wrong otherwise", () => {
    const one = Flags.parse(["--token-limit", "90000"])
    assert.strictEqual(Either.getOrThrow(one).options.tokenLimit, 90_000)
    const pairs = Flags.parse(["--token-limit", "gpt-4o-mini=2000,*=500"])
    assert.deepStrictEqual(Either.getOrThrow(pairs).options.tokenLimit, { "gpt-4o-mini": 2000, "*": 500 })
    assert.deepStrictEqual(
      Flags.parse(["--token-limit", "lots"]),
      Either.left("--token-limit needs a whole number of tokens of at least 1, or <model>=<n>,…; got 'lots'")
    )
    assert.deepStrictEqual(
      Flags.parse(["--token-limit", "=5"]),
      Either.left("--token-limit needs <model>=<n>,…; got '=5'")
    )
    assert.include(Flags.usage, "--token-limit <n>")
  })

  it("--token-limit given again adds to the limits before it; a model given twice keeps its last; <n> alone is *", () => {
    const limitOf = (...args: ReadonlyArray<string>) => Either.getOrThrow(Flags.parse(args)).options.tokenLimit
    assert.deepStrictEqual(limitOf("--token-limit", "a=1", "--token-limit", "b=2"), { a: 1, b: 2 })
    assert.deepStrictEqual(
      limitOf("--token-limit", "a=1,b=2", "--token-limit", "c=3", "--token-limit", "a=4"),
      { a: 4, b: 2, c: 3 }
    )
    assert.deepStrictEqual(limitOf("--token-limit", "a=1", "--token-limit", "500"), { a: 1, "*": 500 })
    assert.deepStrictEqual(limitOf("--token-limit", "500", "--token-limit", "a=1"), { "*": 500, a: 1 })
    assert.strictEqual(limitOf("--token-limit", "500", "--token-limit", "600"), 600)
    assert.strictEqual(limitOf("--token-limit", "*=500", "--token-limit", "700"), 700)
  })
})
