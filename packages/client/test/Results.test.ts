import { BatchClient } from "@batchfx/client"
import * as Files from "@batchfx/client/Files"
import * as Results from "@batchfx/client/Results"
import * as Watch from "@batchfx/client/Watch"
import { Jsonl, type RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault, Responder } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Schedule, Schema, Stream, TestClock } from "effect"
import { inMemory, quickRetry, wire } from "./utils.js"

const endpoint = "/v1/chat/completions"

const requests = (n: number, prefix = "req"): Array<RequestLine.BatchRequestLine> =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `${prefix}-${i + 1}`,
    method: "POST",
    url: endpoint,
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i + 1}` }] }
  }))

const fast = { validating: "20 millis", inProgress: "100 millis", finalizing: "20 millis" } as const

const overHttp = (fake: FakeOpenAi.ServerOptions = {}) => wire({ retry: quickRetry(3) }, { durations: fast, ...fake })

const inMem = (fake: FakeOpenAi.Options = {}) => inMemory({}, fake)

/** Uploads, creates and waits (on the real clock) for a batch to finish. */
const runBatch = (lines: ReadonlyArray<RequestLine.BatchRequestLine>) =>
  Effect.gen(function*() {
    const file = yield* Files.upload(lines, { endpoint })
    const created = yield* BatchClient.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
    return yield* Watch.awaitTerminal(created.id, { schedule: Schedule.spaced("20 millis") })
  })

const collect = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.map(Stream.runCollect(stream), Chunk.toReadonlyArray)

const contentRoute = "GET /v1/files/{id}/content" as const

/** The part of a chat completion body the tests read. */
const ChatBody = Schema.Struct({
  model: Schema.String,
  choices: Schema.NonEmptyArray(Schema.Struct({ message: Schema.Struct({ content: Schema.String }) }))
})

const failEvery7th = Responder.failCustomIds(/-\d*7$/)

describe("Results over HTTP", () => {
  it.live("a result body that breaks 3 times mid-way yields every line exactly once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const lines = requests(3000)
      const batch = yield* runBatch(lines)
      assert.strictEqual(batch.status, "completed")
      yield* fake.resetCounters
      // the output file is about 2 MB: cut the first read and the two resumed reads part-way
      yield* fake.scriptFault(contentRoute, 1, Fault.truncatedBody(300_001))
      yield* fake.scriptFault(contentRoute, 2, Fault.truncatedBody(250_007))
      yield* fake.scriptFault(contentRoute, 3, Fault.truncatedBody(123_457))
      const results = yield* collect(Results.stream(batch, { body: ChatBody }))
      const ids = results.map((r) => r.customId)
      assert.strictEqual(ids.length, 3000)
      assert.strictEqual(new Set(ids).size, 3000)
      assert.deepStrictEqual([...ids].sort(), lines.map((l) => l.custom_id).sort())
      // lines are numbered without gaps and positions only grow, across every break
      const output = results.filter((r) => r.position.file === "output")
      assert.deepStrictEqual(output.map((r) => r.position.line), output.map((_, i) => i + 1))
      for (const r of results) {
        if (r._tag === "Succeeded") {
          const n = r.customId.slice("req-".length)
          assert.strictEqual(r.body.choices[0].message.content, `Echo: question ${n}`)
        }
      }
      const counters = (yield* fake.counters).filter((c) => c.route === contentRoute)
      const byStatus = Object.fromEntries(counters.map((c) => [c.status, c.count]))
      // the output file: one full read, then three ranged reads (206) after the three breaks
      assert.strictEqual(byStatus[206], 3)
    }).pipe(Effect.provide(overHttp())))

  it.live("output and error files become one stream of successes and failures", () =>
    Effect.gen(function*() {
      const lines = requests(40)
      const batch = yield* runBatch(lines)
      const results = yield* collect(Results.stream(batch))
      const failed = results.filter((r) => r._tag === "Failed")
      assert.deepStrictEqual(failed.map((r) => r.customId).sort(), ["req-17", "req-27", "req-37", "req-7"])
      for (const f of failed) {
        if (f._tag !== "Failed") continue
        assert.strictEqual(f.statusCode, 400)
        assert.strictEqual(f.position.file, "error")
        assert.match(f.message, /rejected by the emulator/)
      }
      assert.strictEqual(results.filter((r) => r._tag === "Succeeded").length, 36)
      // results come output first, then errors
      const kinds = results.map((r) => r.position.file)
      assert.deepStrictEqual(kinds, [...kinds].sort((a, b) => (a === b ? 0 : a === "output" ? -1 : 1)))
    }).pipe(Effect.provide(overHttp({ failLine: failEvery7th }))))

  it.live("a completed batch where every request failed has no output file, and that is a normal result", () =>
    Effect.gen(function*() {
      const batch = yield* runBatch(requests(5))
      assert.strictEqual(batch.status, "completed")
      assert.isTrue(batch.output_file_id === null || batch.output_file_id === undefined)
      const results = yield* collect(Results.stream(batch))
      assert.deepStrictEqual(results.map((r) => r._tag), ["Failed", "Failed", "Failed", "Failed", "Failed"])
    }).pipe(Effect.provide(overHttp({ failLine: () => true }))))

  it.live("a body that does not match the caller's schema fails naming the file and line", () =>
    Effect.gen(function*() {
      const batch = yield* runBatch(requests(5))
      const Strict = Schema.Struct({ model: Schema.Literal("not-this-model") })
      const error = yield* Effect.flip(Stream.runDrain(Results.stream(batch, { body: Strict })))
      assert.strictEqual(error._tag, "ResultDecodeError")
      if (error._tag !== "ResultDecodeError") return
      assert.strictEqual(error.line, 1)
      assert.strictEqual(error.file, "output")
      assert.match(
        error.message,
        /^Line 1 of the output file file-\S+ \(custom_id req-\d+\) could not be read: response\.body/
      )
    }).pipe(Effect.provide(overHttp())))

  it.live("a read resumes right after a result's position", () =>
    Effect.gen(function*() {
      const batch = yield* runBatch(requests(30))
      const all = yield* collect(Results.stream(batch))
      const tenth = all[9]!
      const rest = yield* collect(Results.stream(batch, { after: tenth.position }))
      assert.deepStrictEqual(rest.map((r) => r.customId), all.slice(10).map((r) => r.customId))
      // after the last output line, only the error file is left
      const lastOutput = all.filter((r) => r.position.file === "output").at(-1)!
      const errorsOnly = yield* collect(Results.stream(batch, { after: lastOutput.position }))
      assert.isTrue(errorsOnly.every((r) => r.position.file === "error"))
      assert.strictEqual(errorsOnly.length, all.filter((r) => r.position.file === "error").length)
    }).pipe(Effect.provide(overHttp({ failLine: failEvery7th }))))

  it.live("join matches results to inputs, reports inputs without result as Missing and foreign results as Unmatched", () =>
    Effect.gen(function*() {
      const lines = requests(20)
      const batch = yield* runBatch(lines)
      const extra = requests(3, "never-sent")
      const inputs = [...lines.slice(1), ...extra] // req-1 is not among the inputs
      const outcomes = yield* collect(Results.join(inputs, Results.stream(batch)))
      const tags = (tag: string) => outcomes.filter((o) => o._tag === tag).map((o) => o.customId).sort()
      assert.deepStrictEqual(tags("Missing"), ["never-sent-1", "never-sent-2", "never-sent-3"])
      assert.deepStrictEqual(tags("Unmatched"), ["req-1"])
      assert.strictEqual(tags("Succeeded").length + tags("Failed").length, 19)
      for (const o of outcomes) {
        if (o._tag === "Succeeded" || o._tag === "Failed") assert.strictEqual(o.input.custom_id, o.customId)
      }
      // missing ones come last, in input order
      assert.deepStrictEqual(outcomes.slice(-3).map((o) => o.customId), [
        "never-sent-1",
        "never-sent-2",
        "never-sent-3"
      ])
    }).pipe(Effect.provide(overHttp({ failLine: failEvery7th }))))
})

/** Runs `effect` in a fiber while the TestClock moves forward a minute at a time. */
const drive = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 300; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust("1 minute")
    }
    return yield* Fiber.join(fiber)
  })

describe("Results under TestClock", () => {
  it.effect("a batch that is not terminal has no results yet", () =>
    Effect.gen(function*() {
      const file = yield* Files.upload(requests(3), { endpoint })
      const created = yield* BatchClient.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
      const error = yield* Effect.flip(Stream.runDrain(Results.streamById(created.id)))
      assert.strictEqual(error._tag, "ResultsNotReady")
    }).pipe(Effect.provide(inMem())))

  it.effect("an expired batch yields its partial results plus batch_expired failures", () =>
    Effect.gen(function*() {
      const lines = requests(10)
      const file = yield* Files.upload(lines, { endpoint })
      const created = yield* BatchClient.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
      const batch = yield* drive(Watch.awaitTerminal(created.id))
      assert.strictEqual(batch.status, "expired")
      const outcomes = yield* collect(Results.join(lines, Results.stream(batch)))
      assert.strictEqual(outcomes.length, 10)
      const expired = outcomes.filter((o) => o._tag === "Failed" && o.code === "batch_expired")
      const done = outcomes.filter((o) => o._tag === "Succeeded")
      assert.isTrue(done.length > 0 && expired.length > 0, `${done.length} done, ${expired.length} expired`)
      assert.strictEqual(done.length + expired.length, 10)
      assert.strictEqual(done.length, batch.request_counts?.completed)
      for (const o of expired) if (o._tag === "Failed") assert.isUndefined(o.statusCode)
    }).pipe(
      Effect.provide(
        inMem({ durations: { inProgress: "2 hours", completionWindow: "1 hour", expiring: "10 minutes" } })
      )
    ))

  it.effect("a cancelled batch yields its partial results", () =>
    Effect.gen(function*() {
      const lines = requests(10)
      const file = yield* Files.upload(lines, { endpoint })
      const created = yield* BatchClient.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
      yield* TestClock.adjust("31 minutes") // validating 1 s, then 3 of 10 requests in 30 minutes
      yield* BatchClient.cancel(created.id)
      const batch = yield* drive(Watch.awaitTerminal(created.id))
      assert.strictEqual(batch.status, "cancelled")
      const outcomes = yield* collect(Results.join(lines, Results.stream(batch)))
      const done = outcomes.filter((o) => o._tag === "Succeeded")
      const cancelled = outcomes.filter((o) => o._tag === "Failed" && o.code === "batch_cancelled")
      assert.isTrue(done.length > 0 && done.length < 10, `${done.length} done`)
      assert.strictEqual(done.length + cancelled.length, 10)
    }).pipe(Effect.provide(inMem({ durations: { inProgress: "100 minutes" } }))))
})

describe("Results.fromText", () => {
  it.effect("a stored line reads as the stream read it, successes and failures alike", () =>
    Effect.gen(function*() {
      const lines = requests(30)
      const file = yield* Files.upload(lines, { endpoint })
      const created = yield* BatchClient.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
      const batch = yield* drive(Watch.awaitTerminal(created.id))
      const streamed = yield* collect(Results.stream(batch, { body: ChatBody }))
      // the same lines, as a store would keep them: text, file and place
      const stored: Array<Results.Result<typeof ChatBody.Type> | Results.ResultDecodeError> = []
      for (const [kind, id] of [["output", batch.output_file_id], ["error", batch.error_file_id]] as const) {
        if (typeof id !== "string") continue
        const splitter = Jsonl.makeLineSplitter()
        const raws = [
          ...(yield* collect(Files.content(id))).flatMap((chunk) => splitter.push(chunk)),
          ...splitter.flush()
        ]
        for (const raw of raws) {
          stored.push(
            Results.fromText(raw.text, { file: kind, fileId: id, line: raw.line, end: raw.end }, { body: ChatBody })
          )
        }
      }
      assert.strictEqual(streamed.length, 30)
      assert.isTrue(streamed.some((r) => r._tag === "Failed") && streamed.some((r) => r._tag === "Succeeded"))
      assert.deepStrictEqual(stored, [...streamed])
    }).pipe(Effect.provide(inMem({ failLine: failEvery7th }))))

  it("a line that is not a result line, or whose body does not match, is a ResultDecodeError naming its place", () => {
    const position = { file: "output", fileId: "file-abc", line: 7, end: 900 } as const
    const notJson = Results.fromText("{\"id\":", position)
    assert.instanceOf(notJson, Results.ResultDecodeError)
    assert.match(
      (notJson as Results.ResultDecodeError).message,
      /^Line 7 of the output file file-abc could not be read: not valid JSON/
    )
    const notResult = Results.fromText(JSON.stringify({ custom_id: "q-1" }), position)
    assert.instanceOf(notResult, Results.ResultDecodeError)
    const line = JSON.stringify({
      id: "batch_req_1",
      custom_id: "q-1",
      response: { status_code: 200, request_id: "req_1", body: { model: 3 } },
      error: null
    })
    assert.strictEqual((Results.fromText(line, position) as Results.Result<unknown>)._tag, "Succeeded")
    const mismatch = Results.fromText(line, position, { body: ChatBody })
    assert.instanceOf(mismatch, Results.ResultDecodeError)
    assert.strictEqual((mismatch as Results.ResultDecodeError).customId, "q-1")
    assert.match((mismatch as Results.ResultDecodeError).reason, /^response\.body: /)
  })
})
