/**
 * The progress of batches being waited for, on stderr: stdout carries data only (the finished
 * batch), so `batchfx wait ID | jq` and `submit --wait | jq` never meet a progress line. A bar
 * redrawn in place when stderr is a terminal, one line per change otherwise.
 */
import type * as Batch from "@batchfx/core/Batch"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Output from "./output.js"
import * as Render from "./render.js"

/** Shows one observation: the bar redrawn on a terminal (cut to its width), else a stamped line. */
export const show = (line: Effect.Effect<string>, bar: string): Effect.Effect<void, never, Output.Output> =>
  Effect.flatMap(Output.Output, ({ stderr }) =>
    stderr.isTTY
      ? Output.err(`\r\u001b[2K${stderr.columns > 1 ? bar.slice(0, stderr.columns - 1) : bar}`)
      : Effect.flatMap(line, Output.errLine))

/** Ends the bar's line on a terminal, so that what follows starts on a line of its own. */
export const done: Effect.Effect<void, never, Output.Output> = Effect.flatMap(
  Output.Output,
  ({ stderr }) => stderr.isTTY ? Output.err("\n") : Effect.void
)

/**
 * Shows a stream of observations of one batch on stderr and returns the last one seen.
 */
export const follow = <E, R>(
  observations: Stream.Stream<Batch.Batch, E, R>
): Effect.Effect<Option.Option<Batch.Batch>, E, R | Output.Output> =>
  Stream.runFoldEffect(
    observations,
    Option.none<Batch.Batch>(),
    (_, batch) => Effect.as(show(Render.progressLine(batch), Render.bar(batch)), Option.some(batch))
  ).pipe(Effect.ensuring(done))
