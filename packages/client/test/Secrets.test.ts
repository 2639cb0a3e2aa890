import { BatchClient, Retry } from "@batchfx/client"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Tracer } from "effect"
import { Cause, Effect, Exit, Inspectable, Layer, Logger, LogLevel, Redacted, Stream } from "effect"
import { quickRetry, recordSpans, wire } from "./utils.js"

const secret = "sk-batchfx-secret-KEY-0123456789abcdef"
const wrongSecret = "sk-batchfx-wrong-KEY-9876543210fedcba"

const params = {
  input_file_id: "file-abc123",
  endpoint: "/v1/chat/completions",
  completion_window: "24h"
} as const

/** Runs `program` with every span and log line recorded. */
const recorded = <A, E, R>(program: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const spans: Array<Tracer.Span> = []
    const tracer = recordSpans(base, spans)
    const lines: Array<string> = []
    const capture = Logger.make<unknown, void>((options) => {
      lines.push(Logger.logfmtLogger.log(options), Logger.jsonLogger.log(options), Logger.stringLogger.log(options))
    })
    const result = yield* program.pipe(
      Effect.withTracer(tracer),
      Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
    return { result, spans, lines }
  })

const spanText = (span: Tracer.Span) =>
  JSON.stringify({
    name: span.name,
    attributes: [...span.attributes].map(([k, v]) => [k, String(v)]),
    status: span.status._tag === "Ended" && Exit.isFailure(span.status.exit)
      ? Cause.pretty(span.status.exit.cause)
      : span.status._tag
  })

describe("the API key stays secret", () => {
  it.live("appears in no error, log line or span attribute", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const client = yield* BatchClient.BatchClient
      yield* fake.seedBatches(30)
      yield* fake.scriptFault("GET /v1/batches", 2, Fault.status(500))
      yield* fake.scriptFault("GET /v1/batches", 3, Fault.resetBeforeResponse)
      yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
      const errors: Array<unknown> = []
      const { lines, spans } = yield* recorded(Effect.gen(function*() {
        yield* Stream.runDrain(client.list({ limit: 10 }))
        yield* client.create(params)
        const failures = [
          client.retrieve("batch_missing"),
          client.cancel("batch_missing"),
          client.create({ ...params, endpoint: "/v1/audio/speech" }),
          // A server that takes 30 s, so the 50 ms timeout always fires first.
          Effect.acquireUseRelease(
            fake.configure({ latency: "30 seconds" }),
            () => client.retrieve("batch_x", { timeout: "50 millis", retry: Retry.never }),
            () => fake.configure({ latency: "0 millis" })
          ),
          BatchClient.retrieve("batch_x").pipe(
            Effect.provide(
              BatchClient.layer({
                apiKey: Redacted.make(wrongSecret),
                baseUrl: fake.baseUrl,
                retry: Retry.never
              }).pipe(Layer.provide(NodeHttpClient.layerUndici))
            )
          )
        ]
        for (const failure of failures) {
          const exit = yield* Effect.exit(failure)
          assert.isTrue(Exit.isFailure(exit))
          if (Exit.isFailure(exit)) {
            errors.push(Cause.squash(exit.cause))
            yield* Effect.logError("call failed", exit.cause)
          }
        }
      }))

      assert.strictEqual(errors.length, 5)
      const tags = errors.map((e) => (e as { _tag: string })._tag)
      assert.deepStrictEqual(tags, ["NotFound", "NotFound", "BadRequest", "TimeoutError", "Authentication"])
      for (const error of errors) {
        const text = [String(error), JSON.stringify(error), Inspectable.format(error), (error as Error).message]
          .join("\n")
        assert.notInclude(text, secret)
        assert.notInclude(text, wrongSecret)
      }
      assert.isAbove(lines.length, 10)
      for (const line of lines) {
        assert.notInclude(line, secret)
        assert.notInclude(line, wrongSecret)
      }
      assert.isAbove(spans.length, 10)
      for (const span of spans) {
        const text = spanText(span)
        assert.notInclude(text, secret)
        assert.notInclude(text, wrongSecret)
      }

      // The platform client makes no span of its own (each attempt has ours), so no span carries
      // request headers at all.
      assert.isFalse(spans.some((s) => s.attributes.has("http.request.header.authorization")))

      // One span per attempt, with method, path, status, request id and attempt.
      const retrieve = spans.find((s) =>
        s.name === "batchfx.batches.retrieve" && s.attributes.get("http.response.status_code") === 404
      )
      assert.isDefined(retrieve)
      assert.strictEqual(retrieve!.attributes.get("http.request.method"), "GET")
      assert.strictEqual(retrieve!.attributes.get("url.path"), "/v1/batches/batch_missing")
      assert.strictEqual(retrieve!.attributes.get("batchfx.attempt"), 1)
      assert.match(String(retrieve!.attributes.get("batchfx.request_id")), /^req_/)
      const listAttempts = spans.filter((s) => s.name === "batchfx.batches.list")
        .map((s) => s.attributes.get("batchfx.attempt"))
      assert.include(listAttempts, 3, "the page that failed twice was attempted three times")

      // Debug lines name method, path and status.
      assert.isTrue(lines.some((l) => l.includes("GET /v1/batches answered 200")))
    }).pipe(
      // Over the platform's undici client, whose own span per request records the headers.
      Effect.provide(
        wire({ apiKey: Redacted.make(secret), retry: quickRetry(3) }, { apiKey: secret }, NodeHttpClient.layerUndici)
      )
    ), 30_000)
})
