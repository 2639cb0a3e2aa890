import { BatchPage } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { HttpBody, HttpClient, HttpClientRequest } from "@effect/platform"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import { api, chatLines, upload } from "./helpers.js"

describe("the in-memory client", () => {
  it.effect("sends url params, JSON bodies, streamed bodies and form data to the same app", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      assert.strictEqual(fake.baseUrl, FakeOpenAi.inMemoryBaseUrl)
      yield* fake.seedBatches(5)
      const client = yield* api
      const page = yield* Effect.flatMap(
        client.get("/batches", { urlParams: { limit: 2, after: "batch_5eed0000000000000000000000000000" } }),
        (r) => Effect.flatMap(r.json, Schema.decodeUnknown(BatchPage.BatchPage))
      )
      assert.deepStrictEqual(page.data.map((b) => b.id), [
        "batch_5eed0000000000000000000000000001",
        "batch_5eed0000000000000000000000000002"
      ])
      const fileId = yield* upload(chatLines(["a"]))
      const json = new TextEncoder().encode(
        JSON.stringify({ input_file_id: fileId, endpoint: "/v1/chat/completions", completion_window: "24h" })
      )
      const streamed = yield* client.post("/batches", {
        body: HttpBody.stream(Stream.make(json.subarray(0, 10), json.subarray(10)), "application/json", json.length)
      })
      assert.strictEqual(streamed.status, 200)
      const created = (yield* streamed.json) as { status: string }
      assert.strictEqual(created.status, "validating")
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("needs the key like the socket server does", () =>
    Effect.gen(function*() {
      const http = yield* HttpClient.HttpClient
      const res = yield* http.execute(HttpClientRequest.get(`${FakeOpenAi.inMemoryBaseUrl}/batches`))
      assert.strictEqual(res.status, 401)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})

layer(FakeOpenAi.layerInMemory({ seed: 1 }))("one emulator shared by a suite", (it) => {
  it.effect("keeps state between tests of the suite (first)", () =>
    Effect.gen(function*() {
      yield* upload("x", "user_data")
      const fake = yield* FakeOpenAi.FakeOpenAi
      assert.strictEqual(yield* fake.requestCount("POST /v1/files"), 1)
    }))
  it.effect("keeps state between tests of the suite (second)", () =>
    Effect.gen(function*() {
      yield* upload("y", "user_data")
      const fake = yield* FakeOpenAi.FakeOpenAi
      assert.strictEqual(yield* fake.requestCount("POST /v1/files"), 2)
    }))
})
