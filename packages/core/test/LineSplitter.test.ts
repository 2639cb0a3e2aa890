import { Jsonl } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"

const encoder = new TextEncoder()

/** Cuts `bytes` at the given positions. */
const cut = (bytes: Uint8Array, positions: ReadonlyArray<number>): Array<Uint8Array> => {
  const sorted = [...new Set(positions.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let from = 0
  for (const p of sorted) {
    chunks.push(bytes.subarray(from, p))
    from = p
  }
  chunks.push(bytes.subarray(from))
  return chunks
}

const splitAll = (chunks: ReadonlyArray<Uint8Array>) => {
  const splitter = Jsonl.makeLineSplitter()
  return [...chunks.flatMap((c) => splitter.push(c)), ...splitter.flush()]
}

describe("LineSplitter", () => {
  it("cuts lines across chunk borders, skipping blank lines and CRs, with the last line unterminated", () => {
    const text = "{\"a\":1}\r\n\n{\"b\":\"é€😀\"}\n  \n{\"c\":3}"
    const lines = splitAll(cut(encoder.encode(text), [1, 5, 9, 12, 13, 20]))
    assert.deepStrictEqual(lines.map((l) => [l.line, l.text]), [[1, "{\"a\":1}"], [3, "{\"b\":\"é€😀\"}"], [
      5,
      "{\"c\":3}"
    ]])
    assert.strictEqual(lines.at(-1)?.end, encoder.encode(text).length)
  })

  it("law: any chunking yields the same lines as splitting the whole text", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: "grapheme" }).filter((s) => !s.includes("\n") && !s.includes("\r"))),
        fc.boolean(),
        fc.array(fc.nat()),
        (parts, finalNewline, positions) => {
          const text = parts.join("\n") + (finalNewline ? "\n" : "")
          const bytes = encoder.encode(text)
          const expected = parts.flatMap((p, i) => (p.trim() === "" ? [] : [[i + 1, p] as const]))
          const lines = splitAll(cut(bytes, positions))
          assert.deepStrictEqual(lines.map((l) => [l.line, l.text] as const), expected)
        }
      )
    )
  })

  it("law: resuming from the offset of any emitted line yields exactly the remaining lines", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1 }).filter((s) => !/[\n\r]/.test(s) && s.trim() !== ""), { minLength: 1 }),
        fc.nat(),
        fc.array(fc.nat()),
        (parts, breakAt, positions) => {
          const bytes = encoder.encode(parts.join("\n") + "\n")
          const all = splitAll([bytes])
          const stop = all[breakAt % all.length]!
          const resumed = Jsonl.makeLineSplitter({ offset: stop.end, line: stop.line })
          const rest = [
            ...cut(bytes.subarray(stop.end), positions).flatMap((c) => resumed.push(c)),
            ...resumed.flush()
          ]
          assert.deepStrictEqual(rest, all.slice(all.indexOf(stop) + 1))
        }
      )
    )
  })
  it("law: any bytes, even invalid UTF-8, in any chunking, give each line as decoding it alone would", () => {
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }).map((bytes) => bytes.map((b) => (b % 7 === 0 ? 10 : b % 11 === 0 ? 13 : b))),
        fc.array(fc.nat()),
        (bytes, positions) => {
          const expected: Array<readonly [number, string, number]> = []
          let from = 0
          let number = 0
          while (from < bytes.length) {
            const newline = bytes.indexOf(10, from)
            const to = newline === -1 ? bytes.length : newline + 1
            number++
            let text = decode(bytes.subarray(from, newline === -1 ? to : newline))
            if (text.endsWith("\r")) text = text.slice(0, -1)
            if (text.trim() !== "") expected.push([number, text, to])
            from = to
          }
          const lines = splitAll(cut(bytes, positions))
          assert.deepStrictEqual(lines.map((l) => [l.line, l.text, l.end] as const), expected)
        }
      )
    )
  })
})
