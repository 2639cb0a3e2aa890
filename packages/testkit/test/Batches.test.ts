import { ApiError, Batch, BatchPage } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { chatLines, createBatch, getJson, live, postEmpty, raw, upload } from "./helpers.js"

const decodeBatch = Schema.decodeUnknownSync(Batch.Batch)
const decodePage = Schema.decodeUnknownSync(BatchPage.BatchPage)
const decodeError = Schema.decodeUnknownSync(ApiError.ApiErrorBody)

describe("/v1/batches over HTTP", () => {
  it.live("creates, retrieves, lists newest first with after/limit, and cancels", () =>
    Effect.gen(function*() {
      const fileId = yield* upload(chatLines(["x", "y"]))
      const ids: Array<string> = []
      for (let i = 0; i < 5; i++) {
        const created = yield* createBatch(fileId, { metadata: { n: String(i) } })
        assert.strictEqual(created.status, 200)
        const b = decodeBatch(created.json)
        assert.strictEqual(b.status, "validating")
        assert.strictEqual(b.input_file_id, fileId)
        assert.strictEqual(b.endpoint, "/v1/chat/completions")
        assert.strictEqual(b.completion_window, "24h")
        assert.deepStrictEqual(b.metadata, { n: String(i) })
        assert.match(b.id, /^batch_[0-9a-f]{32}$/)
        ids.push(b.id)
      }
      const got = yield* getJson(`/batches/${ids[2]}`)
      assert.strictEqual(got.status, 200)
      assert.strictEqual(decodeBatch(got.json).id, ids[2])

      const newestFirst = [...ids].reverse()
      const first = decodePage((yield* getJson("/batches?limit=2")).json)
      assert.deepStrictEqual(first.data.map((b) => b.id), newestFirst.slice(0, 2))
      assert.strictEqual(first.has_more, true)
      assert.strictEqual(first.first_id, newestFirst[0])
      assert.strictEqual(first.last_id, newestFirst[1])
      const second = decodePage((yield* getJson(`/batches?limit=2&after=${first.last_id}`)).json)
      assert.deepStrictEqual(second.data.map((b) => b.id), newestFirst.slice(2, 4))
      const third = decodePage((yield* getJson(`/batches?limit=2&after=${second.last_id}`)).json)
      assert.deepStrictEqual(third.data.map((b) => b.id), newestFirst.slice(4))
      assert.strictEqual(third.has_more, false)
      const all = decodePage((yield* getJson("/batches")).json)
      assert.strictEqual(all.data.length, 5)

      const cancelled = yield* postEmpty(`/batches/${ids[0]}/cancel`)
      assert.strictEqual(cancelled.status, 200)
      const c = decodeBatch(cancelled.json)
      assert.strictEqual(c.status, "cancelling")
      assert.isNumber(c.cancelling_at)
      const again = yield* postEmpty(`/batches/${ids[0]}/cancel`)
      assert.strictEqual(again.status, 200)
      assert.strictEqual(decodeBatch(again.json).status, "cancelling")
    }).pipe(Effect.provide(live())))

  it.live("401 without a key and with a wrong key, before anything else", () =>
    Effect.gen(function*() {
      const missing = yield* raw("GET", "/batches", undefined)
      assert.strictEqual(missing.status, 401)
      const m = decodeError(missing.json).error
      assert.strictEqual(m.type, "invalid_request_error")
      assert.include(m.message, "You didn't provide an API key")
      assert.match(missing.headers["x-request-id"] ?? "", /^req_/)
      const wrong = yield* raw("GET", "/batches/batch_x", "Bearer sk-wrong-key-123456")
      assert.strictEqual(wrong.status, 401)
      const w = decodeError(wrong.json).error
      assert.strictEqual(w.code, "invalid_api_key")
      assert.include(w.message, "Incorrect API key provided")
      assert.notInclude(w.message, "sk-wrong-key-123456")
      const ok = yield* raw("GET", "/batches", "Bearer sk-other")
      assert.strictEqual(ok.status, 401)
    }).pipe(Effect.provide(live({ apiKey: "sk-fake-batchfx" }))))

  it.live("accepts any non-empty key when no key is required, and still refuses a missing one", () =>
    Effect.gen(function*() {
      for (const key of ["sk-proj-a-real-looking-key", "x", "sk-fake-batchfx"]) {
        const ok = yield* raw("GET", "/batches", `Bearer ${key}`)
        assert.strictEqual(ok.status, 200, key)
      }
      const empty = yield* raw("GET", "/batches", "Bearer ")
      assert.strictEqual(empty.status, 401)
      const missing = yield* raw("GET", "/batches", undefined)
      assert.strictEqual(missing.status, 401)
    }).pipe(Effect.provide(live())))

  it.live("accepts the key given as an option", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      assert.strictEqual(fake.apiKey, "sk-custom")
      const ok = yield* raw("GET", "/batches", "Bearer sk-custom")
      assert.strictEqual(ok.status, 200)
      const defaultKey = yield* raw("GET", "/batches", "Bearer sk-fake-batchfx")
      assert.strictEqual(defaultKey.status, 401)
    }).pipe(Effect.provide(live({ apiKey: "sk-custom" }))))

  it.live("404 for an unknown batch on retrieve and cancel, and for an unknown path", () =>
    Effect.gen(function*() {
      for (const res of [yield* getJson("/batches/batch_nope"), yield* postEmpty("/batches/batch_nope/cancel")]) {
        assert.strictEqual(res.status, 404)
        assert.deepStrictEqual(decodeError(res.json), {
          error: {
            message: "No batch found with id 'batch_nope'.",
            type: "invalid_request_error",
            param: null,
            code: "batch_not_found"
          }
        })
      }
      const path = yield* getJson("/nothing/here")
      assert.strictEqual(path.status, 404)
      assert.strictEqual(decodeError(path.json).error.message, "Invalid URL (GET /v1/nothing/here)")
    }).pipe(Effect.provide(live())))

  it.live("400 for invalid list parameters", () =>
    Effect.gen(function*() {
      const cases = [
        ["0", "integer_below_min_value"],
        ["101", "integer_above_max_value"],
        ["abc", "invalid_type"],
        ["1.5", "invalid_type"]
      ] as const
      for (const [limit, code] of cases) {
        const res = yield* getJson(`/batches?limit=${limit}`)
        assert.strictEqual(res.status, 400, limit)
        const e = decodeError(res.json).error
        assert.strictEqual(e.param, "limit")
        assert.strictEqual(e.code, code)
        assert.strictEqual(e.type, "invalid_request_error")
      }
      assert.strictEqual((yield* getJson("/batches?limit=100")).status, 200)
      assert.strictEqual((yield* getJson("/batches?limit=1")).status, 200)
    }).pipe(Effect.provide(live())))

  it.live("400 for invalid create parameters", () =>
    Effect.gen(function*() {
      const fileId = yield* upload(chatLines(["a"]))
      const check = (extra: Record<string, unknown>, param: string | null, code: string | null) =>
        Effect.gen(function*() {
          const res = yield* createBatch(fileId, extra)
          assert.strictEqual(res.status, 400, JSON.stringify(extra).slice(0, 80))
          const e = decodeError(res.json).error
          assert.strictEqual(e.type, "invalid_request_error")
          assert.strictEqual(e.param, param)
          assert.strictEqual(e.code, code)
          return e
        })
      const endpoint = yield* check({ endpoint: "/v1/nope" }, "endpoint", "invalid_value")
      assert.include(endpoint.message, "Invalid value: '/v1/nope'")
      assert.include(endpoint.message, "'/v1/chat/completions'")
      yield* check({ completion_window: "48h" }, "completion_window", "invalid_value")
      yield* check({ metadata: { tags: ["a", "b"] } }, "metadata.tags", "invalid_type")
      yield* check({ metadata: { n: 1 } }, "metadata.n", "invalid_type")
      const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]))
      yield* check({ metadata: many }, "metadata", "object_above_max_properties")
      yield* check({ metadata: { ["k".repeat(65)]: "v" } }, "metadata", "string_above_max_length")
      yield* check({ metadata: { k: "v".repeat(513) } }, "metadata.k", "string_above_max_length")
      yield* check({ input_file_id: undefined }, "input_file_id", "missing_required_parameter")
      const short = yield* check(
        { output_expires_after: { anchor: "created_at", seconds: 60 } },
        "output_expires_after.seconds",
        "integer_below_min_value"
      )
      assert.strictEqual(
        short.message,
        "Invalid 'output_expires_after.seconds': integer below minimum value. Expected a value >= 3600, but got 60 instead."
      )
      yield* check(
        { output_expires_after: { anchor: "created_at", seconds: 3_000_000 } },
        "output_expires_after.seconds",
        "integer_above_max_value"
      )
      yield* check(
        { output_expires_after: { anchor: "created_at", seconds: "1h" } },
        "output_expires_after.seconds",
        "invalid_type"
      )
      yield* check(
        { output_expires_after: { seconds: 3600 } },
        "output_expires_after.anchor",
        "missing_required_parameter"
      )
      yield* check(
        { output_expires_after: { anchor: "now", seconds: 3600 } },
        "output_expires_after.anchor",
        "invalid_value"
      )
      yield* check({ output_expires_after: "1h" }, "output_expires_after", "invalid_type")
      const notBatch = yield* upload(chatLines(["a"]), "user_data")
      yield* check({ input_file_id: notBatch }, "input_file_id", "invalid_value")
      const ok = yield* createBatch(fileId, { metadata: { k0: "v" } })
      assert.strictEqual(ok.status, 200)
    }).pipe(Effect.provide(live())))

  it.effect("409 when cancelling a completed or failed batch", () =>
    Effect.gen(function*() {
      const good = yield* upload(chatLines(["a", "b"]))
      const done = decodeBatch((yield* createBatch(good)).json)
      const bad = yield* upload("not json\n")
      const failed = decodeBatch((yield* createBatch(bad)).json)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(decodeBatch((yield* getJson(`/batches/${done.id}`)).json).status, "completed")
      assert.strictEqual(decodeBatch((yield* getJson(`/batches/${failed.id}`)).json).status, "failed")
      const conflict = yield* postEmpty(`/batches/${done.id}/cancel`)
      assert.strictEqual(conflict.status, 409)
      assert.deepStrictEqual(decodeError(conflict.json), {
        error: {
          message: "Cannot cancel a batch with status 'completed'.",
          type: "invalid_request_error",
          param: null,
          code: null
        }
      })
      const conflict2 = yield* postEmpty(`/batches/${failed.id}/cancel`)
      assert.strictEqual(conflict2.status, 409)
      assert.strictEqual(decodeError(conflict2.json).error.message, "Cannot cancel a batch with status 'failed'.")
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.live("every response carries x-request-id, openai-processing-ms and openai-project, and no x-ratelimit-*", () =>
    Effect.gen(function*() {
      const seen = new Set<string>()
      const responses = [
        yield* getJson("/batches"),
        yield* getJson("/batches/batch_nope"),
        yield* getJson("/files"),
        yield* raw("GET", "/batches", undefined),
        yield* getJson("/nowhere")
      ]
      for (const res of responses) {
        const id = res.headers["x-request-id"] ?? ""
        assert.match(id, /^req_[0-9a-f]{32}$/)
        assert.match(res.headers["openai-processing-ms"] ?? "", /^\d+$/)
        assert.strictEqual(res.headers["openai-project"], "proj_batchfx")
        assert.deepStrictEqual(Object.keys(res.headers).filter((h) => h.startsWith("x-ratelimit-")), [])
        seen.add(id)
      }
      assert.strictEqual(seen.size, responses.length)
    }).pipe(Effect.provide(live())))
})
