import type { RequestLine } from "@batchfx/core"
import { Jobs } from "@batchfx/jobs"
import { FakeOpenAi } from "@batchfx/testkit"
import { NodeContext } from "@effect/platform-node"
import { type Duration, Effect, Fiber, Layer, Redacted, Schedule, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const chat = "/v1/chat/completions"

export const chatLine = (i: number, prefix = "req"): RequestLine.BatchRequestLine => ({
  custom_id: `${prefix}-${i}`,
  method: "POST",
  url: chat,
  body: { model: "gpt-4o-mini", messages: [{ role: "user", content: `question ${i}` }] }
})

export const chatLines = (n: number, prefix = "req") => Array.from({ length: n }, (_, i) => chatLine(i + 1, prefix))

// The stores' directories, removed by one exit listener (one per store passed Node's limit of ten).
const storeDirs: Array<string> = []
process.once("exit", () => {
  for (const dir of storeDirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A fresh directory for a store, removed when the process ends. */
export const tempStore = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "batchfx-jobs-"))
  storeDirs.push(dir)
  return `file:${path.join(dir, "jobs.db")}`
}

/** The client of the emulator in context. */
export const clientOfFake = Layer.unwrapEffect(
  Effect.map(
    FakeOpenAi.FakeOpenAi,
    (fake) => Jobs.layerClient({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.baseUrl })
  )
)

/** A store at `url`, the emulator in memory (for `TestClock`), and the client of it. */
export const inMemory = (url: string, fake: FakeOpenAi.Options = {}) =>
  Layer.mergeAll(Jobs.layerStore(url), clientOfFake).pipe(
    Layer.provideMerge(FakeOpenAi.layerInMemory(fake)),
    Layer.provide(NodeContext.layer),
    Layer.orDie
  )

/** A worker that polls every second and cuts shards at `maxLines`. */
export const worker = (maxLines = 50_000) =>
  Jobs.layerWorker({
    poll: Schedule.spaced("1 second"),
    limits: { maxLines },
    pickUp: "100 millis",
    // These tests move a TestClock 1 to 5 s a turn, which the socket runners' timers (lock
    // deadlines, health pings, RPC timeouts) cannot follow while their real I/O runs: jobs stalled
    // in CI. The steps are the same on either runner; MultiWorker.test runs socket runners on the
    // real clock.
    singleRunner: true
  }).pipe(Layer.orDie)

/** Runs `effect` in a fiber while the TestClock moves forward in `step`s. */
export const drive = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  step: Duration.DurationInput = "1 second",
  steps = 600
) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < steps; i++) {
      if ((yield* Fiber.poll(fiber))._tag === "Some") break
      yield* TestClock.adjust(step)
      // one turn of the event loop, so the store's real I/O keeps pace with simulated time
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }
    return yield* Fiber.join(fiber)
  })

export const count = (route?: FakeOpenAi.Counter["route"]) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.requestCount(route))
