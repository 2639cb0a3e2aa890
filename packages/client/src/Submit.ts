/**
 * From requests to results as one program: check every line, upload, create the batch, watch it to
 * the end and stream the outcomes joined to their inputs. An input over the limits of one batch
 * (50,000 lines or 200 MB) is split into several batches whose results merge into one stream.
 *
 * @since 0.1.0
 */
import { type Batch, CreateBatchParams, ParseMessage, RequestLine } from "@batchfx/core"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as BatchClient from "./BatchClient.js"
import { type BatchClientError, InvalidParams } from "./BatchClientError.js"
import type * as ClientConfig from "./ClientConfig.js"
import * as Files from "./Files.js"
import * as InternalInput from "./internal/input.js"
import * as Results from "./Results.js"
import * as Watch from "./Watch.js"

/**
 * A batch of the submission failed on the server (its input was refused); `errors` are the
 * server's, with the line numbers of that batch's input file.
 *
 * @since 0.1.0
 * @category errors
 */
export class BatchFailed extends Schema.TaggedError<BatchFailed>("@batchfx/client/BatchFailed")("BatchFailed", {
  /** The batch that failed. */
  batchId: Schema.String,
  /** Which part of the submission it was (1-based). */
  part: Schema.Number,
  /** The number of the input's first line in that part (1-based). */
  firstLine: Schema.Number,
  /** The server's errors. */
  errors: Schema.Array(Schema.Struct({
    code: Schema.optional(Schema.String),
    message: Schema.optional(Schema.String),
    param: Schema.optional(Schema.NullOr(Schema.String)),
    line: Schema.optional(Schema.NullOr(Schema.Number))
  }))
}) {
  /** One sentence with the first errors. */
  override get message(): string {
    const shown = this.errors.slice(0, 5).map((e) =>
      `${e.line === null || e.line === undefined ? "" : `line ${e.line + this.firstLine - 1}: `}${
        e.message ?? e.code ?? "unknown error"
      }`
    ).join("; ")
    return `Batch ${this.batchId} (part ${this.part}) failed on the server${shown === "" ? "" : `: ${shown}`}.`
  }
}

/**
 * Every error a submission can fail with (besides the input stream's own).
 *
 * @since 0.1.0
 * @category models
 */
export type SubmitError =
  | BatchClientError
  | Files.InputError
  | Watch.WatchTimeout
  | Results.ResultDecodeError
  | Results.ResultsNotReady
  | BatchFailed

/**
 * One batch of a submission, as reported to `onBatch`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartInfo {
  /** 1-based. */
  readonly part: number
  readonly parts: number
  /** The number of the input's first line in this part (1-based). */
  readonly firstLine: number
  readonly lines: number
  readonly bytes: number
}

/**
 * Options of a submission.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitOptions<A, I> {
  /** The batch endpoint; every line's `url` must equal it. */
  readonly endpoint: string
  /** Metadata of each batch (at most 16 pairs; the client adds its token and, when split, the part). */
  readonly metadata?: { readonly [key: string]: string } | undefined
  /** Decodes the `response.body` of each successful line. */
  readonly body?: Schema.Schema<A, I> | undefined
  /**
   * Cancel every batch not yet seen terminal when the stream stops early: interrupted, ended by
   * its consumer (`Stream.take`, …) or failed. Default false: the batches run on, and their ids
   * were given to `onBatch`.
   */
  readonly cancelOnInterrupt?: boolean | undefined
  /** The limits of one batch; default the service's (50,000 lines, 200 MB). */
  readonly limits?: RequestLine.InputLimits | undefined
  /** How the batches are watched (poll schedule, grace past `expires_at`). */
  readonly watch?: Omit<Watch.WatchOptions, "initial"> | undefined
  /** Options of the result reads (retry schedule and timeouts). */
  readonly read?: Omit<Results.ReadOptions<A, I>, "body" | "after"> | undefined
  /** Retry schedule and timeout of the upload and create calls. */
  readonly call?: ClientConfig.CallOptions | undefined
  /** How many problems an `InputError` keeps; default 100. */
  readonly maxProblems?: number | undefined
  /** Called with each batch when it is created and each time it changes. */
  readonly onBatch?: ((batch: Batch.Batch, part: PartInfo) => Effect.Effect<void>) | undefined
}

const partKey = "batchfx_part"

interface Created {
  readonly id: string
  readonly terminal: boolean
}

const checkParams = (endpoint: string, metadata: SubmitOptions<unknown, unknown>["metadata"]) =>
  Effect.mapError(
    Schema.decodeUnknown(CreateBatchParams.CreateBatchParams)({
      input_file_id: "file-not-yet-uploaded",
      endpoint,
      completion_window: "24h",
      ...(metadata === undefined ? {} : { metadata })
    }),
    (error) => new InvalidParams({ operation: "submit", description: ParseMessage.format(error) })
  )

/**
 * Submits requests and streams their outcomes, joined to the inputs by `custom_id`:
 *
 * 1. every line is checked (unique `custom_id`, `url` equal to the endpoint, no streaming, one
 *    model); any problem fails with `InputError` and nothing is uploaded;
 * 2. the input is cut into batches of at most 50,000 lines and 200 MB;
 * 3. each part is uploaded and its batch created;
 * 4. the batches are watched to a terminal status (a `failed` one fails with `BatchFailed`);
 * 5. their output and error files are read as they finish, merged into one stream, and joined to
 *    the inputs; an input with no result line follows as `Missing` at the end.
 *
 * Expired and cancelled batches give their partial results and a failure per request that never
 * ran. The inputs are held in memory for the join; the results never are.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submit = <L extends RequestLine.BatchRequestLine, A = unknown, I = unknown, E = never, R = never>(
  lines: Stream.Stream<L, E, R> | Iterable<L>,
  options: SubmitOptions<A, I>
): Stream.Stream<Results.Outcome<A, L>, SubmitError | E, R | BatchClient.BatchClient | Files.Files> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const client = yield* BatchClient.BatchClient
    const files = yield* Files.Files
    yield* checkParams(options.endpoint, options.metadata)
    const maxLines = options.limits?.maxLines ?? RequestLine.maxLines
    const maxBytes = options.limits?.maxBytes ?? RequestLine.maxBytes
    const inputs: Array<L> = []
    const collected = yield* InternalInput.collect(
      Files.toStream(lines),
      {
        endpoint: options.endpoint,
        maxLines,
        maxBytes,
        split: true,
        keepBytes: false,
        maxProblems: options.maxProblems ?? 100
      },
      (line) => inputs.push(line)
    )
    if (collected.problemCount > 0) {
      return yield* new Files.InputError({ problems: collected.problems, count: collected.problemCount })
    }
    const parts: ReadonlyArray<PartInfo> = collected.parts.map((p, i) => ({
      part: i + 1,
      parts: collected.parts.length,
      firstLine: p.firstLine,
      lines: p.lines,
      bytes: p.bytes
    }))
    yield* Effect.annotateCurrentSpan({ "batchfx.submit.lines": collected.lines, "batchfx.submit.parts": parts.length })

    const created = yield* Ref.make<ReadonlyArray<Created>>([])
    const markTerminal = (id: string) =>
      Ref.update(created, (all) => all.map((c) => (c.id === id ? { ...c, terminal: true } : c)))
    if (options.cancelOnInterrupt === true) {
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(Ref.get(created), (all) =>
          Effect.forEach(
            all.filter((c) => !c.terminal),
            (c) =>
              client.cancel(c.id).pipe(
                Effect.tap(() => Effect.logInfo(`cancelled batch ${c.id} as the submission stopped`)),
                Effect.catchAll((error) => Effect.logWarning(`could not cancel batch ${c.id}: ${error.message}`))
              ),
            { discard: true, concurrency: 4 }
          ))
      )
    }
    const report = (batch: Batch.Batch, part: PartInfo) =>
      options.onBatch === undefined ? Effect.void : options.onBatch(batch, part)

    const metadataOf = (part: PartInfo): { readonly [key: string]: string } | undefined => {
      const base = options.metadata ?? {}
      // leave room for the client token: at most 16 pairs in all
      if (part.parts === 1 || Object.keys(base).length >= 15 || partKey in base) return options.metadata
      return { ...base, [partKey]: `${part.part}/${part.parts}` }
    }

    const start = (part: PartInfo): Effect.Effect<Batch.Batch, SubmitError> =>
      Effect.gen(function*() {
        const slice = inputs.slice(part.firstLine - 1, part.firstLine - 1 + part.lines)
        const file = yield* files.upload(slice, {
          endpoint: options.endpoint,
          filename: parts.length === 1 ? "batchfx-input.jsonl" : `batchfx-input-${part.part}-of-${part.parts}.jsonl`,
          limits: { maxLines, maxBytes },
          retry: options.call?.retry,
          timeout: options.call?.timeout
        })
        const metadata = metadataOf(part)
        const batch = yield* client.create(
          {
            input_file_id: file.id,
            endpoint: options.endpoint,
            completion_window: "24h",
            ...(metadata === undefined ? {} : { metadata })
          },
          options.call
        )
        yield* Ref.update(created, (all) => [...all, { id: batch.id, terminal: false }])
        yield* report(batch, part)
        return batch
      }).pipe(Effect.withSpan("batchfx.submit.start", { attributes: { "batchfx.part": part.part } }))

    const results = (part: PartInfo, batch: Batch.Batch): Stream.Stream<Results.Result<A>, SubmitError> =>
      Watch.watch(batch.id, { ...options.watch, initial: batch }).pipe(
        // the first element is the batch as created, already reported
        Stream.zipWithIndex,
        Stream.tap(([b, i]) => (i === 0 ? Effect.void : report(b, part))),
        Stream.map(([b]) => b),
        Stream.runLast,
        Effect.map((last) => (last._tag === "Some" ? last.value : batch)),
        Effect.tap((final) => markTerminal(final.id)),
        Effect.flatMap((final) =>
          final.status === "failed"
            ? Effect.fail(
              new BatchFailed({
                batchId: final.id,
                part: part.part,
                firstLine: part.firstLine,
                errors: (final.errors?.data ?? []).map((e) => ({
                  code: e.code ?? undefined,
                  message: e.message ?? undefined,
                  param: e.param,
                  line: e.line
                }))
              })
            )
            : Effect.succeed(final)
        ),
        Effect.map((final) => Results.stream(final, { ...options.read, body: options.body })),
        Stream.unwrap,
        Stream.provideService(Files.Files, files),
        Stream.provideService(BatchClient.BatchClient, client)
      )

    // every batch is created before any is watched, so they all run on the server at once
    const batches = yield* Effect.forEach(parts, start)
    const merged = Stream.mergeAll(
      parts.map((part, i) => results(part, batches[i]!)),
      { concurrency: "unbounded" }
    )
    return Results.join(inputs, merged)
  }))

/**
 * Runs a submission to the end and returns every outcome. Convenient for small inputs; use
 * `submit` to handle outcomes as they arrive.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitAll = <L extends RequestLine.BatchRequestLine, A = unknown, I = unknown, E = never, R = never>(
  lines: Stream.Stream<L, E, R> | Iterable<L>,
  options: SubmitOptions<A, I>
): Effect.Effect<
  ReadonlyArray<Results.Outcome<A, L>>,
  SubmitError | E,
  R | BatchClient.BatchClient | Files.Files
> => Effect.map(Stream.runCollect(submit(lines, options)), (chunk) => Array.from(chunk))
