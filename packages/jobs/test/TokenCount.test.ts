import { InputTokens } from "@batchfx/core"
import * as TokenCount from "@batchfx/jobs/TokenCount"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as cl100k from "gpt-tokenizer/encoding/cl100k_base"
import * as o200k from "gpt-tokenizer/encoding/o200k_base"

const o = (text: string) => o200k.countTokens(text)

describe("TokenCount", () => {
  it("picks each model's encoding: cl100k_base for GPT-4, GPT-3.5 and the embedding models, o200k_base otherwise", () => {
    const cases: ReadonlyArray<[string | undefined, InputTokens.Encoding]> = [
      ["gpt-4o-mini", "o200k_base"],
      ["gpt-4o-2024-08-06", "o200k_base"],
      ["gpt-4.1", "o200k_base"],
      ["gpt-5-nano", "o200k_base"],
      ["o3-mini", "o200k_base"],
      ["gpt-4", "cl100k_base"],
      ["gpt-4-turbo", "cl100k_base"],
      ["gpt-4-0613", "cl100k_base"],
      ["gpt-3.5-turbo", "cl100k_base"],
      ["text-embedding-3-small", "cl100k_base"],
      ["ft:gpt-3.5-turbo-0125:acme::abc", "cl100k_base"],
      ["ft:gpt-4o-mini-2024-07-18:acme::abc", "o200k_base"],
      ["a-model-of-tomorrow", "o200k_base"],
      [undefined, "o200k_base"]
    ]
    for (const [model, encoding] of cases) assert.strictEqual(InputTokens.encodingOf(model), encoding, String(model))
  })

  it.effect("counts a chat request's messages, 3 tokens each and 3 for the reply, with image parts at 765", () =>
    Effect.gen(function*() {
      const count = yield* TokenCount.counter("o200k_base")
      const body = {
        model: "gpt-4o-mini",
        max_tokens: 1000,
        messages: [
          { role: "system", content: "You are terse." },
          {
            role: "user",
            content: [{ type: "text", text: "What is in this picture?" }, {
              type: "image_url",
              image_url: { url: "data:…" }
            }]
          }
        ]
      }
      assert.strictEqual(
        InputTokens.ofBody("/v1/chat/completions", body, count),
        3 + (3 + o("You are terse.")) + (3 + o("What is in this picture?") + 765)
      )
      // special-token text is text to the API, not an error
      assert.strictEqual(count("<|endoftext|>"), o200k.countTokens("<|endoftext|>", { disallowedSpecial: new Set() }))
    }))

  it.effect("counts responses' instructions and input, embeddings' and completions' inputs (token ids one each)", () =>
    Effect.gen(function*() {
      const count = yield* TokenCount.counter("o200k_base")
      assert.strictEqual(
        InputTokens.ofBody("/v1/responses", { model: "gpt-5", instructions: "Be brief.", input: "Hello there" }, count),
        o("Be brief.") + o("Hello there") + 3 + 3
      )
      assert.strictEqual(
        InputTokens.ofBody(
          "/v1/responses",
          { model: "gpt-5", input: [{ role: "user", content: [{ type: "input_text", text: "Hi" }] }] },
          count
        ),
        3 + o("Hi") + 3
      )
      assert.strictEqual(
        InputTokens.ofBody("/v1/embeddings", { model: "text-embedding-3-small", input: ["one two", "three"] }, count),
        o("one two") + o("three")
      )
      assert.strictEqual(InputTokens.ofBody("/v1/embeddings", { model: "m", input: [[1, 2, 3], [4]] }, count), 4)
      assert.strictEqual(
        InputTokens.ofBody("/v1/completions", { model: "m", prompt: "Once upon" }, count),
        o("Once upon")
      )
      // an endpoint of unknown shape: the JSON of its body without the model, above the real count
      assert.strictEqual(
        InputTokens.ofBody("/v1/something", { model: "m", input: "x" }, count),
        o(JSON.stringify({ input: "x" }))
      )
    }))

  it.effect("ofLines adds up each model's lines, given as objects or JSON text, each with its model's encoding", () =>
    Effect.gen(function*() {
      const chat = (model: string, text: string) => ({
        url: "/v1/chat/completions",
        body: { model, messages: [{ role: "user", content: text }] }
      })
      const text = "Tokenization differs between encodings: überraschend 🤖"
      const totals = yield* TokenCount.ofLines([
        chat("gpt-4o", text),
        JSON.stringify(chat("gpt-4o", "question 2")),
        chat("gpt-4", text)
      ])
      assert.strictEqual(totals.get("gpt-4o"), 6 + o(text) + 6 + o("question 2"))
      assert.strictEqual(totals.get("gpt-4"), 6 + cl100k.countTokens(text))
      assert.notStrictEqual(o(text), cl100k.countTokens(text))
      const streamed = yield* TokenCount.ofStream(
        Stream.make(chat("gpt-4o", text), JSON.stringify(chat("gpt-4o", "question 2")), chat("gpt-4", text))
      )
      assert.deepStrictEqual([...streamed], [...totals])
    }))
})
