/**
 * The progress of batches being waited for, on stderr: stdout carries data only (the finished
 * batch), so `batchfx wait ID | jq` and `submit --wait | jq` never meet a progress line. A bar
 * redrawn in place when the stream is a terminal, one line per change otherwise. (The demo, whose
 * stdout is a narrated tour rather than data, draws it on stdout.)
 */
import type * as Batch from "@batchfx/core/Batch"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Output from "./output.js"
import * as Render from "./render.js"

/** The stream progress is drawn on. */
export type Target = "stderr" | "stdout"

const write = (to: Target) => to === "stderr" ? Output.err : Output.out

/** Shows one observation: the bar redrawn on a terminal (cut to its width), else a stamped line. */
export const show = (
  line: Effect.Effect<string>,
  bar: string,
  to: Target = "stderr"
): Effect.Effect<void, never, Output.Output> =>
  Effect.flatMap(Output.Output, (output) => {
    const target = output[to]
    return target.isTTY
      ? write(to)(`\r\u001b[2K${target.columns > 1 ? bar.slice(0, target.columns - 1) : bar}`)
      : Effect.flatMap(line, (text) => write(to)(text + "\n"))
  })

/** Ends the bar's line on a terminal, so that what follows starts on a line of its own. */
export const done = (to: Target = "stderr"): Effect.Effect<void, never, Output.Output> =>
  Effect.flatMap(Output.Output, (output) => output[to].isTTY ? write(to)("\n") : Effect.void)

/** Shows a stream of observations of one batch (on stderr unless told) and returns the last one seen. */
export const follow = <E, R>(
  observations: Stream.Stream<Batch.Batch, E, R>,
  to: Target = "stderr"
): Effect.Effect<Option.Option<Batch.Batch>, E, R | Output.Output> =>
  Stream.runFoldEffect(
    observations,
    Option.none<Batch.Batch>(),
    (_, batch) => Effect.as(show(Render.progressLine(batch), Render.bar(batch), to), Option.some(batch))
  ).pipe(Effect.ensuring(done(to)))
