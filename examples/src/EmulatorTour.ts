/**
 * A tour of the emulator: starts `FakeOpenAi` on 127.0.0.1 with a short lifecycle, uploads an input
 * file, creates a batch, watches it go validating → in_progress → finalizing → completed, and
 * downloads its output and error files, printing each step.
 *
 * Run: `pnpm build && node examples/dist/EmulatorTour.js`
 */
import { Batch, BatchStatus, Jsonl, ResultLine } from "@batchfx/core"
import { FakeOpenAi, Responder } from "@batchfx/testkit"
import { HttpBody, HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { pathToFileURL } from "node:url"

/** What the tour saw. */
export interface TourResult {
  readonly batchId: string
  /** Every distinct status observed, in order. */
  readonly statuses: ReadonlyArray<string>
  readonly final: Batch.Batch
  readonly output: ReadonlyArray<ResultLine.BatchResultLine>
  readonly errors: ReadonlyArray<ResultLine.BatchResultLine>
}

const questions = ["What is 2+2?", "Name a prime.", "Capital of France?", "Say hello.", "Fail, please."]

const inputFile = questions
  .map((content, i) =>
    JSON.stringify({
      custom_id: `tour-${i + 1}`,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model: "gpt-4o-mini", messages: [{ role: "user", content }] }
    })
  )
  .join("\n") + "\n"

/** The tour itself, against whatever emulator and HttpClient are provided. */
export const tour: Effect.Effect<TourResult, unknown, FakeOpenAi.FakeOpenAi | HttpClient.HttpClient> = Effect.gen(
  function*() {
    const fake = yield* FakeOpenAi.FakeOpenAi
    yield* Console.log(`1. emulator listening at ${fake.baseUrl} (key ${fake.apiKey})`)
    const http = (yield* HttpClient.HttpClient).pipe(
      HttpClient.mapRequest((r) =>
        r.pipe(HttpClientRequest.prependUrl(fake.baseUrl), HttpClientRequest.bearerToken(fake.apiKey))
      ),
      HttpClient.filterStatusOk
    )
    const batchOf = (res: HttpClientResponse.HttpClientResponse) => HttpClientResponse.schemaBodyJson(Batch.Batch)(res)

    const form = new FormData()
    form.append("purpose", "batch")
    form.append("file", new Blob([inputFile]), "tour.jsonl")
    const file = yield* Effect.flatMap(http.post("/files", { body: HttpBody.formData(form) }), (r) => r.json)
    const fileId = (file as { id: string }).id
    yield* Console.log(`2. uploaded ${questions.length} requests as ${fileId}`)

    const created = yield* Effect.flatMap(
      http.post("/batches", {
        body: HttpBody.unsafeJson({
          input_file_id: fileId,
          endpoint: "/v1/chat/completions",
          completion_window: "24h",
          metadata: { example: "EmulatorTour" }
        })
      }),
      batchOf
    )
    yield* Console.log(`3. created ${created.id}: ${created.status}, expires at ${created.expires_at}`)

    const statuses: Array<string> = [created.status]
    let batch = created
    while (!BatchStatus.isTerminal(batch.status)) {
      yield* Effect.sleep("50 millis")
      batch = yield* Effect.flatMap(http.get(`/batches/${created.id}`), batchOf)
      if (batch.status !== statuses[statuses.length - 1]) {
        statuses.push(batch.status)
        const c = batch.request_counts
        yield* Console.log(
          `4. ${batch.status.padEnd(11)} ${c?.completed ?? 0} done, ${c?.failed ?? 0} failed of ${c?.total ?? 0}`
        )
      }
    }

    const download = (id: string | null | undefined) =>
      id === null || id === undefined
        ? Effect.succeed<ReadonlyArray<ResultLine.BatchResultLine>>([])
        : Effect.flatMap(
          Effect.flatMap(http.get(`/files/${id}/content`), (r) => r.text),
          Jsonl.decodeLines(ResultLine.BatchResultLine)
        )
    const output = yield* download(batch.output_file_id)
    const errors = yield* download(batch.error_file_id)
    yield* Console.log(`5. output file ${batch.output_file_id}: ${output.length} lines (not in input order)`)
    for (const line of output) {
      const body = line.response?.body as { choices?: ReadonlyArray<{ message?: { content?: string } }> }
      yield* Console.log(`   ${line.custom_id}: ${body.choices?.[0]?.message?.content ?? "?"}`)
    }
    yield* Console.log(`6. error file ${batch.error_file_id}: ${errors.length} lines`)
    for (const line of errors) yield* Console.log(`   ${line.custom_id}: HTTP ${line.response?.status_code}`)
    const usage = batch.usage
    yield* Console.log(`7. usage: ${usage?.input_tokens} in, ${usage?.output_tokens} out, ${usage?.total_tokens} total`)
    return { batchId: batch.id, statuses, final: batch, output, errors }
  }
)

/** The emulator on a real socket with a lifecycle of about a second, and a Node HTTP client. */
export const TourLive = Layer.merge(
  FakeOpenAi.layer({
    durations: { validating: "200 millis", inProgress: "600 millis", finalizing: "200 millis" },
    failLine: Responder.failCustomIds(/^tour-5$/)
  }),
  NodeHttpClient.layer
)

/** The whole tour, ready to run. */
export const program: Effect.Effect<TourResult, unknown> = Effect.provide(tour, TourLive)

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  NodeRuntime.runMain(Effect.asVoid(program))
}
