import { assert, describe, it } from "@effect/vitest"
import type OpenAI from "openai"
import * as Bodies from "../src/internal/bodies.js"
import type { RequestInfo } from "../src/Responder.js"
import * as Responder from "../src/Responder.js"

// The type check is the test: each default responder's body is assigned to the official SDK's type
// of that answer (openai@6.49.0), so `tsc -b` fails when a body misses a key the SDK requires.
const request = (endpoint: string, body: RequestInfo["body"]): RequestInfo => ({
  batchId: "batch_types",
  createdAt: 1_700_000_000,
  endpoint,
  line: 1,
  customId: "types-1",
  body
})

const chat: OpenAI.ChatCompletion = Bodies.chatCompletion(
  request("/v1/chat/completions", { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] })
)
const completion: OpenAI.Completion = Bodies.completion(
  request("/v1/completions", { model: "gpt-3.5-turbo-instruct", prompt: "hi" })
)
const embedding: OpenAI.CreateEmbeddingResponse = Bodies.embedding(
  request("/v1/embeddings", { model: "text-embedding-3-small", input: ["a", "b"] })
)
// `output_text` is computed by the SDK from `output`; it is not on the wire.
const response: Omit<OpenAI.Responses.Response, "output_text"> = Bodies.response(
  request("/v1/responses", { model: "gpt-4o-mini", input: "hi" })
)
const moderation: OpenAI.ModerationCreateResponse = Bodies.moderation(
  request("/v1/moderations", { model: "omni-moderation-latest", input: "hi" })
)
const image: OpenAI.ImagesResponse = Bodies.images(
  request("/v1/images/generations", { model: "gpt-image-1", prompt: "a cat", n: 2 })
)
const video: OpenAI.Video = Bodies.video(request("/v1/videos", { model: "sora-2", prompt: "a cat" }))

describe("default responder bodies and the official SDK's types", () => {
  it("every endpoint a batch accepts has a default responder whose body is the typed one", () => {
    const typed: { readonly [endpoint: string]: unknown } = {
      "/v1/chat/completions": chat,
      "/v1/completions": completion,
      "/v1/embeddings": embedding,
      "/v1/responses": response,
      "/v1/moderations": moderation,
      "/v1/images/generations": image,
      "/v1/videos": video
    }
    for (const [endpoint, body] of Object.entries(typed)) {
      const responder = Responder.defaults[endpoint]
      assert.isDefined(responder, endpoint)
      const reply = responder!(request(endpoint, { model: "m", input: "hi", prompt: "hi", messages: [] }))
      assert.strictEqual(reply.status_code, 200)
      assert.deepStrictEqual(Object.keys(reply.body as object).sort(), Object.keys(body as object).sort(), endpoint)
    }
    assert.isDefined(Responder.defaults["/v1/images/edits"])
    assert.strictEqual(image.data?.length, 2)
    assert.strictEqual(chat.model, "gpt-4o-mini-2024-07-18")
  })
})
