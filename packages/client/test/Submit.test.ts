import * as Files from "@batchfx/client/Files"
import * as Results from "@batchfx/client/Results"
import * as Submit from "@batchfx/client/Submit"
import type { Batch, RequestLine } from "@batchfx/core"
import { FakeOpenAi, Responder } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, type Duration, Effect, Fiber, Ref, Schema, Stream, TestClock } from "effect"
import { inMemory } from "./utils.js"

const chat = "/v1/chat/completions"

const chatLine = (i: number, prefix = "req"): RequestLine.BatchRequestLine => ({
  custom_id: `${prefix}-${i}`,
  method: "POST",
  url: chat,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i}` }] }
})

const chatLines = (n: number) => Array.from({ length: n }, (_, i) => chatLine(i + 1))

const env = (fake: FakeOpenAi.Options = {}) => inMemory({}, fake)

/** Runs `effect` in a fiber while the TestClock moves forward in `step`s. */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>, step: Duration.DurationInput = "1 second", steps = 600) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < steps; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.join(fiber)
  })

const count = (route?: FakeOpenAi.Counter["route"]) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.requestCount(route))

const ChatBody = Schema.Struct({
  choices: Schema.NonEmptyArray(Schema.Struct({ message: Schema.Struct({ content: Schema.String }) }))
})

describe("Submit", () => {
  it.effect("a submit of 1,000 lines runs to completed and yields 1,000 outcomes joined to their inputs", () =>
    Effect.gen(function*() {
      const lines = chatLines(1000)
      const seen = yield* Ref.make<ReadonlyArray<Batch.Batch>>([])
      const outcomes = yield* drive(
        Submit.submitAll(lines, {
          endpoint: chat,
          metadata: { project: "acceptance" },
          body: ChatBody,
          onBatch: (batch) => Ref.update(seen, (all) => [...all, batch])
        })
      )
      assert.strictEqual(outcomes.length, 1000)
      const ids = new Set(outcomes.map((o) => o.customId))
      assert.strictEqual(ids.size, 1000)
      for (const o of outcomes) {
        assert.strictEqual(o._tag, "Succeeded")
        if (o._tag !== "Succeeded") continue
        assert.strictEqual(o.input.custom_id, o.customId)
        const question = (o.input.body.messages as ReadonlyArray<{ content: string }>)[0]!.content
        assert.strictEqual(o.body.choices[0].message.content, `Echo: ${question}`)
      }
      const batches = yield* Ref.get(seen)
      assert.strictEqual(new Set(batches.map((b) => b.id)).size, 1)
      assert.strictEqual(batches[0]!.status, "validating")
      assert.strictEqual(batches.at(-1)!.status, "completed")
      assert.strictEqual(batches[0]!.metadata?.project, "acceptance")
      assert.strictEqual(yield* count("POST /v1/files"), 1)
      assert.strictEqual(yield* count("POST /v1/batches"), 1)
    }).pipe(Effect.provide(env())))

  it.effect("a file with 3 bad lines fails locally with the 3 line numbers and the emulator saw no upload", () =>
    Effect.gen(function*() {
      const lines = chatLines(100)
      lines[11] = { ...lines[11]!, custom_id: "req-3" }
      lines[41] = { ...lines[41]!, url: "/v1/completions" }
      lines[90] = { ...lines[90]!, body: { ...lines[90]!.body, stream: true } }
      const error = yield* Effect.flip(Stream.runDrain(Submit.submit(lines, { endpoint: chat })))
      assert.strictEqual(error._tag, "InputError")
      if (error._tag !== "InputError") return
      assert.deepStrictEqual(Files.problemLines(error), [12, 42, 91])
      assert.strictEqual(yield* count("POST /v1/files"), 0)
      assert.strictEqual(yield* count("POST /v1/batches"), 0)
      assert.strictEqual(yield* count(), 0)
    }).pipe(Effect.provide(env())))

  it.effect("invalid metadata is refused before anything is uploaded", () =>
    Effect.gen(function*() {
      const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]))
      const error = yield* Effect.flip(Stream.runDrain(Submit.submit(chatLines(3), { endpoint: chat, metadata })))
      assert.strictEqual(error._tag, "InvalidParams")
      assert.strictEqual(yield* count(), 0)
    }).pipe(Effect.provide(env())))

  it.effect(
    "a 60,000-line input becomes 2 batches and one merged stream of 60,000 outcomes",
    () =>
      Effect.gen(function*() {
        const lines = Array.from({ length: 60_000 }, (_, i): RequestLine.BatchRequestLine => ({
          custom_id: `e-${i + 1}`,
          method: "POST",
          url: "/v1/embeddings",
          body: { model: "text-embedding-3-small", input: `t${i}`, dimensions: 1 }
        }))
        const created = yield* Ref.make<ReadonlyArray<readonly [Batch.Batch, Submit.PartInfo]>>([])
        const ids = new Set<string>()
        let outcomes = 0
        let succeeded = 0
        yield* drive(
          Submit.submit(Stream.fromIterable(lines), {
            endpoint: "/v1/embeddings",
            onBatch: (batch, part) =>
              batch.status === "validating"
                ? Ref.update(created, (all) => [...all, [batch, part] as const])
                : Effect.void
          }).pipe(Stream.runForEach((o) =>
            Effect.sync(() => {
              outcomes++
              ids.add(o.customId)
              if (o._tag === "Succeeded") succeeded++
            })
          ))
        )
        assert.strictEqual(outcomes, 60_000)
        assert.strictEqual(ids.size, 60_000)
        assert.strictEqual(succeeded, 60_000)
        const parts = yield* Ref.get(created)
        assert.deepStrictEqual(parts.map(([, p]) => [p.part, p.parts, p.firstLine, p.lines]), [
          [1, 2, 1, 50_000],
          [2, 2, 50_001, 10_000]
        ])
        assert.deepStrictEqual(parts.map(([b]) => b.metadata?.batchfx_part), ["1/2", "2/2"])
        assert.strictEqual(yield* count("POST /v1/batches"), 2)
      }).pipe(Effect.provide(env())),
    120_000
  )

  it.effect("a byte limit splits too, and the results of every part merge", () =>
    Effect.gen(function*() {
      const lines = chatLines(300)
      const partsSeen = new Set<number>()
      const outcomes = yield* drive(
        Submit.submitAll(lines, {
          endpoint: chat,
          limits: { maxBytes: 10_000 },
          onBatch: (_, part) => Effect.sync(() => partsSeen.add(part.parts))
        })
      )
      assert.strictEqual(outcomes.length, 300)
      const [parts] = [...partsSeen]
      assert.isTrue(parts !== undefined && parts >= 5, `${parts} parts`)
      assert.strictEqual(yield* count("POST /v1/batches"), parts)
    }).pipe(Effect.provide(env())))

  it.effect("multi-byte text is counted in UTF-8 bytes, and the batches are the parts planParts plans", () =>
    Effect.gen(function*() {
      // 2-, 3- and 4-byte characters: each line is far longer in bytes than in UTF-16 units
      const lines = Array.from({ length: 40 }, (_, i) => ({
        ...chatLine(i + 1, "utf8"),
        body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `é€😀 ${"ü漢🎉".repeat(i % 7 + 5)}` }] }
      }))
      const encoder = new TextEncoder()
      const sizes = lines.map((l) => encoder.encode(JSON.stringify(l) + "\n").length)
      const units = lines.map((l) => JSON.stringify(l).length + 1)
      const maxBytes = 2_000
      // counted in UTF-16 units the input would fit in fewer parts than in bytes
      const planned = Submit.planParts(sizes, { maxLines: 50_000, maxBytes })
      assert.isBelow(Submit.planParts(units, { maxLines: 50_000, maxBytes }).length, planned.length)
      const seen = new Map<number, Submit.PartInfo>()
      const outcomes = yield* drive(
        Submit.submitAll(lines, {
          endpoint: chat,
          limits: { maxBytes },
          onBatch: (_, part) => Effect.sync(() => seen.set(part.part, part))
        })
      )
      assert.strictEqual(outcomes.filter(Results.isSucceeded).length, 40)
      assert.deepStrictEqual(
        [...seen.values()].sort((a, b) => a.part - b.part).map(({ parts: _, ...p }) => p),
        [...planned]
      )
      assert.strictEqual(yield* count("POST /v1/batches"), planned.length)
    }).pipe(Effect.provide(env())))

  it.effect("a line alone over the byte limit fails with InputError naming it, and nothing is uploaded", () =>
    Effect.gen(function*() {
      const lines = [chatLine(1), { ...chatLine(2), body: { model: "gpt-4o-mini", input: "x".repeat(3_000) } }]
      const error = yield* Effect.flip(
        Submit.submitAll(lines, { endpoint: chat, limits: { maxBytes: 2_000 } })
      )
      assert.strictEqual(error._tag, "InputError")
      if (error._tag !== "InputError") return
      assert.deepStrictEqual(error.problems.map((p) => [p.line, p.code]), [[2, "line_too_large"]])
      assert.match(error.message, /line 2: This line takes \d+ bytes, more than the 2000 bytes of a whole batch input/i)
      assert.strictEqual(yield* count(), 0)
    }).pipe(Effect.provide(env())))

  it.effect("outputExpiresAfter goes with every batch: each part's output file expires that long after it was made", () =>
    Effect.gen(function*() {
      const final = new Map<number, Batch.Batch>()
      const outcomes = yield* drive(
        Submit.submitAll(chatLines(5), {
          endpoint: chat,
          limits: { maxLines: 3 },
          outputExpiresAfter: { anchor: "created_at", seconds: 7_200 },
          onBatch: (batch, part) => Effect.sync(() => final.set(part.part, batch))
        })
      )
      assert.strictEqual(outcomes.filter(Results.isSucceeded).length, 5)
      assert.deepStrictEqual([...final.keys()].sort(), [1, 2])
      for (const batch of final.values()) {
        const output = yield* Files.retrieve(batch.output_file_id ?? "none")
        assert.strictEqual(output.purpose, "batch_output")
        assert.strictEqual((output.expires_at ?? 0) - output.created_at, 7_200)
      }
    }).pipe(Effect.provide(env())))

  it.effect("an outputExpiresAfter out of the API's range is refused before anything is sent", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Submit.submitAll(chatLines(2), { endpoint: chat, outputExpiresAfter: { anchor: "created_at", seconds: 60 } })
      )
      assert.strictEqual(error._tag, "InvalidParams")
      assert.match(error.message, /output_expires_after\.seconds must be an integer from 3600/)
      assert.strictEqual(yield* count(), 0)
    }).pipe(Effect.provide(env())))

  it.effect("an expired batch yields its partial results plus batch_expired outcomes", () =>
    Effect.gen(function*() {
      const outcomes = yield* drive(Submit.submitAll(chatLines(20), { endpoint: chat }), "1 minute", 300)
      assert.strictEqual(outcomes.length, 20)
      const done = outcomes.filter((o) => o._tag === "Succeeded").length
      const expired = outcomes.filter((o) => o._tag === "Failed" && o.code === "batch_expired").length
      assert.isTrue(done > 0 && expired > 0, `${done} done, ${expired} expired`)
      assert.strictEqual(done + expired, 20)
    }).pipe(
      Effect.provide(env({ durations: { inProgress: "2 hours", completionWindow: "1 hour", expiring: "10 minutes" } }))
    ))

  it.effect("failed requests are outcomes too, joined to their inputs", () =>
    Effect.gen(function*() {
      const outcomes = yield* drive(Submit.submitAll(chatLines(30), { endpoint: chat }))
      const failed = outcomes.filter((o) => o._tag === "Failed")
      assert.deepStrictEqual(failed.map((o) => o.customId).sort(), ["req-1", "req-10", "req-11", "req-12"].sort())
      for (const o of failed) if (o._tag === "Failed") assert.strictEqual(o.statusCode, 400)
    }).pipe(Effect.provide(env({ failLine: Responder.failCustomIds(/^req-1[0-2]?$/) }))))

  it.effect("a batch refused by the server fails the submission with BatchFailed", () =>
    Effect.gen(function*() {
      const error = yield* drive(Effect.flip(Submit.submitAll(chatLines(10), { endpoint: chat })))
      assert.strictEqual(error._tag, "BatchFailed")
      if (error._tag !== "BatchFailed") return
      assert.isTrue(error.errors.length > 0)
      assert.match(error.message, /failed on the server/)
    }).pipe(Effect.provide(env({ inputLimits: { maxLines: 5 } }))))

  it.effect("interrupted with cancelOnInterrupt: true, the remote batch is cancelled", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const ids: Array<string> = []
      const fiber = yield* Effect.fork(
        Stream.runDrain(Submit.submit(chatLines(10), {
          endpoint: chat,
          cancelOnInterrupt: true,
          onBatch: (b) => Effect.sync(() => ids.push(b.id))
        }))
      )
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      assert.isTrue(ids.length > 0)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* count("POST /v1/batches/{id}/cancel"), 1)
      const counters = yield* fake.counters
      assert.isTrue(counters.some((c) => c.route === "POST /v1/batches/{id}/cancel" && c.status === 200))
    }).pipe(Effect.provide(env({ durations: { inProgress: "1 hour" } }))))

  it.effect("interrupted without cancelOnInterrupt, the remote batch runs on", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Stream.runDrain(Submit.submit(chatLines(10), { endpoint: chat })))
      for (let i = 0; i < 10; i++) yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* count("POST /v1/batches"), 1)
      assert.strictEqual(yield* count("POST /v1/batches/{id}/cancel"), 0)
    }).pipe(Effect.provide(env({ durations: { inProgress: "1 hour" } }))))

  it.effect("a consumer that stops early with cancelOnInterrupt cancels nothing that already finished", () =>
    Effect.gen(function*() {
      const first = yield* drive(
        Stream.runCollect(
          Submit.submit(chatLines(10), { endpoint: chat, cancelOnInterrupt: true }).pipe(Stream.take(3))
        )
      )
      assert.strictEqual(Chunk.size(first), 3)
      // the batch was terminal when its results were read, so there was nothing to cancel
      assert.strictEqual(yield* count("POST /v1/batches/{id}/cancel"), 0)
    }).pipe(Effect.provide(env())))

  it.effect("Results.isSucceeded narrows an outcome", () =>
    Effect.gen(function*() {
      const outcomes = yield* drive(Submit.submitAll(chatLines(2), { endpoint: chat }))
      assert.strictEqual(outcomes.filter(Results.isSucceeded).length, 2)
    }).pipe(Effect.provide(env())))
})
