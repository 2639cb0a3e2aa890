import { ApiError, Batch, BatchPage, Jsonl, ResultLine } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema, TestClock } from "effect"
import { api, chatLines, createBatch, getJson, live, postEmpty, upload, withKnobs } from "./helpers.js"

const decodeError = Schema.decodeUnknownSync(ApiError.ApiErrorBody)
const decodePage = Schema.decodeUnknownSync(BatchPage.BatchPage)

describe("rate limits and quota", () => {
  it.effect("429 rate_limit_exceeded with the real body and x-ratelimit, retry-after and retry-after-ms headers", () =>
    Effect.gen(function*() {
      const first = yield* getJson("/batches")
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.headers["x-ratelimit-limit-requests"], "2")
      assert.strictEqual(first.headers["x-ratelimit-remaining-requests"], "1")
      assert.strictEqual(first.headers["x-ratelimit-reset-requests"], "1m0s")
      yield* TestClock.adjust("1428 millis")
      const second = yield* getJson("/files")
      assert.strictEqual(second.headers["x-ratelimit-remaining-requests"], "0")
      assert.strictEqual(second.headers["x-ratelimit-reset-requests"], "58.572s")
      yield* TestClock.adjust("58 seconds")
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after"], "1")
      assert.strictEqual(limited.headers["retry-after-ms"], "572")
      assert.strictEqual(limited.headers["x-ratelimit-reset-requests"], "572ms")
      assert.strictEqual(limited.headers["x-ratelimit-remaining-requests"], "0")
      assert.match(limited.headers["x-request-id"] ?? "", /^req_/)
      const e = decodeError(limited.json).error
      assert.strictEqual(e.type, "requests")
      assert.strictEqual(e.code, "rate_limit_exceeded")
      assert.strictEqual(e.param, null)
      assert.include(e.message, "Rate limit reached for requests")
      yield* TestClock.adjust("572 millis")
      const after = yield* getJson("/batches")
      assert.strictEqual(after.status, 200)
      assert.strictEqual(after.headers["x-ratelimit-remaining-requests"], "1")
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory({ rateLimit: { requests: 2, window: "1 minute" } }))))

  it.live("the same over a real socket, then without headers, then quota exhausted", () =>
    Effect.gen(function*() {
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push((yield* getJson("/batches")).status)
      assert.deepStrictEqual(statuses, [200, 200, 200, 429])
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      assert.match(limited.headers["retry-after"] ?? "", /^\d+$/)
      assert.match(limited.headers["retry-after-ms"] ?? "", /^\d+$/)
      assert.match(limited.headers["x-ratelimit-reset-requests"] ?? "", /^[\d.]+(ms|s|m)/)
      assert.strictEqual(decodeError(limited.json).error.code, "rate_limit_exceeded")
      const bare = yield* Effect.scoped(Effect.zipRight(
        withKnobs({ rateLimit: { requests: 0, window: "1 hour", headers: false } }),
        getJson("/files")
      ))
      assert.strictEqual(bare.status, 429)
      assert.match(bare.headers["retry-after"] ?? "", /^\d+$/)
      assert.strictEqual(bare.headers["x-ratelimit-limit-requests"], undefined)
      const quota = yield* Effect.scoped(
        Effect.zipRight(withKnobs({ rateLimit: undefined, quotaExhausted: true }), getJson("/batches"))
      )
      assert.strictEqual(quota.status, 429)
      assert.strictEqual(decodeError(quota.json).error.type, "insufficient_quota")
      assert.strictEqual(quota.headers["retry-after"], undefined)
    }).pipe(Effect.provide(live({ rateLimit: { requests: 3, window: "1 hour" } }))))

  it.effect("without rate-limit headers, as the batch endpoints behave: 429 still carries retry-after", () =>
    Effect.gen(function*() {
      const ok = yield* getJson("/batches")
      assert.strictEqual(ok.status, 200)
      assert.strictEqual(ok.headers["x-ratelimit-limit-requests"], undefined)
      const limited = yield* getJson("/batches")
      assert.strictEqual(limited.status, 429)
      assert.strictEqual(limited.headers["retry-after"], "10")
      assert.strictEqual(limited.headers["retry-after-ms"], "10000")
      for (const h of ["x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"]) {
        assert.strictEqual(limited.headers[h], undefined, h)
      }
    }).pipe(
      Effect.provide(FakeOpenAi.layerInMemory({ rateLimit: { requests: 1, window: "10 seconds", headers: false } }))
    ))

  it.effect("quota exhausted: 429 insufficient_quota without retry-after; configurable at run time", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* getJson("/batches")).status, 200)
      const res = yield* Effect.scoped(Effect.zipRight(withKnobs({ quotaExhausted: true }), getJson("/batches")))
      assert.strictEqual(res.status, 429)
      assert.strictEqual(res.headers["retry-after"], undefined)
      assert.strictEqual(res.headers["retry-after-ms"], undefined)
      const e = decodeError(res.json).error
      assert.strictEqual(e.type, "insufficient_quota")
      assert.strictEqual(e.code, "insufficient_quota")
      assert.include(e.message, "You exceeded your current quota")
      assert.strictEqual((yield* getJson("/batches")).status, 200)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})

describe("latency, listing quirks and seeding", () => {
  it.effect("latency delays every answer on the Clock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(getJson("/batches"))
      yield* TestClock.adjust("299 millis")
      assert.strictEqual((yield* Fiber.poll(fiber))._tag, "None")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(fiber)).status, 200)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory({ latency: "300 millis" }))))

  it.effect("a stuck cursor ignores after; omitHasMore leaves has_more out", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(10)
      const first = decodePage((yield* getJson("/batches?limit=3")).json)
      const next = `/batches?limit=3&after=${first.last_id}`
      const again = decodePage(
        (yield* Effect.scoped(Effect.zipRight(withKnobs({ stuckCursor: true }), getJson(next)))).json
      )
      assert.deepStrictEqual(again.data.map((b) => b.id), first.data.map((b) => b.id))
      const res = yield* Effect.scoped(Effect.zipRight(withKnobs({ omitHasMore: true }), getJson(next)))
      assert.isFalse("has_more" in res.json)
      assert.strictEqual(decodePage(res.json).data[0]?.id, "batch_5eed0000000000000000000000000003")
      const restored = decodePage((yield* getJson(next)).json)
      assert.strictEqual(restored.has_more, true)
      assert.strictEqual(restored.data[0]?.id, "batch_5eed0000000000000000000000000003")
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("listLag: lists leave out batches and files newer than the lag; retrieve finds them at once", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(2)
      const oldFile = yield* upload(chatLines(["a"]))
      const old = (yield* createBatch(oldFile)).json.id as string
      yield* TestClock.adjust("40 seconds")
      yield* fake.configure({ listLag: "30 seconds" })
      const newFile = yield* upload(chatLines(["b"]))
      const created = (yield* createBatch(newFile)).json.id as string
      const ids = (path: string) =>
        Effect.map(getJson(path), (r) => (r.json.data as Array<{ id: string }>).map((x) => x.id))
      assert.strictEqual((yield* getJson(`/batches/${created}`)).status, 200)
      const listed = yield* ids("/batches")
      assert.deepStrictEqual(listed.slice(0, 1), [old])
      assert.strictEqual(listed.length, 3)
      // a cursor at the hidden batch starts from the newest visible one
      assert.deepStrictEqual(yield* ids(`/batches?after=${created}&limit=1`), [old])
      assert.deepStrictEqual((yield* ids("/files?purpose=batch")).includes(newFile), false)
      assert.deepStrictEqual((yield* ids("/files?purpose=batch")).includes(oldFile), true)
      yield* TestClock.adjust("29 seconds")
      assert.notInclude(yield* ids("/batches"), created)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual((yield* ids("/batches")).slice(0, 2), [created, old])
      assert.include(yield* ids("/files?purpose=batch"), newFile)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("seeded batches page consistently newest first after the created ones, and can be retrieved", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* TestClock.adjust("1000 days")
      yield* fake.seedBatches(1_000)
      const created = yield* createBatch("file-unknown")
      const ids: Array<string> = []
      const created_at: Array<number> = []
      let after: string | undefined
      for (let page = 0; page < 20; page++) {
        const res = decodePage(
          (yield* getJson(`/batches?limit=100${after === undefined ? "" : `&after=${after}`}`)).json
        )
        ids.push(...res.data.map((b) => b.id))
        created_at.push(...res.data.map((b) => b.created_at))
        after = res.last_id ?? undefined
        if (res.has_more !== true) break
      }
      assert.strictEqual(ids.length, 1_001)
      assert.strictEqual(new Set(ids).size, 1_001)
      assert.strictEqual(ids[0], created.json.id)
      assert.deepStrictEqual(created_at, [...created_at].sort((a, b) => b - a))
      const one = yield* getJson(`/batches/${ids[500]}`)
      assert.strictEqual(one.status, 200)
      const b = Schema.decodeUnknownSync(Batch.Batch)(one.json)
      assert.strictEqual(b.id, ids[500])
      assert.isTrue(["completed", "failed", "expired", "cancelled"].includes(b.status))
      const beyond = yield* getJson("/batches/batch_5eed00000000000000000000000003e8") // index 1000
      assert.strictEqual(beyond.status, 404)
      const cancel = yield* postEmpty(`/batches/${ids[1]}/cancel`)
      assert.strictEqual(cancel.status, 409)
      const statuses = new Set<string>()
      for (let i = 1; i <= 40; i++) {
        statuses.add(Schema.decodeUnknownSync(Batch.Batch)((yield* getJson(`/batches/${ids[i]}`)).json).status)
      }
      assert.deepStrictEqual([...statuses].sort(), ["cancelled", "completed", "expired", "failed"])
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})

describe("seeded files", () => {
  it.effect("the files of seeded batches are generated on demand and agree with their counts", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(40)
      const batch = (i: number) =>
        Effect.map(
          getJson(`/batches/batch_5eed${i.toString(16).padStart(28, "0")}`),
          (r) => Schema.decodeUnknownSync(Batch.Batch)(r.json)
        )
      const lines = (id: string) =>
        Effect.flatMap(
          Effect.flatMap(api, (client) => Effect.flatMap(client.get(`/files/${id}/content`), (r) => r.text)),
          Jsonl.decodeLines(ResultLine.BatchResultLine)
        )
      const completed = yield* batch(0)
      assert.strictEqual(completed.status, "completed")
      const out = yield* lines(completed.output_file_id!)
      assert.strictEqual(out.length, completed.request_counts?.completed)
      assert.isTrue(out.every(ResultLine.isSuccess))
      const file = yield* getJson(`/files/${completed.output_file_id}`)
      assert.strictEqual(file.json.purpose, "batch_output")
      const input = yield* getJson(`/files/${completed.input_file_id}`)
      assert.strictEqual(input.json.purpose, "batch")

      const withFailures = yield* batch(19)
      const errors = yield* lines(withFailures.error_file_id!)
      assert.strictEqual(errors.length, withFailures.request_counts?.failed)
      assert.isTrue(errors.every((l) => l.response?.status_code === 400))

      const expired = yield* batch(17)
      assert.strictEqual(expired.status, "expired")
      const expiredErrors = yield* lines(expired.error_file_id!)
      const counts = expired.request_counts!
      assert.strictEqual(expiredErrors.length, counts.total - counts.completed)
      assert.isTrue(expiredErrors.every((l) => l.error?.code === "batch_expired"))

      const failed = yield* batch(16)
      assert.strictEqual(failed.output_file_id, null)
      assert.strictEqual(failed.error_file_id, null)

      const reused = yield* createBatch(completed.input_file_id)
      assert.strictEqual(reused.status, 200)
      const del = yield* Effect.flatMap(api, (client) => client.del(`/files/${completed.output_file_id}`))
      assert.strictEqual(del.status, 200)
      assert.strictEqual((yield* getJson(`/files/${completed.output_file_id}`)).status, 404)
      assert.strictEqual((yield* getJson("/files/file-5eed00000000000000ffo")).status, 404)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})

describe("counters", () => {
  it.effect("count answers per method, route and status, and reset", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* getJson("/batches")
      yield* getJson("/batches")
      yield* getJson("/batches/batch_missing")
      yield* getJson("/nowhere")
      const counters = yield* fake.counters
      assert.deepStrictEqual(counters, [
        { method: "GET", route: "GET /v1/batches", status: 200, count: 2 },
        { method: "GET", route: "GET /v1/batches/{id}", status: 404, count: 1 },
        { method: "GET", route: "unmatched", status: 404, count: 1 }
      ])
      assert.strictEqual(yield* fake.requestCount("GET /v1/batches"), 2)
      assert.strictEqual(yield* fake.requestCount(), 4)
      yield* fake.resetCounters
      assert.deepStrictEqual(yield* fake.counters, [])
      assert.strictEqual(yield* fake.requestCount(), 0)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})
