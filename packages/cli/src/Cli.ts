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
import * as Argv from "./internal/argv.js"
import * as Completion from "./internal/completion.js"
import { codeOf, ExitCode } from "./internal/exitCode.js"
import * as Help from "./internal/help.js"
import * as Output from "./internal/output.js"
import { root, verbose } from "./internal/root.js"
import * as Spec from "./internal/spec.js"
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
  Spec.about({
    summary: "batchfx: the OpenAI Batch API from a shell, and durable jobs over it.",
    details: [
      "The key comes from $OPENAI_API_KEY. Exit codes: 0 ok, 1 error or a batch that did not complete, " +
      "2 usage, 3 wait --timeout, 130/143/129 signals."
    ],
    examples: [
      ["batchfx submit requests.jsonl --wait -o results.jsonl", "Upload, run and download in one go"],
      ["batchfx list --status failed --since 7d", "The batches that failed this week"]
    ]
  }),
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
 * cause's trace when `--verbose` was given). A usage error of the parser is printed here as the
 * others are, pointing at the help of `command` (`batchfx list`) when it is given.
 *
 * @since 0.1.0
 * @category internals
 */
export const report = (
  cause: Cause.Cause<unknown>,
  command?: ReadonlyArray<string>
): Effect.Effect<number, never, Output.Output> =>
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
    if (ValidationError.isValidationError(error)) {
      const said = Spec.docText(error.error).trim().replace(/ is not a integer$/, " is not an integer")
      yield* Output.errLine(
        `batchfx: ${Output.escapeControl(said === "" ? "the command line is not understood" : said)}\n` +
          `Run '${(command ?? ["batchfx"]).join(" ")} --help' for usage.`
      )
      return ExitCode.usage
    }
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
          return codeOf(error) ?? ExitCode.failure
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
  Effect.flatMap(Output.Output, (output) => {
    const tree = commandTree()
    const prepared = Argv.prepare(tree, argv.slice(2))
    switch (prepared._tag) {
      case "Help":
        return Effect.as(Output.out(Help.render(prepared.command, tree, output.stdout.columns)), ExitCode.ok)
      case "Completions":
        return Effect.as(Output.out(Completion.script(prepared.shell, tree)), ExitCode.ok)
      case "Usage":
        return usageError(prepared.message, prepared.command)
      case "Run": {
        // The wizard asks on the terminal: without one it would wait for answers that never come.
        if (prepared.wizard && !(output.stdinIsTTY && output.stderr.isTTY)) {
          return usageError(
            "--wizard asks questions, and needs stdin and stderr to be a terminal: give the options instead.",
            prepared.command
          )
        }
        const level = LogLevel.allLevels.find((l) => l._tag.toLowerCase() === prepared.logLevel) ?? LogLevel.Info
        return cli([...argv.slice(0, 2), ...prepared.args]).pipe(
          Effect.as(ExitCode.ok as number),
          Effect.catchAllCause((cause) => report(cause, prepared.command.path)),
          Effect.provide(Layer.mergeAll(
            NodeFileSystem.layer,
            NodePath.layer,
            Logger.replace(Logger.defaultLogger, Logger.prettyLogger({ stderr: true, colors: output.stderr.colors }))
          )),
          Effect.updateService(PlatformTerminal.Terminal, (terminal) => Output.asksOnStderr(terminal, output)),
          // The parser's usage errors (its only `Console.error`) are printed by `report`, in one
          // sentence with the help pointer; the logger writes through the console's `unsafe`.
          Effect.withConsole({ ...Output.console(output), error: () => Effect.void }),
          // A run starts at `--log-level` (default info) and leaves the caller's level and `--verbose` as they were.
          Logger.withMinimumLogLevel(level),
          Effect.locally(verbose, false)
        )
      }
    }
  })

const usageError = (message: string, command: Spec.CommandSpec) =>
  Effect.as(
    Output.errLine(`batchfx: ${message}\nRun '${command.path.join(" ")} --help' for usage.`),
    ExitCode.usage as number
  )

let tree: Spec.CommandSpec | undefined

/** The command tree as data (for help, completions and the checks before parsing), read once. */
export const commandTree = (): Spec.CommandSpec => tree ??= Spec.fromCommand(command)

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
