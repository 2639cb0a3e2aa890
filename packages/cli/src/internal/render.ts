/** How batches, progress and outcomes are printed. */
import * as Watch from "@batchfx/client/Watch"
import type * as Batch from "@batchfx/core/Batch"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type { Format } from "./options.js"
import * as Output from "./output.js"

// The Batch schema has no transformation (a decoded batch has the shape of its encoding), so a
// decoded batch is already its own encoding: `JSON.stringify` of it gives the wire text of the
// fields the schema knows without a `Schema.encode` per batch. test/List.test.ts holds the lines
// against the encoder; this assignment stops compiling if the decoded type leaves the wire's.
const wire = (batch: Batch.Batch): Batch.BatchEncoded => batch

// JSON.stringify escapes C0 controls but leaves DEL, C1 controls (0x9b starts an escape on some
// terminals) and the bidirectional overrides as they are; the \u form is the same JSON value.
const unsafeInJson = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g
const safeJson = (text: string): string =>
  text.replace(unsafeInJson, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)

/** A batch as the API sent it (JSON text, one line, no character that acts on a terminal). */
export const json = (batch: Batch.Batch): string => safeJson(JSON.stringify(wire(batch)))

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

interface Column {
  readonly name: string
  /** Its width when the terminal has room. */
  readonly width: number
  /** The narrowest it gets before columns are dropped. */
  readonly min: number
  readonly cell: (batch: Batch.Batch) => string
}

const counts = (batch: Batch.Batch) => batch.request_counts ?? undefined

const columns: ReadonlyArray<Column> = [
  { name: "ID", width: 38, min: 14, cell: (b) => b.id },
  { name: "STATUS", width: 11, min: 11, cell: (b) => b.status },
  { name: "ENDPOINT", width: 20, min: 10, cell: (b) => b.endpoint },
  { name: "CREATED (UTC)", width: 16, min: 16, cell: (b) => time(b.created_at) },
  {
    name: "DONE/TOTAL",
    width: 13,
    min: 10,
    cell: (b) =>
      Option.match(Option.fromNullable(counts(b)), { onNone: () => "-", onSome: (c) => `${c.completed}/${c.total}` })
  },
  {
    name: "FAILED",
    width: 6,
    min: 6,
    cell: (b) => Option.match(Option.fromNullable(counts(b)), { onNone: () => "-", onSome: (c) => String(c.failed) })
  }
]

// On a narrow terminal the table is made to fit step by step: the endpoint and the counts are
// narrowed, then columns are given up; the ID is cut last, as it is what a user copies into the
// next command.
type Step = { readonly narrow: string } | { readonly drop: string }
const steps: ReadonlyArray<Step> = [
  { narrow: "ENDPOINT" },
  { narrow: "DONE/TOTAL" },
  { drop: "ENDPOINT" },
  { drop: "FAILED" },
  { drop: "CREATED (UTC)" },
  { drop: "DONE/TOTAL" },
  { narrow: "ID" }
]
const gap = 2

/** The table's columns and their widths for a terminal `width` columns wide (0: unknown, all at full width). */
export const layout = (width: number): ReadonlyArray<Column> => {
  let shown = [...columns]
  const excess = () => shown.reduce((sum, c) => sum + c.width, 0) + gap * (shown.length - 1) - width
  if (width <= 0) return shown
  for (const step of steps) {
    if (excess() <= 0) break
    if ("drop" in step) {
      shown = shown.filter((c) => c.name !== step.drop)
    } else {
      shown = shown.map((c) => c.name === step.narrow ? { ...c, width: Math.max(c.min, c.width - excess()) } : c)
    }
  }
  // Still too wide (under 27 columns): the ID takes what is left, down to one character.
  if (excess() > 0) shown[0] = { ...shown[0]!, width: Math.max(1, shown[0]!.width - excess()) }
  return shown
}

/** Text cut to `width` characters (code points), its last one an ellipsis when something was cut. */
const fit = (text: string, width: number): string => {
  if (text.length <= width) return text
  const chars = Array.from(text)
  return chars.length <= width ? text : chars.slice(0, Math.max(0, width - 1)).join("") + "…"
}

// Cells come from the server: escaped first, so that no control character acts on the terminal,
// then cut to their column on a terminal of known width (elsewhere a long cell pushes the next one).
const row = (shown: ReadonlyArray<Column>, cut: boolean, cells: ReadonlyArray<string>): string =>
  cells.map((cell, i) => {
    const escaped = Output.escapeControl(cell)
    const text = cut ? fit(escaped, shown[i]!.width) : escaped
    return i === cells.length - 1 ? text : text.padEnd(shown[i]!.width)
  }).join(" ".repeat(gap)).trimEnd()

/** The batch table for a terminal of `width` columns (0: unknown): its header and its rows. */
export const table = (width: number) => {
  const shown = layout(width)
  return {
    header: row(shown, width > 0, shown.map((c) => c.name)),
    row: (batch: Batch.Batch): string => row(shown, width > 0, shown.map((c) => c.cell(batch)))
  }
}

// JSON text goes straight to stdout: JSON.stringify leaves no ESC for `Output.out` to strip, so its
// scan of every chunk is skipped.
const writeJson = (text: string) => Effect.flatMap(Output.Output, ({ stdout }) => stdout.write(text))

/**
 * Prints a stream of batches as they arrive, one write per chunk the stream brings (a page of the
 * listing): a table (header first, fitted to the terminal's width), one JSON document (an array
 * written element by element, closed even when the stream fails or is interrupted, so that what was
 * written stays a valid document) or JSON lines. Returns how many were printed.
 */
export const printBatches = <E, R>(
  batches: Stream.Stream<Batch.Batch, E, R>,
  format: Format
): Effect.Effect<number, E, R | Output.Output> =>
  Effect.suspend(() => {
    let n = 0
    const each = (print: (chunk: Chunk.Chunk<Batch.Batch>) => Effect.Effect<void, never, Output.Output>) =>
      Stream.runForEach(Stream.chunks(batches), (chunk) => {
        if (Chunk.isEmpty(chunk)) return Effect.void
        const printing = print(chunk)
        n += chunk.length
        return printing
      }).pipe(Effect.map(() => n))
    switch (format) {
      case "jsonl":
        return each((chunk) => {
          let text = ""
          for (const batch of chunk) text += JSON.stringify(batch) + "\n"
          return writeJson(safeJson(text))
        })
      case "json":
        return writeJson("[").pipe(
          Effect.zipRight(each((chunk) => {
            let text = ""
            for (const batch of chunk) text += (n === 0 && text === "" ? "\n  " : ",\n  ") + JSON.stringify(batch)
            return writeJson(safeJson(text))
          })),
          Effect.ensuring(Effect.suspend(() => writeJson(n === 0 ? "]\n" : "\n]\n")))
        )
      case "table":
        return Effect.flatMap(Output.Output, ({ stdout }) => {
          const t = table(stdout.columns)
          // The header comes with the first row, so that nothing is printed when nothing matched.
          return each((chunk) => {
            let text = n === 0 ? Output.bold(t.header) + "\n" : ""
            for (const batch of chunk) text += t.row(batch) + "\n"
            return Output.out(text)
          })
        })
    }
  })

/** Prints one batch: a table row under its header (fitted to the terminal), the object as one JSON document, or one line. */
export const printOne = (batch: Batch.Batch, format: Format): Effect.Effect<void, never, Output.Output> => {
  switch (format) {
    case "jsonl":
      return Output.outLine(json(batch))
    case "json":
      return Output.outLine(safeJson(JSON.stringify(batch, null, 2)))
    case "table":
      return Effect.flatMap(Output.Output, ({ stdout }) => {
        const t = table(stdout.columns)
        return Output.out(`${Output.bold(t.header)}\n${t.row(batch)}\n`)
      })
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
