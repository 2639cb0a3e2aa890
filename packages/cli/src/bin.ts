#!/usr/bin/env node
/**
 * The `batchfx` executable.
 *
 * @since 0.1.0
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit, Logger, LogLevel } from "effect"
import { run } from "./Cli.js"
import { ExitCode } from "./CliError.js"

// A reader that went away (`batchfx list | head`) is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(ExitCode.ok)
  throw error
})

run(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: "auto" }))),
  Logger.withMinimumLogLevel(LogLevel.Info),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit)
          ? (typeof exit.value === "number" ? exit.value : ExitCode.ok)
          : Cause.isInterruptedOnly(exit.cause)
          ? ExitCode.interrupted
          : ExitCode.failure
      )
  })
)
