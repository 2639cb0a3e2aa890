import { Jobs } from "@batchfx/jobs"
import * as Postgres from "@batchfx/jobs/Postgres"
import * as TokenBudget from "@batchfx/jobs/TokenBudget"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer, type Vitest } from "@effect/vitest"
import { Effect, Fiber, Layer, Schedule, TestClock } from "effect"
import * as fc from "fast-check"
import * as PostgresServer from "./postgresServer.js"
import { tempStore } from "./utils.js"

let models = 0
/** A model name no other test uses, so tests share one database without resetting it. */
const freshModel = () => `model-${++models}-${globalThis.crypto.randomUUID().slice(0, 8)}`

/** One second between looks, so a TestClock test knows when the next one is due. */
const budget = TokenBudget.make({ wait: Schedule.spaced("1 second") })

/** Lets the store's real I/O finish between TestClock steps. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 50)))

const suite = <R>(
  name: string,
  sql: Layer.Layer<SqlClient.SqlClient | R>,
  more: (it: Vitest.MethodsNonLive<SqlClient.SqlClient | R>) => void = () => {}
) =>
  layer(sql, { timeout: 60_000 })(name, (it) => {
    more(it)
    it.effect("a reservation that would pass the limit waits until tokens are released, then holds", () =>
      Effect.gen(function*() {
        const b = yield* budget
        const model = freshModel()
        yield* b.setLimit(model, 100)
        yield* b.reserve({ id: "a", model, tokens: 60 })
        const waiting = yield* Effect.fork(b.reserve({ id: "b", model, tokens: 50 }))
        for (let i = 0; i < 3; i++) {
          yield* settle
          yield* TestClock.adjust("1 second")
        }
        yield* settle
        assert.isTrue((yield* Fiber.poll(waiting))._tag === "None", "b must wait while a holds 60 of 100")
        yield* b.release("a")
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(waiting)
        const usage = (yield* b.usage).find((u) => u.model === model)
        assert.deepStrictEqual(usage, { model, tokens: 50, limit: 100, configured: 100, learned: undefined })
      }))

    it.effect("more tokens than the whole limit fail at once with one sentence; a model without a limit never waits", () =>
      Effect.gen(function*() {
        const b = yield* budget
        const model = freshModel()
        yield* b.setLimit(model, 100)
        const error = yield* Effect.flip(b.reserve({ id: "job_x/1", model, tokens: 101 }))
        assert.strictEqual(error._tag, "TokensOverLimit")
        assert.strictEqual(
          error.message,
          `job_x/1 needs 101 input tokens of ${model}, more than its enqueued-token limit of 100: split it into smaller shards.`
        )
        const free = freshModel()
        assert.isTrue(yield* b.tryReserve({ id: "f1", model: free, tokens: 1_000_000_000 }))
        assert.isTrue(yield* b.tryReserve({ id: "f2", model: free, tokens: 1_000_000_000 }))
        assert.strictEqual((yield* b.usage).find((u) => u.model === free)?.tokens, 2_000_000_000)
      }))

    it.effect("a learned limit below the configured one holds; the same id reserved twice counts once", () =>
      Effect.gen(function*() {
        const b = yield* budget
        const model = freshModel()
        yield* b.setLimit(model, 100)
        yield* b.learn(model, 50)
        assert.isTrue(yield* b.tryReserve({ id: "s1", model, tokens: 30 }))
        assert.isTrue(yield* b.tryReserve({ id: "s1", model, tokens: 30 }))
        assert.isFalse(yield* b.tryReserve({ id: "s2", model, tokens: 30 }))
        const usage = (yield* b.usage).find((u) => u.model === model)
        assert.deepStrictEqual(usage, { model, tokens: 30, limit: 50, configured: 100, learned: 50 })
        yield* b.release("s1")
        yield* b.release("s1")
        assert.isTrue(yield* b.tryReserve({ id: "s2", model, tokens: 30 }))
        yield* b.setLimit(model, undefined)
        assert.strictEqual((yield* b.usage).find((u) => u.model === model)?.limit, 50)
      }))

    it.effect("twenty workers reserving at once never hold more than the limit", () =>
      Effect.gen(function*() {
        // separate budgets over one database, as separate workers would have
        const budgets = yield* Effect.all(Array.from({ length: 4 }, () => budget))
        const model = freshModel()
        yield* budgets[0]!.setLimit(model, 55)
        const held = yield* Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => budgets[i % 4]!.tryReserve({ id: `c${i}`, model, tokens: 10 }),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(held.filter((h) => h).length, 5)
        assert.strictEqual((yield* budgets[1]!.usage).find((u) => u.model === model)?.tokens, 50)
      }))

    it.effect.prop(
      "any sequence of reserves and releases holds exactly what a plain sum says, never above the limit",
      [
        fc.integer({ min: 1, max: 1000 }),
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant("reserve" as const),
              id: fc.integer({ min: 0, max: 5 }),
              tokens: fc.integer({ min: 1, max: 600 })
            }),
            fc.record({ op: fc.constant("release" as const), id: fc.integer({ min: 0, max: 5 }) })
          ),
          { maxLength: 12 }
        )
      ],
      ([limit, ops]) =>
        Effect.gen(function*() {
          const b = yield* budget
          const model = freshModel()
          yield* b.setLimit(model, limit)
          const expected = new Map<number, number>()
          const sum = () => [...expected.values()].reduce((n, t) => n + t, 0)
          for (const op of ops) {
            if (op.op === "release") {
              yield* b.release(`${model}/${op.id}`)
              expected.delete(op.id)
              continue
            }
            const outcome = yield* Effect.either(b.tryReserve({ id: `${model}/${op.id}`, model, tokens: op.tokens }))
            if (expected.has(op.id)) {
              assert.deepStrictEqual(outcome._tag === "Right" && outcome.right, true)
            } else if (op.tokens > limit) {
              assert.strictEqual(outcome._tag === "Left" && outcome.left._tag, "TokensOverLimit")
            } else {
              const fits = sum() + op.tokens <= limit
              assert.deepStrictEqual(outcome._tag === "Right" && outcome.right, fits)
              if (fits) expected.set(op.id, op.tokens)
            }
            const held = (yield* b.usage).find((u) => u.model === model)?.tokens ?? 0
            assert.strictEqual(held, sum())
            assert.isAtMost(held, limit)
          }
        }),
      { fastCheck: { numRuns: 25 }, timeout: 60_000 }
    )
  })

suite(
  "TokenBudget on SQLite",
  Jobs.layerSql(tempStore()).pipe(Layer.provide(NodeContext.layer), Layer.orDie)
)

suite(
  "TokenBudget on Postgres",
  Layer.unwrapEffect(Effect.map(PostgresServer.PostgresServer, (server) => Postgres.layerSql(server.url))).pipe(
    Layer.provideMerge(PostgresServer.layer),
    Layer.orDie
  ),
  (it) => {
    it.effect("six workers starting at once on a new database all get the budget's tables", () =>
      Effect.gen(function*() {
        const server = yield* PostgresServer.PostgresServer
        for (let round = 0; round < 3; round++) {
          const name = `budget_${round}_${globalThis.crypto.randomUUID().replace(/-/g, "").slice(0, 8)}`
          yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE ${name}`))
          const url = server.url.replace(/\/postgres$/, `/${name}`)
          // Postgres's catalog makes concurrent CREATE TABLE IF NOT EXISTS collide (without the
          // retry, 10 of 24 starts failed with a duplicate key in pg_type)
          const started = yield* Effect.forEach(
            Array.from({ length: 6 }),
            () => Effect.either(TokenBudget.make().pipe(Effect.provide(Postgres.layerSql(url)))),
            { concurrency: "unbounded" }
          )
          assert.deepStrictEqual(started.map((e) => e._tag), Array(6).fill("Right"))
        }
      }))
  }
)

describe("TokenBudget on Postgres, live", () => {
  it.live(
    "a worker frozen inside the budget's transaction stops blocking the others once the server ends its session",
    () =>
      Effect.gen(function*() {
        const server = yield* PostgresServer.PostgresServer
        const name = `frozen_${globalThis.crypto.randomUUID().replace(/-/g, "").slice(0, 8)}`
        yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE ${name}`)).pipe(
          Effect.provide(Postgres.layerSql(server.url))
        )
        const url = server.url.replace(/\/postgres$/, `/${name}`)
        const store = Postgres.layerSql(url, { idleTransactionTimeout: "2 seconds" })
        yield* TokenBudget.TokenBudget.pipe(
          Effect.flatMap((b) => b.setLimit("gpt-4o-mini", 100)),
          Effect.provide(TokenBudget.layer().pipe(Layer.provide(store)))
        )
        // the frozen worker: inside a reservation's transaction, holding the model's row, never
        // committing, its connection open (SIGSTOP, or a machine cut off)
        const frozen = yield* Layer.build(store)
        const connection = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.reserve).pipe(
          Effect.provide(frozen)
        )
        yield* connection.executeRaw("BEGIN", [])
        yield* connection.executeRaw(
          "UPDATE batchfx_token_limits SET version = version + 1 WHERE model = 'gpt-4o-mini'",
          []
        )
        const reserved = yield* TokenBudget.TokenBudget.pipe(
          Effect.flatMap((b) => b.reserve({ id: "job/1", model: "gpt-4o-mini", tokens: 10 })),
          Effect.provide(TokenBudget.layer({ wait: Schedule.spaced("200 millis") }).pipe(Layer.provide(store))),
          // the server ends the frozen session after 2 s; without that the reservation never returns
          Effect.timeoutTo({ duration: "30 seconds", onSuccess: () => "reserved", onTimeout: () => "still blocked" })
        )
        assert.strictEqual(reserved, "reserved")
      }).pipe(Effect.provide(PostgresServer.layer), Effect.scoped),
    { timeout: 60_000 }
  )
})

describe("limitFromMessage", () => {
  it("reads the limit from OpenAI's and Azure's token_limit_exceeded messages", () => {
    const openai =
      "Enqueued token limit reached for gpt-4o-mini in organization org-abc. Limit: 2,000,000 enqueued tokens. Please try again once some in_progress batches have been completed."
    assert.strictEqual(TokenBudget.limitFromMessage(openai), 2_000_000)
    assert.deepStrictEqual(
      TokenBudget.fromBatchErrors({ data: [{ code: "token_limit_exceeded", message: openai }] }),
      { model: "gpt-4o-mini", limit: 2_000_000 }
    )
    assert.strictEqual(
      TokenBudget.limitFromMessage(
        "The number of enqueued tokens has surpassed the configured limit of 30K for the deployment 'gpt-4.1-batch'."
      ),
      30_000
    )
    assert.strictEqual(TokenBudget.limitFromMessage("something else"), undefined)
    assert.strictEqual(TokenBudget.fromBatchErrors({ data: [{ code: "invalid_json_line", message: "x" }] }), undefined)
  })
})
