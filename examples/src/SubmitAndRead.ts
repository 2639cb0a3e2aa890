/**
 * Submits chat requests as a batch and reads the answers as a typed `Stream`: the lines are checked,
 * uploaded, the batch is created and watched to the end, and each outcome arrives joined to its
 * request, its body decoded with a Schema. Runs against the emulator on 127.0.0.1 with a short
 * lifecycle; point `submitAndRead` at the real API with
 * `BatchClient.layerConfig()` and `NodeHttpClient.layerUndici`.
 *
 * Run: `pnpm build && node examples/dist/SubmitAndRead.js`
 */
import * as BatchClient from "@batchfx/client/BatchClient"
import * as Submit from "@batchfx/client/Submit"
import type { RequestLine } from "@batchfx/core"
import { FakeOpenAi, Responder } from "@batchfx/testkit"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Redacted, Schedule, Schema, Stream } from "effect"
import { pathToFileURL } from "node:url"

/** The part of a chat completion this program reads. */
export const ChatCompletion = Schema.Struct({
  model: Schema.String,
  choices: Schema.NonEmptyArray(Schema.Struct({ message: Schema.Struct({ content: Schema.String }) })),
  usage: Schema.Struct({ total_tokens: Schema.Int })
})

/** One answered (or failed) question. */
export interface Answer {
  readonly customId: string
  readonly question: string
  readonly outcome: "answered" | "failed" | "missing"
  readonly text: string
  readonly tokens: number
}

/** What the program saw. */
export interface Summary {
  readonly batchIds: ReadonlyArray<string>
  readonly statuses: ReadonlyArray<string>
  readonly answers: ReadonlyArray<Answer>
}

const endpoint = "/v1/chat/completions"

/** The questions asked; the emulator is told to fail the last one. */
export const questions = ["What is 2+2?", "Name a prime.", "Capital of France?", "Say hello.", "Fail, please."]

const requestLine = (question: string, i: number): RequestLine.BatchRequestLine => ({
  custom_id: `q-${i + 1}`,
  method: "POST",
  url: endpoint,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: question }] }
})

const questionOf = (line: RequestLine.BatchRequestLine): string =>
  (line.body.messages as ReadonlyArray<{ readonly content: string }>)[0]!.content

/**
 * Submits the questions and collects the answers as they stream in, printing each one.
 */
export const submitAndRead = (
  asked: ReadonlyArray<string>,
  poll: Schedule.Schedule<unknown, unknown> = Schedule.spaced("2 seconds")
) =>
  Effect.gen(function*() {
    const batchIds = new Set<string>()
    const statuses: Array<string> = []
    const answers = yield* Submit.submit(asked.map(requestLine), {
      endpoint,
      metadata: { example: "SubmitAndRead" },
      body: ChatCompletion,
      watch: { schedule: poll },
      onBatch: (batch) =>
        Effect.gen(function*() {
          batchIds.add(batch.id)
          if (statuses[statuses.length - 1] !== batch.status) statuses.push(batch.status)
          const c = batch.request_counts
          yield* Console.log(`${batch.id} ${batch.status} (${c?.completed ?? 0} done, ${c?.failed ?? 0} failed)`)
        })
    }).pipe(
      Stream.map((outcome): Answer => {
        switch (outcome._tag) {
          case "Succeeded":
            return {
              customId: outcome.customId,
              question: questionOf(outcome.input),
              outcome: "answered",
              text: outcome.body.choices[0].message.content,
              tokens: outcome.body.usage.total_tokens
            }
          case "Failed":
            return {
              customId: outcome.customId,
              question: questionOf(outcome.input),
              outcome: "failed",
              text: outcome.message,
              tokens: 0
            }
          case "Missing":
            return {
              customId: outcome.customId,
              question: questionOf(outcome.input),
              outcome: "missing",
              text: "",
              tokens: 0
            }
          case "Unmatched":
            return { customId: outcome.customId, question: "", outcome: "missing", text: "", tokens: 0 }
        }
      }),
      Stream.tap((a) => Console.log(`${a.customId} ${a.outcome}: ${a.question} -> ${a.text}`)),
      Stream.runCollect
    )
    return { batchIds: [...batchIds], statuses, answers: Array.from(answers) } satisfies Summary
  })

/** The emulator on 127.0.0.1 (a lifecycle of a fraction of a second) and a client pointed at it. */
export const emulatorAndClient = Layer.unwrapEffect(
  Effect.map(
    FakeOpenAi.FakeOpenAi,
    (fake) => BatchClient.layer({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.baseUrl })
  )
).pipe(
  Layer.provideMerge(FakeOpenAi.layer({
    durations: { validating: "50 millis", inProgress: "200 millis", finalizing: "50 millis" },
    failLine: Responder.failCustomIds(new RegExp(`^q-${questions.length}$`))
  })),
  Layer.provide(NodeHttpClient.layerUndici),
  Layer.orDie
)

/** The whole example as one Effect: submit to the emulator, read typed answers. */
export const program: Effect.Effect<Summary, Submit.SubmitError> = submitAndRead(
  questions,
  Schedule.spaced("50 millis")
).pipe(
  Effect.provide(emulatorAndClient)
)

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  program.pipe(
    Effect.flatMap((summary) =>
      Console.log(
        `${summary.answers.filter((a) => a.outcome === "answered").length} of ${summary.answers.length} answered`
      )
    ),
    NodeRuntime.runMain
  )
}
