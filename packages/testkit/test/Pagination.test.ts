import { BatchPage } from "@batchfx/core"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FastCheck, Schema, TestClock } from "effect"
import { createBatch, getJson } from "./helpers.js"

const decodePage = Schema.decodeUnknownSync(BatchPage.BatchPage)

describe("pagination law", () => {
  it.effect.prop(
    "walking pages by the last id yields every batch exactly once, newest first, whatever the page size",
    {
      seeded: FastCheck.integer({ min: 0, max: 150 }),
      created: FastCheck.integer({ min: 0, max: 6 }),
      limit: FastCheck.integer({ min: 1, max: 100 })
    },
    ({ created, limit, seeded }) =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* TestClock.adjust("30 days")
        yield* fake.seedBatches(seeded)
        const createdIds: Array<string> = []
        for (let i = 0; i < created; i++) createdIds.push((yield* createBatch("file-any")).json.id as string)
        const ids: Array<string> = []
        const times: Array<number> = []
        let after: string | undefined
        let pages = 0
        for (;;) {
          const page = decodePage((yield* getJson(`/batches?limit=${limit}${after ? `&after=${after}` : ""}`)).json)
          pages++
          assert.isAtMost(page.data.length, limit)
          ids.push(...page.data.map((b) => b.id))
          times.push(...page.data.map((b) => b.created_at))
          if (page.has_more !== true) break
          assert.strictEqual(page.last_id, page.data[page.data.length - 1]?.id)
          after = page.last_id ?? undefined
        }
        assert.strictEqual(ids.length, seeded + created)
        assert.strictEqual(new Set(ids).size, ids.length)
        assert.deepStrictEqual(ids.slice(0, created), [...createdIds].reverse())
        assert.deepStrictEqual(times, [...times].sort((a, b) => b - a))
        assert.strictEqual(pages, Math.max(1, Math.ceil((seeded + created) / limit)))
      }).pipe(Effect.provide(FakeOpenAi.layerInMemory())),
    { timeout: 60_000, fastCheck: { numRuns: 30 } }
  )
})

describe("seeded batches and the completion window", () => {
  it.effect("seeded and created batches share the completion window in force (as --speed sets it)", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* TestClock.adjust("30 days")
      yield* fake.seedBatches(40)
      yield* createBatch("file-any")
      const page = decodePage((yield* getJson("/batches?limit=40")).json)
      for (const b of page.data) assert.strictEqual((b.expires_at ?? 0) - b.created_at, 8640, b.id)
      const expired = page.data.find((b) => b.status === "expired")
      assert.isDefined(expired)
      assert.strictEqual((expired!.expired_at ?? 0) - expired!.created_at, 8700)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory({ durations: { completionWindow: "144 minutes" } }))))
})
