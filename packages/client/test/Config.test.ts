import { BatchClient } from "@batchfx/client"
import { FakeOpenAi } from "@batchfx/testkit"
import { HttpClient, type HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Effect, Layer } from "effect"

/** The emulator in memory, and its client with every request it sends recorded. */
const recordingClient = Effect.gen(function*() {
  const seen: Array<HttpClientRequest.HttpClientRequest> = []
  const http = (yield* HttpClient.HttpClient).pipe(
    HttpClient.tapRequest((request) => Effect.sync(() => seen.push(request)))
  )
  return { seen, http: Layer.succeed(HttpClient.HttpClient, http) }
})

describe("configuration", () => {
  it.effect("layerConfig reads OPENAI_* and sends the auth, organization, project and accept headers", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const { http, seen } = yield* recordingClient
      const env = ConfigProvider.fromMap(
        new Map([
          ["OPENAI_API_KEY", fake.apiKey],
          ["OPENAI_BASE_URL", `${fake.baseUrl}/`],
          ["OPENAI_ORG_ID", "org-123"],
          ["OPENAI_PROJECT_ID", "proj_456"]
        ])
      )
      const error = yield* BatchClient.retrieve("batch_x").pipe(
        Effect.flip,
        Effect.provide(BatchClient.layerConfig().pipe(Layer.provide(http))),
        Effect.withConfigProvider(env)
      )
      assert.strictEqual(error._tag, "NotFound", "the key was accepted")
      assert.strictEqual(seen.length, 1)
      const request = seen[0]!
      assert.strictEqual(request.url, `${fake.baseUrl}/batches/batch_x`)
      assert.strictEqual(request.headers["authorization"], `Bearer ${fake.apiKey}`)
      assert.strictEqual(request.headers["openai-organization"], "org-123")
      assert.strictEqual(request.headers["openai-project"], "proj_456")
      assert.strictEqual(request.headers["accept"], "application/json")
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("OPENAI_BASE_URL defaults to the OpenAI API and the optional headers are left out", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const { http, seen } = yield* recordingClient
      // The in-memory client answers every host from the emulator: nothing leaves the process.
      yield* BatchClient.retrieve("batch_x").pipe(
        Effect.flip,
        Effect.provide(BatchClient.layerConfig().pipe(Layer.provide(http))),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", fake.apiKey]])))
      )
      assert.strictEqual(seen[0]!.url, "https://api.openai.com/v1/batches/batch_x")
      assert.isUndefined(seen[0]!.headers["openai-organization"])
      assert.isUndefined(seen[0]!.headers["openai-project"])
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("a missing or empty OPENAI_API_KEY is a ConfigError and nothing is sent", () =>
    Effect.gen(function*() {
      const { http, seen } = yield* recordingClient
      for (const env of [new Map<string, string>(), new Map([["OPENAI_API_KEY", " "]])]) {
        const error = yield* BatchClient.retrieve("batch_x").pipe(
          Effect.provide(BatchClient.layerConfig().pipe(Layer.provide(http))),
          Effect.withConfigProvider(ConfigProvider.fromMap(env)),
          Effect.flip
        )
        assert.isTrue(ConfigError.isConfigError(error))
        assert.notInclude(String(error), "OPENAI_API_KEY=")
      }
      assert.strictEqual(seen.length, 0)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))

  it.effect("a key ending in CR/LF (a CRLF .env) is sent without it; a bad key or a base URL with a password is a ConfigError that shows neither", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const { http, seen } = yield* recordingClient
      const retrieve = (key: string) =>
        BatchClient.retrieve("batch_x").pipe(
          Effect.provide(BatchClient.layerConfig().pipe(Layer.provide(http))),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OPENAI_API_KEY", key]]))),
          Effect.flip
        )
      for (const ending of ["\r\n", "\n", "\r\n\r\n"]) {
        const error = yield* retrieve(fake.apiKey + ending)
        assert.strictEqual(error._tag, "NotFound", "the key was accepted")
        assert.strictEqual(seen.at(-1)!.headers["authorization"], `Bearer ${fake.apiKey}`)
      }
      const sent = seen.length
      const bad: ReadonlyArray<readonly [string, RegExp]> = [
        ["sk-SECRET\r\nX-Injected: 1", /a control character at position 10 of 24/],
        ["sk-SECRET\u0000", /a control character at position 10 of 10/],
        ["sk-SECRET \r\n", /a space at position 10 of 10/],
        ["sk-SECRET-é€", /a non-ASCII character at position 11 of 12/]
      ]
      for (const [key, says] of bad) {
        const error = yield* retrieve(key)
        assert.isTrue(ConfigError.isConfigError(error), String(error))
        assert.match(String(error), says)
        assert.match(String(error), /which an HTTP header cannot carry/)
        assert.notInclude(String(error), "SECRET")
      }
      assert.strictEqual(seen.length, sent, "nothing sent with a bad key")
      // a password in the base URL: refused, and shown as ***
      const withPassword = yield* BatchClient.retrieve("batch_x").pipe(
        Effect.provide(BatchClient.layerConfig().pipe(Layer.provide(http))),
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([["OPENAI_API_KEY", fake.apiKey], ["OPENAI_BASE_URL", "https://bob:hunter2@proxy.example/v1"]])
        )),
        Effect.flip
      )
      assert.isTrue(ConfigError.isConfigError(withPassword), String(withPassword))
      assert.include(String(withPassword), "https://***@proxy.example/v1")
      assert.notInclude(String(withPassword), "hunter2")
      assert.strictEqual(seen.length, sent)
    }).pipe(Effect.provide(FakeOpenAi.layerInMemory())))
})
