import { Jobs, JobStore } from "@batchfx/jobs"
import * as Postgres from "@batchfx/jobs/Postgres"
import { FakeOpenAi } from "@batchfx/testkit"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, layer } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream, TestServices } from "effect"
import * as PostgresServer from "./postgresServer.js"
import { chat, chatLines, clientOfFake, count, drive, worker } from "./utils.js"

/** A new empty database on the test server, so that each test starts from no tables. */
const freshDatabase = Effect.gen(function*() {
  const server = yield* PostgresServer.PostgresServer
  const name = `t_${globalThis.crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`
  yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE ${name}`)).pipe(
    Effect.provide(Postgres.layerSql(server.url))
  )
  return server.url.replace(/\/postgres$/, `/${name}`)
}).pipe(Effect.orDie)

const storeAt = (url: string) => JobStore.layer.pipe(Layer.provideMerge(Postgres.layerSql(url)), Layer.orDie)

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

layer(PostgresServer.layer, { timeout: 120_000 })("JobStore on Postgres", (it) => {
  it.effect(
    "every operation of the store works on a real Postgres, with millisecond timestamps of today",
    () =>
      Effect.gen(function*() {
        const url = yield* freshDatabase
        yield* Effect.gen(function*() {
          const store = yield* JobStore.JobStore
          const now = Date.now()
          const lines = chatLines(5).map((l) => JSON.stringify(l))
          const stored = yield* store.insertJob(
            { id: "job_a", name: "five", endpoint: chat, createdAt: now, retryOf: undefined },
            Stream.fromIterable(lines)
          )
          assert.strictEqual(stored.lines, 5)
          const job = yield* store.job("job_a")
          assert.strictEqual(job.createdAt, now)
          assert.strictEqual(job.status, "pending")
          assert.strictEqual(job.bytes, lines.reduce((n, l) => n + l.length + 1, 0))
          assert.deepStrictEqual((yield* store.jobs).map((j) => j.id), ["job_a"])

          const planned = yield* store.split("job_a", { maxLines: 2, maxBytes: 1_000_000 })
          assert.deepStrictEqual(planned.map((p) => p.lines), [2, 2, 1])
          const size = (i: number) => lines[i]!.length + 1
          assert.deepStrictEqual(planned.map((p) => p.bytes), [size(0) + size(1), size(2) + size(3), size(4)])
          // a second split reads the plan back
          assert.deepStrictEqual(yield* store.split("job_a", { maxLines: 1, maxBytes: 1 }), planned)
          assert.strictEqual((yield* store.job("job_a")).status, "running")
          assert.deepStrictEqual(yield* collect(store.inputLines("job_a", 3, 2)), lines.slice(2, 4))

          yield* store.countUploadAttempt("job_a", 1)
          yield* store.setFile("job_a", 1, "file-1")
          yield* store.countCreateAttempt("job_a", 1)
          yield* store.setBatch("job_a", 1, {
            batchId: "batch_1",
            status: "completed",
            total: 2,
            completed: 1,
            failed: 1,
            outputFileId: "file-out",
            errorFileId: "file-err"
          })
          const results: ReadonlyArray<JobStore.StoredResult> = [
            { shard: 1, kind: "output", line: 1, end: 22, customId: "req-1", text: "{\"custom_id\":\"req-1\"}" },
            { shard: 1, kind: "error", line: 1, end: 22, customId: "req-2", text: "{\"custom_id\":\"req-2\"}" }
          ]
          yield* store.insertResults("job_a", results)
          // a line stored again (a download read twice after a crash) is kept once
          yield* store.insertResults("job_a", results)
          yield* store.setDownloaded("job_a", 1)
          const shard = yield* store.shard("job_a", 1)
          assert.strictEqual(shard.fileId, "file-1")
          assert.strictEqual(shard.batchId, "batch_1")
          assert.strictEqual(shard.uploadAttempts, 1)
          assert.strictEqual(shard.createAttempts, 1)
          assert.isTrue(shard.downloaded)
          assert.isAtLeast(shard.firstCreateAt!, Math.floor(now / 1000))
          assert.strictEqual(yield* store.resultCount("job_a"), 2)
          const joined = yield* collect(store.joined("job_a"))
          assert.deepStrictEqual(joined.map((r) => [r.customId, r.results.map((x) => x.kind)]), [
            ["req-1", ["output"]],
            ["req-2", ["error"]],
            ["req-3", []],
            ["req-4", []],
            ["req-5", []]
          ])

          assert.strictEqual(joined[0]!.results[0]!.end, 22)
          assert.strictEqual(joined[0]!.results[0]!.fileId, "file-out")
          yield* store.requestCancel("job_a")
          yield* store.setStatus("job_a", "cancelled")
          const ended = yield* store.job("job_a")
          assert.isTrue(ended.cancelRequested)
          assert.strictEqual(ended.status, "cancelled")
          assert.isAtLeast(ended.finishedAt!, now)
          const missing = yield* Effect.flip(store.job("job_b"))
          assert.strictEqual(missing._tag, "JobNotFound")
        }).pipe(Effect.provide(storeAt(url)), TestServices.provideLive)
      }),
    60_000
  )

  it.effect(
    "a whole job runs on Postgres against the emulator: 5 lines, 3 shards, one upload and one batch each",
    () =>
      Effect.gen(function*() {
        const url = yield* freshDatabase
        yield* Effect.gen(function*() {
          const jobId = yield* Jobs.submit(chatLines(5), { endpoint: chat, name: "on postgres" })
          const job = yield* drive(Jobs.awaitJob(jobId).pipe(Effect.provide(worker(2)), Effect.scoped))
          assert.strictEqual(job.status, "completed")
          const report = yield* Jobs.status(jobId)
          assert.deepStrictEqual(report.shards.map((s) => s.batchStatus), ["completed", "completed", "completed"])
          assert.strictEqual(report.results, 5)
          const results = yield* collect(Jobs.results(jobId))
          assert.deepStrictEqual(results.map((r) => [r._tag, r.customId]), [
            ["Succeeded", "req-1"],
            ["Succeeded", "req-2"],
            ["Succeeded", "req-3"],
            ["Succeeded", "req-4"],
            ["Succeeded", "req-5"]
          ])
          assert.strictEqual(yield* count("POST /v1/files"), 3)
          assert.strictEqual(yield* count("POST /v1/batches"), 3)
        }).pipe(
          Effect.provide(
            Layer.mergeAll(storeAt(url), clientOfFake).pipe(
              Layer.provideMerge(FakeOpenAi.layerInMemory()),
              Layer.provide(NodeContext.layer),
              Layer.orDie
            )
          )
        )
      }),
    60_000
  )
})
