/**
 * `batchfx wait ID`: polls a batch until it ends, with a progress bar on a terminal and one line
 * per change in a pipe. Exit code 0 when it completed, 1 otherwise.
 *
 * @since 0.1.0
 */
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import type { WatchTimeout } from "@batchfx/client/Watch"
import type * as Batch from "@batchfx/core/Batch"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { CommandFailed } from "../CliError.js"
import { Api, defaultInterval } from "../internal/api.js"
import * as Opts from "../internal/options.js"
import * as Render from "../internal/render.js"
import { withApi } from "../internal/root.js"

/**
 * `--interval`: the time between polls.
 *
 * @since 0.1.0
 * @category options
 */
export const interval = Opts.duration("interval").pipe(
  Options.withDescription(`Time between polls, e.g. 500ms, 10s (default ${Duration.format(defaultInterval)}).`),
  Options.withDefault(defaultInterval)
)

/**
 * Waits for a batch with progress, and fails with `CommandFailed` unless it completed (or when the
 * timeout passed first). Returns the final batch.
 *
 * @since 0.1.0
 * @category internals
 */
export const waitFor = (
  id: string,
  options: { readonly interval: Duration.DurationInput; readonly timeout: Option.Option<Duration.Duration> }
): Effect.Effect<Batch.Batch, BatchClientError | WatchTimeout | CommandFailed, Api> =>
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

/**
 * The `wait` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("wait", {
  ...Opts.globalOptions,
  interval,
  timeout: Opts.duration("timeout").pipe(
    Options.withDescription(
      "Give up waiting after this long, e.g. 30m (exit code 1; the batch keeps running). Here --timeout is the " +
        "wait's: give the request timeout before the command (batchfx --timeout 30s wait ...)."
    ),
    Options.optional
  ),
  id: Args.text({ name: "batch-id" }).pipe(Args.withDescription("The batch to wait for."))
}, (config) => Effect.asVoid(waitFor(config.id, { interval: config.interval, timeout: config.timeout }))).pipe(
  Command.withDescription(
    "Wait until a batch ends: a progress bar on a terminal, one line per change in a pipe. " +
      "Exit code 0 if it completed, 1 if it failed, expired or was cancelled, or the wait timed out."
  ),
  (self) => withApi(self, { ownTimeout: true })
)
