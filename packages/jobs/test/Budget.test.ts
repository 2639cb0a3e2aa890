/**
 * The enqueued-token budget in the workflow, against the emulator's enqueued-token limit: shards
 * wait for room instead of being refused; a limit nobody configured is learned from the refusals;
 * a cancelled job gives its tokens back; `status` tells the worker and the tokens; every step has
 * a span with its job and shard, and the worker counts its work in metrics.
 */
import { BatchClient } from "@batchfx/client"
import type { Batch, RequestLine } from "@batchfx/core"
import { Jobs } from "@batchfx/jobs"
import * as TokenCount from "@batchfx/jobs/TokenCount"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, layer } from "@effect/vitest"
import { Chunk, type Duration, Effect, Fiber, Layer, Metric, Schedule, Stream, TestClock, Tracer } from "effect"
import * as PostgresServer from "./postgresServer.js"
import { chat, count, inMemory, tempStore } from "./utils.js"

const model = "gpt-4o-mini"

/** Job `k`'s six lines: shards of two lines each, the same text (and so the same tokens) in every job. */
const jobLines = (k: number): ReadonlyArray<RequestLine.BatchRequestLine> =>
  Array.from({ length: 6 }, (_, i) => ({
    custom_id: `j${k}-${i + 1}`,
    method: "POST",
    url: chat,
    body: { model, messages: [{ role: "user", content: `question ${i + 1}` }] }
  }))

/** The tokens of the largest shard of two lines. */
const shardTokens = Effect.gen(function*() {
  const lines = jobLines(0)
  const sizes = yield* Effect.forEach(
    [0, 2, 4],
    (i) => Effect.map(TokenCount.ofLines(lines.slice(i, i + 2)), (totals) => totals.get(model) ?? 0)
  )
  return Math.max(...sizes)
})

/** A worker that cuts shards of two lines and looks again for room every second. */
const worker = (options: Partial<Jobs.WorkerOptions> = {}) =>
  Jobs.layerWorker({
    poll: Schedule.spaced("1 second"),
    limits: { maxLines: 2 },
    pickUp: "100 millis",
    tokenWait: Schedule.spaced("1 second"),
    refusalPause: "3 seconds",
    ...options
  }).pipe(Layer.orDie)

const fast = { validating: "1 second", inProgress: "2 seconds", finalizing: "1 second" } as const

const inFlight = new Set(["validating", "in_progress", "finalizing"])

/** Every batch at the emulator, newest first. */
const batches = Effect.flatMap(
  BatchClient.BatchClient,
  (client) => Stream.runCollect(client.list({ limit: 100 })).pipe(Effect.map(Chunk.toReadonlyArray), Effect.orDie)
)

const byStatus = (all: ReadonlyArray<Batch.Batch>) => {
  const counts: Record<string, number> = {}
  for (const b of all) counts[b.status] = (counts[b.status] ?? 0) + 1
  return counts
}

/**
 * Runs `effect` while the TestClock moves in steps; after each step `sample` runs (it reads the
 * emulator), so a test can check what held at every moment.
 */
const driveSampling = <A, E, R, R2>(
  effect: Effect.Effect<A, E, R>,
  sample: Effect.Effect<void, never, R2>,
  step: Duration.DurationInput = "1 second",
  steps = 400
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < steps; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust(step)
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      yield* sample
    }
    return yield* Fiber.join(fiber)
  })

const awaitAll = (ids: ReadonlyArray<string>) => Effect.forEach(ids, (id) => Jobs.awaitJob(id, "500 millis"))

const stores = [
  { name: "SQLite", url: Effect.sync(tempStore) },
  { name: "Postgres", url: PostgresServer.freshDatabase }
] as const

const on = <ROut>(
  url: Effect.Effect<string, never, PostgresServer.PostgresServer>,
  make: (url: string) => Layer.Layer<ROut>
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, ROut> | PostgresServer.PostgresServer> =>
  Effect.flatMap(url, (u) => Effect.provide(self, Layer.fresh(make(u))))

layer(PostgresServer.layer, { timeout: 180_000 })("The enqueued-token budget", (it) => {
  for (const store of stores) {
    describe(store.name, () => {
      it.effect(
        "4 jobs of 3 shards under a limit of 2 shards all complete on one worker; nothing refused, never over the limit",
        () =>
          Effect.gen(function*() {
            const fake = yield* FakeOpenAi.FakeOpenAi
            const tokens = yield* shardTokens
            const limit = tokens * 2
            yield* fake.configure({ tokenLimit: { [model]: limit } })
            const ids = yield* Effect.forEach([1, 2, 3, 4], (k) => Jobs.submit(jobLines(k), { endpoint: chat }))
            let peak = 0
            const sample = Effect.map(batches, (all) => {
              const held = all.filter((b) => inFlight.has(b.status)).length * tokens
              peak = Math.max(peak, held)
            })
            const jobs = yield* driveSampling(
              awaitAll(ids).pipe(Effect.provide(worker({ tokenLimits: { [model]: limit } })), Effect.scoped),
              sample
            )
            assert.deepStrictEqual(jobs.map((j) => j.status), ["completed", "completed", "completed", "completed"])
            assert.deepStrictEqual(byStatus(yield* batches), { completed: 12 })
            assert.strictEqual(yield* count("POST /v1/batches"), 12)
            assert.strictEqual(yield* count("POST /v1/files"), 12)
            // the batches in flight at the emulator never held more than the limit, and did use it
            assert.isAtMost(peak, limit)
            assert.strictEqual(peak, limit)
            for (const id of ids) {
              const report = yield* Jobs.status(id)
              assert.strictEqual(report.results, 6)
              assert.deepStrictEqual(report.shards.map((s) => s.inputTokens), [tokens, tokens, tokens])
              assert.deepStrictEqual(report.shards.map((s) => s.refusedBatches.length), [0, 0, 0])
            }
            // every reservation was given back
            const usage = (yield* Jobs.status(ids[0]!)).tokens.find((u) => u.model === model)
            assert.deepStrictEqual(usage, { model, tokens: 0, limit, configured: limit, learned: undefined })
          }).pipe(on(store.url, (url) => inMemory(url, { durations: fast }))),
        180_000
      )
    })
  }

  it.effect(
    "without a configured limit, the limit is learned from the refusals; refused shards get a new batch and every job completes",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const tokens = yield* shardTokens
        const limit = tokens * 2
        yield* fake.configure({ tokenLimit: { [model]: limit } })
        const ids = yield* Effect.forEach([1, 2], (k) => Jobs.submit(jobLines(k), { endpoint: chat }))
        const jobs = yield* driveSampling(
          awaitAll(ids).pipe(Effect.provide(worker()), Effect.scoped),
          Effect.void
        )
        assert.deepStrictEqual(jobs.map((j) => j.status), ["completed", "completed"])
        const all = yield* batches
        const counts = byStatus(all)
        // six shards sent at once: two fit, the other four were refused; each got a new batch
        assert.strictEqual(counts.completed, 6)
        assert.strictEqual(counts.failed, 4)
        for (const b of all.filter((b) => b.status === "failed")) {
          assert.strictEqual(b.errors?.data?.[0]?.code, "token_limit_exceeded")
        }
        const reports = yield* Effect.forEach(ids, Jobs.status)
        const shards = reports.flatMap((r) => r.shards)
        const refused = shards.flatMap((s) => s.refusedBatches)
        assert.deepStrictEqual(
          [...refused].sort(),
          all.filter((b) => b.status === "failed").map((b) => b.id).sort(),
          "every refused batch is recorded on its shard"
        )
        assert.isTrue(shards.every((s) => s.batchStatus === "completed" && s.batchTry === s.refusedBatches.length + 1))
        assert.deepStrictEqual(reports.map((r) => r.results), [6, 6])
        const usage = reports[1]!.tokens.find((u) => u.model === model)
        assert.deepStrictEqual(usage, { model, tokens: 0, limit, configured: undefined, learned: limit })
      }).pipe(on(Effect.sync(tempStore), (url) => inMemory(url, { durations: fast }))),
    180_000
  )

  it.effect(
    "a cancelled job whose shards wait for room ends cancelled: no batch for them, its tokens given back",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const tokens = yield* shardTokens
        yield* fake.configure({ tokenLimit: { [model]: tokens } })
        const id = yield* Jobs.submit(jobLines(1), { endpoint: chat })
        const job = yield* driveSampling(
          Effect.gen(function*() {
            // shard 1 runs; shards 2 and 3 wait for its tokens
            yield* Jobs.status(id).pipe(
              Effect.repeat({
                until: (r) => r.shards.length === 3 && r.shards[0]?.batchStatus === "in_progress",
                schedule: Schedule.spaced("1 second")
              })
            )
            const waiting = yield* Jobs.status(id)
            assert.deepStrictEqual(waiting.tokens.map((u) => [u.model, u.tokens, u.limit]), [[model, tokens, tokens]])
            yield* Jobs.cancel(id)
            return yield* Jobs.awaitJob(id, "500 millis")
          }).pipe(Effect.provide(worker({ tokenLimits: { [model]: tokens } })), Effect.scoped),
          Effect.void
        )
        assert.strictEqual(job.status, "cancelled")
        assert.strictEqual(yield* count("POST /v1/files"), 1)
        assert.strictEqual(yield* count("POST /v1/batches"), 1)
        const report = yield* Jobs.status(id)
        assert.deepStrictEqual(report.shards.map((s) => s.batchId === undefined), [false, true, true])
        assert.strictEqual(report.tokens.find((u) => u.model === model)?.tokens, 0)
      }).pipe(
        on(Effect.sync(tempStore), (url) =>
          inMemory(url, { durations: { ...fast, inProgress: "1 hour", cancelling: "2 seconds" } }))
      ),
    120_000
  )

  it.effect(
    "a worker stopped while a shard holds its tokens and another waits, then started again: the tokens are held once, both shards complete",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const tokens = yield* shardTokens
        yield* fake.configure({ tokenLimit: { [model]: tokens }, durations: { ...fast, inProgress: "10 seconds" } })
        const id = yield* Jobs.submit(jobLines(1).slice(0, 4), { endpoint: chat })
        const heldNow = Effect.map(Jobs.status(id), (r) => r.tokens.find((u) => u.model === model)?.tokens ?? 0)
        // the first worker runs until shard 1's batch is in progress and shard 2 waits for room, then stops
        yield* driveSampling(
          Jobs.status(id).pipe(
            Effect.repeat({
              until: (r) => r.shards[0]?.batchStatus === "in_progress",
              schedule: Schedule.spaced("1 second")
            }),
            Effect.provide(worker({ tokenLimits: { [model]: tokens } })),
            Effect.scoped
          ),
          Effect.void
        )
        assert.strictEqual(yield* heldNow, tokens, "shard 1's batch is in flight: its tokens stay held")
        const held: Array<number> = []
        const job = yield* driveSampling(
          Jobs.awaitJob(id, "500 millis").pipe(
            Effect.provide(worker({ tokenLimits: { [model]: tokens } })),
            Effect.scoped
          ),
          Effect.flatMap(heldNow, (n) => Effect.sync(() => held.push(n))).pipe(Effect.orDie)
        )
        assert.strictEqual(job.status, "completed")
        // the restarted worker reserved shard 1's tokens again under the same id: held once, never twice
        assert.isAtMost(Math.max(...held), tokens)
        assert.strictEqual(yield* heldNow, 0)
        assert.strictEqual(yield* count("POST /v1/batches"), 2)
        assert.deepStrictEqual(byStatus(yield* batches), { completed: 2 })
      }).pipe(on(Effect.sync(tempStore), (url) => inMemory(url, { durations: fast }))),
    120_000
  )

  it.effect(
    "status names the worker and the tokens in flight; every step has a span with its job and shard; metrics count the work",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const tokens = yield* shardTokens
        yield* fake.configure({ tokenLimit: { [model]: tokens } })
        const before = yield* Effect.forEach(
          [
            Jobs.metrics.shardsUploaded,
            Jobs.metrics.batchesCreated,
            Jobs.metrics.shardsCompleted,
            Jobs.metrics.tokenWaits
          ],
          (m) => Effect.map(Metric.value(m), (v) => v.count)
        )
        const id = yield* Jobs.submit(jobLines(1).slice(0, 4), { endpoint: chat })
        const spans: Array<Tracer.Span> = []
        const base = yield* Effect.tracer
        const tracer = Tracer.make({
          span: (...args) => {
            const span = base.span(...args)
            spans.push(span)
            return span
          },
          context: base.context
        })
        const held: Array<number> = []
        const job = yield* driveSampling(
          Jobs.awaitJob(id, "500 millis").pipe(
            Effect.provide(worker({ tokenLimits: { [model]: tokens } })),
            Effect.scoped,
            Effect.withTracer(tracer)
          ),
          Effect.flatMap(Jobs.status(id), (r) =>
            Effect.sync(() => held.push(r.tokens.find((u) => u.model === model)?.tokens ?? 0))).pipe(Effect.orDie)
        )
        assert.strictEqual(job.status, "completed")
        const report = yield* Jobs.status(id)
        assert.strictEqual(report.worker, Jobs.workerId())
        assert.match(report.worker ?? "", /^[^/]+\/\d+\/[0-9a-f-]{6}$/)
        // one shard's tokens in flight at a time, then none
        assert.include(held, tokens)
        assert.isAtMost(Math.max(...held), tokens)
        assert.strictEqual(
          report.tokens.find((u) =>
            u.model === model
          )?.tokens,
          0
        )

        for (const name of ["count", "reserve", "upload", "create", "await", "download"]) {
          const named = spans.filter((s) => s.name === `batchfx.jobs.${name}`)
          assert.deepStrictEqual(
            [...new Set(named.map((s) => s.attributes.get("batchfx.shard")))].sort(),
            [1, 2],
            `a ${name} span for each shard`
          )
          assert.isTrue(named.every((s) => s.attributes.get("batchfx.job_id") === id), `${name} spans name the job`)
        }
        assert.isTrue(spans.some((s) => s.name === "batchfx.jobs.finish" && s.attributes.get("batchfx.job_id") === id))

        const after = yield* Effect.forEach(
          [
            Jobs.metrics.shardsUploaded,
            Jobs.metrics.batchesCreated,
            Jobs.metrics.shardsCompleted,
            Jobs.metrics.tokenWaits
          ],
          (m) => Effect.map(Metric.value(m), (v) => v.count)
        )
        const delta = after.map((n, i) => Number(n) - Number(before[i]))
        // two shards uploaded, created and completed; the second waited for the first's tokens
        assert.deepStrictEqual(delta, [2, 2, 2, 1])
      }).pipe(on(Effect.sync(tempStore), (url) => inMemory(url, { durations: fast }))),
    120_000
  )
})
