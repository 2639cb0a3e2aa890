import { BatchStatus } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, TestClock } from "effect"
import { content, getJson, postEmpty } from "./helpers.js"

type Json = Record<string, unknown>

const seed = (options: FakeOpenAi.SeedBatchOptions) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.seedBatch(options))

const retrieve = (id: string) => Effect.map(getJson(`/batches/${id}`), (r) => r.json)

/** The lines of a result file; none when the batch has no such file. */
const fileLines = (id: unknown) =>
  typeof id === "string"
    ? Effect.map(content(id), (text) => text.trim().split("\n").map((l) => JSON.parse(l) as Json))
    : Effect.succeed([])

describe("FakeOpenAi seedBatch: a batch in any status, with metadata and counts", () => {
  it.effect("shows each status at once, as GET /v1/batches/{id} and the list serve it", () =>
    Effect.gen(function*() {
      const statuses = BatchStatus.known
      const seeded = []
      for (const status of statuses) {
        const batch = yield* seed({ status, metadata: { status, team: "a" } })
        assert.strictEqual(batch.status, status)
        const got = yield* retrieve(batch.id)
        assert.strictEqual(got.status, status)
        assert.deepStrictEqual(got.metadata, { status, team: "a" })
        seeded.push(batch.id)
      }
      const listed = (yield* getJson("/batches?limit=100")).json.data as ReadonlyArray<Json>
      assert.deepStrictEqual(listed.map((b) => b.id), [...seeded].reverse())
      assert.deepStrictEqual(listed.map((b) => b.status), [...statuses].reverse())
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("an in_progress batch shows its counts, then completes with result files that match them", () =>
    Effect.gen(function*() {
      const batch = yield* seed({ status: "in_progress", request_counts: { total: 10, completed: 4, failed: 1 } })
      assert.deepStrictEqual(batch.request_counts, { total: 10, completed: 4, failed: 1 })
      assert.isNotNull(batch.in_progress_at)
      assert.strictEqual(batch.model, "gpt-4o-mini-2024-07-18")
      yield* TestClock.adjust("1 minute")
      const done = yield* retrieve(batch.id)
      assert.strictEqual(done.status, "completed")
      assert.deepStrictEqual(done.request_counts, { total: 10, completed: 9, failed: 1 })
      assert.strictEqual((yield* fileLines(done.output_file_id)).length, 9)
      const errors = yield* fileLines(done.error_file_id)
      assert.strictEqual(errors.length, 1)
      assert.strictEqual((errors[0]!.response as Json).status_code, 400)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("expired and cancelled batches list the requests that never ran in their error file", () =>
    Effect.gen(function*() {
      const expired = yield* seed({ status: "expired", request_counts: { total: 5, completed: 2 } })
      assert.deepStrictEqual(expired.request_counts, { total: 5, completed: 2, failed: 0 })
      assert.strictEqual(expired.expires_at! - expired.created_at, 86_400)
      assert.isNotNull(expired.expired_at)
      assert.strictEqual((yield* fileLines(expired.output_file_id)).length, 2)
      const never = yield* fileLines(expired.error_file_id)
      assert.deepStrictEqual(never.map((l) => (l.error as Json).code), [
        "batch_expired",
        "batch_expired",
        "batch_expired"
      ])

      const cancelled = yield* seed({ status: "cancelled", request_counts: { total: 6, completed: 3 } })
      assert.deepStrictEqual(cancelled.request_counts, { total: 6, completed: 3, failed: 0 })
      assert.isNotNull(cancelled.cancelling_at)
      assert.isNotNull(cancelled.cancelled_at)
      const skipped = yield* fileLines(cancelled.error_file_id)
      assert.strictEqual(skipped.filter((l) => (l.error as Json).code === "batch_cancelled").length, 3)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("a seeded batch follows the lifecycle: cancel works on in_progress, a failed one keeps its errors", () =>
    Effect.gen(function*() {
      const running = yield* seed({ status: "in_progress", durations: { inProgress: "1 hour" } })
      const cancel = yield* postEmpty(`/batches/${running.id}/cancel`)
      assert.strictEqual(cancel.status, 200)
      assert.strictEqual(cancel.json.status, "cancelling")
      const failed = yield* seed({
        status: "failed",
        errors: [{
          code: "model_not_found",
          message: "The model `gpt-9` does not exist.",
          param: "body.model",
          line: 2
        }]
      })
      assert.deepStrictEqual(failed.errors?.data, [{
        code: "model_not_found",
        message: "The model `gpt-9` does not exist.",
        param: "body.model",
        line: 2
      }])
      assert.deepStrictEqual(failed.request_counts, { total: 0, completed: 0, failed: 0 })
      const conflict = yield* postEmpty(`/batches/${failed.id}/cancel`)
      assert.strictEqual(conflict.status, 409)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("counts that cannot be fail with one sentence", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [FakeOpenAi.SeedBatchOptions, RegExp]> = [
        [{ status: "completed", request_counts: { total: 5, completed: 2 } }, /must equal total \(5\)/],
        [{ status: "in_progress", request_counts: { total: 3, completed: 3 } }, /must be below total \(3\)/],
        [{ status: "validating", request_counts: { completed: 1 } }, /has run no request/],
        [{ status: "cancelled", request_counts: { total: 2, completed: 2, failed: 1 } }, /more than total/],
        [{ status: "completed", request_counts: { total: -1 } }, /non-negative integer, got -1/],
        [{ status: "completed", endpoint: "/v1/unknown" }, /no responder for \/v1\/unknown/]
      ]
      for (const [options, message] of cases) {
        const exit = yield* Effect.exit(seed(options))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = Cause.squash(exit.cause)
          assert.instanceOf(error, Cause.IllegalArgumentException)
          assert.match((error as Error).message, message)
        }
      }
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})
