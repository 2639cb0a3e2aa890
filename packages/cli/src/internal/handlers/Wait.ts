/**
 * What `batchfx wait` does once parsed (loaded when it runs; the options are in `commands/Wait.ts`),
 * and the wait that `submit --wait` and `demo` share.
 */
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import type { WatchTimeout } from "@batchfx/client/Watch"
import type * as Batch from "@batchfx/core/Batch"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { CommandFailed, WaitTimedOut } from "../../CliError.js"
import type { Config } from "../../commands/Wait.js"
import { Api } from "../api.js"
import * as Ids from "../ids.js"
import type { Format } from "../options.js"
import type * as Output from "../output.js"
import * as Progress from "../progress.js"
import * as Render from "../render.js"

/**
 * Waits for a batch with progress on `progress`, and fails with `CommandFailed` unless it
 * completed, or `WaitTimedOut` when the timeout passed first. Returns the final batch.
 */
export const waitFor = (
  id: string,
  options: {
    readonly interval: Duration.DurationInput
    readonly timeout: Option.Option<Duration.Duration>
    /** Prints the batch that ended on stdout in this format (before failing if it did not complete). */
    readonly print?: Format | undefined
    /**
     * Where progress goes: stderr for the commands, whose stdout carries data only; stdout for the
     * demo, whose stdout is its narration. No default: each caller says which.
     */
    readonly progress: Progress.Target
  }
): Effect.Effect<Batch.Batch, BatchClientError | WatchTimeout | CommandFailed | WaitTimedOut, Api | Output.Output> =>
  Effect.gen(function*() {
    const api = yield* Api
    const last = yield* Ref.make(Option.none<Batch.Batch>())
    const observed = api.watch(id, options.interval).pipe(Stream.tap((b) => Ref.set(last, Option.some(b))))
    const shown = Progress.follow(observed, options.progress)
    const final = yield* Option.match(options.timeout, {
      onNone: () => shown,
      onSome: (timeout) =>
        shown.pipe(
          Effect.timeout(timeout),
          Effect.catchTag("TimeoutException", () =>
            Effect.flatMap(Ref.get(last), (seen) =>
              Effect.fail(
                new WaitTimedOut({
                  description: `Batch ${id} is still ${
                    Option.match(seen, { onNone: () => "unseen", onSome: (b) => b.status })
                  } after ${Duration.format(timeout)}; stopped waiting (it keeps running).`
                })
              )))
        )
    })
    if (Option.isNone(final)) return yield* new CommandFailed({ description: `Batch ${id} was never observed.` })
    const batch = final.value
    if (options.print !== undefined) yield* Render.printOne(batch, options.print)
    if (batch.status !== "completed") {
      const reason = Option.match(Render.firstError(batch), { onNone: () => "", onSome: (e) => `: ${e}` })
      return yield* new CommandFailed({ description: `Batch ${id} ended ${batch.status}${reason}.` })
    }
    return batch
  })

/**
 * Checks the id, waits for the batch (progress on stderr), then prints it on stdout in `--format`;
 * the exit code says how it ended (a batch that did not complete is printed too).
 */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    yield* Ids.check([config.id], { command: "wait", operation: "retrieve" })
    const format = yield* Render.resolveFormat(config.format)
    yield* waitFor(config.id, { interval: config.interval, timeout: config.timeout, print: format, progress: "stderr" })
  })
