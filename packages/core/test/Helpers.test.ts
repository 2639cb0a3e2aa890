import { BatchStatus, Jsonl, RequestLine, ResetDuration, ResultLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Option } from "effect"
import * as F from "./fixtures.js"

describe("BatchStatus", () => {
  it("knows the terminal statuses", () => {
    assert.deepStrictEqual(BatchStatus.known.filter(BatchStatus.isTerminal), [
      "failed",
      "completed",
      "expired",
      "cancelled"
    ])
    assert.isFalse(BatchStatus.isTerminal("finalizing"))
    assert.isFalse(BatchStatus.isTerminal("something_new"))
  })

  it("orders the lifecycle so every transition moves forward", () => {
    for (const from of BatchStatus.known) {
      for (const to of BatchStatus.transitions[from]) {
        assert.isTrue(BatchStatus.lifecycleRank(to)! > BatchStatus.lifecycleRank(from)!, `${from} -> ${to}`)
      }
      assert.strictEqual(BatchStatus.transitions[from].length === 0, BatchStatus.isTerminal(from))
    }
  })
})

describe("ResetDuration", () => {
  const millis = (text: string) => Option.map(ResetDuration.parse(text), Duration.toMillis)

  it("parses the header values seen on the wire", () => {
    assert.deepStrictEqual(millis("6m0s"), Option.some(360_000))
    assert.deepStrictEqual(millis("1.428s"), Option.some(1428))
    assert.deepStrictEqual(millis("20ms"), Option.some(20))
    assert.deepStrictEqual(millis("0s"), Option.some(0))
    assert.deepStrictEqual(millis("1h2m3s"), Option.some(3_723_000))
    assert.deepStrictEqual(millis("1m30.5s"), Option.some(90_500))
    assert.deepStrictEqual(millis("500us"), Option.some(0.5))
    assert.deepStrictEqual(millis("0"), Option.some(0))
  })

  it("gives none, not zero, for what it cannot parse", () => {
    for (const text of ["", "soon", "5", "1x", "s", "1s junk", "-1s"]) {
      assert.isTrue(Option.isNone(ResetDuration.parse(text)), text)
    }
  })
})

describe("Jsonl", () => {
  it.effect("encodes lines and decodes them back, tolerating CRLF, blank lines and no final newline", () =>
    Effect.gen(function*() {
      const lines = [F.requestLine, { ...F.requestLine, custom_id: "request-2" }] as Array<
        RequestLine.BatchRequestLine
      >
      const text = yield* Jsonl.encodeLines(RequestLine.BatchRequestLine)(lines)
      assert.strictEqual(text.split("\n").length, 3)
      const messy = "\r\n" + text.replace(/\n/g, "\r\n\n").trimEnd()
      const decoded = yield* Jsonl.decodeLines(RequestLine.BatchRequestLine)(messy)
      assert.deepStrictEqual(decoded, lines)
    }))

  it.effect("names the line of invalid JSON and of a line that does not match", () =>
    Effect.gen(function*() {
      const decode = Jsonl.decodeLines(ResultLine.BatchResultLine)
      const text = [JSON.stringify(F.outputLine), "{oops", JSON.stringify({ id: 1 })].join("\n")
      const bad = yield* Effect.either(decode(text))
      assert.isTrue(Either.isLeft(bad))
      if (Either.isLeft(bad)) {
        assert.strictEqual(bad.left.line, 2)
        assert.include(bad.left.message, "line 2: not valid JSON")
      }
      const wrong = yield* Effect.flip(decode([JSON.stringify(F.outputLine), JSON.stringify({ id: 1 })].join("\n")))
      assert.strictEqual(wrong.line, 2)
      assert.include(wrong.message, "id: Expected string, actual 1")
    }))
})
