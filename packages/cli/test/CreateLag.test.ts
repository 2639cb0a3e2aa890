/**
 * Issue 20, point 3 in the CLI: a `submit` whose create answer is lost makes one batch although the
 * batch list lags 30 s. Under TestClock: the CLI's own fetch-based client reaches the emulator in
 * memory through a `fetch` given to it. Counted at the server.
 */
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Runtime, Stream, TestClock } from "effect"
import { envFor, inputFile, startCli, tempDir } from "./utils.js"

const chat = "/v1/chat/completions"

// Lets real I/O (file reads, promises) move on; never decides an outcome.
const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

// A `fetch` that hands each request to the emulator's in-memory client on the test's runtime, so
// the CLI's own fetch-based client runs under TestClock.
const fetchInto =
  (client: HttpClient.HttpClient, runtime: Runtime.Runtime<never>): typeof globalThis.fetch => async (input, init) => {
    const web = new Request(input, init)
    const body = web.body === null ? undefined : new Uint8Array(await web.arrayBuffer())
    const base = HttpClientRequest.make(web.method as "GET")(web.url, { headers: Object.fromEntries(web.headers) })
    const request = body === undefined
      ? base
      : HttpClientRequest.bodyUint8Array(base, body, web.headers.get("content-type") ?? undefined)
    const response = await Runtime.runPromise(runtime)(client.execute(request))
    return new Response(
      response.status === 204 ? null : Stream.toReadableStreamRuntime(response.stream, runtime),
      { status: response.status, headers: response.headers }
    )
  }

describe("submit with a lagging list (TestClock)", () => {
  it.effect(
    "the create's answer is lost and the list lags 30 s: one batch at the server",
    () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.make({ durations: { validating: "1 hour" }, listLag: "30 seconds" })
        const client = FakeOpenAi.httpClient(fake.app)
        yield* fake.scriptFault("POST /v1/batches", 1, Fault.resetAfterHandling)
        const fetch = fetchInto(client, yield* Effect.runtime<never>())
        const started = yield* startCli(["submit", inputFile(tempDir(), 2), "-e", chat, "--format", "json"], {
          env: envFor(fake)
        }).pipe(Effect.provideService(FetchHttpClient.Fetch, fetch))
        const done = yield* Effect.fork(started.exit)
        // The clock moves only once the upload (real file reads) is done, then 1 s per step.
        for (let i = 0; i < 3000 && (yield* Fiber.poll(done))._tag === "None"; i++) {
          if (started.stderr.text().includes("Uploaded")) yield* TestClock.adjust("1 second")
          yield* realPause(2)
        }
        const r = yield* Fiber.join(done)
        assert.strictEqual(r.code, 0, r.stderr)
        const printed = JSON.parse(r.stdout) as { readonly id: string }
        yield* TestClock.adjust("31 seconds")
        const listed = yield* client.execute(
          HttpClientRequest.get(`${fake.baseUrl}/batches?limit=100`).pipe(HttpClientRequest.bearerToken(fake.apiKey))
        ).pipe(Effect.flatMap((response) => response.json))
        const ids = (listed as { readonly data: ReadonlyArray<{ readonly id: string }> }).data.map((b) => b.id)
        assert.deepStrictEqual(ids, [printed.id], "exactly one batch, the one printed")
        assert.strictEqual(yield* fake.requestCount("POST /v1/batches"), 1, "found by its token, not sent again")
      }),
    { timeout: 60_000 }
  )
})
