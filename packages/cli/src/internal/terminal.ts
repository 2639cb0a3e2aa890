/**
 * Where output goes: stdout for results, stderr for messages. A stream that is not a terminal gets
 * no control characters (ANSI escapes are removed), and `NO_COLOR` removes colour everywhere.
 */
import type * as Console from "effect/Console"
import * as Effect from "effect/Effect"

/** Whether a stream is an interactive terminal. */
export const isTty = (stream: "stdout" | "stderr" | "stdin"): boolean => process[stream].isTTY === true

const ansi = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g

/** Removes ANSI escape sequences. */
export const stripAnsi = (text: string): string => text.replace(ansi, "")

const colorAllowed = (stream: "stdout" | "stderr"): boolean =>
  isTty(stream) && (process.env["NO_COLOR"] ?? "") === "" && process.env["TERM"] !== "dumb"

const clean = (stream: "stdout" | "stderr", text: string): string => colorAllowed(stream) ? text : stripAnsi(text)

const write = (stream: "stdout" | "stderr", text: string): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const target = process[stream]
    if (target.destroyed || !target.writable) return resume(Effect.void)
    const ok = target.write(clean(stream, text))
    if (ok) return resume(Effect.void)
    target.once("drain", () => resume(Effect.void))
  })

/** Writes bytes to stdout untouched (file contents); waits when the pipe is full. */
export const outBytes = (bytes: Uint8Array): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const target = process.stdout
    if (target.destroyed || !target.writable) return resume(Effect.void)
    if (target.write(bytes)) return resume(Effect.void)
    target.once("drain", () => resume(Effect.void))
  })

/** Writes text to stdout as is (add the newline yourself); waits when the pipe is full. */
export const out = (text: string): Effect.Effect<void> => write("stdout", text)

/** Writes a line to stdout. */
export const outLine = (text: string): Effect.Effect<void> => write("stdout", text + "\n")

/** Writes a line to stderr. */
export const errLine = (text: string): Effect.Effect<void> => write("stderr", text + "\n")

/** Writes to stderr as is. */
export const err = (text: string): Effect.Effect<void> => write("stderr", text)

/** Bold text where colour is allowed. */
export const bold = (stream: "stdout" | "stderr", text: string): string =>
  colorAllowed(stream) ? `\u001b[1m${text}\u001b[22m` : text

/** Dim text where colour is allowed. */
export const dim = (stream: "stdout" | "stderr", text: string): string =>
  colorAllowed(stream) ? `\u001b[2m${text}\u001b[22m` : text

/**
 * Wraps a `Console` (for `@effect/cli`'s own output: help, usage errors, version, completions) so
 * that it drops ANSI escapes when the stream is not a terminal or `NO_COLOR` is set.
 */
export const cleanConsole = (base: Console.Console): Console.Console => {
  const map = (stream: "stdout" | "stderr", args: ReadonlyArray<unknown>) =>
    args.map((a) => typeof a === "string" ? clean(stream, a) : a)
  return {
    ...base,
    log: (...args) => base.log(...map("stdout", args)),
    info: (...args) => base.info(...map("stdout", args)),
    error: (...args) => base.error(...map("stderr", args)),
    unsafe: {
      ...base.unsafe,
      log: (...args) => base.unsafe.log(...map("stdout", args)),
      info: (...args) => base.unsafe.info(...map("stdout", args)),
      error: (...args) => base.unsafe.error(...map("stderr", args))
    }
  }
}

/** Runs an effect with `cleanConsole` around the current console. */
export const withCleanConsole = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (base) => Effect.withConsole(effect, cleanConsole(base)))
