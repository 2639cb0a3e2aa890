/**
 * What `batchfx submit` does once parsed (loaded when it runs; the options are in
 * `commands/Submit.ts`). An input within one batch's limits is uploaded as the file it is and its
 * results are downloaded byte for byte; a larger one goes through the library's `Submit`, which
 * splits it into batches of at most 50,000 lines and 200 MB, follows them as one and merges their
 * results into `--output` and `--errors`. `-` reads the input from stdin, kept in a temporary file
 * for the run (it is read more than once: counted, checked, uploaded).
 */
import * as JsonlFile from "@batchfx/client/JsonlFile"
import * as Submit from "@batchfx/client/Submit"
import type * as Batch from "@batchfx/core/Batch"
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Jsonl from "@batchfx/core/Jsonl"
import * as RequestLine from "@batchfx/core/RequestLine"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { CommandFailed, FileError, UsageError } from "../../CliError.js"
import type { Config } from "../../commands/Submit.js"
import { Api } from "../api.js"
import * as Atomic from "../atomic.js"
import { type Destination, plan } from "../destination.js"
import * as Input from "../input.js"
import type { Format } from "../options.js"
import * as Output from "../output.js"
import * as Progress from "../progress.js"
import * as Render from "../render.js"
import { checkBeforeUpload, createBatch, expiry, noTokenWarning } from "./Create.js"
import { downloadTo, endedSentence } from "./Results.js"

/**
 * The limits of one batch's input: the API's (50,000 lines, 200 MB). Tests give smaller ones, so
 * that a few lines split.
 */
export class InputLimits extends Context.Reference<InputLimits>()("@batchfx/cli/SubmitInputLimits", {
  defaultValue: (): { readonly maxLines: number; readonly maxBytes: number } => ({
    maxLines: RequestLine.maxLines,
    maxBytes: RequestLine.maxBytes
  })
}) {}

/** What one read of the input found: its lines (blank ones not counted), bytes, and each url with its first line. */
interface Scanned {
  readonly lines: number
  readonly bytes: number
  readonly urls: ReadonlyMap<string, number>
}

/**
 * Reads the input once, without holding it, to count its lines and bytes and (when `--endpoint` is
 * not given) to collect the `url` of its lines. A line that is not JSON is left to the upload's
 * check, which reports every bad line with its number.
 */
const scan = (path: string, urls: boolean): Effect.Effect<Scanned, FileError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const splitter = Jsonl.makeLineSplitter()
    const found = new Map<string, number>()
    let lines = 0
    let bytes = 0
    const take = (raws: ReadonlyArray<Jsonl.RawLine>) => {
      lines += raws.length
      if (!urls) return
      for (const raw of raws) {
        try {
          const url = (JSON.parse(raw.text) as { readonly url?: unknown } | null)?.url
          if (typeof url === "string" && !found.has(url)) found.set(url, raw.line)
        } catch {
          // reported by the upload's check
        }
      }
    }
    // With the endpoint given, counting newlines is enough (a blank line counted only makes a split
    // come a line early); cutting and decoding every line is for reading the urls.
    let last = 10
    yield* Stream.runForEach(
      fs.stream(path),
      (chunk) =>
        Effect.sync(() => {
          bytes += chunk.length
          if (urls) return take(splitter.push(chunk))
          for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++
          if (chunk.length > 0) last = chunk[chunk.length - 1]!
        })
    ).pipe(Effect.mapError((error) => new FileError({ path, description: `cannot be read (${error.message})` })))
    if (urls) take(splitter.flush())
    else if (last !== 10) lines++
    return { lines, bytes, urls: found }
  })

/** The endpoint: `--endpoint`, else the one `url` every line gives; several or none is a usage error. */
const endpointOf = (config: Config, input: Input.Input, scanned: Scanned): Effect.Effect<string, UsageError> => {
  if (Option.isSome(config.endpoint)) return Effect.succeed(config.endpoint.value)
  const urls = Array.from(scanned.urls)
  if (urls.length === 1) return Effect.succeed(urls[0]![0])
  return Effect.fail(
    new UsageError({
      command: "submit",
      description: urls.length === 0
        ? `no line of ${input.name} has a url to take the endpoint from; give --endpoint`
        : `the lines of ${input.name} have different urls (${
          urls.slice(0, 3).map(([url, line]) => `${url} on line ${line}`).join(", ")
        }${urls.length > 3 ? ", …" : ""}); a batch has one endpoint: give --endpoint or split the file`
    })
  )
}

const destinationOf = (planned: Record<string, Option.Option<Destination>>, option: string) =>
  planned[option] ?? Option.none<Destination>()

/**
 * Checks the destinations (before any request), the input and the batch's parameters, then submits:
 * one batch as the file is, or several through the library's `Submit` when the input is over one
 * batch's limits.
 */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    yield* Input.checkExists(config.file, "submit")
    const planned = yield* plan({
      command: "submit",
      force: config.force,
      inputs: config.file === "-" ? [] : [config.file],
      outputs: [["--output", config.output], ["--errors", config.errors]]
    })
    const destinations = {
      output: destinationOf(planned, "--output"),
      errors: destinationOf(planned, "--errors")
    }
    const expires = yield* expiry(config.outputExpiresAfter, "submit")
    const metadata = Object.keys(config.metadata).length > 0 ? { metadata: config.metadata } : {}
    const limits = yield* InputLimits
    const input = yield* Input.inputOf(config.file)
    const scanned = yield* scan(input.path, Option.isNone(config.endpoint))
    const endpoint = yield* endpointOf(config, input, scanned)
    yield* checkBeforeUpload({ endpoint, completion_window: "24h", ...metadata, ...expires })
    yield* Option.match(noTokenWarning(metadata.metadata), { onNone: () => Effect.void, onSome: Output.errLine })
    const format = yield* Render.resolveFormat(config.format)
    const wait = config.wait || Option.isSome(destinations.output) || Option.isSome(destinations.errors)
    const fits = scanned.lines <= limits.maxLines && scanned.bytes <= limits.maxBytes
    if (fits) {
      return yield* one(config, { input, endpoint, metadata, expires, format, wait, destinations }).pipe(
        Effect.mapError(Input.named(input))
      )
    }
    return yield* several(config, { input, endpoint, metadata, expires, format, wait, destinations, limits })
  }).pipe(Effect.scoped)

/** The parts of `handler`'s decisions that `one` and `several` share. */
interface Decided {
  readonly input: Input.Input
  readonly endpoint: string
  readonly metadata: { readonly metadata?: Record<string, string> }
  /** `--output-expires-after` as the create's field, sent with every batch. */
  readonly expires: { readonly output_expires_after?: { readonly anchor: "created_at"; readonly seconds: number } }
  readonly format: Format
  readonly wait: boolean
  readonly destinations: { readonly output: Option.Option<Destination>; readonly errors: Option.Option<Destination> }
}

/** Whether result lines go to stdout (`-o -`): then they are its data, and the batches are not printed there. */
const resultsOnStdout = (options: Decided): boolean =>
  [options.destinations.output, options.destinations.errors].some((d) =>
    Option.isSome(d) && d.value._tag === "Stream" && d.value.stream === "stdout"
  )

/**
 * One batch: the file is uploaded as it is and the batch created (printed at once without
 * `--wait`); with it, progress goes to stderr, the batch that ended to stdout, and its files to
 * `--output`/`--errors`. A batch that did not complete exits 1 once its files are written.
 */
const one = (config: Config, options: Decided) =>
  Effect.gen(function*() {
    const api = yield* Api
    const file = yield* api.upload(options.input.path, options.endpoint)
    yield* Output.errLine(`Uploaded ${options.input.name} as ${file.id} (${file.bytes} bytes).`)
    const batch = yield* createBatch({
      input_file_id: file.id,
      endpoint: options.endpoint,
      completion_window: "24h",
      ...options.metadata,
      ...options.expires
    }, { uploaded: true, keepFile: config.keepFile })
    if (!options.wait) return yield* Render.printOne(batch, options.format)
    yield* Output.errLine(`Created ${batch.id}; waiting for it to end.`)
    const last = yield* Progress.follow(api.watch(batch.id, config.interval))
    if (Option.isNone(last)) return yield* new CommandFailed({ description: `Batch ${batch.id} was never observed.` })
    const final = last.value
    if (!resultsOnStdout(options)) yield* Render.printOne(final, options.format)
    if (Option.isSome(options.destinations.output) || Option.isSome(options.destinations.errors)) {
      yield* downloadTo(final, options.destinations)
    } else if (final.status !== "completed") {
      return yield* new CommandFailed({ description: endedSentence(final) })
    }
  })

const encoder = new TextEncoder()

/**
 * Several batches through the library's `Submit`: each is reported on stderr as it is created;
 * without `--wait` the command ends once all are created and prints them; with it, progress of all
 * of them goes to stderr as one line, the result lines are merged into `--output` (output files)
 * and `--errors` (error files), and the batches that ended are printed. A batch that did not
 * complete, or a request with no result line, exits 1. Every batch carries `--output-expires-after`;
 * Ctrl-C during a part's create prints, as `one` does, the token and file to find that batch by.
 */
const several = (
  config: Config,
  options: Decided & {
    readonly limits: { readonly maxLines: number; readonly maxBytes: number }
  }
) =>
  Effect.gen(function*() {
    const output = yield* Output.Output
    const latest = new Map<number, Batch.Batch>()
    // Each part's lines: its total until the server counts its requests.
    const partLines = new Map<number, number>()
    const allCreated = yield* Deferred.make<void>()
    let parts = 0
    const totals = () => {
      let done = 0
      let failed = 0
      let total = 0
      let ended = 0
      for (const [part, batch] of latest) {
        const counts = batch.request_counts ?? undefined
        done += counts?.completed ?? 0
        failed += counts?.failed ?? 0
        total += Math.max(counts?.total ?? 0, partLines.get(part) ?? 0)
        if (BatchStatus.isTerminal(batch.status)) ended++
      }
      return { done, failed, total, ended }
    }
    const progress = Effect.gen(function*() {
      const { done, ended, failed, total } = totals()
      const text = `${parts} batches: ${ended} ended, ${done}/${total} done, ${failed} failed`
      const stamped = Effect.map(
        Clock.currentTimeMillis,
        (now) => `${new Date(now).toISOString().slice(0, 19)}Z ${text}`
      )
      yield* Progress.show(stamped, text)
    })
    const onBatch = (batch: Batch.Batch, part: Submit.PartInfo) =>
      Effect.gen(function*() {
        parts = part.parts
        partLines.set(part.part, part.lines)
        const first = !latest.has(part.part)
        latest.set(part.part, batch)
        if (first) {
          yield* Output.errLine(
            `Created ${batch.id} (part ${part.part} of ${part.parts}: lines ${part.firstLine}-${
              part.firstLine + part.lines - 1
            }, ${part.bytes} bytes).`
          )
          if (latest.size === part.parts) yield* Deferred.succeed(allCreated, undefined)
        } else if (options.wait) {
          yield* progress
        }
      }).pipe(Effect.provideService(Output.Output, output))
    const printAll = Effect.suspend(() =>
      Render.printBatches(
        Stream.fromIterable(Array.from(latest.entries()).sort(([a], [b]) => a - b).map(([, b]) => b)),
        options.format
      )
    )
    const outcomes = Submit.submit(JsonlFile.requestLines(options.input.path), {
      endpoint: options.endpoint,
      ...options.metadata,
      ...(options.expires.output_expires_after === undefined
        ? {}
        : { outputExpiresAfter: options.expires.output_expires_after }),
      keepFile: config.keepFile,
      limits: options.limits,
      watch: { schedule: Schedule.spaced(config.interval) },
      onBatch,
      // As `one` does on Ctrl-C during a create: the token and file to find the batch by, on stderr.
      onInterrupt: (info, part) =>
        Output.errLine(`batchfx: part ${part.part} of ${part.parts}: ${Submit.interruptedMessage(info)}`).pipe(
          Effect.provideService(Output.Output, output)
        )
    })
    if (!options.wait) {
      // Ends once every part is created; the batches run on. Whatever was created is printed, even
      // when a later part failed or the run was interrupted, so that no batch is lost track of.
      yield* Effect.raceFirst(Stream.runDrain(outcomes), Deferred.await(allCreated)).pipe(
        Effect.ensuring(Effect.uninterruptible(Effect.asVoid(printAll)))
      )
      return
    }
    let missing = 0
    // The batches are printed however the run ends (a part that failed on the server ends the
    // library's stream, and the files are not written), so that each can be looked at on its own.
    const printAtEnd = resultsOnStdout(options) ? Effect.void : Effect.uninterruptible(Effect.asVoid(printAll))
    yield* Effect.scoped(Effect.gen(function*() {
      const open = (destination: Option.Option<Destination>) =>
        Option.match(destination, {
          onNone: () => Effect.succeed(Option.none<Atomic.Writer>()),
          onSome: (d) => Effect.map(Atomic.open(d), Option.some)
        })
      const outputWriter = yield* open(options.destinations.output)
      const errorWriter = yield* open(options.destinations.errors)
      const lines = { output: 0, error: 0 }
      yield* Stream.runForEachChunk(outcomes, (chunk) =>
        Effect.gen(function*() {
          let outputText = ""
          let errorText = ""
          for (const outcome of chunk) {
            if (outcome._tag === "Missing") {
              missing++
              continue
            }
            const result = outcome._tag === "Unmatched" ? outcome.result : outcome
            const line = JSON.stringify(result.line) + "\n"
            if (result.position.file === "output") {
              outputText += line
              lines.output++
            } else {
              errorText += line
              lines.error++
            }
          }
          if (Option.isSome(outputWriter) && outputText !== "") {
            yield* outputWriter.value.write(encoder.encode(outputText))
          }
          if (Option.isSome(errorWriter) && errorText !== "") yield* errorWriter.value.write(encoder.encode(errorText))
        }))
      yield* Progress.done()
      for (
        const [writer, destination, count] of [
          [outputWriter, options.destinations.output, lines.output],
          [errorWriter, options.destinations.errors, lines.error]
        ] as const
      ) {
        if (Option.isNone(writer) || Option.isNone(destination)) continue
        yield* writer.value.commit
        if (destination.value._tag !== "Stream") {
          yield* Output.errLine(
            `Wrote ${destination.value.path} (${writer.value.bytes()} bytes, ${count} line${count === 1 ? "" : "s"}).`
          )
        }
      }
    })).pipe(Effect.ensuring(printAtEnd))
    const notCompleted = Array.from(latest.values()).filter((b) => b.status !== "completed")
    if (notCompleted.length > 0 || missing > 0) {
      return yield* new CommandFailed({
        description: [
          ...notCompleted.map(endedSentence),
          ...(missing > 0 ? [`${missing} request${missing === 1 ? " has" : "s have"} no result line.`] : [])
        ].join(" ")
      })
    }
  })
