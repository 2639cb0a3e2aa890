/** How batches, progress and outcomes are printed. */
import * as Batch from "@batchfx/core/Batch"
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { Format } from "./options.js"
import * as Terminal from "./terminal.js"

const encode = Schema.encodeSync(Batch.Batch)

/** A batch as the API sent it (JSON text, one line). */
export const json = (batch: Batch.Batch): string => JSON.stringify(encode(batch))

/** The format to use: the one asked for, else `table` on a terminal and `jsonl` in a pipe. */
export const resolveFormat = (format: Option.Option<Format>): Format =>
  Option.getOrElse(format, () => Terminal.isTty("stdout") ? "table" : "jsonl")

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

const row = (cells: ReadonlyArray<string>): string =>
  cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(columns[i]![1])).join("  ").trimEnd()

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
): Effect.Effect<number, E, R> => {
  switch (format) {
    case "jsonl":
      return Stream.runFoldEffect(batches, 0, (n, batch) => Effect.as(Terminal.outLine(json(batch)), n + 1))
    case "json":
      return Effect.gen(function*() {
        yield* Terminal.out("[")
        const n = yield* Stream.runFoldEffect(
          batches,
          0,
          (n, batch) => Effect.as(Terminal.out((n === 0 ? "\n  " : ",\n  ") + json(batch)), n + 1)
        )
        yield* Terminal.out(n === 0 ? "]\n" : "\n]\n")
        return n
      })
    case "table":
      // The header comes with the first row, so that nothing is printed when nothing matched.
      return Stream.runFoldEffect(batches, 0, (n, batch) =>
        Effect.as(
          Terminal.outLine(n === 0 ? `${Terminal.bold("stdout", tableHeader)}\n${tableRow(batch)}` : tableRow(batch)),
          n + 1
        ))
  }
}

/** Prints one batch: a table row under its header, the object as one JSON document, or one line. */
export const printOne = (batch: Batch.Batch, format: Format): Effect.Effect<void> => {
  switch (format) {
    case "jsonl":
      return Terminal.outLine(json(batch))
    case "json":
      return Terminal.outLine(JSON.stringify(encode(batch), null, 2))
    case "table":
      return Effect.zipRight(Terminal.outLine(Terminal.bold("stdout", tableHeader)), Terminal.outLine(tableRow(batch)))
  }
}

/** `in_progress 40/100 done, 2 failed`. */
export const summary = (batch: Batch.Batch): string => {
  const c = batch.request_counts
  const counts = c === null || c === undefined || c.total === 0
    ? ""
    : ` ${c.completed}/${c.total} done, ${c.failed} failed`
  return `${batch.status}${counts}`
}

/** The share of requests finished (done or failed), 1 for a terminal batch without requests. */
export const fraction = (batch: Batch.Batch): number => {
  const c = batch.request_counts
  const total = c?.total ?? 0
  if (total === 0) return BatchStatus.isTerminal(batch.status) ? 1 : 0
  return Math.min(1, ((c?.completed ?? 0) + (c?.failed ?? 0)) / total)
}

/** A progress bar line: `batch_… [█████░░░░░]  50% in_progress 5/10 done, 0 failed`. */
export const bar = (batch: Batch.Batch, width = 24): string => {
  const f = fraction(batch)
  const full = Math.round(f * width)
  return `${batch.id} [${"█".repeat(full)}${"░".repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}% ${
    summary(batch)
  }`
}

/** A plain progress line for pipes and logs: `2026-11-28T12:00:00Z batch_… in_progress 5/10 done, 0 failed`. */
export const progressLine = (batch: Batch.Batch): string =>
  `${new Date().toISOString().slice(0, 19)}Z ${batch.id} ${summary(batch)}`

/**
 * Shows a stream of observations of one batch: a bar redrawn in place on a terminal, one line per
 * change in a pipe (no control characters). Returns the last batch seen.
 */
export const showProgress = <E, R>(
  observations: Stream.Stream<Batch.Batch, E, R>
): Effect.Effect<Option.Option<Batch.Batch>, E, R> => {
  const tty = Terminal.isTty("stdout")
  return Stream.runFoldEffect(
    observations,
    Option.none<Batch.Batch>(),
    (_, batch) =>
      Effect.as(
        tty ? Terminal.out(`\r\u001b[2K${bar(batch)}`) : Terminal.outLine(progressLine(batch)),
        Option.some(batch)
      )
  ).pipe(Effect.ensuring(tty ? Terminal.out("\n") : Effect.void))
}

/** The first error of a failed batch, as one sentence. */
export const firstError = (batch: Batch.Batch): Option.Option<string> =>
  Option.fromNullable(batch.errors?.data?.[0]).pipe(
    Option.map((e) =>
      `${e.message ?? e.code ?? "unknown error"}${e.line === null || e.line === undefined ? "" : ` (line ${e.line})`}`
    )
  )
