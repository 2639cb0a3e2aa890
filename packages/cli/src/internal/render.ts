/** How batches, progress and outcomes are printed. */
import * as Watch from "@batchfx/client/Watch"
import * as Batch from "@batchfx/core/Batch"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { Format } from "./options.js"
import * as Output from "./output.js"

const encode = Schema.encodeSync(Batch.Batch)

// JSON.stringify escapes C0 controls but leaves DEL, C1 controls (0x9b starts an escape on some
// terminals) and the bidirectional overrides as they are; the \u form is the same JSON value.
const unsafeInJson = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
const safeJson = (text: string): string =>
  text.replace(unsafeInJson, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** A batch as the API sent it (JSON text, one line, no character that acts on a terminal). */
export const json = (batch: Batch.Batch): string => safeJson(JSON.stringify(encode(batch)))

/** The format to use: the one asked for, else `table` on a terminal and `jsonl` in a pipe. */
export const resolveFormat = (format: Option.Option<Format>): Effect.Effect<Format, never, Output.Output> =>
  Option.match(format, {
    onSome: Effect.succeed,
    onNone: () => Effect.map(Output.isTty("stdout"), (tty): Format => tty ? "table" : "jsonl")
  })

const time = (seconds: number | null | undefined): string =>
  seconds === null || seconds === undefined
    ? "-"
    : new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ")

const columns = [
  ["ID", 38],
  ["STATUS", 11],
  ["ENDPOINT", 20],
  ["CREATED (UTC)", 16],
  ["DONE/TOTAL", 13],
  ["FAILED", 6]
] as const

// Cells come from the server: escaped, so that no control character acts on the terminal.
const row = (cells: ReadonlyArray<string>): string =>
  cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(columns[i]![1])).map(Output.escapeControl)
    .join("  ").trimEnd()

/** The header of the batch table. */
export const tableHeader: string = row(columns.map(([name]) => name))

/** One batch as a table row. */
export const tableRow = (batch: Batch.Batch): string => {
  const c = batch.request_counts
  return row([
    batch.id,
    batch.status,
    batch.endpoint,
    time(batch.created_at),
    c === null || c === undefined ? "-" : `${c.completed}/${c.total}`,
    c === null || c === undefined ? "-" : String(c.failed)
  ])
}

/**
 * Prints a stream of batches as they arrive: a table (header first), one JSON document (an array
 * written element by element) or JSON lines. Returns how many were printed.
 */
export const printBatches = <E, R>(
  batches: Stream.Stream<Batch.Batch, E, R>,
  format: Format
): Effect.Effect<number, E, R | Output.Output> => {
  switch (format) {
    case "jsonl":
      return Stream.runFoldEffect(batches, 0, (n, batch) => Effect.as(Output.outLine(json(batch)), n + 1))
    case "json":
      return Effect.gen(function*() {
        yield* Output.out("[")
        const n = yield* Stream.runFoldEffect(
          batches,
          0,
          (n, batch) => Effect.as(Output.out((n === 0 ? "\n  " : ",\n  ") + json(batch)), n + 1)
        )
        yield* Output.out(n === 0 ? "]\n" : "\n]\n")
        return n
      })
    case "table":
      // The header comes with the first row, so that nothing is printed when nothing matched.
      return Stream.runFoldEffect(batches, 0, (n, batch) =>
        Effect.as(
          Output.outLine(n === 0 ? `${Output.bold(tableHeader)}\n${tableRow(batch)}` : tableRow(batch)),
          n + 1
        ))
  }
}

/** Prints one batch: a table row under its header, the object as one JSON document, or one line. */
export const printOne = (batch: Batch.Batch, format: Format): Effect.Effect<void, never, Output.Output> => {
  switch (format) {
    case "jsonl":
      return Output.outLine(json(batch))
    case "json":
      return Output.outLine(safeJson(JSON.stringify(encode(batch), null, 2)))
    case "table":
      return Effect.zipRight(Output.outLine(Output.bold(tableHeader)), Output.outLine(tableRow(batch)))
  }
}

/** `in_progress 40/100 done, 2 failed`. */
export const summary = (batch: Batch.Batch): string => {
  const c = batch.request_counts
  const counts = c === null || c === undefined || c.total === 0
    ? ""
    : ` ${c.completed}/${c.total} done, ${c.failed} failed`
  return `${Output.escapeControl(batch.status)}${counts}`
}

/** A progress bar line: `batch_… [█████░░░░░]  50% in_progress 5/10 done, 0 failed`. */
export const bar = (batch: Batch.Batch, width = 24): string => {
  const { fraction } = Watch.progress(batch)
  const full = Math.round(fraction * width)
  return `${Output.escapeControl(batch.id)} [${"█".repeat(full)}${"░".repeat(width - full)}] ${
    String(Math.floor(fraction * 100)).padStart(3)
  }% ${summary(batch)}`
}

/** A plain progress line for pipes and logs: `2026-11-28T12:00:00Z batch_… in_progress 5/10 done, 0 failed`. */
export const progressLine = (batch: Batch.Batch): Effect.Effect<string> =>
  Effect.map(
    Clock.currentTimeMillis,
    (now) => `${new Date(now).toISOString().slice(0, 19)}Z ${Output.escapeControl(batch.id)} ${summary(batch)}`
  )

/**
 * Shows a stream of observations of one batch: a bar redrawn in place on a terminal (cut to its
 * width, since a wrapped line cannot be redrawn), one line per change in a pipe (no control
 * characters). Returns the last batch seen.
 */
export const showProgress = <E, R>(
  observations: Stream.Stream<Batch.Batch, E, R>
): Effect.Effect<Option.Option<Batch.Batch>, E, R | Output.Output> =>
  Effect.flatMap(Output.Output, ({ stdout }) => {
    const fit = (line: string) => stdout.columns > 1 ? line.slice(0, stdout.columns - 1) : line
    const show = (batch: Batch.Batch) =>
      stdout.isTTY ? Output.out(`\r\u001b[2K${fit(bar(batch))}`) : Effect.flatMap(progressLine(batch), Output.outLine)
    return Stream.runFoldEffect(observations, Option.none<Batch.Batch>(), (_, batch) =>
      Effect.as(show(batch), Option.some(batch))).pipe(Effect.ensuring(stdout.isTTY ? Output.out("\n") : Effect.void))
  })

/** The first error of a failed batch, as one sentence. */
export const firstError = (batch: Batch.Batch): Option.Option<string> =>
  Option.fromNullable(batch.errors?.data?.[0]).pipe(
    Option.map((e) =>
      `${Output.escapeControl(e.message ?? e.code ?? "unknown error")}${
        e.line === null || e.line === undefined ? "" : ` (line ${e.line})`
      }`
    )
  )
