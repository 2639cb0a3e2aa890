import { BatchPage, ResultLine } from "@batchfx/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import * as Server from "../src/server.js"
import * as Wire from "../src/wire.js"

const decodePage = Schema.decodeUnknownEither(BatchPage.BatchPage)
const decodeLine = Schema.decodeUnknownEither(ResultLine.BatchResultLine)

describe("the bench serves the real wire shapes", () => {
  it("every batch of a page decodes with the core schema, all statuses present", () => {
    const page = decodePage(JSON.parse(Wire.pageJson(1000, undefined, 100)))
    assert.isTrue(Either.isRight(page))
    if (Either.isLeft(page)) return
    assert.strictEqual(page.right.data.length, 100)
    assert.strictEqual(page.right.has_more, true)
    assert.deepStrictEqual(
      [...new Set(page.right.data.map((b) => b.status))].sort(),
      ["cancelled", "completed", "expired", "failed"]
    )
  })

  it("pages follow the cursor and end with has_more false", () => {
    const last = JSON.parse(Wire.pageJson(250, Wire.batchId(199), 100)) as {
      data: Array<{ id: string }>
      has_more: boolean
      last_id: string
    }
    assert.strictEqual(last.data.length, 50)
    assert.strictEqual(last.data[0]!.id, Wire.batchId(200))
    assert.strictEqual(last.last_id, Wire.batchId(249))
    assert.strictEqual(last.has_more, false)
  })

  it("result lines decode with BatchResultLine and the file ends in whole lines", () => {
    const file = Wire.outputFile(64 * 1024)
    const lines = file.data.toString("utf8").split("\n")
    assert.strictEqual(lines.pop(), "")
    assert.strictEqual(lines.length, file.lines)
    for (const line of lines) assert.isTrue(Either.isRight(decodeLine(JSON.parse(line))))
  })
})

describe("the bench server", () => {
  let server: Server.BenchServer
  const auth = { authorization: `Bearer ${Wire.apiKey}` }
  beforeAll(async () => {
    server = await Server.start({ total: 150, fileBytes: 10_000 })
  })
  afterAll(() => server.close())

  it("lists over HTTP and refuses a wrong key", async () => {
    const res = await fetch(`${server.baseUrl}/batches?limit=100`, { headers: auth })
    assert.strictEqual(res.status, 200)
    assert.isTrue(Either.isRight(decodePage(await res.json())))
    const denied = await fetch(`${server.baseUrl}/batches`, { headers: { authorization: "Bearer nope" } })
    assert.strictEqual(denied.status, 401)
  })

  it("answers 429 with retry-after-ms past the rate limit", async () => {
    server.configure({ rateLimit: { requests: 2, windowMs: 10_000 } })
    server.resetStats()
    const statuses: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${server.baseUrl}/batches/${Wire.batchId(i)}`, { headers: auth })
      statuses.push(res.status)
      if (res.status === 429) {
        assert.isTrue(Number(res.headers.get("retry-after-ms")) > 0)
        const body = (await res.json()) as { error: { code: string } }
        assert.strictEqual(body.error.code, "rate_limit_exceeded")
      } else await res.arrayBuffer()
    }
    assert.deepStrictEqual(statuses, [200, 200, 429])
    assert.strictEqual(server.stats().byStatus["429"], 1)
    server.configure({ rateLimit: undefined })
  })

  it("serves the output file whole and from a Range", async () => {
    const whole = Buffer.from(
      await (await fetch(`${server.baseUrl}/files/${Wire.outputFileId}/content`, { headers: auth })).arrayBuffer()
    )
    const tail = await fetch(`${server.baseUrl}/files/${Wire.outputFileId}/content`, {
      headers: { ...auth, range: "bytes=100-" }
    })
    assert.strictEqual(tail.status, 206)
    assert.isTrue(Buffer.from(await tail.arrayBuffer()).equals(whole.subarray(100)))
  })
})
