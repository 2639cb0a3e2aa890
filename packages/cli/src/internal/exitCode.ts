/**
 * The exit codes, apart from the error classes of `CliError.ts`: the start path needs the codes,
 * and the classes (Schema classes, built when their module loads) only once a command runs.
 */

/** Exit codes: 0 ok, 1 an API or runtime error, 2 a usage error, 130 interrupted (Ctrl-C). */
export const ExitCode = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const
