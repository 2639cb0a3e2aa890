import { Files } from "@batchfx/client"
import { Jobs, JobStore } from "@batchfx/jobs"
import { FakeOpenAi, Fault, Responder } from "@batchfx/testkit"
import { FileSystem, type HttpApp, HttpClient, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Chunk, type Duration, Effect, Layer, Schedule, Stream } from "effect"
import * as PostgresServer from "./postgresServer.js"
import { chat, chatLine, chatLines, clientOfFake, count, drive, inMemory, tempStore, worker } from "./utils.js"

/** The emulator in memory, whose file contents are a line that is not JSON. */
const garbledContents = (url: string) => {
  const garble = (app: HttpApp.Default): HttpApp.Default =>
    Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request) => /\/files\/[^/]+\/content/.test(request.url) ? HttpServerResponse.text("not json\n") : app
    )
  const http = Layer.unwrapEffect(
    Effect.map(
      FakeOpenAi.FakeOpenAi,
      (fake) => Layer.succeed(HttpClient.HttpClient, FakeOpenAi.httpClient(garble(fake.app)))
    )
  )
  return Layer.mergeAll(Jobs.layerStore(url), clientOfFake).pipe(
    Layer.provide(http),
    Layer.provideMerge(FakeOpenAi.layerInMemory()),
    Layer.provide(NodeContext.layer),
    Layer.orDie
  )
}

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

/** Runs a worker until the job ends, under the TestClock. */
const runUntilDone = (jobId: string, maxLines = 50_000, step: Duration.DurationInput = "1 second") =>
  drive(Jobs.awaitJob(jobId).pipe(Effect.provide(worker(maxLines)), Effect.scoped), step)

/** Each scenario runs on both stores: an embedded SQLite file, and a fresh database of a real Postgres. */
const stores = [
  { name: "SQLite", url: Effect.sync(tempStore) },
  // Without the server's end of sessions idle in a transaction: under a TestClock, a step cut off by
  // a simulated timeout can leave a statement's transaction open for more real seconds than the
  // store's default 30 s, and a session ended under a running test failed the next ones in CI.
  {
    name: "Postgres",
    url: Effect.map(PostgresServer.freshDatabase, (url) => `${url}?idle_in_transaction_session_timeout=0`)
  }
] as const

/** Provides a fresh layer made over a new store's URL. */
const on = <ROut>(
  url: Effect.Effect<string, never, PostgresServer.PostgresServer>,
  make: (url: string) => Layer.Layer<ROut>
) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, ROut> | PostgresServer.PostgresServer> =>
  Effect.flatMap(url, (u) => Effect.provide(self, Layer.fresh(make(u))))

layer(PostgresServer.layer, { timeout: 120_000 })("Jobs", (it) => {
  for (const store of stores) {
    describe(store.name, () => {
      it.effect("a job of 5 lines cut into 3 shards completes with every result joined to its input", () =>
        Effect.gen(function*() {
          const jobId = yield* Jobs.submit(chatLines(5), { endpoint: chat, name: "five" })
          const pending = yield* Jobs.status(jobId)
          assert.strictEqual(pending.job.status, "pending")
          assert.strictEqual(pending.job.lines, 5)
          const job = yield* runUntilDone(jobId, 2)
          assert.strictEqual(job.status, "completed")
          const report = yield* Jobs.status(jobId)
          assert.deepStrictEqual(report.shards.map((s) => s.lines), [2, 2, 1])
          assert.deepStrictEqual(report.shards.map((s) => s.batchStatus), ["completed", "completed", "completed"])
          assert.strictEqual(report.completed, 5)
          assert.strictEqual(report.results, 5)
          const results = yield* collect(Jobs.results(jobId))
          assert.deepStrictEqual(results.map((r) => r.customId), ["req-1", "req-2", "req-3", "req-4", "req-5"])
          // the client's `Results.Outcome`: the decoded line, its answer, and where it is
          for (const r of results) {
            assert.strictEqual(r._tag, "Succeeded")
            if (r._tag !== "Succeeded") continue
            assert.strictEqual(r.line.custom_id, r.input.custom_id)
            assert.strictEqual(r.statusCode, 200)
            const shard = report.shards.find((s) => s.firstLine <= r.inputLine && r.inputLine < s.firstLine + s.lines)!
            assert.strictEqual(r.position.fileId, shard.outputFileId)
            assert.strictEqual(r.position.file, "output")
            assert.isAbove(r.position.end, 0)
          }
          // the output lines as the API wrote them, across the shards
          const lines = yield* collect(Jobs.resultLines(jobId, "output"))
          assert.deepStrictEqual(lines.map((l) => JSON.parse(l).custom_id), [
            "req-1",
            "req-2",
            "req-3",
            "req-4",
            "req-5"
          ])
          assert.strictEqual(yield* count("POST /v1/files"), 3)
          assert.strictEqual(yield* count("POST /v1/batches"), 3)
          const [listed] = yield* Jobs.list
          assert.strictEqual(listed?.name, "five")
        }).pipe(on(store.url, (url) => inMemory(url))))

      it.effect("a bad line fails the submit with its line number and stores nothing", () =>
        Effect.gen(function*() {
          const lines = [chatLine(1), { ...chatLine(2), url: "/v1/embeddings" }, chatLine(1)]
          const error = yield* Effect.flip(Jobs.submit(lines, { endpoint: chat }))
          assert.instanceOf(error, Files.InputError)
          assert.deepStrictEqual(Files.problemLines(error as Files.InputError), [2, 3])
          assert.strictEqual((yield* Jobs.list).length, 0)
          const empty = yield* Effect.flip(Jobs.submit([], { endpoint: chat }))
          assert.include(empty.message, "The input file has no requests.")
        }).pipe(on(store.url, (url) => inMemory(url))))

      it.effect("a job from a file keeps the file's line numbers in its problems and runs from the store", () =>
        Effect.gen(function*() {
          const fs = yield* FileSystem.FileSystem
          const dir = yield* fs.makeTempDirectoryScoped()
          const bad = `${dir}/bad.jsonl`
          yield* fs.writeFileString(bad, `${JSON.stringify(chatLine(1))}\n\nnot json\n`)
          const error = yield* Effect.flip(Jobs.submitPath(bad, { endpoint: chat }))
          assert.deepStrictEqual(Files.problemLines(error as Files.InputError), [3])
          const missing = yield* Effect.flip(Jobs.submitPath(`${dir}/missing.jsonl`, { endpoint: chat }))
          assert.match(
            missing.message,
            /^The input .*missing\.jsonl has 1 problem, so nothing was uploaded: cannot be read/
          )
          const good = `${dir}/good.jsonl`
          yield* fs.writeFileString(good, chatLines(3).map((l) => JSON.stringify(l)).join("\n"))
          const jobId = yield* Jobs.submitPath(good, { endpoint: chat })
          yield* fs.remove(good)
          const job = yield* runUntilDone(jobId)
          assert.strictEqual(job.status, "completed")
          assert.strictEqual((yield* Jobs.status(jobId)).results, 3)
        }).pipe(Effect.scoped, on(store.url, (url) => inMemory(url)), Effect.provide(NodeContext.layer)))

      it.effect("failed lines are retried as a new job made from the job's own results", () =>
        Effect.gen(function*() {
          const jobId = yield* Jobs.submit(chatLines(6), { endpoint: chat })
          const job = yield* runUntilDone(jobId, 4)
          assert.strictEqual(job.status, "completed")
          const results = yield* collect(Jobs.results(jobId))
          assert.deepStrictEqual(results.filter((r) => r._tag !== "Succeeded").map((r) => r.customId), [
            "req-2",
            "req-5"
          ])
          const retryId = yield* Jobs.retryFailed(jobId)
          const retry = yield* Jobs.status(retryId)
          assert.strictEqual(retry.job.retryOf, jobId)
          assert.strictEqual(retry.job.lines, 2)
          const inputs = yield* collect(Jobs.results(retryId))
          assert.deepStrictEqual(inputs.map((r) => `${r._tag} ${r.customId}`), ["Missing req-2", "Missing req-5"])
        }).pipe(on(store.url, (url) => inMemory(url, { failLine: Responder.failCustomIds(/^req-[25]$/) }))))

      it.effect("cancelling a running job cancels its batches; it ends cancelled with the results it got", () =>
        Effect.gen(function*() {
          const jobId = yield* Jobs.submit(chatLines(4), { endpoint: chat })
          const cancelled = yield* drive(
            Effect.gen(function*() {
              // wait until both batches run, then cancel
              yield* Jobs.status(jobId).pipe(
                Effect.repeat({
                  until: (r) => r.shards.length === 2 && r.shards.every((s) => s.batchStatus === "in_progress"),
                  schedule: Schedule.spaced("1 second")
                })
              )
              yield* Jobs.cancel(jobId)
              return yield* Jobs.awaitJob(jobId)
            }).pipe(Effect.provide(worker(2)), Effect.scoped)
          )
          assert.strictEqual(cancelled.status, "cancelled")
          const report = yield* Jobs.status(jobId)
          assert.deepStrictEqual(report.shards.map((s) => s.batchStatus), ["cancelled", "cancelled"])
          assert.strictEqual(yield* count("POST /v1/batches/{id}/cancel"), 2)
          assert.deepStrictEqual(report.shards.map((s) => s.downloaded), [true, true])
          const results = yield* collect(Jobs.results(jobId))
          assert.deepStrictEqual(
            results.map((r) => `${r._tag} ${r.customId}`),
            chatLines(4).map((l) => `Failed ${l.custom_id}`)
          )
        }).pipe(on(store.url, (url) =>
          inMemory(url, {
            durations: { inProgress: "1 hour", cancelling: "5 seconds" }
          }))))

      it.effect("a job nobody started is cancelled at once and no batch is ever made for it", () =>
        Effect.gen(function*() {
          const jobId = yield* Jobs.submit(chatLines(2), { endpoint: chat })
          const report = yield* Jobs.cancel(jobId)
          assert.strictEqual(report.job.status, "cancelled")
          assert.isTrue(JobStore.isFinished(report.job.status))
          yield* drive(Effect.sleep("5 seconds").pipe(Effect.provide(worker()), Effect.scoped))
          assert.strictEqual(yield* count("POST /v1/files"), 0)
          assert.strictEqual(yield* count("POST /v1/batches"), 0)
        }).pipe(on(store.url, (url) => inMemory(url))))

      it.effect(
        "an outage longer than the client's retries pauses the step and runs it again; one batch is made",
        () =>
          Effect.gen(function*() {
            const fake = yield* FakeOpenAi.FakeOpenAi
            // the client tries 3 times per run of the step: the first run fails, the second succeeds
            for (let nth = 1; nth <= 3; nth++) yield* fake.scriptFault("POST /v1/batches", nth, Fault.status(503))
            const jobId = yield* Jobs.submit(chatLines(2), { endpoint: chat })
            const job = yield* runUntilDone(jobId, 50_000, "5 seconds")
            assert.strictEqual(job.status, "completed")
            const created = (yield* fake.counters).filter((c) => c.route === "POST /v1/batches" && c.status === 200)
            assert.deepStrictEqual(created.map((c) => c.count), [1])
            assert.strictEqual((yield* Jobs.status(jobId)).shards[0]?.createAttempts, 2)
          }).pipe(on(store.url, (url) => inMemory(url))),
        120_000
      )

      it.effect("a batch the server fails ends the job failed with one sentence naming the shard and batch", () =>
        Effect.gen(function*() {
          const lines = chatLines(2).map((l) => ({ ...l, body: { ...l.body, model: "no-such-model" } }))
          const jobId = yield* Jobs.submit(lines, { endpoint: chat })
          const job = yield* runUntilDone(jobId)
          assert.strictEqual(job.status, "failed")
          assert.match(job.error ?? "", /^shard 1: batch batch_\w+ ended failed$/)
        }).pipe(on(store.url, (url) => inMemory(url))))

      it.effect("a defect in a step ends the job failed with its sentence instead of leaving it running", () =>
        Effect.gen(function*() {
          const jobId = yield* Jobs.submit(chatLines(2), { endpoint: chat })
          const job = yield* runUntilDone(jobId)
          assert.strictEqual(job.status, "failed")
          assert.match(job.error ?? "", /^Shard 1: download failed: unexpected error: .*JSON/)
          const report = yield* Jobs.status(jobId)
          assert.isFalse(report.shards[0]?.downloaded)
          assert.strictEqual(yield* count("POST /v1/batches"), 1)
        }).pipe(on(store.url, garbledContents)))
    })
  }
})
