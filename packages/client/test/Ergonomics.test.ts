// What a user's code looks like: each point here is one that tripped a user who installed the
// packages into an app of their own.
import { BatchClient, Bulk, JsonlFile, Submit } from "@batchfx/client"
import type { BatchClientError } from "@batchfx/client"
import { FakeOpenAi } from "@batchfx/testkit"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Layer, Schedule, Stream, TestClock } from "effect"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inMemory } from "./utils.js"

describe("bulk operations take the ids a user has", () => {
  it.effect("a listing's ids go straight into retrieveMany, its errors and needs passed through", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(12)
      const client = yield* BatchClient.BatchClient
      const ids = client.list({ limit: 5 }).pipe(Stream.map((batch) => batch.id))
      const outcomes: Stream.Stream<Bulk.Outcome<unknown>, BatchClientError.BatchClientError, BatchClient.BatchClient> =
        Bulk.retrieveMany(ids, { concurrency: 4 })
      const all = Chunk.toReadonlyArray(yield* Stream.runCollect(outcomes))
      assert.strictEqual(all.length, 12)
      assert.isTrue(all.every((o) => o._tag === "Succeeded"))
    }).pipe(Effect.provide(inMemory())))

  it.effect("a stream's own failure ends the bulk stream with that failure", () =>
    Effect.gen(function*() {
      class NoMoreIds {
        readonly _tag = "NoMoreIds"
      }
      const ids = Stream.concat(Stream.make("batch_unknown"), Stream.fail(new NoMoreIds()))
      const error = yield* Effect.flip(Stream.runDrain(Bulk.cancelMany(ids)))
      assert.instanceOf(error, NoMoreIds)
    }).pipe(Effect.provide(inMemory())))

  it.effect("an array of ids needs nothing more", () =>
    Effect.gen(function*() {
      const outcomes = yield* Stream.runCollect(Bulk.retrieveMany(["batch_missing"]))
      assert.strictEqual(Chunk.unsafeHead(outcomes)._tag, "Failed")
    }).pipe(Effect.provide(inMemory())))
})

describe("errors a user prints", () => {
  it.effect("QuotaExhausted says it in one sentence, with the request id; the API's text stays in apiMessage", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.configure({ quotaExhausted: true })
      const error = yield* Effect.flip(client.retrieve("batch_1"))
      assert.strictEqual(error._tag, "QuotaExhausted")
      if (error._tag !== "QuotaExhausted") return
      const [sentence, requestId] = error.message.split(" (request id ")
      assert.match(
        sentence!,
        /^The quota is exhausted; check the plan and billing details \(HTTP 429 on GET [^)]+\)\.$/
      )
      assert.match(requestId!, /^req_\w+\)$/)
      assert.isAbove((error.apiMessage ?? "").length, 0)
    }).pipe(Effect.provide(inMemory())))
})

describe("JSONL files on streams", () => {
  const dir = () => mkdtempSync(join(tmpdir(), "batchfx-jsonl-"))
  const line = (n: number) => ({
    custom_id: `q-${n}`,
    method: "POST" as const,
    url: "/v1/chat/completions",
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${n}` }] }
  })

  it.scoped("a stream runs into a file of JSON lines, which comes back as typed request lines", () =>
    Effect.gen(function*() {
      const path = join(dir(), "requests.jsonl")
      const written = yield* Stream.range(1, 250).pipe(Stream.map(line), Stream.run(JsonlFile.sink(path)))
      assert.strictEqual(written, 250)
      assert.strictEqual(readFileSync(path, "utf8").split("\n").length, 251)
      const back = Chunk.toReadonlyArray(yield* Stream.runCollect(JsonlFile.requestLines(path)))
      assert.deepStrictEqual(back.map((l) => l.custom_id), Array.from({ length: 250 }, (_, i) => `q-${i + 1}`))
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("an existing file is kept unless overwrite is asked for", () =>
    Effect.gen(function*() {
      const path = join(dir(), "kept.jsonl")
      writeFileSync(path, "precious\n")
      const error = yield* Effect.flip(Stream.run(Stream.make(line(1)), JsonlFile.sink(path)))
      assert.strictEqual(error._tag, "JsonlFileError")
      assert.include(error.message, "already exists")
      assert.strictEqual(readFileSync(path, "utf8"), "precious\n")
      yield* Stream.run(Stream.make(line(1)), JsonlFile.sink(path, { overwrite: true }))
      assert.include(readFileSync(path, "utf8"), "q-1")
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("a stream that fails midway leaves no file, partial or temporary", () =>
    Effect.gen(function*() {
      const folder = dir()
      const path = join(folder, "never.jsonl")
      const failing = Stream.concat(Stream.range(1, 10).pipe(Stream.map(line)), Stream.fail("broken" as const))
      const error = yield* Effect.flip(Stream.run(failing, JsonlFile.sink(path)))
      assert.strictEqual(error, "broken")
      assert.deepStrictEqual(readdirSync(folder), [])
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.scoped("a bad line fails the read with its line number", () =>
    Effect.gen(function*() {
      const path = join(dir(), "bad.jsonl")
      writeFileSync(path, `${JSON.stringify(line(1))}\n\n{"custom_id": 3}\n`)
      const error = yield* Effect.flip(Stream.runDrain(JsonlFile.requestLines(path)))
      assert.strictEqual(error._tag, "JsonlLineError")
      if (error._tag === "JsonlLineError") assert.strictEqual(error.line, 3)
    }).pipe(Effect.provide(NodeFileSystem.layer)))

  it.effect("Submit takes the request lines of a file", () =>
    Effect.gen(function*() {
      const path = join(dir(), "submit.jsonl")
      writeFileSync(path, Array.from({ length: 20 }, (_, i) => JSON.stringify(line(i + 1))).join("\n") + "\n")
      const outcomes = yield* Submit.submit(JsonlFile.requestLines(path), {
        endpoint: "/v1/chat/completions",
        watch: { schedule: Schedule.spaced("1 minute") }
      }).pipe(Stream.runCollect, Effect.fork)
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("1 minute")
      const all = Chunk.toReadonlyArray(yield* Fiber.join(outcomes))
      assert.strictEqual(all.length, 20)
      assert.isTrue(all.every((o) => o._tag === "Succeeded"))
    }).pipe(Effect.provide(Layer.merge(inMemory(), NodeFileSystem.layer))))
})

describe("each operation's error type lists only what it can fail with", () => {
  type ErrorOf<F extends (...args: ReadonlyArray<never>) => Effect.Effect<unknown, unknown, unknown>> =
    Effect.Effect.Error<ReturnType<F>>
  type Tags<E> = E extends { readonly _tag: infer T } ? T : never

  it("retrieve and cancel cannot fail with PaginationError; a listing and create can", () => {
    const retrieveCanPaginate: "PaginationError" extends Tags<ErrorOf<BatchClient.Service["retrieve"]>> ? true
      : false = false
    const cancelCanPaginate: "PaginationError" extends Tags<ErrorOf<BatchClient.Service["cancel"]>> ? true : false =
      false
    const createCanPaginate: "PaginationError" extends Tags<ErrorOf<BatchClient.Service["create"]>> ? true : false =
      true
    assert.deepStrictEqual([retrieveCanPaginate, cancelCanPaginate, createCanPaginate], [false, false, true])
  })

  it.effect("catchTags over retrieve's errors is exhaustive with no dead branch", () =>
    Effect.gen(function*() {
      const client = yield* BatchClient.BatchClient
      const said: Effect.Effect<string> = client.retrieve("batch_missing").pipe(
        Effect.map(() => "found"),
        Effect.catchTags({
          NotFound: () => Effect.succeed("no such batch"),
          InvalidParams: (e) => Effect.succeed(e.message),
          BadRequest: (e) => Effect.succeed(e.message),
          Authentication: (e) => Effect.succeed(e.message),
          PermissionDenied: (e) => Effect.succeed(e.message),
          Conflict: (e) => Effect.succeed(e.message),
          Unprocessable: (e) => Effect.succeed(e.message),
          RateLimited: (e) => Effect.succeed(e.message),
          QuotaExhausted: (e) => Effect.succeed(e.message),
          ServerError: (e) => Effect.succeed(e.message),
          ConnectionError: (e) => Effect.succeed(e.message),
          TimeoutError: (e) => Effect.succeed(e.message),
          ResponseDecodeError: (e) => Effect.succeed(e.message)
        })
      )
      assert.strictEqual(yield* said, "no such batch")
    }).pipe(Effect.provide(inMemory())))
})
