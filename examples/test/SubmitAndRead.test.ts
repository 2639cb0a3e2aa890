import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { program, questions } from "../src/SubmitAndRead.js"

describe("SubmitAndRead example", () => {
  it.live("submits requests to the emulator and reads typed answers as a Stream", () =>
    Effect.gen(function*() {
      const summary = yield* program
      assert.strictEqual(summary.batchIds.length, 1)
      assert.strictEqual(summary.statuses[0], "validating")
      assert.strictEqual(summary.statuses[summary.statuses.length - 1], "completed")
      assert.strictEqual(summary.answers.length, questions.length)
      const byId = new Map(summary.answers.map((a) => [a.customId, a]))
      questions.forEach((question, i) => {
        const answer = byId.get(`q-${i + 1}`)
        assert.isDefined(answer)
        assert.strictEqual(answer?.question, question)
        if (i < questions.length - 1) {
          assert.strictEqual(answer?.outcome, "answered")
          assert.strictEqual(answer?.text, `Echo: ${question}`)
          assert.isTrue((answer?.tokens ?? 0) > 0)
        } else {
          assert.strictEqual(answer?.outcome, "failed")
          assert.match(answer?.text ?? "", /rejected by the emulator/)
        }
      })
    }))
})
