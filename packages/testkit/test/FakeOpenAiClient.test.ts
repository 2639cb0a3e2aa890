import * as BatchClient from "@batchfx/client/BatchClient"
import * as Files from "@batchfx/client/Files"
import * as Results from "@batchfx/client/Results"
import * as Watch from "@batchfx/client/Watch"
import type { RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import * as FakeOpenAiClient from "@batchfx/testkit/FakeOpenAiClient"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, type Layer, Schedule, Stream, TestClock } from "effect"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

const endpoint = "/v1/chat/completions"
const line = (n: number): RequestLine.BatchRequestLine => ({
  custom_id: `q-${n}`,
  method: "POST",
  url: endpoint,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `Question ${n}?` }] }
})

// What a user's code under test looks like: it only knows the client's services.
const submitAndCount = (lines: ReadonlyArray<RequestLine.BatchRequestLine>) =>
  Effect.gen(function*() {
    const files = yield* Files.Files
    const client = yield* BatchClient.BatchClient
    const file = yield* files.upload(lines, { endpoint })
    const batch = yield* client.create({
      input_file_id: file.id,
      endpoint,
      completion_window: "24h",
      metadata: { owner: "tests" }
    })
    const done = yield* Watch.awaitTerminal(batch.id, { schedule: Schedule.spaced("50 millis") })
    const results = yield* Stream.runCollect(Results.stream(done))
    return { batch, done, results: Chunk.toReadonlyArray(results) }
  })

// A socket and the live Clock: the lifecycle runs on real time, so its phases are short.
const Fake = FakeOpenAiClient.layer({
  durations: { validating: "100 millis", inProgress: "100 millis", finalizing: "100 millis" }
})

describe("FakeOpenAiClient.layer: the client's services over 127.0.0.1 in one line", () => {
  it.live("uploads, creates, waits and reads results through BatchClient and Files", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      assert.match(fake.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
      const { batch, done, results } = yield* submitAndCount([line(1), line(2), line(3)])
      assert.strictEqual(done.status, "completed")
      assert.deepStrictEqual(done.request_counts, { total: 3, completed: 3, failed: 0 })
      assert.strictEqual(done.metadata?.owner, "tests")
      assert.deepStrictEqual(results.map((r) => r.customId).sort(), ["q-1", "q-2", "q-3"])
      // The requests went over the socket to this very emulator.
      assert.isAbove(yield* fake.requestCount("GET /v1/batches/{id}"), 0)
      const listed = yield* BatchClient.BatchClient.pipe(
        Effect.flatMap((client) => Stream.runCollect(client.list()))
      )
      assert.include(Chunk.toReadonlyArray(listed).map((b) => b.id), batch.id)
    }).pipe(Effect.provide(Fake)))

  it.live("the client keeps its default retries: a 503 on a listing is retried, nothing lost", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(250)
      yield* fake.scriptFault("GET /v1/batches", 2, Fault.status(503))
      const client = yield* BatchClient.BatchClient
      const ids = Chunk.toReadonlyArray(yield* Stream.runCollect(client.list({ limit: 100 }))).map((b) => b.id)
      assert.isAtLeast(ids.length, 250)
      assert.strictEqual(new Set(ids).size, ids.length)
    }).pipe(Effect.provide(Fake)))

  it.live("options.client reaches the client: maxRetries 0 surfaces a scripted 503", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.status(503))
      const client = yield* BatchClient.BatchClient
      const error = yield* Effect.flip(client.retrieve("batch_abc"))
      assert.strictEqual(error._tag, "ServerError")
    }).pipe(Effect.provide(FakeOpenAiClient.layer({ client: { maxRetries: 0 } }))))
})

describe("FakeOpenAiClient.layerInMemory: the same services, driven by TestClock", () => {
  it.effect("a batch completes when the test moves the clock, not before", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(submitAndCount([line(1), line(2)]))
      yield* TestClock.adjust("1 second")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("10 seconds")
      const { done, results } = yield* Fiber.join(fiber)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(results.length, 2)
    }).pipe(Effect.provide(FakeOpenAiClient.layerInMemory())))
})

describe("seeded batches as a user's test sets them up", () => {
  // The code under test: cancels the running batches a team owns, and reports what it did.
  const cancelStale = (team: string) =>
    Effect.gen(function*() {
      const client = yield* BatchClient.BatchClient
      const mine = client.list().pipe(
        Stream.filter((b) => b.metadata?.team === team && (b.status === "in_progress" || b.status === "validating"))
      )
      return yield* Stream.runCollect(Stream.mapEffect(mine, (b) => client.cancel(b.id)))
    })

  it.effect("cancels only the team's running batches, whatever their status was seeded as", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const running = yield* fake.seedBatch({
        status: "in_progress",
        metadata: { team: "search" },
        request_counts: { total: 100, completed: 40, failed: 2 }
      })
      const queued = yield* fake.seedBatch({ status: "validating", metadata: { team: "search" } })
      yield* fake.seedBatch({ status: "completed", metadata: { team: "search" } })
      yield* fake.seedBatch({ status: "in_progress", metadata: { team: "ads" } })
      const cancelled = Chunk.toReadonlyArray(yield* cancelStale("search"))
      assert.deepStrictEqual(cancelled.map((b) => b.id).sort(), [running.id, queued.id].sort())
      assert.deepStrictEqual(cancelled.map((b) => b.status), ["cancelling", "cancelling"])
      const counts = cancelled.find((b) => b.id === running.id)?.request_counts
      assert.deepStrictEqual(counts, { total: 100, completed: 40, failed: 2 })
    }).pipe(Effect.provide(FakeOpenAiClient.layerInMemory())))
})

// The layers give what a user's test asks for, and nothing of their wiring (no HttpClient).
export const socketLayer: Layer.Layer<
  BatchClient.BatchClient | Files.Files | FakeOpenAi.FakeOpenAi,
  HttpServerError.ServeError
> = FakeOpenAiClient.layer()
export const memoryLayer: Layer.Layer<BatchClient.BatchClient | Files.Files | FakeOpenAi.FakeOpenAi> = FakeOpenAiClient
  .layerInMemory()

describe("the testkit's dependence on the client", () => {
  it("only FakeOpenAiClient imports @batchfx/client, so the emulator shares no code with it", () => {
    const src = join(import.meta.dirname, "..", "src")
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"))
    const importers = files.filter((f) => /from "@batchfx\/client/.test(readFileSync(join(src, f), "utf8")))
    assert.deepStrictEqual(importers, ["FakeOpenAiClient.ts"])
    const index = readFileSync(join(src, "index.ts"), "utf8")
    assert.notInclude(index, "FakeOpenAiClient")
  })
})
