/**
 * `batchfx demo`: the whole workflow in a few seconds with no key and no network: starts the
 * emulator in-process, seeds it, submits a sample file, shows the progress, lists, downloads the
 * results, then runs the same file as a durable job whose worker is stopped and started again.
 * The testkit (and the jobs library) is loaded only when this command runs.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Opts from "../internal/options.js"
import { lazy, withSetup } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

/**
 * The `demo` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "demo",
  { verbose: Opts.globalOptions.verbose },
  lazy(() => import("../internal/handlers/Demo.js"))
).pipe(
  Spec.about({
    summary: "A tour in a few seconds, no key needed.",
    details: [
      "Starts the emulator in-process, submits a sample file, shows the progress, lists batches and downloads " +
      "the results, then runs the same file as a durable job whose worker is stopped and started again."
    ],
    examples: [["batchfx demo", "Run the tour"]]
  }),
  withSetup
)
