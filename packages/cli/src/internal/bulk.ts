/** Printing the outcomes of an operation on many batches. */
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { CommandFailed } from "../CliError.js"
import type { Outcome } from "./api.js"
import type { Format } from "./options.js"
import * as Output from "./output.js"
import * as Render from "./render.js"

/**
 * Prints the batches that succeeded in `format` (stdout) and one line per failure (stderr); fails
 * with `CommandFailed` when any id failed. `verb` names the operation in the summary.
 */
export const printOutcomes = (
  outcomes: Stream.Stream<Outcome, BatchClientError>,
  format: Format,
  verb: string,
  options: { readonly single?: boolean } = {}
): Effect.Effect<void, BatchClientError | CommandFailed, Output.Output> =>
  Effect.gen(function*() {
    const counts = yield* Ref.make({ ok: 0, failed: 0 })
    const batches = outcomes.pipe(
      Stream.tap((outcome) =>
        outcome._tag === "Failed"
          ? Effect.zipRight(
            Ref.update(counts, (c) => ({ ...c, failed: c.failed + 1 })),
            Output.errLine(
              `batchfx: ${Output.escapeControl(outcome.id)}: ${Output.escapeControl(outcome.error.message)}`
            )
          )
          : Ref.update(counts, (c) => ({ ...c, ok: c.ok + 1 }))
      ),
      Stream.filterMap((outcome) => outcome._tag === "Succeeded" ? Option.some(outcome.batch) : Option.none())
    )
    if (options.single === true && format === "json") {
      const all = yield* Stream.runCollect(batches)
      for (const batch of all) yield* Render.printOne(batch, format)
    } else {
      yield* Render.printBatches(batches, format)
    }
    const { failed, ok } = yield* Ref.get(counts)
    if (failed > 0) {
      return yield* new CommandFailed({
        description: `${failed} of ${failed + ok} batch${failed + ok === 1 ? "" : "es"} could not be ${verb}.`
      })
    }
  })
