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
import { CommandFailed } from "../../CliError.js"
import type { Config } from "../../commands/Wait.js"
import { Api } from "../api.js"
import * as Ids from "../ids.js"
import type * as Output from "../output.js"
import * as Render from "../render.js"

/**
 * Waits for a batch with progress, and fails with `CommandFailed` unless it completed (or when the
 * timeout passed first). Returns the final batch.
 */
export const waitFor = (
  id: string,
  options: { readonly interval: Duration.DurationInput; readonly timeout: Option.Option<Duration.Duration> }
): Effect.Effect<Batch.Batch, BatchClientError | WatchTimeout | CommandFailed, Api | Output.Output> =>
  Effect.gen(function*() {
    const api = yield* Api
    const last = yield* Ref.make(Option.none<Batch.Batch>())
    const observed = api.watch(id, options.interval).pipe(Stream.tap((b) => Ref.set(last, Option.some(b))))
    const shown = Render.showProgress(observed)
    const final = yield* Option.match(options.timeout, {
      onNone: () => shown,
      onSome: (timeout) =>
        shown.pipe(
          Effect.timeout(timeout),
          Effect.catchTag("TimeoutException", () =>
            Effect.flatMap(Ref.get(last), (seen) =>
              Effect.fail(
                new CommandFailed({
                  description: `Batch ${id} is still ${
                    Option.match(seen, { onNone: () => "unseen", onSome: (b) => b.status })
                  } after ${Duration.format(timeout)}; stopped waiting (it keeps running).`
                })
              )))
        )
    })
    if (Option.isNone(final)) return yield* new CommandFailed({ description: `Batch ${id} was never observed.` })
    const batch = final.value
    if (batch.status !== "completed") {
      const reason = Option.match(Render.firstError(batch), { onNone: () => "", onSome: (e) => `: ${e}` })
      return yield* new CommandFailed({ description: `Batch ${id} ended ${batch.status}${reason}.` })
    }
    return batch
  })

/** Checks the id, then waits for the batch; the exit code says how it ended. */
export const handler = (config: Config) =>
  Effect.zipRight(
    Ids.check([config.id], { command: "wait", operation: "retrieve" }),
    Effect.asVoid(waitFor(config.id, { interval: config.interval, timeout: config.timeout }))
  )
