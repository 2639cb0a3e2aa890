import { BatchClient, Retry } from "@batchfx/client"
import { Batch, Jsonl } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { FileSystem, Path } from "@effect/platform"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { listToJsonl } from "../src/ListToJsonl.js"

const decodeBatch = Jsonl.decodeLine(Batch.Batch)

const emulatorAndClient = Layer.unwrapEffect(Effect.map(FakeOpenAi.FakeOpenAi, (fake) =>
  BatchClient.layer({
    apiKey: Redacted.make(fake.apiKey),
    baseUrl: fake.baseUrl,
    retry: Retry.backoff({ base: "1 millis", cap: "5 millis", maxRetries: 3, jitter: false })
  }))).pipe(
    Layer.provideMerge(FakeOpenAi.layer()),
    Layer.provide(NodeHttpClient.layerUndici),
    Layer.orDie
  )

describe("ListToJsonl example", () => {
  it.scopedLive("streams every batch of the emulator into a JSONL file, in the server's order", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const fs = yield* FileSystem.FileSystem
      const path = yield* Path.Path
      yield* fake.seedBatches(1_234)
      yield* fake.scriptFault("GET /v1/batches", 3, Fault.status(500))
      const dir = yield* fs.makeTempDirectoryScoped()
      const file = path.join(dir, "batches.jsonl")

      const written = yield* listToJsonl(file, { limit: 100 })
      assert.strictEqual(written, 1_234)

      const text = yield* fs.readFileString(file)
      assert.isTrue(text.endsWith("\n"))
      const lines = text.slice(0, -1).split("\n")
      assert.strictEqual(lines.length, 1_234)
      const batches = yield* Effect.forEach(lines, (line, i) => decodeBatch(line, i + 1))
      const ids = batches.map((b) => b.id)
      assert.strictEqual(new Set(ids).size, 1_234)
      const createdAt = batches.map((b) => b.created_at)
      assert.deepStrictEqual(createdAt, [...createdAt].sort((a, b) => b - a), "newest first")
    }).pipe(Effect.provide(Layer.merge(emulatorAndClient, NodeContext.layer))))
})
