/**
 * `batchfx results ID`: the output (and error) file of a batch that ended, written through a
 * temporary file and renamed, so no half file ever carries the final name.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Opts from "../internal/options.js"
import { lazy, withApi } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

/**
 * `--output FILE`.
 *
 * @since 0.1.0
 * @category options
 */
export const output = Options.text("output").pipe(
  Options.withAlias("o"),
  Options.withPseudoName("FILE"),
  Options.withDescription(
    "Write the output file's lines here (default stdout; - is stdout; a FIFO or device is written as it is)."
  ),
  Options.optional
)

/**
 * `--errors FILE`.
 *
 * @since 0.1.0
 * @category options
 */
export const errors = Options.text("errors").pipe(
  Options.withPseudoName("FILE"),
  Options.withDescription("Write the error file's lines (failed, expired or cancelled requests) here (- is stdout)."),
  Options.optional
)

/**
 * `--force`: replace an existing `--output`/`--errors` file (its mode is kept).
 *
 * @since 0.1.0
 * @category options
 */
export const force = Options.boolean("force").pipe(
  Options.withDescription("Replace an existing --output or --errors file (its mode is kept); without it, exit 2.")
)

const options = {
  ...Opts.globalOptions,
  output,
  errors,
  force,
  id: Args.text({ name: "batch-id" }).pipe(Args.withDescription("A batch that ended."))
}

/**
 * The parsed options and argument of `results`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `results` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("results", options, lazy(() => import("../internal/handlers/Results.js"))).pipe(
  Spec.about({
    summary: "Download the results of a batch that ended.",
    details: [
      "The output file goes to --output (default stdout), the error file to --errors. Files are written to a " +
      "temporary name and renamed only when complete: a body that ends short is resumed, else nothing is " +
      "written. --timeout also bounds a body that stalls or trickles (under 1 KiB/s for that long)."
    ],
    examples: [
      ["batchfx results batch_abc123 -o out.jsonl --errors errors.jsonl", "Both files of a batch"],
      ["batchfx results batch_abc123 | jq -c '.response.body'", "The output lines on stdout, into jq"]
    ]
  }),
  withApi
)
