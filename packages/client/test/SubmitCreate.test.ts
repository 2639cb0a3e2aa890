/**
 * Issue 20, points 2 (the create half) and 3 through `Submit`: the batches of a split submission
 * are never doubled when a create's answer is lost and the list lags 30 s, and an input file whose
 * batch was not created is deleted (or kept when asked, or when the batch may exist). Under
 * `TestClock` against the emulator in memory; counted at the server.
 */
import * as Files from "@batchfx/client/Files"
import * as Submit from "@batchfx/client/Submit"
import type { RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Option, Ref, Stream, TestClock } from "effect"
import { inMemory, quickRetry } from "./utils.js"

const chat = "/v1/chat/completions"

const chatLines = (n: number): ReadonlyArray<RequestLine.BatchRequestLine> =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `req-${i + 1}`,
    method: "POST",
    url: chat,
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i + 1}` }] }
  }))

const env = (fake: FakeOpenAi.Options = {}) => inMemory({ retry: quickRetry(3) }, fake)

/** Runs `effect` in a fiber while the TestClock moves forward in `step`s, until it ends. */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.DurationInput = "5 seconds", steps = 400) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < steps; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

const count = (route: FakeOpenAi.Counter["route"]) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.requestCount(route))

// Whether the server still has the file (asked by id: the list may lag).
const fileExists = (id: string) =>
  Effect.flatMap(Files.Files, (files) => files.retrieve(id)).pipe(
    Effect.as(true),
    Effect.catchTag("NotFound", () => Effect.succeed(false))
  )

const metadata16 = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, `v${i}`]))

describe("Submit: creates never doubled, files cleaned up", () => {
  it.effect("3 shards, the 2nd create's answer lost, list lag 30 s: 3 batches, 3 creates, all 5 outcomes", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/batches", 2, Fault.resetAfterHandling)
      const ids = yield* Ref.make<ReadonlySet<string>>(new Set())
      const outcomes = yield* drive(Submit.submitAll(chatLines(5), {
        endpoint: chat,
        limits: { maxLines: 2, maxBytes: 1_000_000 },
        onBatch: (batch) => Ref.update(ids, (all) => new Set([...all, batch.id]))
      }))
      assert.strictEqual(outcomes.length, 5)
      assert.isTrue(outcomes.every((o) => o._tag === "Succeeded"))
      assert.strictEqual((yield* Ref.get(ids)).size, 3)
      assert.strictEqual(yield* count("POST /v1/batches"), 3, "the lost create was found, not sent again")
      assert.strictEqual(yield* count("POST /v1/files"), 3)
      assert.strictEqual(yield* count("DELETE /v1/files/{id}"), 0)
    }).pipe(Effect.provide(env({ listLag: "30 seconds" }))))

  it.effect("a create refused for good: the uploaded file is deleted and the error names it", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.status(400))
      const error = yield* Effect.flip(drive(Submit.submitAll(chatLines(3), { endpoint: chat })))
      assert.strictEqual(error._tag, "CreateFailed")
      if (error._tag !== "CreateFailed") return
      assert.strictEqual(error.error._tag, "BadRequest")
      assert.isFalse(error.maybeCreated)
      assert.strictEqual(error.file, "deleted")
      assert.include(error.message, `The uploaded input file ${error.inputFileId} was deleted.`)
      assert.strictEqual(yield* count("DELETE /v1/files/{id}"), 1)
      assert.isFalse(yield* fileExists(error.inputFileId))
    }).pipe(Effect.provide(env())))

  it.effect("keepFile keeps the file of a create refused for good, and says so", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.status(400))
      const error = yield* Effect.flip(drive(Submit.submitAll(chatLines(3), { endpoint: chat, keepFile: true })))
      assert.strictEqual(error._tag, "CreateFailed")
      if (error._tag !== "CreateFailed") return
      assert.strictEqual(error.file, "kept")
      assert.include(error.message, `The uploaded input file ${error.inputFileId} was kept.`)
      assert.strictEqual(yield* count("DELETE /v1/files/{id}"), 0)
      assert.isTrue(yield* fileExists(error.inputFileId))
    }).pipe(Effect.provide(env())))

  it.effect("no room for the token and the answer lost: the file is kept and the error says how to look", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const error = yield* Effect.flip(drive(Submit.submitAll(chatLines(3), { endpoint: chat, metadata: metadata16 })))
      assert.strictEqual(error._tag, "CreateFailed")
      if (error._tag !== "CreateFailed") return
      assert.isTrue(error.maybeCreated)
      assert.isUndefined(error.clientToken)
      assert.strictEqual(error.file, "kept")
      assert.include(error.message, "The batch may exist: look for a batch with input_file_id")
      assert.include(error.message, "batchfx list")
      assert.include(error.message, `The input file ${error.inputFileId} was kept`)
      assert.strictEqual(yield* count("POST /v1/batches"), 1, "never sent again")
      assert.strictEqual(yield* count("DELETE /v1/files/{id}"), 0)
      assert.isTrue(yield* fileExists(error.inputFileId))
    }).pipe(Effect.provide(env())))

  it.effect("interrupted during a slow create: the file is kept and the token and file id are told", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const files = yield* Files.Files
      const file = yield* files.upload(chatLines(2), { endpoint: chat })
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.slowBody({ chunkBytes: 16, delay: "10 seconds" }))
      const told = yield* Ref.make(Option.none<Submit.CreateInterrupted>())
      const fiber = yield* Effect.fork(Submit.createFromUpload(
        { input_file_id: file.id, endpoint: chat, completion_window: "24h" },
        { timeout: "10 minutes", onInterrupt: (info) => Ref.set(told, Option.some(info)) }
      ))
      yield* TestClock.adjust("15 seconds")
      yield* Fiber.interrupt(fiber)
      const info = Option.getOrThrow(yield* Ref.get(told))
      assert.isTrue(info.maybeCreated)
      assert.strictEqual(info.inputFileId, file.id)
      assert.match(info.clientToken ?? "", /^bfx_[0-9a-f]{32}$/)
      assert.strictEqual(info.file, "kept")
      const sentence = Submit.interruptedMessage(info)
      assert.include(sentence, info.clientToken!)
      assert.include(sentence, file.id)
      assert.strictEqual(yield* count("DELETE /v1/files/{id}"), 0)
      assert.isTrue(yield* fileExists(file.id))
    }).pipe(Effect.provide(env())))

  it.effect("lookupWindow bounds the look for an upload whose answer was lost as well (not the upload's 60 s)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      // reset before it is handled: nothing was stored, so no look can find it
      yield* fake.scriptFault("POST /v1/files", 1, Fault.resetBeforeResponse)
      const fiber = yield* Effect.fork(Submit.submitAll(chatLines(3), { endpoint: chat, lookupWindow: "3 seconds" }))
      // 20 s of the clock: enough for 3 s of looks and the batch (which takes a few seconds), not 60 s
      for (let i = 0; i < 20 && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust("1 second")
      const done = yield* Fiber.poll(fiber)
      assert.isTrue(done._tag === "Some", "the submission is still looking for its upload")
      const outcomes = yield* Fiber.join(fiber)
      assert.strictEqual(outcomes.length, 3)
      assert.strictEqual(yield* count("POST /v1/files"), 2)
      assert.isAtMost(yield* count("GET /v1/files"), 4)
    }).pipe(Effect.provide(env())))

  it.effect("a submission interrupted during a slow create tells onInterrupt the part, token and file", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.scriptFault("POST /v1/batches", 2, Fault.slowBody({ chunkBytes: 16, delay: "10 seconds" }))
      const told = yield* Ref.make<ReadonlyArray<readonly [Submit.CreateInterrupted, Submit.PartInfo]>>([])
      const created: Array<string> = []
      const fiber = yield* Effect.fork(Stream.runDrain(Submit.submit(chatLines(4), {
        endpoint: chat,
        limits: { maxLines: 2 },
        call: { timeout: "10 minutes" },
        onBatch: (batch) => Effect.sync(() => created.push(batch.id)),
        onInterrupt: (info, part) => Ref.update(told, (all) => [...all, [info, part] as const])
      })))
      // part 1 is created at once; part 2's create answers 16 bytes every 10 seconds
      for (let i = 0; i < 3; i++) yield* TestClock.adjust("5 seconds")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(created.length, 1)
      const calls = yield* Ref.get(told)
      assert.strictEqual(calls.length, 1)
      const [info, part] = calls[0]!
      assert.deepStrictEqual([part.part, part.parts, part.firstLine, part.lines], [2, 2, 3, 2])
      assert.isTrue(info.maybeCreated)
      assert.match(info.clientToken ?? "", /^bfx_[0-9a-f]{32}$/)
      assert.strictEqual(info.file, "kept")
      assert.isTrue(yield* fileExists(info.inputFileId))
      assert.strictEqual(yield* count("POST /v1/batches"), 2)
    }).pipe(Effect.provide(env())))
})
