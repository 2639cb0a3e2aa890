/**
 * From requests to results as one program: check every line, upload, create the batch, watch it to
 * the end and stream the outcomes joined to their inputs. An input over the limits of one batch
 * (50,000 lines or 200 MB) is split into several batches whose results merge into one stream.
 *
 * @since 0.1.0
 */
import { type Batch, CreateBatchParams, ParseMessage, RequestLine } from "@batchfx/core"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as BatchClient from "./BatchClient.js"
import { type BatchClientError, InvalidParams, isAmbiguous, isBatchClientError } from "./BatchClientError.js"
import type * as ClientConfig from "./ClientConfig.js"
import * as Files from "./Files.js"
import * as InternalClientToken from "./internal/clientToken.js"
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

const ClientError = Schema.declare((u: unknown): u is BatchClientError => isBatchClientError(u), {
  identifier: "BatchClientError"
})

/**
 * What became of an input file uploaded for a batch that was not created: `deleted`, `kept` (asked
 * for, or the batch may exist and would fail without it), or `not-deleted` (the delete failed).
 *
 * @since 0.1.0
 * @category models
 */
export type InputFileFate = "deleted" | "kept" | "not-deleted"

const fateSentence = (
  inputFileId: string,
  maybeCreated: boolean,
  fate: InputFileFate | undefined,
  deleteError: string | undefined
): string => {
  switch (fate) {
    case undefined:
      return ""
    case "deleted":
      return ` The uploaded input file ${inputFileId} was deleted.`
    case "not-deleted":
      return ` The uploaded input file ${inputFileId} could not be deleted${
        deleteError === undefined ? "" : ` (${deleteError.replace(/[.!?]$/, "")})`
      }.`
    case "kept":
      return maybeCreated
        ? ` The input file ${inputFileId} was kept, as a batch whose input file is gone fails.`
        : ` The uploaded input file ${inputFileId} was kept.`
  }
}

/**
 * A create that failed for good, after the input file was uploaded (or given). `error` is the
 * create's own error. When the batch may exist (`maybeCreated`: an ambiguous failure that no look
 * for the client token resolved), the message says how to find it and the file is kept; otherwise
 * an uploaded file is deleted unless `keepFile` was asked. The message names the file and what
 * became of it.
 *
 * @since 0.1.0
 * @category errors
 */
export class CreateFailed extends Schema.TaggedError<CreateFailed>("@batchfx/client/CreateFailed")("CreateFailed", {
  /** The create's error. */
  error: ClientError,
  /** The batch's input file. */
  inputFileId: Schema.String,
  /** The client token the create carried, if the metadata had room for it. */
  clientToken: Schema.optional(Schema.String),
  /** Whether the batch may exist although the create failed. */
  maybeCreated: Schema.Boolean,
  /** What became of the input file; absent when it was not uploaded for this batch. */
  file: Schema.optional(Schema.Literal("deleted", "kept", "not-deleted")),
  /** Why the delete failed, when `file` is `not-deleted`. */
  deleteError: Schema.optional(Schema.String)
}) {
  /** The create's error, then what may exist and what became of the file. */
  override get message(): string {
    const found = this.maybeCreated
      ? ` The batch may exist: ${InternalClientToken.howToFind(this.inputFileId, this.clientToken)}.`
      : ""
    return this.error.message + found + fateSentence(this.inputFileId, this.maybeCreated, this.file, this.deleteError)
  }
}

/**
 * A create interrupted after its input file was uploaded (or given): the token and file to find the
 * batch by, whether it may exist (a create request may have been sent), and what became of the
 * file (deleted only when no request was sent).
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateInterrupted {
  readonly inputFileId: string
  readonly clientToken: string | undefined
  readonly maybeCreated: boolean
  readonly file: InputFileFate | undefined
  readonly deleteError?: string | undefined
}

/**
 * One sentence on an interrupted create: how to find the batch if it may exist, and the file.
 *
 * @since 0.1.0
 * @category utils
 */
export const interruptedMessage = (info: CreateInterrupted): string =>
  (info.maybeCreated
    ? `Interrupted while creating the batch; it may exist: ${
      InternalClientToken.howToFind(info.inputFileId, info.clientToken)
    }.`
    : `Interrupted before the create was sent; no batch was made.`) +
  fateSentence(info.inputFileId, info.maybeCreated, info.file, info.deleteError)

/**
 * Options of `createFromUpload`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateFromUploadOptions extends Omit<BatchClient.CreateOptions, "onSend"> {
  /** Keep the uploaded input file when the create fails for good; default false (it is deleted). */
  readonly keepFile?: boolean | undefined
  /** Whether the input file was uploaded for this batch, so is ours to delete; default true. */
  readonly uploaded?: boolean | undefined
  /** Runs when the create is interrupted, after the file was dealt with; default a warning in the log. */
  readonly onInterrupt?: ((info: CreateInterrupted) => Effect.Effect<void>) | undefined
}

// A delete on the way out must not hold an interrupted program for long.
const deleteWithin = "10 seconds"

/**
 * Creates the batch of an input file uploaded for it, and cleans up when that fails: a create that
 * fails for good deletes the file (unless `keepFile`) and fails with `CreateFailed`, which names the
 * file. A file is never deleted while the batch may exist (a batch whose input file is gone
 * fails): then it is kept and the error says how to find the batch. An interrupted create deletes
 * the file only if no create request was sent, and tells `onInterrupt` the token and file id.
 *
 * @since 0.1.0
 * @category accessors
 */
export const createFromUpload = (
  params: BatchClient.CreateParams,
  options: CreateFromUploadOptions = {}
): Effect.Effect<Batch.Batch, CreateFailed, BatchClient.BatchClient | Files.Files> =>
  Effect.gen(function*() {
    const client = yield* BatchClient.BatchClient
    const files = yield* Files.Files
    // The token is made here, so that the error and the interrupt can name it.
    const clientToken = options.clientToken !== false && BatchClient.hasRoomForToken(params.metadata)
      ? (typeof options.clientToken === "string" ? options.clientToken : yield* BatchClient.makeClientToken)
      : undefined
    const inputFileId = params.input_file_id
    const sent = yield* Ref.make(false)
    const dealWithFile = (
      maybeCreated: boolean
    ): Effect.Effect<{ readonly file: InputFileFate | undefined; readonly deleteError?: string }> => {
      if (options.uploaded === false) return Effect.succeed({ file: undefined })
      if (maybeCreated || options.keepFile === true) return Effect.succeed({ file: "kept" })
      return files.delete(inputFileId).pipe(
        Effect.timeoutFail({
          duration: deleteWithin,
          onTimeout: () => new Error(`no answer within ${deleteWithin}`)
        }),
        Effect.as({ file: "deleted" as const }),
        Effect.catchAll((error) => Effect.succeed({ file: "not-deleted" as const, deleteError: error.message }))
      )
    }
    return yield* client.create(params, {
      ...options,
      clientToken: clientToken ?? false,
      onSend: () => Ref.set(sent, true)
    }).pipe(
      Effect.catchAll((error) =>
        Effect.gen(function*() {
          const maybeCreated = isAmbiguous(error)
          const fate = yield* dealWithFile(maybeCreated)
          return yield* new CreateFailed({
            error,
            inputFileId,
            ...(clientToken === undefined ? {} : { clientToken }),
            maybeCreated,
            ...(fate.file === undefined ? {} : { file: fate.file }),
            ...(fate.deleteError === undefined ? {} : { deleteError: fate.deleteError })
          })
        })
      ),
      Effect.onInterrupt(() =>
        Effect.gen(function*() {
          const maybeCreated = yield* Ref.get(sent)
          const fate = yield* dealWithFile(maybeCreated)
          const info: CreateInterrupted = { inputFileId, clientToken, maybeCreated, ...fate }
          yield* options.onInterrupt === undefined
            ? Effect.logWarning(interruptedMessage(info))
            : options.onInterrupt(info)
        })
      )
    )
  })

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
  | CreateFailed

/**
 * A part of an input as `planParts` cuts it: its number (1-based), the number of its first line in
 * the input (1-based), its lines and their bytes.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlannedPart extends InternalInput.PlannedPart {}

/**
 * One batch of a submission, as reported to `onBatch`: its part, and how many parts there are.
 *
 * @since 0.1.0
 * @category models
 */
export interface PartInfo extends PlannedPart {
  readonly parts: number
}

/**
 * How `submit` cuts an input into batches, from the size of each encoded line (with its newline):
 * a part takes lines in order until the next one would go over `maxLines` or `maxBytes`. For a
 * caller that keeps the lines elsewhere (the durable jobs keep them in their store). A line over
 * `maxBytes` on its own gets a part of its own, which the server would refuse: check lines first
 * (`submit` and `Files.upload` fail with `InputError`, code `line_too_large`).
 *
 * @example
 * ```ts
 * import { Submit } from "@batchfx/client"
 *
 * Submit.planParts([10, 10, 10], { maxLines: 2, maxBytes: 1000 })
 * // [{ part: 1, firstLine: 1, lines: 2, bytes: 20 }, { part: 2, firstLine: 3, lines: 1, bytes: 10 }]
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const planParts = (
  lineBytes: Iterable<number>,
  limits: { readonly maxLines: number; readonly maxBytes: number }
): ReadonlyArray<PlannedPart> => {
  const planner = InternalInput.makePartPlanner(limits)
  const parts: Array<PlannedPart> = []
  for (const size of lineBytes) {
    const closed = planner.push(size)
    if (closed !== undefined) parts.push(closed)
  }
  const last = planner.finish()
  if (last !== undefined) parts.push(last)
  return parts
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
  /**
   * Keep the input file of a part whose batch could not be created; default false: it is deleted
   * (never while the batch may exist), and `CreateFailed` says which.
   */
  readonly keepFile?: boolean | undefined
  /**
   * How long an upload or a create whose answer was lost looks for its file or batch before sending
   * it again; default 60 s (`Files.defaultFindWithin`, `BatchClient.defaultLookupWindow`), as
   * lists lag behind uploads and creates.
   */
  readonly lookupWindow?: Duration.DurationInput | undefined
  /** How many problems an `InputError` keeps; default 100. */
  readonly maxProblems?: number | undefined
  /**
   * How long each batch's output and error files are kept, counted from their creation (the API's
   * `output_expires_after`: `{ anchor: "created_at", seconds }`, 3,600 to 2,592,000); default the
   * API's 30 days. Sent with every batch of the submission.
   */
  readonly outputExpiresAfter?: CreateBatchParams.OutputExpiresAfter | undefined
  /** Called with each batch when it is created and each time it changes. */
  readonly onBatch?: ((batch: Batch.Batch, part: PartInfo) => Effect.Effect<void>) | undefined
  /**
   * Called when the submission is interrupted while a batch is being created, which `onBatch` never
   * sees: the part, the client token and input file to find the batch by if it may exist (it is not
   * cancelled by `cancelOnInterrupt`), and what became of the file. Default a warning in the log.
   */
  readonly onInterrupt?: ((info: CreateInterrupted, part: PartInfo) => Effect.Effect<void>) | undefined
}

const partKey = "batchfx_part"

interface Created {
  readonly id: string
  readonly terminal: boolean
}

// The batch parameters every part shares, checked before anything is uploaded.
const checkParams = (
  options: Pick<SubmitOptions<unknown, unknown>, "endpoint" | "metadata" | "outputExpiresAfter">
) =>
  Effect.mapError(
    Schema.decodeUnknown(CreateBatchParams.CreateBatchParams)({
      input_file_id: "file-not-yet-uploaded",
      endpoint: options.endpoint,
      completion_window: "24h",
      ...(options.metadata === undefined ? {} : { metadata: options.metadata }),
      ...(options.outputExpiresAfter === undefined ? {} : { output_expires_after: options.outputExpiresAfter })
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
    yield* checkParams(options)
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
    const onInterrupt = options.onInterrupt
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
          timeout: options.call?.timeout,
          findWithin: options.lookupWindow
        })
        const metadata = metadataOf(part)
        const batch = yield* createFromUpload(
          {
            input_file_id: file.id,
            endpoint: options.endpoint,
            completion_window: "24h",
            ...(metadata === undefined ? {} : { metadata }),
            ...(options.outputExpiresAfter === undefined ? {} : { output_expires_after: options.outputExpiresAfter })
          },
          {
            ...options.call,
            keepFile: options.keepFile,
            lookupWindow: options.lookupWindow,
            onInterrupt: onInterrupt === undefined ? undefined : (info) => onInterrupt(info, part)
          }
        ).pipe(
          Effect.provideService(BatchClient.BatchClient, client),
          Effect.provideService(Files.Files, files)
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
