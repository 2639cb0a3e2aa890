/**
 * `batchfx get ID...`: several batches at once, with bounded concurrency.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Api } from "../internal/api.js"
import { printOutcomes } from "../internal/bulk.js"
import { format, globalOptions } from "../internal/options.js"
import * as Render from "../internal/render.js"
import { withApi } from "../internal/root.js"

/**
 * The `get` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("get", {
  ...globalOptions,
  format,
  ids: Args.text({ name: "batch-id" }).pipe(
    Args.withDescription("The batches to show."),
    Args.atLeast(1)
  )
}, (config) =>
  Effect.gen(function*() {
    const api = yield* Api
    yield* printOutcomes(
      api.retrieveMany(Stream.fromIterable(config.ids)),
      Render.resolveFormat(config.format),
      "retrieved",
      { single: config.ids.length === 1 }
    )
  })).pipe(
    Command.withDescription(
      "Show batches by id, fetched several at a time (--concurrency). With --format json one id prints " +
        "the batch object, several print an array. Exit code 1 if any id failed."
    ),
    withApi
  )
