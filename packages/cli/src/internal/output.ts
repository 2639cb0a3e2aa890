/**
 * Where everything the command line prints goes: the `Output` service holds stdout (data) and
 * stderr (messages, questions, logs), whether each is a terminal and how wide, and whether stdin is
 * a terminal. `layerNode` is the process's own streams, `makeTest` captures into buffers. A stream
 * that may not carry colour (not a terminal, `NO_COLOR`, `TERM=dumb`) gets its text without ANSI
 * escapes; `@effect/cli`'s own output and the logger reach it through `console`.
 */
import * as PlatformTerminal from "@effect/platform/Terminal"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Option from "effect/Option"
import { Console as NodeConsole } from "node:console"
import type { Writable } from "node:stream"
import type { InspectOptions } from "node:util"

/** One output stream. */
export interface Target {
  readonly isTTY: boolean
  /** The width of the terminal, 0 when unknown or not a terminal. */
  readonly columns: number
  /** Whether ANSI escapes may reach it; the helpers below remove them otherwise. */
  readonly colors: boolean
  /** Writes text or bytes as given; waits while the stream is full. */
  readonly write: (chunk: string | Uint8Array) => Effect.Effect<void>
  /** Writes at once, for callers that cannot wait (a `console`). */
  readonly unsafeWrite: (text: string) => void
}

/** The service. */
export interface Service {
  readonly stdout: Target
  readonly stderr: Target
  readonly stdinIsTTY: boolean
}

/** The output of the command line. */
export class Output extends Context.Tag("@batchfx/cli/Output")<Output, Service>() {}

const ansi = /\u001b\[[0-9;?]*[A-Za-z]|\u001b\][^\u0007]*\u0007/g

/** Removes ANSI escape sequences. */
export const stripAnsi = (text: string): string => text.replace(ansi, "")

const clean = (target: Target, text: string): string => target.colors ? text : stripAnsi(text)

// C0 controls (newline and tab too), DEL, C1 controls (0x9b starts an escape on some terminals),
// and the bidirectional overrides that reorder what a terminal shows.
const control = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

/**
 * Text from a server (error messages, batch fields) made safe to print: every control character
 * is shown as an escape (`\x1b`, `\n`, `\u202e`) instead of acting on the terminal or forging a line.
 */
export const escapeControl = (text: string): string =>
  text.replace(control, (c) => {
    const code = c.charCodeAt(0)
    return c === "\n" ? "\\n" : c === "\r" ? "\\r" : c === "\t" ? "\\t" : code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`
  })

/** URLs with a user name or password have them replaced by `***` (what stderr shows never carries them). */
export const redactUserinfo = (text: string): string => text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, "$1***@")

/** Writes text to stdout (add the newline yourself). */
export const out = (text: string): Effect.Effect<void, never, Output> =>
  Effect.flatMap(Output, ({ stdout }) => stdout.write(clean(stdout, text)))

/** Writes a line to stdout. */
export const outLine = (text: string): Effect.Effect<void, never, Output> => out(text + "\n")

/** Writes bytes to stdout untouched (file contents). */
export const outBytes = (bytes: Uint8Array): Effect.Effect<void, never, Output> =>
  Effect.flatMap(Output, ({ stdout }) => stdout.write(bytes))

/** Writes text to stderr, with any password in a URL replaced by `***`. */
export const err = (text: string): Effect.Effect<void, never, Output> =>
  Effect.flatMap(Output, ({ stderr }) => stderr.write(clean(stderr, redactUserinfo(text))))

/** Writes a line to stderr. */
export const errLine = (text: string): Effect.Effect<void, never, Output> => err(text + "\n")

/** Bold text; the escapes are removed where colour is not allowed. */
export const bold = (text: string): string => `\u001b[1m${text}\u001b[22m`

/** Whether a stream is an interactive terminal. */
export const isTty = (stream: "stdout" | "stderr" | "stdin"): Effect.Effect<boolean, never, Output> =>
  Effect.map(Output, (output) => stream === "stdin" ? output.stdinIsTTY : output[stream].isTTY)

/**
 * An Effect `Console` over the output (Node's console formatting and group indentation), for what
 * `@effect/cli` prints (help, usage errors, version, completions) and for the logger.
 */
export const console = (output: Service): Console.Console => {
  const writer = (target: Target, redact: (text: string) => string) => ({
    write: (text: string) => target.unsafeWrite(clean(target, redact(text)))
  })
  const node = new NodeConsole({
    stdout: writer(output.stdout, (text) => text) as unknown as NodeJS.WritableStream,
    // Logs (`--verbose`) and usage errors go to stderr: no password of a URL in them either.
    stderr: writer(output.stderr, redactUserinfo) as unknown as NodeJS.WritableStream,
    ignoreErrors: false,
    colorMode: false
  })
  const sync = <A extends ReadonlyArray<unknown>>(f: (...args: A) => void) => (...args: A) =>
    Effect.sync(() => f(...args))
  return {
    [Console.TypeId]: Console.TypeId,
    assert: sync((condition: boolean, ...args: ReadonlyArray<unknown>) => node.assert(condition, ...args)),
    clear: Effect.sync(() => node.clear()),
    count: sync((label?: string) => node.count(label)),
    countReset: sync((label?: string) => node.countReset(label)),
    debug: sync((...args: ReadonlyArray<unknown>) => node.debug(...args)),
    dir: sync((item: unknown, options?: InspectOptions) => node.dir(item, options)),
    dirxml: sync((...args: ReadonlyArray<unknown>) => node.dirxml(...args)),
    error: sync((...args: ReadonlyArray<unknown>) => node.error(...args)),
    group: sync((options?: { readonly label?: string | undefined; readonly collapsed?: boolean | undefined }) =>
      options?.collapsed === true ? node.groupCollapsed(options.label) : node.group(options?.label)
    ),
    groupEnd: Effect.sync(() => node.groupEnd()),
    info: sync((...args: ReadonlyArray<unknown>) => node.info(...args)),
    log: sync((...args: ReadonlyArray<unknown>) => node.log(...args)),
    table: sync((data: unknown, properties?: ReadonlyArray<string>) => node.table(data, properties)),
    time: sync((label?: string) => node.time(label)),
    timeEnd: sync((label?: string) => node.timeEnd(label)),
    timeLog: sync((label?: string, ...args: ReadonlyArray<unknown>) => node.timeLog(label, ...args)),
    trace: sync((...args: ReadonlyArray<unknown>) => node.trace(...args)),
    warn: sync((...args: ReadonlyArray<unknown>) => node.warn(...args)),
    unsafe: node
  }
}

/**
 * The terminal of `@effect/cli`'s questions, drawn on stderr: stdout may be a file or a pipe that
 * must carry data only, and a question is asked only when stderr is a terminal.
 */
export const asksOnStderr = (terminal: PlatformTerminal.Terminal, output: Service): PlatformTerminal.Terminal => ({
  ...terminal,
  columns: Effect.sync(() => output.stderr.columns),
  isTTY: Effect.succeed(output.stderr.isTTY),
  display: (text) => output.stderr.write(text)
})

// ---- live ---------------------------------------------------------------------------------------

/** A stream written by `nodeTarget`: the process's stdout or stderr, or any `Writable` (tests). */
type NodeStream = Writable & { readonly isTTY?: boolean | undefined; readonly columns?: number | undefined }

/** A target over a Node stream: `write` waits while the stream is full, until it drains or closes. */
export const nodeTarget = (stream: NodeStream, colors: boolean): Target => ({
  isTTY: stream.isTTY === true,
  get columns() {
    return stream.isTTY === true ? stream.columns ?? 0 : 0
  },
  colors,
  write: (chunk) =>
    Effect.async<void>((resume) => {
      if (stream.destroyed || !stream.writable || writeOrFail(stream, chunk)) return resume(Effect.void)
      // Whichever comes first takes both listeners off: one left behind on every full pipe would
      // pile up (MaxListenersExceededWarning after 11 drains of `batchfx list | slow-reader`).
      const stop = () => {
        stream.off("drain", drained)
        stream.off("close", drained)
      }
      const drained = () => {
        stop()
        resume(Effect.void)
      }
      stream.on("drain", drained)
      stream.on("close", drained)
      return Effect.sync(stop)
    }),
  unsafeWrite: (text) => {
    if (!stream.destroyed && stream.writable) writeOrFail(stream, text)
  }
})

/**
 * Writes to a process stream. A stream on a file writes synchronously and throws (ENOSPC on a full
 * disk): the error is turned into the stream's `error` event, which `main.ts` handles as it does a
 * pipe's, so that it never surfaces as a stack trace.
 */
const writeOrFail = (stream: NodeStream, chunk: string | Uint8Array): boolean => {
  try {
    return stream.write(chunk)
  } catch (error) {
    stream.destroy(error instanceof Error ? error : new Error(String(error)))
    return true
  }
}

/** One sentence for a failed write to a process stream: `cannot write to stdout: no space left on device (ENOSPC)`. */
export const writeFailure = (name: string, error: NodeJS.ErrnoException): string => {
  const what = error.message.replace(/^[A-Z]+: /, "").replace(/, \w+$/, "")
  return `cannot write to ${name}: ${what}${error.code === undefined ? "" : ` (${error.code})`}.`
}

/** The process's stdout, stderr and stdin; colour on a terminal unless `NO_COLOR` or `TERM=dumb`. */
export const layerNode: Layer.Layer<Output> = Layer.effect(
  Output,
  Effect.gen(function*() {
    const noColor = yield* Config.string("NO_COLOR").pipe(Config.withDefault(""))
    const term = yield* Config.string("TERM").pipe(Config.withDefault(""))
    const colors = (stream: NodeJS.WriteStream) => stream.isTTY === true && noColor === "" && term !== "dumb"
    return {
      stdout: nodeTarget(process.stdout, colors(process.stdout)),
      stderr: nodeTarget(process.stderr, colors(process.stderr)),
      stdinIsTTY: process.stdin.isTTY === true
    }
  }).pipe(Effect.orDie)
)

// ---- test ---------------------------------------------------------------------------------------

/** What a test stream received so far, and a way to wait for it. */
export interface Captured {
  readonly text: () => string
  /** Succeeds with the text once `ready` holds for it (checked on every write). */
  readonly until: (ready: (text: string) => boolean) => Effect.Effect<string>
}

/** What a test says about the streams. */
export interface TestOptions {
  readonly stdoutIsTTY?: boolean | undefined
  readonly stderrIsTTY?: boolean | undefined
  readonly stdinIsTTY?: boolean | undefined
  /** Terminal width (default 0: unknown). */
  readonly columns?: number | undefined
  /** Whether colour is allowed on the streams that are terminals (default true). */
  readonly colors?: boolean | undefined
  /** The keys typed at questions, one character each (`\r` is Enter); then the input ends. */
  readonly input?: string | undefined
}

/** An output that captures into buffers, and a terminal that types the given keys. */
export interface Test {
  readonly service: Service
  readonly terminal: PlatformTerminal.Terminal
  readonly stdout: Captured
  readonly stderr: Captured
}

const captureTarget = (isTTY: boolean, columns: number, colors: boolean): Target & Captured => {
  const decoder = new TextDecoder()
  const waiters = new Set<() => void>()
  let text = ""
  const append = (chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true })
    for (const check of waiters) check()
  }
  return {
    isTTY,
    columns: isTTY ? columns : 0,
    colors: isTTY && colors,
    write: (chunk) => Effect.sync(() => append(chunk)),
    unsafeWrite: append,
    text: () => text,
    until: (ready) =>
      Effect.async<string>((resume) => {
        if (ready(text)) return resume(Effect.succeed(text))
        const check = () => {
          if (!ready(text)) return
          waiters.delete(check)
          resume(Effect.succeed(text))
        }
        waiters.add(check)
        return Effect.sync(() => void waiters.delete(check))
      })
  }
}

const key = (char: string): PlatformTerminal.UserInput => ({
  input: Option.some(char),
  key: { name: char === "\r" ? "return" : char, ctrl: false, meta: false, shift: false }
})

/** A fresh test output (see `TestOptions`); nothing is a terminal unless said. */
export const makeTest = (options: TestOptions = {}): Test => {
  const columns = options.columns ?? 0
  const colors = options.colors ?? true
  const stdout = captureTarget(options.stdoutIsTTY === true, columns, colors)
  const stderr = captureTarget(options.stderrIsTTY === true, columns, colors)
  const terminal: PlatformTerminal.Terminal = {
    columns: Effect.succeed(columns),
    rows: Effect.succeed(24),
    isTTY: Effect.succeed(options.stdinIsTTY === true),
    readInput: Effect.gen(function*() {
      const mailbox = yield* Mailbox.make<PlatformTerminal.UserInput>()
      mailbox.unsafeOfferAll(Array.from(options.input ?? "", key))
      mailbox.unsafeDone(Exit.void)
      return mailbox
    }),
    readLine: Effect.fail(new PlatformTerminal.QuitException()),
    display: (text) => stderr.write(text)
  }
  return { service: { stdout, stderr, stdinIsTTY: options.stdinIsTTY === true }, terminal, stdout, stderr }
}
