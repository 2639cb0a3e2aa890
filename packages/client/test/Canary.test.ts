/**
 * A recognisable key (`sk-SECRET-canary-…`) goes through every service of the client and every
 * error path, under faults, with every span (a custom `Tracer` that records names, attributes,
 * events and exits) and every log line (at level All, in three formats) recorded; the key must
 * appear nowhere, nor in any error however it is printed. RELIABILITY.md lists this check.
 */
import { BatchClient, Bulk, Retry } from "@batchfx/client"
import * as Files from "@batchfx/client/Files"
import * as Results from "@batchfx/client/Results"
import * as Submit from "@batchfx/client/Submit"
import * as Watch from "@batchfx/client/Watch"
import type { RequestLine } from "@batchfx/core"
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { NodeFileSystem, NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  Chunk,
  Effect,
  Exit,
  Inspectable,
  Layer,
  Logger,
  LogLevel,
  Redacted,
  Schedule,
  Stream,
  Tracer
} from "effect"
import { writeFileSync } from "node:fs"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { quickRetry, wire } from "./utils.js"

const canary = "sk-SECRET-canary-1234567890"
const wrongCanary = "sk-SECRET-canary-WRONG-0987654321"
/** Any of these in any output is a leak. */
const needles = [canary, wrongCanary, "SECRET-canary"]

const endpoint = "/v1/chat/completions"

const requests = (n: number): Array<RequestLine.BatchRequestLine> =>
  Array.from({ length: n }, (_, i) => ({
    custom_id: `req-${i + 1}`,
    method: "POST",
    url: endpoint,
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `q${i + 1}` }] }
  }))

const fast = { validating: "20 millis", inProgress: "60 millis", finalizing: "20 millis" } as const

interface Recorded {
  readonly spans: Array<string>
  readonly lines: Array<string>
}

/** A tracer that records every span's name, attributes, events and exit, as text. */
const recordingTracer = (base: Tracer.Tracer, out: Array<string>): Tracer.Tracer =>
  Tracer.make({
    span: (name, parent, context, links, startTime, kind, options) => {
      const span = base.span(name, parent, context, links, startTime, kind, options)
      const events: Array<string> = []
      return Object.assign(Object.create(Object.getPrototypeOf(span)), span, {
        attribute: (key: string, value: unknown) => span.attribute(key, value),
        event: (eventName: string, time: bigint, attributes?: Record<string, unknown>) => {
          events.push(JSON.stringify({ eventName, attributes: Inspectable.toJSON(attributes) }))
          span.event(eventName, time, attributes)
        },
        end: (endTime: bigint, exit: Exit.Exit<unknown, unknown>) => {
          span.end(endTime, exit)
          out.push(JSON.stringify({
            name,
            attributes: [...span.attributes].map(([k, v]) => [k, Inspectable.format(v)]),
            links: links.length,
            events,
            exit: Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "success"
          }))
        }
      }) as Tracer.Span
    },
    context: base.context
  })

/** Runs `program` with every span and log line recorded. */
const recorded = <A, E, R>(program: Effect.Effect<A, E, R>, into: Recorded) =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const capture = Logger.make<unknown, void>((options) => {
      into.lines.push(
        Logger.logfmtLogger.log(options),
        Logger.jsonLogger.log(options),
        Logger.stringLogger.log(options),
        Logger.structuredLogger.log(options) === undefined ? "" : JSON.stringify(Logger.structuredLogger.log(options))
      )
    })
    return yield* program.pipe(
      Effect.withTracer(recordingTracer(base, into.spans)),
      Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
      Logger.withMinimumLogLevel(LogLevel.All)
    )
  })

const printed = (u: unknown): string =>
  [
    String(u),
    Inspectable.format(u),
    (() => {
      try {
        return JSON.stringify(u)
      } catch {
        return ""
      }
    })(),
    u instanceof Error ? `${u.message}\n${u.stack ?? ""}` : ""
  ].join("\n")

const assertNoLeak = (what: string, text: string) => {
  for (const needle of needles) assert.notInclude(text, needle, `${what} shows the key`)
}

describe("the key never shows: every service, every error path, every span and log line", () => {
  it.live(
    "a canary key through upload, create, list, watch, bulk, results, submit and 14 failures",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const client = yield* BatchClient.BatchClient
        const into: Recorded = { spans: [], lines: [] }
        const failures: Array<unknown> = []
        const fail = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>) =>
          Effect.gen(function*() {
            const exit = yield* Effect.exit(effect)
            assert.isTrue(Exit.isFailure(exit), `${label} should fail`)
            if (Exit.isFailure(exit)) {
              failures.push(Cause.squash(exit.cause), Cause.pretty(exit.cause))
              yield* Effect.logError(label, exit.cause)
            }
          })
        const dir = mkdtempSync(join(tmpdir(), "batchfx-canary-"))
        const path = join(dir, "input.jsonl")
        writeFileSync(path, requests(5).map((l) => JSON.stringify(l)).join("\n") + "\n")
        const badPath = join(dir, "bad.jsonl")
        writeFileSync(badPath, "not json\n")

        yield* recorded(
          Effect.gen(function*() {
            yield* fake.seedBatches(40)
            // successes, with faults on the way (retried)
            yield* fake.configure({
              randomFaults: {
                rate: 0.2,
                seed: 11,
                faults: [Fault.status(500), Fault.resetBeforeResponse, Fault.htmlBadGateway, Fault.truncatedBody(30)]
              }
            })
            yield* Stream.runDrain(client.list({ limit: 7 }))
            const file = yield* Files.upload(requests(10), { endpoint })
            const fromPath = yield* Files.uploadPath(path, { endpoint })
            yield* Files.retrieve(fromPath.id)
            yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling) // ambiguous: the lookup runs
            const created = yield* client.create({ input_file_id: file.id, endpoint, completion_window: "24h" })
            const done = yield* Watch.awaitTerminal(created.id, { schedule: Schedule.spaced("20 millis") })
            yield* Stream.runDrain(Results.stream(done))
            yield* Submit.submitAll(requests(4), { endpoint, watch: { schedule: Schedule.spaced("20 millis") } })
            const ids = Chunk.toReadonlyArray(
              yield* Stream.runCollect(Stream.map(client.list({ limit: 20 }), (b) => b.id))
            )
            yield* Stream.runDrain(Bulk.retrieveMany([...ids.slice(0, 10), "batch_missing"]))
            yield* Stream.runDrain(Bulk.cancelMany(ids.slice(0, 5)))
            yield* Files.del(fromPath.id)
            yield* fake.configure({ randomFaults: undefined })

            // failures
            yield* fail("404", client.retrieve("batch_missing"))
            yield* fail("409", client.cancel(done.id))
            yield* fail(
              "400",
              client.create({ input_file_id: file.id, endpoint: "/v1/unknown", completion_window: "24h" })
            )
            yield* fail("invalid params", client.create({ input_file_id: "", endpoint, completion_window: "24h" }))
            yield* fail("input error", Files.upload([requests(1)[0]!, requests(1)[0]!], { endpoint }))
            yield* fail("bad file", Files.uploadPath(badPath, { endpoint }))
            yield* fail("missing file", Files.uploadPath(join(dir, "nope.jsonl"), { endpoint }))
            // A server that takes 30 s, so the 50 ms timeout always fires first.
            yield* fake.configure({ latency: "30 seconds" })
            yield* fail("timeout", client.retrieve(done.id, { timeout: "50 millis", retry: Retry.never }))
            yield* fake.configure({ latency: "0 millis" })
            yield* fake.configure({ quotaExhausted: true })
            yield* fail("quota", client.retrieve(done.id))
            yield* fake.configure({
              quotaExhausted: false,
              rateLimit: { requests: 1, window: "300 millis", headers: false }
            })
            yield* client.retrieve(done.id)
            yield* fail("rate limited", client.retrieve(done.id, { retry: Retry.never }))
            yield* fake.configure({ rateLimit: undefined })
            yield* fake.scriptFault("GET /v1/batches/{id}", 1, Fault.htmlBadGateway)
            yield* fail("html 502", client.retrieve(done.id, { retry: Retry.never }))
            yield* fake.scriptFault("GET /v1/files/{id}/content", 1, Fault.truncatedBody(10))
            yield* fail("cut body", Stream.runDrain(Files.content(done.output_file_id!, { retry: Retry.never })))
            yield* fail(
              "connection refused",
              BatchClient.retrieve("batch_x").pipe(
                Effect.provide(
                  BatchClient.layer({
                    apiKey: Redacted.make(canary),
                    baseUrl: "http://127.0.0.1:9/v1",
                    retry: Retry.never
                  }).pipe(Layer.provide(NodeHttpClient.layerUndici))
                )
              )
            )
            yield* fail(
              "wrong key",
              BatchClient.retrieve("batch_x").pipe(
                Effect.provide(
                  BatchClient.layer({
                    apiKey: Redacted.make(wrongCanary),
                    baseUrl: fake.baseUrl,
                    retry: Retry.never
                  }).pipe(Layer.provide(NodeHttpClient.layerUndici))
                )
              )
            )
          }),
          into
        )

        assert.strictEqual(failures.length, 2 * 14)
        failures.forEach((f, i) => assertNoLeak(`failure ${i}`, printed(f)))
        assert.isAbove(into.lines.length, 50)
        into.lines.forEach((line, i) => assertNoLeak(`log line ${i}`, line))
        assert.isAbove(into.spans.length, 50)
        into.spans.forEach((span) => assertNoLeak(`span ${span.slice(0, 80)}`, span))
        // the attempts' spans are among those checked, and none carries request headers
        assert.isTrue(into.spans.some((s) => s.includes("batchfx.files.upload")))
        assert.isFalse(into.spans.some((s) => s.includes("http.request.header.authorization")))
      }).pipe(
        Effect.provide(
          wire(
            { apiKey: Redacted.make(canary), retry: quickRetry(8) },
            { apiKey: canary, durations: fast }
          ).pipe(Layer.provideMerge(NodeFileSystem.layer))
        )
      ),
    60_000
  )
})
