/**
 * `batchfx create`: a batch from an uploaded file (`--input-file-id`) or from a local JSONL file
 * (`--input`, checked line by line and uploaded first).
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Opts from "../internal/options.js"
import { lazy, withApi } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

/**
 * `--endpoint`, required by `create` and `submit`.
 *
 * @since 0.1.0
 * @category options
 */
export const endpoint = Options.text("endpoint").pipe(
  Options.withAlias("e"),
  Options.withPseudoName("ENDPOINT"),
  Options.withDescription("The batch endpoint, e.g. /v1/chat/completions, /v1/embeddings, /v1/responses.")
)

/**
 * `--output-expires-after`: how long the output and error files are kept.
 *
 * @since 0.1.0
 * @category options
 */
export const outputExpiresAfter = Opts.duration("output-expires-after").pipe(
  Options.withDescription("Delete the output and error files this long after they are made: 1h to 30d, e.g. 7d."),
  Options.optional
)

/**
 * `--keep-file`: keep an uploaded input file whose batch could not be created.
 *
 * @since 0.1.0
 * @category options
 */
export const keepFile = Options.boolean("keep-file").pipe(
  Options.withDescription(
    "Keep the uploaded input file if the batch cannot be created (by default it is deleted, " +
      "unless the batch may exist)."
  )
)

const options = {
  ...Opts.globalOptions,
  inputFileId: Options.text("input-file-id").pipe(
    Options.withPseudoName("FILE_ID"),
    Options.withDescription("An uploaded file (purpose batch) to run."),
    Options.optional
  ),
  // `exists: "either"`: `-` (stdin) names no file; the handler checks that any other exists.
  input: Options.file("input", { exists: "either" }).pipe(
    Options.withAlias("i"),
    Options.withDescription("A local JSONL file (- reads stdin): checked line by line, uploaded, then run."),
    Options.optional
  ),
  endpoint,
  metadata: Opts.metadata("Metadata of the batch, key=value; repeat for several (at most 16)."),
  outputExpiresAfter,
  keepFile,
  format: Opts.format
}

/**
 * The parsed options of `create`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `create` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("create", options, lazy(() => import("../internal/handlers/Create.js"))).pipe(
  Spec.about({
    summary: "Create a batch from an uploaded file or a local JSONL file.",
    details: ["A local file is checked line by line, then uploaded. Prints the new batch."],
    examples: [
      ["batchfx create -i requests.jsonl -e /v1/chat/completions", "Upload a file and run it"],
      [
        "batchfx create --input-file-id file-abc123 -e /v1/embeddings --metadata team=search",
        "Run a file uploaded before, with metadata"
      ]
    ]
  }),
  withApi
)
