import { FakeOpenAi } from "@batchfx/testkit"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { chatLines, createBatch, getJson, upload } from "./helpers.js"

const Live = Layer.merge(FakeOpenAi.layer(), NodeHttpClient.layer)

describe("over a real socket on 127.0.0.1", () => {
  layer(Live, { excludeTestServices: true })((it) => {
    it.effect("serves on 127.0.0.1 with a port and answers a create", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        assert.match(fake.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/)
        const fileId = yield* upload(chatLines(["a", "b"]))
        const created = yield* createBatch(fileId)
        assert.strictEqual(created.status, 200)
        assert.match(created.headers["x-request-id"] ?? "", /^req_[0-9a-f]{32}$/)
        const got = yield* getJson(`/batches/${created.json.id as string}`)
        assert.strictEqual(got.json.id, created.json.id)
      }))
  })
})
