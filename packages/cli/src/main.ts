/**
 * The program behind the `batchfx` executable (`bin.ts` starts it, bundled or not): the command
 * line on the process's own streams and terminal.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import { layerNode, run } from "./Cli.js"
import { ExitCode, fromExit } from "./internal/exitCode.js"

// A reader that went away (`batchfx list | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(ExitCode.ok)
  throw error
})

run(process.argv).pipe(
  Effect.provide(layerNode),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(fromExit(exit))
  })
)
