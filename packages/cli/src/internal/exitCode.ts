/**
 * The exit codes, apart from the error classes of `CliError.ts`: the start path needs the codes,
 * and the classes (Schema classes, built when their module loads) only once a command runs.
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"

/** Exit codes: 0 ok, 1 an API or runtime error, 2 a usage error, 130 interrupted (Ctrl-C). */
export const ExitCode = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const

/**
 * The exit code of a run of `Cli.run`: the code it returned, 130 when it was interrupted from
 * outside (a signal), 1 for anything else.
 */
export const fromExit = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isSuccess(exit)
    ? (typeof exit.value === "number" ? exit.value : ExitCode.ok)
    : Cause.isInterruptedOnly(exit.cause)
    ? ExitCode.interrupted
    : ExitCode.failure
