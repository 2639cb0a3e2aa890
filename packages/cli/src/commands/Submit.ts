/**
 * `batchfx submit FILE.jsonl --endpoint E [--wait] [--output FILE]`: checks and uploads a file,
 * creates the batch, and with `--wait` (or `--output`) follows it to the end and downloads the
 * results.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Api } from "../internal/api.js"
import * as Opts from "../internal/options.js"
import * as Render from "../internal/render.js"
import { withApi } from "../internal/root.js"
import * as Terminal from "../internal/terminal.js"
import { checkBeforeUpload, endpoint, expiry, outputExpiresAfter } from "./Create.js"
import { download, errors, output } from "./Results.js"
import { interval, waitFor } from "./Wait.js"

/**
 * The `submit` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("submit", {
  ...Opts.globalOptions,
  endpoint,
  metadata: Opts.metadata("Metadata of the batch, key=value; repeat for several (at most 16)."),
  outputExpiresAfter,
  wait: Options.boolean("wait").pipe(
    Options.withAlias("w"),
    Options.withDescription("Wait until the batch ends (exit code 0 only if it completed).")
  ),
  interval,
  output,
  errors,
  format: Opts.format,
  file: Args.file({ name: "FILE.jsonl", exists: "yes" }).pipe(
    Args.withDescription("The requests, one JSON object per line, each with custom_id, method POST, url and body.")
  )
}, (config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const expires = yield* expiry(config.outputExpiresAfter, "submit")
    const metadata = Object.keys(config.metadata).length > 0 ? { metadata: config.metadata } : {}
    yield* checkBeforeUpload({ endpoint: config.endpoint, completion_window: "24h", ...metadata, ...expires })
    const file = yield* api.upload(config.file, config.endpoint)
    yield* Terminal.errLine(`Uploaded ${config.file} as ${file.id} (${file.bytes} bytes).`)
    const batch = yield* api.create({
      input_file_id: file.id,
      endpoint: config.endpoint,
      completion_window: "24h",
      ...metadata,
      ...expires
    })
    const wait = config.wait || Option.isSome(config.output) || Option.isSome(config.errors)
    if (!wait) {
      yield* Render.printOne(batch, Render.resolveFormat(config.format))
      return
    }
    yield* Terminal.errLine(`Created ${batch.id}; waiting for it to end.`)
    const final = yield* waitFor(batch.id, { interval: config.interval, timeout: Option.none() }).pipe(
      Effect.tapError(() =>
        Option.isSome(config.output) || Option.isSome(config.errors)
          ? Effect.flatMap(api.retrieve(batch.id), (b) => download(b, { output: config.output, errors: config.errors }))
            .pipe(Effect.ignore)
          : Effect.void
      )
    )
    if (Option.isSome(config.output) || Option.isSome(config.errors)) {
      yield* download(final, { output: config.output, errors: config.errors })
    }
  })).pipe(
    Command.withDescription(
      "Check a JSONL file line by line (nothing is sent if a line is bad), upload it and create the batch. " +
        "With --wait, follow it to the end; with --output/--errors, also download the results."
    ),
    withApi
  )
