/**
 * `wait` rides out an outage of the server in the middle of a wait (the case: a 1.4 s
 * outage ended a 24-hour wait), on the emulator over real HTTP with no per-call retries: every poll
 * fails (503, resets, 429, 500) from the first progress line until two failures were counted at
 * the emulator, then the server comes back and the wait ends with the batch completed.
 */
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { configured, envFor, inputFile, jsonLines, runCli, startCli, tempDir } from "./utils.js"

/** Failed answers (5xx, resets, 429) of the batch route so far. */
const failedPolls = Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.counters).pipe(
  Effect.map((counters) =>
    counters
      .filter((c) => c.route === "GET /v1/batches/{id}" && (c.status === 0 || c.status === 429 || c.status >= 500))
      .reduce((n, c) => n + c.count, 0)
  )
)

layer(FakeOpenAi.layer(), { excludeTestServices: true, timeout: "60 seconds" })(
  "wait through an outage",
  (it) => {
    it.scoped("an outage of several polls in the middle of a wait: the wait goes on and ends at completed", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const env = envFor(fake)
        yield* configured({ durations: { validating: "2 seconds", inProgress: "100 millis", finalizing: "20 millis" } })
        const created = yield* runCli(
          ["create", "--input", inputFile(tempDir(), 2), "-e", "/v1/chat/completions"],
          { env }
        )
        assert.strictEqual(created.code, 0, created.stderr)
        const id = jsonLines(created.stdout)[0]!["id"] as string
        const waiting = yield* startCli(["wait", id, "--max-retries", "0", "--interval", "1s"], { env })
        yield* waiting.stderr.until((text) => text.includes(`${id} validating`))
        const before = yield* failedPolls
        yield* fake.configure({
          randomFaults: {
            rate: 1,
            faults: [Fault.status(503), Fault.resetBeforeResponse, Fault.status(429), Fault.status(500)],
            routes: ["GET /v1/batches/{id}"]
          }
        })
        // the outage lasts until two polls in a row failed (a second or more), then the server is back
        yield* failedPolls.pipe(Effect.repeat({
          schedule: Schedule.spaced("50 millis"),
          until: (n) => n >= before + 2
        }))
        yield* fake.configure({ randomFaults: undefined })
        const r = yield* waiting.exit
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(jsonLines(r.stdout)[0]!["status"], "completed")
        // progress lines only: the outage was waited out without a word
        assert.match(r.stderr, new RegExp(`^(\\S+Z ${id} \\w+[^\\n]*\\n)+$`))
        assert.match(r.stderr, new RegExp(`${id} completed`))
        assert.isAtLeast((yield* failedPolls) - before, 2)
      }))
  }
)
