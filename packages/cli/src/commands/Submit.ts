/**
 * `batchfx submit FILE.jsonl [--endpoint E] [--wait] [--output FILE]`: checks and uploads a file (`-`
 * reads stdin), creates the batch (several, through the library's `Submit`, over 50,000 lines or
 * 200 MB), and with `--wait` (or `--output`) follows it to the end and downloads the results. The
 * endpoint defaults to the lines' `url` when they all agree.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Opts from "../internal/options.js"
import { lazy, withApi } from "../internal/root.js"
import * as Spec from "../internal/spec.js"
import { keepFile, outputExpiresAfter } from "./Create.js"
import { errors, force, output } from "./Results.js"
import { interval } from "./Wait.js"

const options = {
  ...Opts.globalOptions,
  endpoint: Options.text("endpoint").pipe(
    Options.withAlias("e"),
    Options.withPseudoName("ENDPOINT"),
    Options.withDescription("The batch endpoint, e.g. /v1/embeddings (default the lines' url, when they all agree)."),
    Options.optional
  ),
  metadata: Opts.metadata("Metadata of the batch, key=value; repeat for several (at most 16)."),
  outputExpiresAfter,
  keepFile,
  wait: Options.boolean("wait").pipe(
    Options.withAlias("w"),
    Options.withDescription("Wait until the batch ends (exit code 0 only if it completed).")
  ),
  interval,
  output,
  errors,
  force,
  format: Opts.format,
  // `exists: "either"`: `-` (stdin) names no file; the handler checks that any other exists.
  file: Args.file({ name: "FILE.jsonl", exists: "either" }).pipe(
    Args.withDescription(
      "The requests, one JSON object per line, each with custom_id, method POST, url and body; - reads stdin."
    )
  )
}

/**
 * The parsed options and argument of `submit`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `submit` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("submit", options, lazy(() => import("../internal/handlers/Submit.js"))).pipe(
  Spec.about({
    summary: "Check, upload and run a JSONL file; optionally wait and download.",
    details: [
      "Nothing is sent if a line is bad. With --wait, follow the batch to its end (progress on stderr); with " +
      "--output/--errors, also download the results."
    ],
    examples: [
      ["batchfx submit requests.jsonl", "Start a batch and print it"],
      ["batchfx submit requests.jsonl --wait -o results.jsonl", "Run it to the end and download the results"],
      ["./make-requests | batchfx submit - -e /v1/embeddings", "Submit the lines read from stdin"]
    ]
  }),
  withApi
)
