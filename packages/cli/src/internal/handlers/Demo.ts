/**
 * What `batchfx demo` does (loaded when it runs; the command is in `commands/Demo.ts`). The
 * testkit is loaded only here.
 */
import type { Jobs as JobsLib } from "@batchfx/jobs"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Api } from "../api.js"
import { layerHttp } from "../apiLive.js"
import * as Output from "../output.js"
import * as Render from "../render.js"
import { download } from "./Results.js"
import { waitFor } from "./Wait.js"

const questions = [
  "What is 2+2?",
  "Name a prime number.",
  "What is the capital of France?",
  "Say hello in Spanish.",
  "How many legs has a spider?",
  "Spell 'batch' backwards.",
  "Which planet is largest?",
  "What colour is the sky?",
  "Name a noble gas.",
  "What is 10 squared?",
  "Translate 'thank you' to German.",
  "What is H2O?"
]

/** The sample input of the demo: one chat request per line. */
export const sampleInput: string = questions.map((content, i) =>
  JSON.stringify({
    custom_id: `demo-${i + 1}`,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "gpt-4o-mini", messages: [{ role: "user", content }], max_tokens: 50 }
  })
).join("\n") + "\n"

/** The emulator's count of the requests a route answered. */
type CountRequests = (route: "POST /v1/files" | "POST /v1/batches") => Effect.Effect<number>

const step = (n: number, text: string) => Output.outLine(`\n${Output.bold(`${n}. ${text}`)}`)

const contentOf = (line: string): string => {
  try {
    const parsed = JSON.parse(line) as {
      custom_id?: string
      response?: {
        status_code?: number
        body?: { choices?: ReadonlyArray<{ message?: { content?: string } }>; error?: { message?: string } }
      }
      error?: { message?: string } | null
    }
    const answer = parsed.response?.body?.choices?.[0]?.message?.content
    return `${parsed.custom_id ?? "?"}: ${
      answer ?? parsed.error?.message ??
        `HTTP ${parsed.response?.status_code ?? "?"} ${parsed.response?.body?.error?.message ?? ""}`.trimEnd()
    }`
  } catch {
    return line.slice(0, 80)
  }
}

/**
 * A durable job that survives a restart: stored, picked up by a worker in this process, the worker
 * stopped (its fiber interrupted, as Ctrl-C or a crash would stop it) while the batch runs, and a
 * new worker that resumes it at the poll, without a second upload or batch. The jobs library
 * (and libSQL) is loaded only here.
 */
const durableJob = (
  n: number,
  input: string,
  dir: string,
  fake: { readonly apiKey: string; readonly baseUrl: string; readonly requestCount: CountRequests }
) =>
  Effect.gen(function*() {
    const { Jobs } = yield* Effect.promise(() => import("@batchfx/jobs"))
    const path = yield* Path.Path
    const store = `file:${path.join(dir, "jobs.db")}`
    yield* step(n, `A durable job survives a restart (batchfx jobs submit, then batchfx jobs run twice)`)
    const uploads = yield* fake.requestCount("POST /v1/files")
    const batches = yield* fake.requestCount("POST /v1/batches")
    // polls often, so that the tour stays short
    const worker = { poll: Schedule.spaced("500 millis"), pickUp: "200 millis" } as const
    const layer = Jobs.layer({ store, client: { apiKey: Redacted.make(fake.apiKey), baseUrl: fake.baseUrl } }).pipe(
      Layer.provide(layerHttp)
    )
    return yield* Effect.gen(function*() {
      const jobId = yield* Jobs.submitPath(input, { endpoint: "/v1/chat/completions", name: "demo" })
      yield* Output.outLine(`   stored job ${jobId} (${questions.length} requests) in ${path.join(dir, "jobs.db")}`)
      const first = yield* Effect.fork(Jobs.run(worker))
      const running = yield* Jobs.status(jobId).pipe(
        Effect.repeat(
          Schedule.spaced("100 millis").pipe(
            Schedule.whileInput((r: JobsLib.JobReport) => !r.shards.some((s) => s.batchStatus === "in_progress")),
            Schedule.passthrough
          )
        ),
        Effect.timeout("20 seconds")
      )
      yield* Fiber.interrupt(first)
      const batchId = running.shards[0]?.batchId ?? "?"
      yield* Output.outLine(`   a worker uploaded the input, created ${batchId} and was stopped while it ran`)
      yield* Output.outLine(`   the job is ${(yield* Jobs.status(jobId)).job.status}; a new worker picks it up`)
      const started = yield* Clock.currentTimeMillis
      const job = yield* Jobs.runUntilDone(jobId, worker).pipe(Effect.timeout("30 seconds"))
      const report = yield* Jobs.status(jobId)
      const outcomes = yield* Stream.runFold(
        Jobs.results(jobId),
        { succeeded: 0, failed: 0 },
        (n, r) => r._tag === "Succeeded" ? { ...n, succeeded: n.succeeded + 1 } : { ...n, failed: n.failed + 1 }
      )
      const uploaded = (yield* fake.requestCount("POST /v1/files")) - uploads
      const created = (yield* fake.requestCount("POST /v1/batches")) - batches
      yield* Output.outLine(
        `   it resumed polling ${batchId}: the job ${job.status} ${
          ((Number(job.finishedAt ?? started) - started) / 1000).toFixed(1)
        } s later, with ${uploaded} upload and ${created} batch in all`
      )
      yield* Output.outLine(
        `   ${report.results} result lines stored: ${outcomes.succeeded} succeeded, ${outcomes.failed} failed ` +
          `(batchfx jobs results ${jobId} --output FILE)`
      )
    }).pipe(Effect.provide(layer))
  })

/** The tour: emulator, submit, wait, list, results, a durable job. */
export const handler = () =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    const FakeOpenAi = yield* Effect.promise(() => import("@batchfx/testkit/FakeOpenAi"))
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const fake = yield* FakeOpenAi.FakeOpenAi
    yield* Output.outLine(
      `batchfx demo: the OpenAI Batch API workflow against a local emulator (no key, no network, no cost).`
    )
    yield* step(1, `Started the emulator at ${fake.baseUrl}`)
    yield* fake.seedBatches(40)
    yield* Output.outLine(`   seeded 40 finished batches to list later`)

    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "batchfx-demo-" })
    const input = path.join(dir, "questions.jsonl")
    yield* fs.writeFileString(input, sampleInput)
    yield* step(2, `Submitting ${questions.length} chat requests from ${input}`)
    const api = yield* Api
    const file = yield* api.upload(input, "/v1/chat/completions")
    yield* Output.outLine(`   checked every line and uploaded it as ${file.id} (${file.bytes} bytes)`)
    const batch = yield* api.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { source: "batchfx demo" }
    })
    yield* Output.outLine(`   created ${batch.id} (${batch.status})`)

    yield* step(3, `Waiting for ${batch.id} (batchfx wait ${batch.id})`)
    // The progress is part of the tour, told on stdout with the rest of it.
    const final = yield* waitFor(batch.id, {
      interval: "1 second",
      timeout: Option.some(Duration.seconds(25)),
      progress: "stdout"
    }).pipe(
      Effect.catchTag(
        "CommandFailed",
        (e) => Effect.zipRight(Output.outLine(`   ${e.message}`), api.retrieve(batch.id))
      )
    )

    yield* step(4, "The 5 newest batches (batchfx list --max 5)")
    yield* Render.printBatches(Stream.take(api.list({ limit: 5 }), 5), "table")

    const output = path.join(dir, "results.jsonl")
    const errors = path.join(dir, "errors.jsonl")
    yield* step(5, `Downloading the results (batchfx results ${batch.id} --output results.jsonl --errors errors.jsonl)`)
    yield* download(final, { output: Option.some(output), errors: Option.some(errors) })
    const show = (file: string, title: string) =>
      Effect.gen(function*() {
        const lines = (yield* fs.readFileString(file)).split("\n").filter((l) => l.trim() !== "")
        yield* Output.outLine(`   ${title}: ${lines.length} line${lines.length === 1 ? "" : "s"}`)
        for (const line of lines.slice(0, 4)) yield* Output.outLine(`     ${contentOf(line)}`)
        if (lines.length > 4) yield* Output.outLine(`     …`)
      })
    yield* show(output, "results.jsonl (in completion order, matched to requests by custom_id)")
    yield* show(errors, "errors.jsonl")

    yield* durableJob(6, input, dir, fake)

    const elapsed = (yield* Clock.currentTimeMillis) - started
    yield* Output.outLine(
      `\nDone in ${(elapsed / 1000).toFixed(1)} s. Next: \`batchfx fake-server --seed 1000\` in one shell, ` +
        "then `OPENAI_API_KEY=sk-fake-batchfx batchfx --base-url <its URL> list` in another; `batchfx --help` for every command."
    )
  }).pipe(
    Effect.provide(
      Layer.unwrapEffect(Effect.promise(async () => {
        const [FakeOpenAi, Responder, { layerOptions }] = await Promise.all([
          import("@batchfx/testkit/FakeOpenAi"),
          import("@batchfx/testkit/Responder"),
          import("../apiLive.js")
        ])
        const emulator = FakeOpenAi.layer({
          durations: { validating: "400 millis", inProgress: "3 seconds", finalizing: "400 millis" },
          failLine: Responder.failCustomIds(/^demo-(5|11)$/)
        })
        const api = Layer.unwrapEffect(
          Effect.map(FakeOpenAi.FakeOpenAi, (fake) =>
            layerOptions({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.baseUrl }))
        )
        return Layer.provideMerge(api, emulator)
      }))
    ),
    Effect.scoped
  )
