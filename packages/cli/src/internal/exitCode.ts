/**
 * The exit codes, apart from the error classes of `CliError.ts`: the start path needs the codes,
 * and the classes (Schema classes, built when their module loads) only once a command runs.
 */
import * as Cause from "effect/Cause"
import * as Exit from "effect/Exit"

/**
 * Exit codes: 0 ok, 1 an API or runtime error (or a batch that did not complete), 2 a usage error,
 * 3 a wait that reached its `--timeout` (the batch runs on), 128 + the signal's number when a
 * signal ended the run: 129 SIGHUP (the terminal closed), 130 SIGINT (Ctrl-C), 143 SIGTERM.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  timedOut: 3,
  hangup: 129,
  interrupted: 130,
  terminated: 143
} as const

/**
 * The exit code an error of a command asks for, when it is not 1: an error that carries a numeric
 * `exitCode` (as `WaitTimedOut` does) gets it.
 */
export const codeOf = (error: unknown): number | undefined =>
  typeof error === "object" && error !== null && "exitCode" in error && typeof error.exitCode === "number"
    ? error.exitCode
    : undefined

/** The signals that end a run cleanly (temporary files removed), with their exit codes. */
export const signalCodes = {
  SIGHUP: ExitCode.hangup,
  SIGINT: ExitCode.interrupted,
  SIGTERM: ExitCode.terminated
} as const

/** A signal that ends a run cleanly. */
export type Signal = keyof typeof signalCodes

/**
 * The exit code of a run of `Cli.run`: the code it returned; when it was interrupted from outside,
 * the code of the signal that did it (130, Ctrl-C, when none is known); 1 for anything else.
 */
export const fromExit = (exit: Exit.Exit<unknown, unknown>, signal?: Signal | undefined): number =>
  Exit.isSuccess(exit)
    ? (typeof exit.value === "number" ? exit.value : ExitCode.ok)
    : Cause.isInterruptedOnly(exit.cause)
    ? (signal === undefined ? ExitCode.interrupted : signalCodes[signal])
    : ExitCode.failure
