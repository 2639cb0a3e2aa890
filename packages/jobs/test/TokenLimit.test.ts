import { BatchClient, Files } from "@batchfx/client"
import { type Batch, BatchStatus, type RequestLine } from "@batchfx/core"
import { Jobs } from "@batchfx/jobs"
import * as TokenBudget from "@batchfx/jobs/TokenBudget"
import * as TokenCount from "@batchfx/jobs/TokenCount"
import { FakeOpenAi } from "@batchfx/testkit"
import * as FakeOpenAiClient from "@batchfx/testkit/FakeOpenAiClient"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Schedule, TestClock } from "effect"
import * as fc from "fast-check"
import { chat, drive, tempStore } from "./utils.js"

// TokenCount and the budget against the emulator's enqueued-token limit, over the client.

const line = (id: string, text: string, model: string): RequestLine.BatchRequestLine => ({
  custom_id: id,
  method: "POST",
  url: chat,
  body: { model, messages: [{ role: "user", content: text }] }
})

const shard = (name: string, n = 3, model = "gpt-4o-mini") =>
  Array.from({ length: n }, (_, i) => line(`${name}-${i}`, `question ${name} ${i}: what is ${i} + ${i}?`, model))

const tokensOf = (lines: ReadonlyArray<RequestLine.BatchRequestLine>) =>
  Effect.map(TokenCount.ofLines(lines), (totals) => [...totals.values()].reduce((n, t) => n + t, 0))

const createFor = (lines: ReadonlyArray<RequestLine.BatchRequestLine>) =>
  Effect.gen(function*() {
    const files = yield* Files.Files
    const client = yield* BatchClient.BatchClient
    const file = yield* files.upload(lines, { endpoint: chat })
    return yield* client.create({ input_file_id: file.id, endpoint: chat, completion_window: "24h" })
  })

const statusAfter = (id: string) => Effect.flatMap(BatchClient.BatchClient, (client) => client.retrieve(id))

const emulator = FakeOpenAiClient.layerInMemory({ models: ["*"] })

describe("token counts and the emulator's limit", () => {
  it.effect.prop(
    "the emulator takes a batch at exactly TokenCount's total and refuses it one token below",
    [
      fc.array(fc.string({ unit: "grapheme", maxLength: 40 }), { minLength: 1, maxLength: 4 }),
      fc.constantFrom("gpt-4o-mini", "gpt-4", "gpt-5")
    ],
    ([texts, model]) =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const lines = texts.map((text, i) => line(`r${i}`, text, model))
        const tokens = yield* tokensOf(lines)
        yield* fake.configure({ tokenLimit: tokens - 1 })
        const refused = yield* createFor(lines)
        yield* fake.configure({ tokenLimit: tokens })
        const taken = yield* createFor(lines)
        yield* TestClock.adjust("1 second")
        const failed = yield* statusAfter(refused.id)
        assert.strictEqual(failed.status, "failed")
        assert.strictEqual(failed.errors?.data?.[0]?.code, "token_limit_exceeded")
        assert.strictEqual((yield* statusAfter(taken.id)).status, "in_progress")
        // let everything end, so the next run starts with nothing in flight
        yield* TestClock.adjust("1 minute")
      }).pipe(Effect.provide(Layer.fresh(emulator))),
    { fastCheck: { numRuns: 12 } }
  )

  it.effect(
    "shards that reserve their tokens first wait for room: nine shards under a limit of two, none refused, one batch each",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const budget = yield* TokenBudget.TokenBudget
        const shards = Array.from({ length: 9 }, (_, i) => shard(`s${i}`))
        const sizes = yield* Effect.forEach(shards, tokensOf)
        const limit = Math.max(...sizes) * 2
        yield* fake.configure({ tokenLimit: limit })
        yield* budget.setLimit("gpt-4o-mini", limit)
        let peak = 0
        const run = (lines: ReadonlyArray<RequestLine.BatchRequestLine>, i: number) =>
          Effect.gen(function*() {
            yield* budget.reserve({ id: `job/${i}`, model: "gpt-4o-mini", tokens: sizes[i]! })
            const inFlight = (yield* budget.usage).find((u) => u.model === "gpt-4o-mini")?.tokens ?? 0
            peak = Math.max(peak, inFlight)
            const created = yield* createFor(lines)
            const ended = yield* statusAfter(created.id).pipe(
              Effect.repeat(
                Schedule.recurUntil((b: Batch.Batch) => BatchStatus.isTerminal(b.status)).pipe(
                  Schedule.addDelay(() => "1 second")
                )
              )
            )
            yield* budget.release(`job/${i}`)
            return ended
          })
        const ended = yield* drive(Effect.forEach(shards, run, { concurrency: "unbounded" }), "500 millis", 400)
        assert.deepStrictEqual(ended.map((b) => b.status), Array(9).fill("completed"))
        assert.isAtMost(peak, limit)
        assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 9)
        assert.strictEqual((yield* budget.usage).find((u) => u.model === "gpt-4o-mini")?.tokens, 0)
      }).pipe(
        Effect.provide(Layer.mergeAll(
          emulator,
          TokenBudget.layer({ wait: Schedule.spaced("1 second") }).pipe(
            Layer.provide(Jobs.layerSql(tempStore())),
            Layer.provide(NodeContext.layer),
            Layer.orDie
          )
        ))
      ),
    60_000
  )

  it.effect("the limit a token_limit_exceeded failure states is learned, and then holds", () =>
    Effect.gen(function*() {
      const budget = yield* TokenBudget.TokenBudget
      const size = yield* tokensOf(shard("a"))
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.configure({ tokenLimit: size * 2 })
      const batches = yield* Effect.forEach(["a", "b", "c"], (name) => createFor(shard(name)))
      yield* TestClock.adjust("1 second")
      const third = yield* statusAfter(batches[2]!.id)
      const learned = TokenBudget.fromBatchErrors(third.errors)
      assert.deepStrictEqual(learned, { model: "gpt-4o-mini", limit: size * 2 })
      yield* budget.learn(learned!.model!, learned!.limit!)
      assert.isTrue(yield* budget.tryReserve({ id: "a", model: "gpt-4o-mini", tokens: size }))
      assert.isTrue(yield* budget.tryReserve({ id: "b", model: "gpt-4o-mini", tokens: size }))
      assert.isFalse(yield* budget.tryReserve({ id: "c", model: "gpt-4o-mini", tokens: size }))
    }).pipe(
      Effect.provide(Layer.mergeAll(
        emulator,
        TokenBudget.layer().pipe(
          Layer.provide(Jobs.layerSql(tempStore())),
          Layer.provide(NodeContext.layer),
          Layer.orDie
        )
      ))
    ))
})
