import { ResultLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, FastCheck as fc, Schema } from "effect"

const schemaIs = Schema.is(ResultLine.BatchResultLine)

// Values near the schema: each key absent, of the right type, or of a wrong one.
const anyScalar = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.integer(),
  fc.double(),
  fc.constant(Number.MAX_SAFE_INTEGER + 1),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 2 })
)
const response = fc.oneof(
  fc.record({ status_code: anyScalar, request_id: anyScalar, body: fc.anything({ maxDepth: 1 }) }, {
    requiredKeys: []
  }),
  fc.record({ status_code: fc.integer(), request_id: fc.string(), body: fc.jsonValue({ maxDepth: 1 }) }),
  anyScalar
)
const error = fc.oneof(
  fc.record({ code: anyScalar, message: anyScalar }, { requiredKeys: [] }),
  fc.record({ code: fc.string(), message: fc.string() }),
  anyScalar
)
const nearLine = fc.oneof(
  fc.record({ id: anyScalar, custom_id: anyScalar, response, error, extra: anyScalar }, { requiredKeys: [] }),
  fc.record({ id: fc.string(), custom_id: fc.string(), response, error }, { requiredKeys: ["id", "custom_id"] }),
  fc.anything({ maxDepth: 2 })
)

describe("ResultLine", () => {
  it("law: isBatchResultLine answers as Schema.is on lines the schema generates", () => {
    fc.assert(fc.property(Arbitrary.make(ResultLine.BatchResultLine), (line) => {
      assert.isTrue(ResultLine.isBatchResultLine(line))
      assert.isTrue(schemaIs(line))
    }))
  })

  it("law: isBatchResultLine answers as Schema.is on values near and far from a line", () => {
    fc.assert(
      fc.property(nearLine, (value) => {
        assert.strictEqual(ResultLine.isBatchResultLine(value), schemaIs(value))
      }),
      { numRuns: 2000 }
    )
  })

  it("law: a line that passes decodes with the schema to itself, less any excess keys", () => {
    const decode = Schema.decodeUnknownSync(ResultLine.BatchResultLine)
    fc.assert(
      fc.property(nearLine, (value) => {
        if (!ResultLine.isBatchResultLine(value)) return
        const { extra: _extra, ...known } = value as ResultLine.BatchResultLine & { readonly extra?: unknown }
        assert.deepStrictEqual(decode(value), known)
      }),
      { numRuns: 2000 }
    )
  })

  it("a result line read from JSON, with nulls, an absent key and a missing body", () => {
    const cases: ReadonlyArray<string> = [
      `{"id":"r1","custom_id":"a","response":{"status_code":200,"request_id":"q","body":{}},"error":null}`,
      `{"id":"r2","custom_id":"b","response":null,"error":{"code":"batch_expired","message":"m"}}`,
      `{"id":"r3","custom_id":"c"}`,
      `{"id":"r4","custom_id":"d","response":{"status_code":200,"request_id":"q"}}`,
      `{"id":"r5","custom_id":"e","response":{"status_code":200.5,"request_id":"q","body":1}}`,
      `[{"id":"r6","custom_id":"f"}]`
    ]
    for (const text of cases) {
      const json: unknown = JSON.parse(text)
      assert.strictEqual(ResultLine.isBatchResultLine(json), schemaIs(json), text)
    }
  })
})
