/**
 * `batchfx wait ID`: polls a batch until it ends, with a progress bar on a terminal and one line
 * per change in a pipe (on stderr), then prints the batch. Exit code 0 when it completed, 1 when it
 * did not, 3 when `--timeout` passed first.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Duration from "effect/Duration"
import { defaultInterval } from "../internal/api.js"
import * as Opts from "../internal/options.js"
import { lazy, withApi } from "../internal/root.js"
import * as Spec from "../internal/spec.js"

/**
 * `--interval`: the time between polls.
 *
 * @since 0.1.0
 * @category options
 */
export const interval = Opts.duration("interval").pipe(
  Options.withDescription(
    `Time between polls, at least 1s (a shorter one is stretched to it), e.g. 10s (default ${
      Duration.format(defaultInterval)
    }).`
  ),
  Options.withDefault(defaultInterval)
)

const options = {
  ...Opts.globalOptions,
  interval,
  timeout: Opts.duration("timeout").pipe(
    Options.withDescription(
      "Give up waiting after this long, e.g. 30m (exit code 3; the batch keeps running). Here --timeout is the " +
        "wait's: give the request timeout before the command (batchfx --timeout 30s wait ...)."
    ),
    Options.optional
  ),
  format: Opts.format,
  id: Args.text({ name: "batch-id" }).pipe(Args.withDescription("The batch to wait for."))
}

/**
 * The parsed options and argument of `wait`.
 *
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.ParseConfig<typeof options>

/**
 * The `wait` command.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("wait", options, lazy(() => import("../internal/handlers/Wait.js"))).pipe(
  Spec.about({
    summary: "Wait until a batch ends, showing its progress.",
    details: [
      "A progress bar on a terminal, one line per change in a pipe, on stderr; the batch that ended goes to " +
      "stdout (--format). Server errors, resets, timeouts and rate limits are waited out until the batch's " +
      "expiry. Exit code 0 if it completed, 1 if it failed, expired or was cancelled, 3 if --timeout passed first."
    ],
    examples: [
      ["batchfx wait batch_abc123 && batchfx results batch_abc123 -o out.jsonl", "Download the results once done"],
      ["batchfx wait batch_abc123 --interval 30s --timeout 2h", "Poll every 30 s, give up after 2 hours"]
    ]
  }),
  (self) => withApi(self, { ownTimeout: true })
)
