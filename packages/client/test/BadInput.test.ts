/**
 * The bad-input catalogue of the client.
 *
 * - Invalid parameters on every call fail with a typed `InvalidParams` (or `InputError` for request
 *   lines) whose message is one sentence, and no request reaches the emulator.
 * - Bad answers from the server (malformed JSON, an HTML error page, an empty body, a wrong content
 *   type, a 200 with an error body, a list page of the wrong shape, a body that stops mid-way) fail
 *   with a typed error of the client whose message is one sentence with the request id.
 *
 * RELIABILITY.md counts these cases.
 */
import { BatchClient, Bulk, Retry } from "@batchfx/client"
import * as BatchClientError from "@batchfx/client/BatchClientError"
import * as Files from "@batchfx/client/Files"
import * as Results from "@batchfx/client/Results"
import * as Submit from "@batchfx/client/Submit"
import * as Watch from "@batchfx/client/Watch"
import type { RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { type FileSystem, HttpServerResponse } from "@effect/platform"
import { NodeFileSystem } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Layer, Stream } from "effect"
import { inMemoryEdited, quickRetry, wire } from "./utils.js"

const endpoint = "/v1/chat/completions"
const create = { input_file_id: "file-abc", endpoint, completion_window: "24h" } as const

const line = (i: number): RequestLine.BatchRequestLine => ({
  custom_id: `req-${i}`,
  method: "POST",
  url: endpoint,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `q${i}` }] }
})

const pairs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]))

/** The error an effect failed with (a defect fails the test). */
const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return Effect.dieMessage("expected a failure, got a success")
    const error = Cause.failureOption(exit.cause)
    return error._tag === "Some" ? Effect.succeed(error.value) : Effect.dieMessage(Cause.pretty(exit.cause))
  })

const drain = <A, E, R>(stream: Stream.Stream<A, E, R>) => Stream.runDrain(stream)

/** One sentence: a single line, no stack trace, no "[object Object]". */
const assertOneSentence = (message: string) => {
  assert.notInclude(message, "\n", message)
  assert.notInclude(message, "    at ", message)
  assert.notInclude(message, "[object Object]", message)
  assert.match(message, /[.!?)]$/, message)
}

/** Every call of the client with invalid parameters; each must fail before sending anything. */
const invalidCalls: ReadonlyArray<
  readonly [
    string,
    Effect.Effect<unknown, unknown, BatchClient.BatchClient | Files.Files | FileSystem.FileSystem>,
    string
  ]
> = [
  ["list: limit 0", drain(BatchClient.list({ limit: 0 })), "InvalidParams"],
  ["list: limit 101", drain(BatchClient.list({ limit: 101 })), "InvalidParams"],
  ["list: limit 2.5", drain(BatchClient.list({ limit: 2.5 })), "InvalidParams"],
  ["list: limit as a string", drain(BatchClient.list({ limit: "10" as unknown as number })), "InvalidParams"],
  ["list: an unknown parameter", drain(BatchClient.list({ order: "asc" } as never)), "InvalidParams"],
  ["listPages: limit -1", drain(BatchClient.listPages({ limit: -1 })), "InvalidParams"],
  ["retrieve: empty id", BatchClient.retrieve(""), "InvalidParams"],
  ["retrieve: blank id", BatchClient.retrieve("   "), "InvalidParams"],
  ["retrieve: id not a string", BatchClient.retrieve(42 as unknown as string), "InvalidParams"],
  ["cancel: empty id", BatchClient.cancel(""), "InvalidParams"],
  ["retrieve: the id \".\" (GET /v1/batches/ would list)", BatchClient.retrieve("."), "InvalidParams"],
  ["cancel: the id \"..\" (POST /v1/cancel)", BatchClient.cancel(".."), "InvalidParams"],
  ["retrieve: an id with a slash", BatchClient.retrieve("batch_1/cancel"), "InvalidParams"],
  ["file content: the id \"..\"", Stream.runDrain(Files.content("..")), "InvalidParams"],
  ["file delete: an id with a slash", Files.del("file-1/../x"), "InvalidParams"],
  ["create: an endpoint that is not an API path", BatchClient.create({ ...create, endpoint: "chat" }), "InvalidParams"],
  [
    "create: completion window 48h",
    BatchClient.create({ ...create, completion_window: "48h" as "24h" }),
    "InvalidParams"
  ],
  ["create: 17 metadata pairs", BatchClient.create({ ...create, metadata: pairs(17) }), "InvalidParams"],
  [
    "create: a metadata key of 65 characters",
    BatchClient.create({ ...create, metadata: { ["k".repeat(65)]: "v" } }),
    "InvalidParams"
  ],
  [
    "create: a metadata value of 513 characters",
    BatchClient.create({ ...create, metadata: { k: "v".repeat(513) } }),
    "InvalidParams"
  ],
  [
    "create: no input file",
    BatchClient.create({ endpoint, completion_window: "24h" } as unknown as BatchClient.CreateParams),
    "InvalidParams"
  ],
  [
    "create: output expiry of 10 seconds",
    BatchClient.create({ ...create, output_expires_after: { anchor: "created_at", seconds: 10 } }),
    "InvalidParams"
  ],
  ["create: an unknown parameter", BatchClient.create({ ...create, priority: "high" } as never), "InvalidParams"],
  ["files.retrieve: empty id", Files.retrieve(""), "InvalidParams"],
  ["files.delete: empty id", Files.del(""), "InvalidParams"],
  ["files.content: empty id", drain(Files.content("")), "InvalidParams"],
  [
    "files.upload: duplicate custom_id, wrong url, stream: true",
    Files.upload([line(1), line(1), { ...line(2), url: "/v1/embeddings" }, {
      ...line(3),
      body: { ...line(3).body, stream: true }
    }], { endpoint }),
    "InputError"
  ],
  ["files.upload: no lines", Files.upload([], { endpoint }), "InputError"],
  ["files.upload: unknown endpoint", Files.upload([line(1)], { endpoint: "/v1/unknown" }), "InputError"],
  [
    "files.uploadPath: a missing file",
    Files.uploadPath("/nonexistent/batchfx/input.jsonl", { endpoint }),
    "InvalidParams"
  ],
  ["results.streamById: empty id", drain(Results.streamById("")), "InvalidParams"],
  ["watch: empty id", drain(Watch.watch("")), "InvalidParams"],
  ["submit: an endpoint that is not an API path", drain(Submit.submit([line(1)], { endpoint: "v1" })), "InvalidParams"],
  ["submit: lines for another endpoint", drain(Submit.submit([line(1)], { endpoint: "/v1/embeddings" })), "InputError"],
  ["submit: 17 metadata pairs", drain(Submit.submit([line(1)], { endpoint, metadata: pairs(17) })), "InvalidParams"],
  ["submit: a bad line", drain(Submit.submit([line(1), line(1)], { endpoint })), "InputError"]
]

const clientOverHttp = wire({ retry: Retry.never }).pipe(Layer.provideMerge(NodeFileSystem.layer))

layer(clientOverHttp, { excludeTestServices: true, timeout: "30 seconds" })(
  "invalid parameters fail typed, before any request",
  (it) => {
    for (const [name, call, tag] of invalidCalls) {
      it.effect(name, () =>
        Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          const before = yield* fake.requestCount()
          const error = yield* failure(call)
          assert.strictEqual((error as { _tag: string })._tag, tag, String(error))
          const message = (error as Error).message
          assertOneSentence(message)
          if (tag === "InvalidParams") assert.match(message, /\(nothing was sent\)$/)
          else assert.include(message, "nothing was uploaded")
          assert.notMatch(message, /\.\.$/, "one period at the end")
          assert.strictEqual(yield* fake.requestCount(), before, "no request reached the server")
        }))
    }

    it.effect("create: an unknown /v1 endpoint is left to the server, which answers a typed BadRequest", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const before = yield* fake.requestCount()
        const error = yield* failure(BatchClient.create({ ...create, endpoint: "/v1/unknown" }))
        assert.strictEqual(error._tag, "BadRequest")
        assertOneSentence(error.message)
        assert.include(error.message, "/v1/unknown")
        assert.match(error.message, /\(request id req_\w+\)$/)
        assert.strictEqual((yield* fake.requestCount()) - before, 1, "one request, not retried")
      }))

    it.effect("bulk: blank ids get one InvalidParams outcome each, and only the valid id is asked for", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(1)
        const [id] = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.map(BatchClient.list(), (b) => b.id)))
        const before = yield* fake.requestCount()
        const outcomes = Chunk.toReadonlyArray(yield* Stream.runCollect(Bulk.retrieveMany(["", id!, "  "])))
        assert.deepStrictEqual(outcomes.map((o) => o._tag), ["Failed", "Succeeded", "Failed"])
        for (const o of outcomes) if (o._tag === "Failed") assert.strictEqual(o.error._tag, "InvalidParams")
        assert.strictEqual((yield* fake.requestCount()) - before, 1)
      }))
  }
)

// ---- bad answers from the server ---------------------------------------------------------------

/** A response with this body, status and content type, keeping the emulator's request id. */
const replace =
  (body: string, status: number, contentType: string) => (response: HttpServerResponse.HttpServerResponse) =>
    HttpServerResponse.text(body, { status, contentType }).pipe(
      HttpServerResponse.setHeader("x-request-id", response.headers["x-request-id"] ?? "req_missing")
    )

interface ServerCase {
  readonly name: string
  readonly edit: (response: HttpServerResponse.HttpServerResponse) => HttpServerResponse.HttpServerResponse
  readonly call: "retrieve" | "list"
  readonly tag: BatchClientError.BatchClientError["_tag"]
  readonly check?: (error: BatchClientError.BatchClientError) => void
}

const decodeReason = (reason: "InvalidJson" | "UnexpectedShape") => (error: BatchClientError.BatchClientError) => {
  assert.strictEqual(error._tag, "ResponseDecodeError")
  if (error._tag === "ResponseDecodeError") assert.strictEqual(error.reason, reason)
}

const serverCases: ReadonlyArray<ServerCase> = [
  {
    name: "malformed JSON in a 200",
    edit: replace(`{"id": "batch_1", "object": "bat`, 200, "application/json"),
    call: "retrieve",
    tag: "ResponseDecodeError",
    check: decodeReason("InvalidJson")
  },
  {
    name: "an HTML error page (502 from a proxy)",
    edit: replace("<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", 502, "text/html"),
    call: "retrieve",
    tag: "ServerError",
    check: (error) => {
      if (error._tag === "ServerError") assert.include(error.bodyPreview ?? "", "502 Bad Gateway")
    }
  },
  {
    name: "an HTML page in a 200",
    edit: replace("<!doctype html><html><body>Welcome</body></html>", 200, "text/html"),
    call: "retrieve",
    tag: "ResponseDecodeError",
    check: decodeReason("InvalidJson")
  },
  {
    name: "an empty body in a 200",
    edit: replace("", 200, "application/json"),
    call: "retrieve",
    tag: "ResponseDecodeError",
    check: decodeReason("InvalidJson")
  },
  { name: "an empty body in a 500", edit: replace("", 500, "application/json"), call: "retrieve", tag: "ServerError" },
  {
    name: "a wrong content type: a batch sent as text/plain",
    edit: replace("this is not json", 200, "text/plain"),
    call: "retrieve",
    tag: "ResponseDecodeError",
    check: decodeReason("InvalidJson")
  },
  {
    name: "a 404 with a plain-text body",
    edit: replace("not found", 404, "text/plain"),
    call: "retrieve",
    tag: "NotFound"
  },
  {
    name: "a 200 with an error body",
    edit: replace(
      JSON.stringify({ error: { message: "Something went wrong", type: "server_error", param: null, code: null } }),
      200,
      "application/json"
    ),
    call: "retrieve",
    tag: "ResponseDecodeError",
    check: decodeReason("UnexpectedShape")
  },
  {
    name: "a 200 with a JSON array",
    edit: replace("[1,2,3]", 200, "application/json"),
    call: "retrieve",
    tag: "ResponseDecodeError",
    check: decodeReason("UnexpectedShape")
  },
  {
    name: "a list page whose data is not an array",
    edit: replace(JSON.stringify({ object: "list", data: {}, has_more: false }), 200, "application/json"),
    call: "list",
    tag: "ResponseDecodeError",
    check: decodeReason("UnexpectedShape")
  },
  {
    name: "a list page with a batch of the wrong shape",
    edit: replace(
      JSON.stringify({ object: "list", data: [{ id: 1, object: "batch" }], has_more: false }),
      200,
      "application/json"
    ),
    call: "list",
    tag: "ResponseDecodeError",
    check: decodeReason("UnexpectedShape")
  },
  {
    name: "a list page that is a single batch",
    edit: replace(JSON.stringify({ id: "batch_1", object: "batch" }), 200, "application/json"),
    call: "list",
    tag: "ResponseDecodeError",
    check: decodeReason("UnexpectedShape")
  }
]

describe("bad answers from the server fail typed, in one sentence with the request id", () => {
  for (const c of serverCases) {
    it.effect(`${c.call}: ${c.name} → ${c.tag}`, () =>
      Effect.gen(function*() {
        const error = yield* failure(
          c.call === "retrieve" ? BatchClient.retrieve("batch_abc") : drain(BatchClient.list())
        )
        assert.isTrue(BatchClientError.isBatchClientError(error), String(error))
        assert.strictEqual(error._tag, c.tag, error.message)
        c.check?.(error)
        assertOneSentence(error.message)
        assert.match(error.message, /\(request id req_\w+\)$/)
      }).pipe(Effect.provide(inMemoryEdited(c.edit, { retry: Retry.never }))))
  }
})

describe("a delete whose answer is cut after the server deleted the file", () => {
  it.live("succeeds on retry: the file is gone, as asked", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const file = yield* Files.upload([line(1)], { endpoint })
      yield* fake.scriptFault("DELETE /v1/files/{id}", 1, Fault.truncatedBody(10))
      const deleted = yield* Files.del(file.id)
      assert.strictEqual(deleted.id, file.id)
      assert.isTrue(deleted.deleted)
      assert.strictEqual(yield* fake.requestCount("DELETE /v1/files/{id}"), 2)
    }).pipe(Effect.provide(wire({ retry: quickRetry(3) }))), 30_000)
})

describe("a body that stops mid-way over a real socket fails with ConnectionError", () => {
  const env = wire({ retry: Retry.never })
  it.live("retrieve, list and file content", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      yield* fake.seedBatches(3)
      const [batch] = Chunk.toReadonlyArray(yield* Stream.runCollect(BatchClient.list()))
      const fileId = batch!.input_file_id
      yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.truncatedBody(20))
      yield* fake.scriptFault("GET /v1/batches", 1, Fault.truncatedBody(20))
      yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.truncatedBody(20))
      const errors = [
        yield* failure(BatchClient.retrieve(batch!.id)),
        yield* failure(drain(BatchClient.list())),
        yield* failure(drain(Files.content(fileId)))
      ]
      for (const error of errors) {
        assert.isTrue(BatchClientError.isBatchClientError(error), String(error))
        assert.strictEqual(error._tag, "ConnectionError", error.message)
        if (error._tag === "ConnectionError") assert.isTrue(error.maybeSent)
        assertOneSentence(error.message)
      }
    }).pipe(Effect.provide(env)), 30_000)
})
