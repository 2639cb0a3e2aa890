import { FakeOpenAi } from "@batchfx/testkit"
import { HttpBody, HttpClient, HttpClientRequest, type HttpClientResponse } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"

/** Applies a knob patch until the scope closes, then puts back the knobs in force before. */
export const withKnobs = (patch: FakeOpenAi.KnobsPatch) =>
  Effect.flatMap(
    FakeOpenAi.FakeOpenAi,
    (fake) =>
      Effect.acquireRelease(Effect.zipLeft(fake.knobs, fake.configure(patch)), (before) => fake.configure(before))
  )

/** An HttpClient pointed at the emulator with its key. */
export const api = Effect.gen(function*() {
  const fake = yield* FakeOpenAi.FakeOpenAi
  const http = yield* HttpClient.HttpClient
  return http.pipe(
    HttpClient.mapRequest((r) =>
      r.pipe(HttpClientRequest.prependUrl(fake.baseUrl), HttpClientRequest.bearerToken(fake.apiKey))
    )
  )
})

/** Reads a JSON body as a plain record. */
export const body = (res: HttpClientResponse.HttpClientResponse) =>
  Effect.map(res.json, (j) => j as Record<string, unknown>)

/** Decodes a body with a schema. */
export const decode = <A, I>(schema: Schema.Schema<A, I>) => (res: HttpClientResponse.HttpClientResponse) =>
  Effect.flatMap(res.json, Schema.decodeUnknown(schema))

/** JSONL text of chat requests with the given custom ids. */
export const chatLines = (ids: ReadonlyArray<string>, model = "gpt-4o-mini") =>
  ids.map((id) =>
    JSON.stringify({
      custom_id: id,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model, messages: [{ role: "user", content: `question ${id}` }] }
    })
  ).join("\n") + "\n"

/** Uploads a text as a file with a purpose and returns the file id. */
export const upload = (text: string, purpose = "batch", filename = "input.jsonl") =>
  Effect.gen(function*() {
    const client = yield* api
    const form = new FormData()
    form.append("purpose", purpose)
    form.append("file", new Blob([text], { type: "application/jsonl" }), filename)
    const res = yield* client.post("/files", { body: HttpBody.formData(form) })
    const json = yield* body(res)
    if (res.status !== 200) return yield* Effect.dieMessage(`upload failed: ${res.status} ${JSON.stringify(json)}`)
    return json.id as string
  })

/** Creates a chat batch for an input file. */
export const createBatch = (inputFileId: string, extra: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const client = yield* api
    const res = yield* client.post("/batches", {
      body: HttpBody.unsafeJson({
        input_file_id: inputFileId,
        endpoint: "/v1/chat/completions",
        completion_window: "24h",
        ...extra
      })
    })
    return { status: res.status, json: yield* body(res), headers: res.headers }
  })

/** GETs a path and returns status and JSON body. */
export const getJson = (path: string) =>
  Effect.gen(function*() {
    const client = yield* api
    const res = yield* client.get(path)
    return { status: res.status, json: yield* body(res), headers: res.headers }
  })

/** POSTs an empty body to a path and returns status and JSON body. */
export const postEmpty = (path: string) =>
  Effect.gen(function*() {
    const client = yield* api
    const res = yield* client.post(path)
    return { status: res.status, json: yield* body(res), headers: res.headers }
  })

/** Downloads a file's content as text. */
export const content = (fileId: string) =>
  Effect.gen(function*() {
    const client = yield* api
    const res = yield* client.get(`/files/${fileId}/content`)
    return yield* res.text
  })

/** The emulator on a real socket plus a Node HTTP client. */
export const live = (options: FakeOpenAi.ServerOptions = {}) =>
  Layer.merge(FakeOpenAi.layer(options), NodeHttpClient.layer)

/** A request with an explicit Authorization header (or none) to the emulator. */
export const raw = (method: "GET" | "POST", path: string, authorization: string | undefined) =>
  Effect.gen(function*() {
    const fake = yield* FakeOpenAi.FakeOpenAi
    const http = yield* HttpClient.HttpClient
    const url = fake.baseUrl + path
    const request = method === "GET" ? HttpClientRequest.get(url) : HttpClientRequest.post(url)
    const res = yield* http.execute(
      authorization === undefined ? request : HttpClientRequest.setHeader(request, "authorization", authorization)
    )
    return { status: res.status, json: yield* body(res), headers: res.headers }
  })
