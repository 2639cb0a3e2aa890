/**
 * `wait` and its progress under `TestClock`: the adapter is a stand-in whose batch changes when the
 * test moves the clock, so nothing waits for real time and no socket races simulated time.
 */
import { Batch } from "@batchfx/core"
import { assert, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Option, Schema, Stream, TestClock } from "effect"
import * as Cli from "../src/Cli.js"
import { WaitTimedOut } from "../src/CliError.js"
import { Api, type Service } from "../src/internal/api.js"
import { codeOf, ExitCode } from "../src/internal/exitCode.js"
import { waitFor } from "../src/internal/handlers/Wait.js"
import * as Output from "../src/internal/output.js"
import * as Render from "../src/internal/render.js"

const batch = (status: string, counts?: { completed: number; failed: number; total: number }): Batch.Batch =>
  Schema.decodeUnknownSync(Batch.Batch)({
    id: "batch_t",
    object: "batch",
    endpoint: "/v1/chat/completions",
    input_file_id: "file-t",
    completion_window: "24h",
    status,
    created_at: 1_800_000_000,
    request_counts: counts ?? null
  })

const unused = Effect.dieMessage("not used by wait")

/** An adapter whose `watch` gives `observations`. */
const watching = (observations: Stream.Stream<Batch.Batch>): Service => ({
  concurrency: 1,
  list: () => Stream.dieMessage("not used by wait"),
  retrieve: () => unused,
  create: () => unused,
  cancel: () => unused,
  retrieveMany: () => Stream.dieMessage("not used by wait"),
  cancelMany: () => Stream.dieMessage("not used by wait"),
  upload: () => unused,
  content: () => Stream.dieMessage("not used by wait"),
  watch: () => observations
})

/** `first`, then each of `later` one minute after the one before. */
const minuteByMinute = (first: Batch.Batch, ...later: ReadonlyArray<Batch.Batch>) =>
  Stream.concat(Stream.make(first), Stream.fromIterable(later).pipe(Stream.tap(() => Effect.sleep("1 minute"))))

const waiting = (
  observations: Stream.Stream<Batch.Batch>,
  options: { readonly timeout?: Duration.Duration; readonly output?: Output.TestOptions } = {}
) => {
  const io = Output.makeTest(options.output)
  const wait = waitFor("batch_t", {
    interval: "1 minute",
    timeout: Option.fromNullable(options.timeout),
    progress: "stderr"
  }).pipe(
    Effect.provideService(Api, watching(observations)),
    Effect.provideService(Output.Output, io.service)
  )
  return { io, wait }
}

it.effect("wait prints one line per change on stderr in a pipe, stamped with the time of the Clock; stdout stays empty", () =>
  Effect.gen(function*() {
    yield* TestClock.setTime(Date.parse("2026-11-28T12:00:00Z"))
    const { io, wait } = waiting(minuteByMinute(
      batch("validating"),
      batch("in_progress", { completed: 5, failed: 0, total: 10 }),
      batch("completed", { completed: 9, failed: 1, total: 10 })
    ))
    const fiber = yield* Effect.fork(wait)
    yield* TestClock.adjust("2 minutes")
    const final = yield* Fiber.join(fiber)
    assert.strictEqual(final.status, "completed")
    assert.strictEqual(io.stdout.text(), "")
    assert.strictEqual(
      io.stderr.text(),
      "2026-11-28T12:00:00Z batch_t validating\n" +
        "2026-11-28T12:01:00Z batch_t in_progress 5/10 done, 0 failed\n" +
        "2026-11-28T12:02:00Z batch_t completed 9/10 done, 1 failed\n"
    )
  }))

it.effect("wait --timeout gives up at the timeout, not before, naming the last status (WaitTimedOut, exit code 3)", () =>
  Effect.gen(function*() {
    const { io, wait } = waiting(Stream.concat(Stream.make(batch("validating")), Stream.never), {
      timeout: Duration.seconds(30)
    })
    const fiber = yield* Effect.fork(wait)
    yield* TestClock.adjust("29 seconds")
    assert.isTrue(Option.isNone(yield* Fiber.poll(fiber)), "still waiting after 29 s")
    yield* TestClock.adjust("1 second")
    const exit = yield* Fiber.await(fiber)
    assert.isTrue(Exit.isFailure(exit))
    if (Exit.isSuccess(exit)) return
    const error = Cause.squash(exit.cause)
    assert.instanceOf(error, WaitTimedOut)
    assert.strictEqual(codeOf(error), ExitCode.timedOut)
    assert.strictEqual(ExitCode.timedOut, 3)
    const before = io.stderr.text()
    const code = yield* Cli.report(exit.cause).pipe(Effect.provideService(Output.Output, io.service))
    assert.strictEqual(code, ExitCode.timedOut)
    assert.strictEqual(
      io.stderr.text().slice(before.length),
      "batchfx: Batch batch_t is still validating after 30s; stopped waiting (it keeps running).\n"
    )
  }))

it.effect("wait fails with the batch's first error when it ends other than completed", () =>
  Effect.gen(function*() {
    const failed = Schema.decodeUnknownSync(Batch.Batch)({
      ...Schema.encodeSync(Batch.Batch)(batch("failed")),
      errors: { object: "list", data: [{ code: "invalid_json_line", message: "Line is not JSON.", line: 3 }] }
    })
    const { wait } = waiting(minuteByMinute(batch("validating"), failed))
    const fiber = yield* Effect.fork(wait)
    yield* TestClock.adjust("1 minute")
    const error = yield* Effect.flip(Fiber.join(fiber))
    assert.strictEqual(error.message, "Batch batch_t ended failed: Line is not JSON. (line 3).")
  }))

it.effect("on a terminal (stderr) the bar is redrawn in place, cut to the terminal's width", () =>
  Effect.gen(function*() {
    const observed = [
      batch("in_progress", { completed: 0, failed: 0, total: 4 }),
      batch("in_progress", { completed: 2, failed: 0, total: 4 }),
      batch("completed", { completed: 4, failed: 0, total: 4 })
    ] as const
    const { io, wait } = waiting(Stream.fromIterable(observed), { output: { stderrIsTTY: true, columns: 40 } })
    yield* wait
    assert.strictEqual(io.stdout.text(), "")
    assert.strictEqual(
      io.stderr.text(),
      observed.map((b) => `\r\u001b[2K${Render.bar(b).slice(0, 39)}`).join("") + "\n"
    )
    assert.strictEqual(Render.bar(observed[2]).slice(0, 39), "batch_t [████████████████████████] 100%")
  }))

it("the bar shows the share of requests finished, done or failed", () => {
  const bar = (b: Batch.Batch) => Render.bar(b, 10)
  assert.strictEqual(
    bar(batch("in_progress", { completed: 3, failed: 1, total: 8 })),
    "batch_t [█████░░░░░]  50% in_progress 3/8 done, 1 failed"
  )
  assert.strictEqual(bar(batch("validating")), "batch_t [░░░░░░░░░░]   0% validating")
  assert.strictEqual(
    bar(batch("completed", { completed: 0, failed: 0, total: 0 })),
    "batch_t [██████████] 100% completed"
  )
})
