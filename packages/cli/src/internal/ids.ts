/**
 * The ids given as arguments, checked before any request: an argument that starts with `-` (given
 * after `--`, or a negative number, which the command line hands over as an id) is a usage error,
 * and an id that would change the request's path is refused as the client refuses it, so that a
 * bulk command sends nothing rather than the ids before it.
 */
import { idProblem } from "@batchfx/client/BatchClient"
import { InvalidParams } from "@batchfx/client/BatchClientError"
import * as Effect from "effect/Effect"
import { UsageError } from "../CliError.js"

/**
 * Succeeds with the ids when every one may be sent; else fails with a `UsageError` for the first
 * that looks like a flag (no batch or file id starts with `-`) or `InvalidParams` for the first the
 * client would refuse.
 */
export const check = (
  ids: ReadonlyArray<string>,
  options: { readonly command: string; readonly operation: string; readonly kind?: "batch" | "file" }
): Effect.Effect<ReadonlyArray<string>, UsageError | InvalidParams> =>
  Effect.gen(function*() {
    const flag = ids.find((id) => id.startsWith("-"))
    if (flag !== undefined) {
      return yield* new UsageError({
        description: `unknown argument: '${flag}' (no id starts with '-')`,
        command: options.command
      })
    }
    for (const id of ids) {
      const why = idProblem(id, options.kind ?? "batch")
      if (why !== undefined) return yield* new InvalidParams({ operation: options.operation, description: why })
    }
    return ids
  })
