/**
 * The `batchfx` command tree and its entry point: parsing, exit codes and error messages.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import * as PlatformTerminal from "@effect/platform/Terminal"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Cancel from "./commands/Cancel.js"
import * as Create from "./commands/Create.js"
import * as Demo from "./commands/Demo.js"
import * as FakeServer from "./commands/FakeServer.js"
import * as Get from "./commands/Get.js"
import * as Jobs from "./commands/Jobs.js"
import * as List from "./commands/List.js"
import * as Results from "./commands/Results.js"
import * as Submit from "./commands/Submit.js"
import * as Wait from "./commands/Wait.js"
import { ExitCode } from "./internal/exitCode.js"
import * as Output from "./internal/output.js"
import { root, verbose } from "./internal/root.js"
import * as Version from "./internal/version.js"

/**
 * The version `batchfx --version` prints.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = Version.version

/**
 * The command tree.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = root.pipe(
  Command.withDescription(
    "batchfx: the OpenAI Batch API from a shell. The key comes from OPENAI_API_KEY; global options " +
      "(--base-url, --organization, --project, --max-retries, --timeout, --concurrency, --rpm, --verbose) " +
      "go before or after the command. Exit codes: 0 ok, 1 API or runtime error, 2 usage error, 128+n on a " +
      "signal (129 SIGHUP, 130 Ctrl-C, 143 SIGTERM)."
  ),
  Command.withSubcommands([
    List.command,
    Get.command,
    Create.command,
    Cancel.command,
    Wait.command,
    Results.command,
    Submit.command,
    Jobs.command,
    FakeServer.command,
    Demo.command
  ])
)

const cli = Command.run(command, { name: "batchfx", version })

const hasMessage = (u: unknown): u is { readonly _tag: string; readonly message: string } =>
  typeof u === "object" && u !== null && "_tag" in u && typeof u._tag === "string" && "message" in u &&
  typeof u.message === "string"

/**
 * Turns the way a run ended into its exit code, printing one sentence for an error (with the
 * cause's trace when `--verbose` was given). Usage errors of the parser were printed already.
 *
 * @since 0.1.0
 * @category internals
 */
export const report = (cause: Cause.Cause<unknown>): Effect.Effect<number, never, Output.Output> =>
  Effect.gen(function*() {
    if (Cause.isInterruptedOnly(cause)) return ExitCode.interrupted
    const trace = (yield* FiberRef.get(verbose)) ? Output.errLine(Cause.pretty(cause)) : Effect.void
    const failure = Cause.failureOption(cause)
    if (Option.isNone(failure)) {
      const defect = Cause.squash(cause)
      yield* Output.errLine(
        `batchfx: unexpected error: ${
          Output.escapeControl(defect instanceof Error ? defect.message : String(defect))
        } (run with --verbose for details)`
      )
      yield* trace
      return ExitCode.failure
    }
    const error = failure.value
    if (ValidationError.isValidationError(error)) return ExitCode.usage
    if (PlatformTerminal.isQuitException(error)) return ExitCode.interrupted
    if (hasMessage(error)) {
      // Messages carry server text: control characters are shown escaped, never acted on.
      const message = Output.escapeControl(error.message)
      switch (error._tag) {
        case "UsageError": {
          const command = "command" in error && typeof error.command === "string" ? `${error.command} ` : ""
          yield* Output.errLine(`batchfx: ${message}\nRun 'batchfx ${command}--help' for usage.`)
          return ExitCode.usage
        }
        case "MissingApiKey":
        case "InvalidApiKey":
          yield* Output.errLine(`batchfx: ${message}`)
          return ExitCode.usage
        default:
          if (message !== "") yield* Output.errLine(`batchfx: ${message}`)
          yield* trace
          return ExitCode.failure
      }
    }
    yield* Output.errLine(`batchfx: ${Output.escapeControl(String(error))}`)
    yield* trace
    return ExitCode.failure
  })

/**
 * Runs the command line (`argv` as `process.argv`: node, script, arguments...) and returns the
 * exit code; every error is reported on stderr, never thrown. Everything it prints, `@effect/cli`'s
 * help and the logs included, goes to `Output`; questions are asked on the `Terminal`'s input and
 * drawn on stderr. `bin.ts` runs it on `layerNode`, the tests on buffers.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<number, never, Output.Output | PlatformTerminal.Terminal> =>
  Effect.flatMap(Output.Output, (output) =>
    cli(argv).pipe(
      Effect.as(ExitCode.ok as number),
      Effect.catchAllCause(report),
      Effect.provide(Layer.mergeAll(
        NodeFileSystem.layer,
        NodePath.layer,
        Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: output.stderr.colors }))
      )),
      Effect.updateService(PlatformTerminal.Terminal, (terminal) => Output.asksOnStderr(terminal, output)),
      Effect.withConsole(Output.console(output)),
      // A run starts quiet and leaves the caller's level and `--verbose` as they were.
      Logger.withMinimumLogLevel(LogLevel.Info),
      Effect.locally(verbose, false)
    ))

/**
 * What `run` needs, from this process: its stdout, stderr and stdin, and its terminal.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerNode: Layer.Layer<Output.Output | PlatformTerminal.Terminal> = Layer.mergeAll(
  Output.layerNode,
  NodeTerminal.layer
)
