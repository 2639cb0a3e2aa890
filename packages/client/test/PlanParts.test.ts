/**
 * `Submit.planParts`, the one rule that cuts an input into batches (50,000 lines, 200 MB): at the
 * limits exactly, one past them, and as a property over any sizes and limits.
 */
import * as Submit from "@batchfx/client/Submit"
import { RequestLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"

const limits = { maxLines: RequestLine.maxLines, maxBytes: RequestLine.maxBytes }
const mb100 = 100 * 1024 * 1024

describe("Submit.planParts", () => {
  it("exactly 50,000 lines make one part, 50,001 make two", () => {
    assert.deepStrictEqual(Submit.planParts(Array.from({ length: 50_000 }, () => 100), limits), [
      { part: 1, firstLine: 1, lines: 50_000, bytes: 5_000_000 }
    ])
    assert.deepStrictEqual(Submit.planParts(Array.from({ length: 50_001 }, () => 100), limits), [
      { part: 1, firstLine: 1, lines: 50_000, bytes: 5_000_000 },
      { part: 2, firstLine: 50_001, lines: 1, bytes: 100 }
    ])
  })

  it("exactly 200 MB (209,715,200 bytes) make one part, one byte more makes two", () => {
    assert.strictEqual(RequestLine.maxBytes, 2 * mb100)
    assert.deepStrictEqual(Submit.planParts([mb100, mb100], limits), [
      { part: 1, firstLine: 1, lines: 2, bytes: 2 * mb100 }
    ])
    assert.deepStrictEqual(Submit.planParts([mb100, mb100 + 1], limits), [
      { part: 1, firstLine: 1, lines: 1, bytes: mb100 },
      { part: 2, firstLine: 2, lines: 1, bytes: mb100 + 1 }
    ])
  })

  it("a line alone over the byte limit gets a part of its own, so it never drags a neighbour over", () => {
    assert.deepStrictEqual(Submit.planParts([10, 2 * mb100 + 1, 10], limits), [
      { part: 1, firstLine: 1, lines: 1, bytes: 10 },
      { part: 2, firstLine: 2, lines: 1, bytes: 2 * mb100 + 1 },
      { part: 3, firstLine: 3, lines: 1, bytes: 10 }
    ])
  })

  it("no lines, no parts", () => {
    assert.deepStrictEqual(Submit.planParts([], limits), [])
  })

  it("property: parts cover every line once, in order, within the limits, and none could take the next line", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 120 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 1000 }),
        (sizes, maxLines, maxBytes) => {
          const parts = Submit.planParts(sizes, { maxLines, maxBytes })
          let next = 1
          for (const [i, p] of parts.entries()) {
            assert.strictEqual(p.part, i + 1)
            assert.strictEqual(p.firstLine, next)
            assert.isAbove(p.lines, 0)
            const own = sizes.slice(p.firstLine - 1, p.firstLine - 1 + p.lines)
            assert.strictEqual(p.bytes, own.reduce((a, b) => a + b, 0))
            assert.isAtMost(p.lines, maxLines)
            // only a line over the limit on its own may go over it
            if (p.bytes > maxBytes) assert.strictEqual(p.lines, 1)
            const following = sizes[p.firstLine - 1 + p.lines]
            if (following !== undefined) {
              assert.isTrue(
                p.lines + 1 > maxLines || p.bytes + following > maxBytes,
                `part ${p.part} could take one more`
              )
            }
            next += p.lines
          }
          assert.strictEqual(next, sizes.length + 1)
        }
      )
    )
  })
})
