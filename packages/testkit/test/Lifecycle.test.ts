import { Batch, Jsonl, ResultLine } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, TestClock } from "effect"
import { chatLines, content, createBatch, getJson, postEmpty, upload, withKnobs } from "./helpers.js"

const inMemory = (options: FakeOpenAi.Options = {}) => FakeOpenAi.layerInMemory(options)

const retrieve = (id: string) =>
  Effect.map(getJson(`/batches/${id}`), (r) => Schema.decodeUnknownSync(Batch.Batch)(r.json))

describe("lifecycle under TestClock (in memory)", () => {
  it.effect("validating -> in_progress -> finalizing -> completed, with stamps, counts, usage and output", () =>
    Effect.gen(function*() {
      const ids = Array.from({ length: 10 }, (_, i) => `req-${i}`)
      const fileId = yield* upload(chatLines(ids))
      const created = yield* createBatch(fileId)
      assert.strictEqual(created.status, 200)
      const b0 = Schema.decodeUnknownSync(Batch.Batch)(created.json)
      assert.strictEqual(b0.status, "validating")
      assert.strictEqual(b0.model, null)
      assert.strictEqual(b0.expires_at, b0.created_at + 86400)
      assert.deepStrictEqual(b0.request_counts, { total: 0, completed: 0, failed: 0 })
      assert.strictEqual(b0.in_progress_at, null)

      yield* TestClock.adjust("1 second")
      const b1 = yield* retrieve(b0.id)
      assert.strictEqual(b1.status, "in_progress")
      assert.strictEqual(b1.in_progress_at, 1)
      assert.strictEqual(b1.model, "gpt-4o-mini-2024-07-18", "the dated snapshot of the model the lines name")
      assert.strictEqual(b1.request_counts?.total, 10)
      assert.strictEqual(b1.request_counts?.completed, 0)

      yield* TestClock.adjust("2500 millis")
      const b2 = yield* retrieve(b0.id)
      assert.strictEqual(b2.status, "in_progress")
      assert.strictEqual(b2.request_counts?.completed, 5)
      assert.isTrue((b2.usage?.input_tokens ?? 0) > 0)

      yield* TestClock.adjust("2500 millis")
      const b3 = yield* retrieve(b0.id)
      assert.strictEqual(b3.status, "finalizing")
      assert.strictEqual(b3.finalizing_at, 6)
      assert.strictEqual(b3.output_file_id, null)

      yield* TestClock.adjust("1 second")
      const b4 = yield* retrieve(b0.id)
      assert.strictEqual(b4.status, "completed")
      assert.strictEqual(b4.completed_at, 7)
      assert.deepStrictEqual(b4.request_counts, { total: 10, completed: 10, failed: 0 })
      assert.strictEqual(b4.error_file_id, null)
      const usage = b4.usage!
      assert.strictEqual(usage.total_tokens, usage.input_tokens + usage.output_tokens)

      const outputId = Batch.outputFileId(b4)
      assert.isTrue(outputId._tag === "Some")
      if (outputId._tag !== "Some") return
      const file = yield* getJson(`/files/${outputId.value}`)
      assert.strictEqual(file.json.purpose, "batch_output")
      const lines = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(outputId.value))
      assert.strictEqual(lines.length, 10)
      assert.deepStrictEqual(lines.map((l) => l.custom_id).sort(), [...ids].sort())
      assert.notDeepEqual(lines.map((l) => l.custom_id), ids)
      assert.isTrue(lines.every(ResultLine.isSuccess))
    }).pipe(Effect.provide(inMemory())))

  it.effect("validation failure: failed with errors.data per line, failed_at, no model, no files", () =>
    Effect.gen(function*() {
      const line = (custom_id: string, body: Record<string, unknown>, url = "/v1/chat/completions") =>
        JSON.stringify({ custom_id, method: "POST", url, body })
      const text = [
        line("a", { model: "gpt-4o-mini", messages: [] }),
        "{not json",
        JSON.stringify({ custom_id: "c", method: "POST", url: "/v1/chat/completions" }),
        line("d", { model: "gpt-4o-mini", messages: [] }, "/v1/embeddings"),
        line("e", { model: "gpt-4o-mini", messages: [], stream: true }),
        line("a", { model: "gpt-4o-mini", messages: [] }),
        line("g", { model: "gpt-4o", messages: [] })
      ].join("\n")
      const fileId = yield* upload(text)
      const b0 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      assert.strictEqual(b0.status, "validating")
      yield* TestClock.adjust("1 second")
      const b = yield* retrieve(b0.id)
      assert.strictEqual(b.status, "failed")
      assert.strictEqual(b.failed_at, 1)
      assert.strictEqual(b.in_progress_at, null)
      assert.strictEqual(b.model, null)
      assert.strictEqual(b.output_file_id, null)
      assert.strictEqual(b.error_file_id, null)
      assert.deepStrictEqual(b.request_counts, { total: 0, completed: 0, failed: 0 })
      const errors = (b.errors?.data ?? []).map((e) => [e.line, e.code, e.param])
      assert.deepStrictEqual(errors, [
        [2, "invalid_json_line", null],
        [3, "missing_required_parameter", "body"],
        [4, "invalid_url", "url"],
        [5, "streaming_unsupported", "body.stream"],
        [6, "duplicate_custom_id", "custom_id"],
        [7, "mismatched_model", "body.model"]
      ])
      assert.strictEqual(b.errors?.object, "list")
      yield* TestClock.adjust("1 day")
      assert.strictEqual((yield* retrieve(b0.id)).status, "failed")
    }).pipe(Effect.provide(inMemory())))

  it.effect("an unknown model and a missing model fail the batch as the service does; the models option widens the list", () =>
    Effect.gen(function*() {
      const line = (custom_id: string, body: Record<string, unknown>) =>
        JSON.stringify({ custom_id, method: "POST", url: "/v1/chat/completions", body })
      const unknown = yield* upload(line("a", { model: "gpt-nonexistent", messages: [] }))
      const missing = yield* upload(line("a", { messages: [] }))
      const b1 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(unknown)).json)
      const b2 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(missing)).json)
      yield* TestClock.adjust("1 second")
      const e1 = (yield* retrieve(b1.id)).errors?.data ?? []
      const e2 = (yield* retrieve(b2.id)).errors?.data ?? []
      assert.deepStrictEqual(e1.map((e) => [e.line, e.code, e.param, e.message]), [[
        1,
        "model_not_found",
        "body.model",
        "The model `gpt-nonexistent` does not exist or you do not have access to it."
      ]])
      assert.deepStrictEqual(e2.map((e) => [e.line, e.code, e.param, e.message]), [[
        1,
        "invalid_request",
        "body.model",
        "Model parameter is required."
      ]])
    }).pipe(Effect.provide(inMemory())))

  it.effect("a model outside the default list is served when the models option names it", () =>
    Effect.gen(function*() {
      const fileId = yield* upload(chatLines(["a"], "my-local-model"))
      const b = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      yield* TestClock.adjust("1 minute")
      const done = yield* retrieve(b.id)
      assert.strictEqual(done.status, "completed")
      assert.strictEqual(done.model, "my-local-model")
    }).pipe(Effect.provide(inMemory({ models: ["my-local-model"] }))))

  it.effect("validation failure: too many lines, too many bytes and an empty file", () =>
    Effect.gen(function*() {
      const tooMany = yield* upload(chatLines(["1", "2", "3", "4"]))
      const tooBig = yield* upload(chatLines(["a".repeat(1200)]))
      const empty = yield* upload("\n\n")
      const ids = [
        (yield* createBatch(tooMany)).json.id as string,
        (yield* createBatch(tooBig)).json.id as string,
        (yield* createBatch(empty)).json.id as string
      ]
      yield* TestClock.adjust("1 second")
      const codes = []
      for (const id of ids) {
        const b = yield* retrieve(id)
        assert.strictEqual(b.status, "failed")
        codes.push(b.errors?.data?.map((e) => e.code))
      }
      assert.deepStrictEqual(codes, [["too_many_tasks"], ["file_too_large"], ["empty_batch"]])
    }).pipe(Effect.provide(inMemory({ inputLimits: { maxLines: 3, maxBytes: 1000 } }))))

  it.effect("an unknown input file is accepted, then the batch fails with invalid_request on file_id", () =>
    Effect.gen(function*() {
      const created = yield* createBatch("file-doesnotexist")
      assert.strictEqual(created.status, 200)
      yield* TestClock.adjust("1 second")
      const b = yield* retrieve(created.json.id as string)
      assert.strictEqual(b.status, "failed")
      const [e] = b.errors?.data ?? []
      assert.strictEqual(e?.code, "invalid_request")
      assert.strictEqual(e?.param, "file_id")
      assert.strictEqual(e?.line, null)
      assert.include(e?.message ?? "", "file-doesnotexist")
    }).pipe(Effect.provide(inMemory())))

  it.effect("cancellation: cancelling for the drain, then cancelled with partial output and cancelled lines", () =>
    Effect.gen(function*() {
      const ids = Array.from({ length: 10 }, (_, i) => `c-${i}`)
      const fileId = yield* upload(chatLines(ids))
      const b0 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      yield* TestClock.adjust("4 seconds") // 1 s validating + 3 s of a 5 s run: 6 of 10 done
      const res = yield* postEmpty(`/batches/${b0.id}/cancel`)
      assert.strictEqual(res.status, 200)
      const c = Schema.decodeUnknownSync(Batch.Batch)(res.json)
      assert.strictEqual(c.status, "cancelling")
      assert.strictEqual(c.cancelling_at, 4)
      assert.strictEqual(c.in_progress_at, 1)
      assert.strictEqual(c.request_counts?.completed, 6)
      yield* TestClock.adjust("9 minutes")
      const still = yield* retrieve(b0.id)
      assert.strictEqual(still.status, "cancelling")
      assert.strictEqual(still.request_counts?.completed, 6)
      assert.strictEqual(still.output_file_id, null)
      yield* TestClock.adjust("1 minute")
      const done = yield* retrieve(b0.id)
      assert.strictEqual(done.status, "cancelled")
      assert.strictEqual(done.cancelled_at, 604)
      assert.strictEqual(done.completed_at, null)
      assert.strictEqual(done.finalizing_at, null)
      assert.deepStrictEqual(done.request_counts, { total: 10, completed: 6, failed: 0 })
      const out = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(done.output_file_id!))
      const err = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(done.error_file_id!))
      assert.strictEqual(out.length, 6)
      assert.strictEqual(err.length, 4)
      assert.isTrue(err.every((l) => l.response === null && l.error?.code === "batch_cancelled"))
      assert.deepStrictEqual([...out, ...err].map((l) => l.custom_id).sort(), [...ids].sort())
      const again = yield* postEmpty(`/batches/${b0.id}/cancel`)
      assert.strictEqual(again.status, 200)
      assert.strictEqual(Schema.decodeUnknownSync(Batch.Batch)(again.json).status, "cancelled")
    }).pipe(Effect.provide(inMemory())))

  it.effect("cancelling while validating leaves in_progress_at and model null, and counts the cancelled lines", () =>
    Effect.gen(function*() {
      const fileId = yield* upload(chatLines(["a", "b"]))
      const b0 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      const c = Schema.decodeUnknownSync(Batch.Batch)((yield* postEmpty(`/batches/${b0.id}/cancel`)).json)
      assert.strictEqual(c.status, "cancelling")
      yield* TestClock.adjust("10 minutes")
      const done = yield* retrieve(b0.id)
      assert.strictEqual(done.status, "cancelled")
      assert.strictEqual(done.in_progress_at, null)
      assert.strictEqual(done.model, null)
      assert.deepStrictEqual(done.request_counts, { total: 2, completed: 0, failed: 0 })
      assert.strictEqual(done.output_file_id, null)
      const err = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(done.error_file_id!))
      assert.strictEqual(err.length, 2)
    }).pipe(Effect.provide(inMemory())))

  it.effect("a configurable cancel drain: zero answers cancelled at once", () =>
    Effect.gen(function*() {
      const fileId = yield* upload(chatLines(["a"]))
      const b0 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      const c = Schema.decodeUnknownSync(Batch.Batch)((yield* postEmpty(`/batches/${b0.id}/cancel`)).json)
      assert.strictEqual(c.status, "cancelled")
      assert.strictEqual(c.cancelled_at, c.cancelling_at)
    }).pipe(Effect.provide(inMemory({ durations: { cancelling: 0 } }))))

  it.effect("expiry: finalizing at expires_at, then expired with partial output and batch_expired lines", () =>
    Effect.gen(function*() {
      const ids = Array.from({ length: 4 }, (_, i) => `e-${i}`)
      const fileId = yield* upload(chatLines(ids))
      const b0 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      assert.strictEqual(b0.expires_at, 86400)
      yield* TestClock.adjust("23 hours")
      const running = yield* retrieve(b0.id)
      assert.strictEqual(running.status, "in_progress")
      yield* TestClock.adjust("1 hour")
      const finalizing = yield* retrieve(b0.id)
      assert.strictEqual(finalizing.status, "finalizing")
      assert.strictEqual(finalizing.finalizing_at, 86400)
      yield* TestClock.adjust("10 minutes")
      const expired = yield* retrieve(b0.id)
      assert.strictEqual(expired.status, "expired")
      assert.strictEqual(expired.expired_at, 87000)
      assert.strictEqual(expired.completed_at, null)
      const counts = expired.request_counts!
      assert.strictEqual(counts.total, 4)
      assert.strictEqual(counts.completed, 2) // 2 of 4 requests of a 47 h run fit in the 24 h window
      assert.isTrue(counts.completed + counts.failed < counts.total)
      const out = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(expired.output_file_id!))
      const err = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(expired.error_file_id!))
      assert.strictEqual(out.length, 2)
      assert.deepStrictEqual(err.map((l) => l.error?.code), ["batch_expired", "batch_expired"])
      assert.strictEqual(
        err[0]?.error?.message,
        "This request could not be executed before the completion window expired."
      )
      const conflict = yield* postEmpty(`/batches/${b0.id}/cancel`)
      assert.strictEqual(conflict.status, 409)
    }).pipe(Effect.provide(inMemory({ durations: { inProgress: "47 hours" } }))))

  it.effect("chosen lines fail with an HTTP-error result line in the error file", () =>
    Effect.gen(function*() {
      const fileId = yield* upload(chatLines(["ok-1", "bad-1", "ok-2", "bad-2", "teapot"]))
      const b0 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      yield* TestClock.adjust("1 minute")
      const b = yield* retrieve(b0.id)
      assert.strictEqual(b.status, "completed")
      assert.deepStrictEqual(b.request_counts, { total: 5, completed: 2, failed: 3 })
      const err = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(b.error_file_id!))
      const byId = new Map(err.map((l) => [l.custom_id, l]))
      assert.strictEqual(byId.get("bad-1")?.response?.status_code, 400)
      assert.strictEqual(byId.get("bad-1")?.error, null)
      assert.deepStrictEqual(byId.get("teapot")?.response?.body, { error: { message: "short and stout" } })
      assert.strictEqual(byId.get("teapot")?.response?.status_code, 418)
      assert.match(byId.get("bad-2")?.response?.request_id ?? "", /^req_/)
      const out = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(b.output_file_id!))
      assert.deepStrictEqual(out.map((l) => l.custom_id).sort(), ["ok-1", "ok-2"])
    }).pipe(Effect.provide(inMemory({
      failLine: (r) =>
        r.customId === "teapot" ? { status_code: 418, body: { error: { message: "short and stout" } } } : r
          .customId.startsWith("bad")
    }))))

  it.effect("a completed batch whose requests all failed has no output file", () =>
    Effect.gen(function*() {
      const fileId = yield* upload(chatLines(["a", "b"]))
      const b0 = Schema.decodeUnknownSync(Batch.Batch)((yield* createBatch(fileId)).json)
      yield* TestClock.adjust("1 minute")
      const b = yield* retrieve(b0.id)
      assert.strictEqual(b.status, "completed")
      assert.strictEqual(b.output_file_id, null)
      assert.isString(b.error_file_id)
      assert.deepStrictEqual(b.request_counts, { total: 2, completed: 0, failed: 2 })
      assert.strictEqual(b.usage?.total_tokens, 0)
    }).pipe(Effect.provide(inMemory({ failLine: () => true }))))

  it.effect("responders can be replaced and added per endpoint; the same input gives the same output", () =>
    Effect.gen(function*() {
      const text = JSON.stringify({
        custom_id: "r",
        method: "POST",
        url: "/v1/images/generations",
        body: { model: "gpt-image-1" }
      })
      const fileId = yield* upload(text)
      const created = yield* createBatch(fileId, { endpoint: "/v1/images/generations" })
      assert.strictEqual(created.status, 200)
      yield* TestClock.adjust("1 minute")
      const b = yield* retrieve(created.json.id as string)
      const [line] = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(b.output_file_id!))
      assert.deepStrictEqual(line?.response?.body, { custom: "r", line: 1 })
      const chat = yield* upload(chatLines(["q"]))
      const c = yield* createBatch(chat)
      yield* TestClock.adjust("1 minute")
      const cb = yield* retrieve(c.json.id as string)
      const [chatLine] = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(cb.output_file_id!))
      assert.deepStrictEqual(chatLine?.response?.body, { replaced: true })
    }).pipe(Effect.provide(inMemory({
      responders: {
        "/v1/images/generations": (r) => ({ status_code: 200, body: { custom: r.customId, line: r.line } }),
        "/v1/chat/completions": () => ({ status_code: 200, body: { replaced: true } })
      }
    }))))

  it.effect("default responders answer every endpoint with its shape and usage", () =>
    Effect.gen(function*() {
      const cases = [
        ["/v1/chat/completions", { model: "gpt-4.1", messages: [{ role: "user", content: "hi" }] }, "chat.completion"],
        ["/v1/completions", { model: "gpt-3.5-turbo-instruct", prompt: "hi" }, "text_completion"],
        ["/v1/embeddings", { model: "text-embedding-3-small", input: ["a", "b"] }, "list"],
        ["/v1/responses", { model: "gpt-4.1-2025-04-14", input: "hi" }, "response"],
        ["/v1/moderations", { model: "omni-moderation-2024-09-26", input: "hi" }, undefined],
        ["/v1/images/generations", { model: "gpt-image-1", prompt: "a cat" }, undefined],
        ["/v1/images/edits", { model: "gpt-image-1", prompt: "a hat", images: [] }, undefined],
        ["/v1/videos", { model: "sora-2-2025-10-06", prompt: "a cat" }, "video"]
      ] as const
      for (const [endpoint, body, object] of cases) {
        const fileId = yield* upload(JSON.stringify({ custom_id: "x", method: "POST", url: endpoint, body }))
        const created = yield* createBatch(fileId, { endpoint })
        assert.strictEqual(created.status, 200, endpoint)
        yield* TestClock.adjust("1 minute")
        const b = yield* retrieve(created.json.id as string)
        assert.strictEqual(b.status, "completed", endpoint)
        const [line] = yield* Jsonl.decodeLines(ResultLine.BatchResultLine)(yield* content(b.output_file_id!))
        const answer = line?.response?.body as Record<string, unknown>
        assert.strictEqual(answer.object, object, endpoint)
        if (!endpoint.startsWith("/v1/images")) {
          assert.match(answer.model as string, /-\d{4}-\d{2}-\d{2}$|^gpt-3.5-turbo-instruct$|^text-embedding/, endpoint)
        }
        if (endpoint === "/v1/embeddings") {
          assert.strictEqual((answer.data as ReadonlyArray<unknown>).length, 2)
        }
        if (endpoint !== "/v1/moderations" && endpoint !== "/v1/videos") {
          assert.isTrue((b.usage?.input_tokens ?? 0) > 0, endpoint)
        }
      }
    }).pipe(Effect.provide(inMemory())))

  it.effect("durations changed at run time apply to batches created afterwards", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const fileId = yield* upload(chatLines(["a"]))
      const slow = (yield* createBatch(fileId)).json.id as string
      const slower = yield* Effect.scoped(Effect.gen(function*() {
        yield* withKnobs({ durations: { validating: "1 hour" } })
        assert.strictEqual((yield* fake.knobs).durations.validating, "1 hour")
        return (yield* createBatch(fileId)).json.id as string
      }))
      // A batch keeps the durations it was created under, after the knob is put back.
      assert.deepStrictEqual((yield* fake.knobs).durations, FakeOpenAi.defaultKnobs.durations)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* retrieve(slow)).status, "completed")
      assert.strictEqual((yield* retrieve(slower)).status, "validating")
      yield* TestClock.adjust("1 hour")
      assert.strictEqual((yield* retrieve(slower)).status, "completed")
    }).pipe(Effect.provide(inMemory())))
})
