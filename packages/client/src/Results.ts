/**
 * The results of a batch as a `Stream`: its output file, then its error file, cut into lines and
 * decoded one at a time, so memory does not grow with the files. A body that breaks off is read
 * again from where it stopped (see `Files.content`), so no line is lost or repeated. Each result
 * carries its position, from which a later read can resume. `join` matches results to the inputs
 * by `custom_id` and reports inputs that have no result.
 *
 * @since 0.1.0
 */
import { Batch, BatchStatus, Jsonl, ParseMessage, type RequestLine, ResultLine } from "@batchfx/core"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { BatchClient } from "./BatchClient.js"
import type { BatchClientError } from "./BatchClientError.js"
import type * as ClientConfig from "./ClientConfig.js"
import * as Files from "./Files.js"

/**
 * Which file of a batch a result comes from.
 *
 * @since 0.1.0
 * @category models
 */
export type FileKind = "output" | "error"

/**
 * Where a result line is: its file, its 1-based line number and the byte offset just past it.
 * Giving it back as `after` resumes a read right after this line.
 *
 * @since 0.1.0
 * @category models
 */
export interface Position {
  readonly file: FileKind
  readonly fileId: string
  readonly line: number
  readonly end: number
}

/**
 * A request that got a 2xx answer; `body` is decoded with the caller's schema, if one was given.
 *
 * @since 0.1.0
 * @category models
 */
export interface Succeeded<A> {
  readonly _tag: "Succeeded"
  readonly customId: string
  /** The result line's id (`batch_req_…`). */
  readonly id: string
  readonly statusCode: number
  /** The inner request's id. */
  readonly requestId: string
  readonly body: A
  readonly position: Position
  /** The line as read. */
  readonly line: ResultLine.BatchResultLine
}

/**
 * A request that failed: it got a non-2xx answer (`statusCode` set, `code` and `message` from the
 * answer's error body when it has one), or it never ran (`statusCode` undefined, `code` such as
 * `batch_expired` or `batch_cancelled`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Failed {
  readonly _tag: "Failed"
  readonly customId: string
  readonly id: string
  readonly statusCode: number | undefined
  readonly requestId: string | undefined
  readonly code: string | undefined
  readonly message: string
  /** The answer's body, if there was an answer. */
  readonly body: unknown
  readonly position: Position
  readonly line: ResultLine.BatchResultLine
}

/**
 * One result line of a batch.
 *
 * @since 0.1.0
 * @category models
 */
export type Result<A> = Succeeded<A> | Failed

/**
 * A result line that could not be read: not JSON, not a result line, or a successful answer whose
 * body does not match the caller's schema. Names the file and the line.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResultDecodeError extends Schema.TaggedError<ResultDecodeError>("@batchfx/client/ResultDecodeError")(
  "ResultDecodeError",
  {
    /** The file the line is in. */
    fileId: Schema.String,
    /** Whether it is the output or the error file. */
    file: Schema.Literal("output", "error"),
    /** The 1-based line number. */
    line: Schema.Number,
    /** The line's `custom_id`, when the line itself could be read. */
    customId: Schema.optional(Schema.String),
    /** What did not match. */
    reason: Schema.String
  }
) {
  /** One sentence naming the file and line. */
  override get message(): string {
    return `Line ${this.line} of the ${this.file} file ${this.fileId}${
      this.customId === undefined ? "" : ` (custom_id ${this.customId})`
    } could not be read: ${this.reason.split("\n")[0]!.trim()}`
  }
}

/**
 * The batch has no results yet: it is not in a terminal status.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResultsNotReady extends Schema.TaggedError<ResultsNotReady>("@batchfx/client/ResultsNotReady")(
  "ResultsNotReady",
  {
    /** The batch. */
    batchId: Schema.String,
    /** Its status. */
    status: Schema.String
  }
) {
  /** One sentence. */
  override get message(): string {
    return `Batch ${this.batchId} is ${this.status}: its results exist once it is completed, expired, cancelled or failed.`
  }
}

/**
 * Options of a results read.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadOptions<A, I> extends Omit<Files.ContentOptions, "offset" | "expectedLines" | "linesBefore"> {
  /** Decodes the `response.body` of each successful line. */
  readonly body?: Schema.Schema<A, I> | undefined
  /** Resumes right after this position (a result's `position` from an earlier read). */
  readonly after?: Position | undefined
}

/**
 * Options of a read of one result file.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReadFileOptions<A, I> extends ReadOptions<A, I> {
  /**
   * The lines the file has at least (its batch's `request_counts`): a body with fewer is resumed,
   * and once the server confirms its end, the read fails with `IncompleteDownload` after the last
   * line. `stream` gives it from the batch.
   */
  readonly expectedLines?: number | undefined
}

const errorDetail = (body: unknown): { readonly code: string | undefined; readonly message: string | undefined } => {
  if (typeof body !== "object" || body === null || !("error" in body)) return { code: undefined, message: undefined }
  const error = (body as { readonly error: unknown }).error
  if (typeof error !== "object" || error === null) return { code: undefined, message: undefined }
  const { code, message } = error as { readonly code?: unknown; readonly message?: unknown }
  return {
    code: typeof code === "string" ? code : undefined,
    message: typeof message === "string" ? message : undefined
  }
}

const decodeText = <A>(
  text: string,
  position: Position,
  decodeBody: ((u: unknown) => Either.Either<A, ParseResult.ParseError>) | undefined
): Result<A> | ResultDecodeError => {
  const invalid = (reason: string, customId?: string) =>
    new ResultDecodeError({ fileId: position.fileId, file: position.file, line: position.line, customId, reason })
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (cause) {
    return invalid(`not valid JSON (${(cause as Error).message})`)
  }
  const decoded = ResultLine.decodeBatchResultLine(json)
  if (decoded._tag === "Left") return invalid(ParseMessage.format(decoded.left))
  const line = decoded.right
  const response = line.response ?? undefined
  if (ResultLine.isSuccess(line) && response !== undefined) {
    let body = response.body as A
    if (decodeBody !== undefined) {
      const decodedBody = decodeBody(response.body)
      if (decodedBody._tag === "Left") {
        return invalid(`response.body: ${ParseMessage.format(decodedBody.left)}`, line.custom_id)
      }
      body = decodedBody.right
    }
    // Written out rather than spread from a shared base: this runs once per line.
    return {
      _tag: "Succeeded",
      customId: line.custom_id,
      id: line.id,
      statusCode: response.status_code,
      requestId: response.request_id,
      body,
      position,
      line
    }
  }
  const error = line.error ?? undefined
  const detail = errorDetail(response?.body)
  return {
    _tag: "Failed",
    customId: line.custom_id,
    id: line.id,
    statusCode: response?.status_code,
    requestId: response?.request_id,
    code: error?.code ?? detail.code,
    message: error?.message ?? detail.message ??
      (response === undefined ? "The request has no answer." : `The request got HTTP ${response.status_code}.`),
    body: response?.body,
    position,
    line
  }
}

/**
 * One line of an output or error file (its text, without the newline) read as `readFile` reads
 * it: `Succeeded` or `Failed`, or a `ResultDecodeError` naming the file and line when it is not a
 * result line (or its body does not match `options.body`). For result lines kept elsewhere, say in
 * a database, and read back later. The error is returned, not thrown or failed with, so that a
 * caller reading many lines pays no effect per line.
 *
 * @example
 * ```ts
 * import { Results } from "@batchfx/client"
 *
 * const text = '{"id":"batch_req_1","custom_id":"q-1","response":{"status_code":200,"request_id":"req_1","body":{}},"error":null}'
 * const result = Results.fromText(text, { file: "output", fileId: "file-abc", line: 1, end: text.length + 1 })
 * if (result instanceof Results.ResultDecodeError) console.error(result.message)
 * else console.log(result._tag, result.customId) // Succeeded q-1
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromText = <A = unknown, I = unknown>(
  text: string,
  position: Position,
  options: { readonly body?: Schema.Schema<A, I> | undefined } = {}
): Result<A> | ResultDecodeError =>
  decodeText(text, position, options.body === undefined ? undefined : Schema.decodeUnknownEither(options.body))

/**
 * The results in one result file, decoded one line at a time.
 *
 * @since 0.1.0
 * @category accessors
 */
export const readFile = <A = unknown, I = unknown>(
  fileId: string,
  file: FileKind,
  options: ReadFileOptions<A, I> = {}
): Stream.Stream<Result<A>, BatchClientError | ResultDecodeError, Files.Files> =>
  Stream.unwrap(Effect.gen(function*() {
    const files = yield* Files.Files
    const start = options.after !== undefined && options.after.fileId === fileId
      ? { offset: options.after.end, line: options.after.line }
      : { offset: 0, line: 0 }
    const decodeBody = options.body === undefined ? undefined : Schema.decodeUnknownEither(options.body)
    const { after: _after, body: _body, expectedLines, ...content } = options
    return Stream.suspend(() => {
      const splitter = Jsonl.makeLineSplitter(start)
      // Each chunk is cut and its lines decoded in one step, so a network chunk turns into results
      // (and can be collected) as soon as it arrives.
      const decodeLines = (
        raws: ReadonlyArray<Jsonl.RawLine>,
        out: Array<Result<A>>
      ): ResultDecodeError | undefined => {
        for (const raw of raws) {
          const result = decodeText(raw.text, { file, fileId, line: raw.line, end: raw.end }, decodeBody)
          if (result instanceof ResultDecodeError) return result
          out.push(result)
        }
        return undefined
      }
      // A channel, so that the lines decoded before a bad one are emitted before the failure.
      const emit = (out: Array<Result<A>>, error: ResultDecodeError | undefined) =>
        error === undefined
          ? Channel.write(Chunk.unsafeFromArray(out))
          : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), Channel.fail(error))
      const decode: Channel.Channel<
        Chunk.Chunk<Result<A>>,
        Chunk.Chunk<Uint8Array>,
        ResultDecodeError | BatchClientError,
        BatchClientError,
        void,
        unknown
      > = Channel.readWith({
        onInput: (chunks: Chunk.Chunk<Uint8Array>) => {
          const out: Array<Result<A>> = []
          for (let i = 0; i < chunks.length; i++) {
            const error = decodeLines(splitter.push(Chunk.unsafeGet(chunks, i)), out)
            if (error !== undefined) return emit(out, error)
          }
          return Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), decode)
        },
        onFailure: (error: BatchClientError) => Channel.fail(error),
        // the last line, when the file does not end with a newline
        onDone: () => {
          const out: Array<Result<A>> = []
          return emit(out, decodeLines(splitter.flush(), out))
        }
      })
      // The content read counts the lines against `expectedLines` and resumes a file that has too few.
      return Stream.pipeThroughChannel(
        files.content(fileId, { ...content, expectedLines, linesBefore: start.line, offset: start.offset }),
        decode
      )
    })
  }))

/**
 * The results of a terminal batch: its output file, then its error file (either may be absent; a
 * completed batch without an output file is a normal result). A batch that is not terminal fails
 * with `ResultsNotReady`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = <A = unknown, I = unknown>(
  batch: Batch.Batch,
  options: ReadOptions<A, I> = {}
): Stream.Stream<Result<A>, BatchClientError | ResultDecodeError | ResultsNotReady, Files.Files> => {
  if (!BatchStatus.isTerminal(batch.status)) {
    return Stream.fail(new ResultsNotReady({ batchId: batch.id, status: batch.status }))
  }
  const output = Batch.outputFileId(batch)
  const error = Batch.errorFileId(batch)
  const skipOutput = options.after?.file === "error"
  // The output file has a line per completed request; the error file one per failed request, and
  // on an expired or cancelled batch one more per request that never ran (counted in neither).
  const counts = batch.request_counts ?? undefined
  const read = (id: Option.Option<string>, kind: FileKind, skip: boolean) =>
    Option.isSome(id) && !skip
      ? readFile(id.value, kind, {
        ...options,
        expectedLines: counts === undefined ? undefined : kind === "output" ? counts.completed : counts.failed
      })
      : Stream.empty
  return Stream.concat(read(output, "output", skipOutput), read(error, "error", false))
}

/**
 * The results of a batch by id: retrieves it, then reads as `stream` does.
 *
 * @since 0.1.0
 * @category accessors
 */
export const streamById = <A = unknown, I = unknown>(
  batchId: string,
  options: ReadOptions<A, I> & { readonly call?: ClientConfig.CallOptions | undefined } = {}
): Stream.Stream<
  Result<A>,
  BatchClientError | ResultDecodeError | ResultsNotReady,
  Files.Files | BatchClient
> =>
  Stream.unwrap(Effect.map(
    Effect.flatMap(BatchClient, (client) => client.retrieve(batchId, options.call)),
    (batch) => stream(batch, options)
  ))

/**
 * An input that has a line in neither result file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Missing<L> {
  readonly _tag: "Missing"
  readonly customId: string
  readonly input: L
}

/**
 * A result whose `custom_id` is not among the inputs, or was already matched (`duplicate`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Unmatched<A> {
  readonly _tag: "Unmatched"
  readonly customId: string
  readonly reason: "unknown" | "duplicate"
  readonly result: Result<A>
}

/**
 * A result joined to its input, or an input without result, or a result without input.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome<A, L = RequestLine.BatchRequestLine> =
  | (Succeeded<A> & { readonly input: L })
  | (Failed & { readonly input: L })
  | Missing<L>
  | Unmatched<A>

/**
 * Joins results to the inputs by `custom_id`, as the results arrive; once they end, every input
 * that got no result follows as `Missing`, in input order. Holds the inputs (and the set of ids
 * matched) in memory, never the results.
 *
 * @since 0.1.0
 * @category combinators
 */
export const join = <A, L extends { readonly custom_id: string }, E, R>(
  inputs: Iterable<L>,
  results: Stream.Stream<Result<A>, E, R>
): Stream.Stream<Outcome<A, L>, E, R> =>
  Stream.suspend(() => {
    const pending = new Map<string, L>()
    for (const input of inputs) pending.set(input.custom_id, input)
    const matched = new Set<string>()
    return results.pipe(
      Stream.map((result): Outcome<A, L> => {
        const input = pending.get(result.customId)
        if (input === undefined) {
          return {
            _tag: "Unmatched",
            customId: result.customId,
            reason: matched.has(result.customId) ? "duplicate" : "unknown",
            result
          }
        }
        pending.delete(result.customId)
        matched.add(result.customId)
        return { ...result, input }
      }),
      Stream.concat(
        Stream.suspend(() =>
          Stream.fromIterable(
            Array.from(
              pending.values(),
              (input): Outcome<A, L> => ({ _tag: "Missing", customId: input.custom_id, input })
            )
          )
        )
      )
    )
  })

/**
 * Whether an outcome is a success.
 *
 * @since 0.1.0
 * @category utils
 */
export const isSucceeded = <A, L>(outcome: Outcome<A, L>): outcome is Succeeded<A> & { readonly input: L } =>
  outcome._tag === "Succeeded"
