/**
 * The Files API as a batch workflow needs it: upload an input (from a `Stream` of request lines or
 * from a JSONL file on disk) checked line by line before anything is sent, read a file's content as
 * a `Stream` of bytes that resumes where it broke off, retrieve and delete.
 *
 * @since 0.1.0
 */
import type { File } from "@batchfx/core"
import { RequestLine } from "@batchfx/core"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { CallError, DownloadError, RequestError } from "./BatchClientError.js"
import type * as ClientConfig from "./ClientConfig.js"

/**
 * One problem of an input line, as the service would report it in `errors.data`.
 *
 * @since 0.1.0
 * @category models
 */
export const LineProblem = Schema.Struct({
  /** The 1-based line, `null` for a problem of the whole input. */
  line: Schema.NullOr(Schema.Number),
  /** The service's code: `duplicate_custom_id`, `invalid_url`, `streaming_unsupported`, … */
  code: Schema.String,
  /** The key at fault (`custom_id`, `url`, `body.stream`, …), if any. */
  param: Schema.NullOr(Schema.String),
  /** One sentence. */
  message: Schema.String
})

/**
 * The input was rejected locally, before anything was uploaded: `problems` holds the first problems
 * found (each naming its line), `count` how many there were in all.
 *
 * @since 0.1.0
 * @category errors
 */
export class InputError extends Schema.TaggedError<InputError>("@batchfx/client/InputError")("InputError", {
  /** The first problems found, in line order. */
  problems: Schema.Array(LineProblem),
  /** How many problems were found in all. */
  count: Schema.Number,
  /** The file the input came from, if it came from one. */
  path: Schema.optional(Schema.String)
}) {
  /** The problems as sentences prefixed with their line numbers; nothing was uploaded. */
  override get message(): string {
    const shown = RequestLine.formatProblems(this.problems).split("\n").slice(0, 10).join("; ")
    const more = this.count > 10 ? ` (and ${this.count - 10} more)` : ""
    const where = this.path === undefined ? "The input" : `The input ${this.path}`
    const text = `${where} has ${this.count} problem${
      this.count === 1 ? "" : "s"
    }, so nothing was uploaded: ${shown}${more}`
    // The problems are sentences already; end with one period, not two.
    return /[.!?]$/.test(text) ? text : `${text}.`
  }
}

/**
 * The 1-based line numbers that problems name (problems of the whole input left out).
 *
 * @since 0.1.0
 * @category utils
 */
export const problemLines = (error: InputError): ReadonlyArray<number> =>
  error.problems.flatMap((p) => (p.line === null ? [] : [p.line]))

/**
 * Options of an upload.
 *
 * @since 0.1.0
 * @category models
 */
export interface UploadOptions extends ClientConfig.CallOptions {
  /** The batch endpoint; every line's `url` must equal it. */
  readonly endpoint: string
  /** The file name the server records; default `batchfx-input.jsonl` (or the path's base name). */
  readonly filename?: string | undefined
  /** Line and byte limits; default the service's (50,000 lines, 200 MB). */
  readonly limits?: RequestLine.InputLimits | undefined
  /** How many problems an `InputError` keeps; default 100. */
  readonly maxProblems?: number | undefined
  /**
   * How long the server may go without taking a byte of the upload, or without answering once it
   * has them all, before the attempt counts as timed out; default the client's timeout. `timeout`,
   * when given, bounds each attempt as a whole as well.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * How long an upload whose answer was lost (a reset after sending, a timeout, a 504) is looked
   * for in the files list (same purpose, name and size, created since the attempt began) before it
   * is sent again; the list lags behind uploads. Default 60 seconds; 0 sends again at once.
   */
  readonly findWithin?: Duration.DurationInput | undefined
}

/**
 * Options of a content read.
 *
 * @since 0.1.0
 * @category models
 */
export interface ContentOptions {
  /** Start this many bytes into the file (a `Range` request). Default 0. */
  readonly offset?: number | undefined
  /**
   * The schedule of re-reads after a failure (a broken or short body, a 5xx, a timeout). It starts
   * over whenever bytes arrive again. Default the client's retry schedule.
   */
  readonly retry?: ClientConfig.RetrySchedule | undefined
  /** The timeout of each request until its headers arrive; default the client's. */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * How long the body may go without a byte before the read counts as stalled (and is resumed);
   * default the client's timeout. Time the consumer spends on a chunk does not count.
   */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * The slowest body that is not a stall, in bytes per second, measured over each `idleTimeout`
   * of waiting: a body that trickles slower stalls as a silent one does. Default 1024; 0 counts
   * only silence. A stall that brought less than one such window's worth does not renew the
   * retries, so a trickle ends after them.
   */
  readonly minBytesPerSecond?: number | undefined
  /** A deadline for the whole read, resumes and the consumer's time included; default none. */
  readonly deadline?: Duration.DurationInput | undefined
  /**
   * Whether the file ends with a newline, as every JSONL file the API writes does; default true. A
   * body that ends without one is taken as cut short and resumed, unless the server confirms that
   * nothing follows (a 416 to the resume, or a `Content-Range` total).
   */
  readonly requireNewline?: boolean | undefined
  /**
   * The lines the file has at least (a batch's `request_counts`): a body with fewer is taken as cut
   * short and resumed, as one without its final newline is; once the server confirms its end, it
   * fails with `IncompleteDownload`. Lines are counted by their newlines, plus `linesBefore`.
   */
  readonly expectedLines?: number | undefined
  /** The lines before `offset`, for `expectedLines`; default 0. */
  readonly linesBefore?: number | undefined
}

/**
 * The file operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Uploads request lines as one batch input file (`purpose=batch`). Every line is checked as it
   * passes; if any is bad, or the input goes over the limits, it fails with `InputError` and
   * nothing is sent. The encoded input (at most 200 MB) is held until the check ends.
   */
  readonly upload: <L extends RequestLine.BatchRequestLine, E = never, R = never>(
    lines: Stream.Stream<L, E, R> | Iterable<L>,
    options: UploadOptions
  ) => Effect.Effect<File.OpenAiFile, CallError | InputError | E, R>
  /**
   * Uploads a JSONL file from disk: a first read checks every line (line numbers are the file's),
   * a second read streams it to the server, so the file is never held in memory.
   */
  readonly uploadPath: (
    path: string,
    options: UploadOptions
  ) => Effect.Effect<File.OpenAiFile, RequestError | InputError, FileSystem.FileSystem>
  /**
   * The bytes of a file as a stream. A body that breaks off, stalls, or ends cleanly but short
   * (before its `Content-Length` or `Content-Range` total, or without the final newline) is read
   * again from the first byte not yet emitted: with `Range: bytes=<n>-` (answered 206) or, if the
   * server ignores it, a full read whose first bytes are skipped. No byte is emitted twice or lost;
   * a file that cannot be completed fails with `IncompleteDownload`, never ends as if whole.
   */
  readonly content: (id: string, options?: ContentOptions) => Stream.Stream<Uint8Array, DownloadError>
  /** One file's object. */
  readonly retrieve: (
    id: string,
    options?: ClientConfig.CallOptions
  ) => Effect.Effect<File.OpenAiFile, RequestError>
  /** Deletes a file. */
  readonly delete: (id: string, options?: ClientConfig.CallOptions) => Effect.Effect<File.FileDeleted, RequestError>
  /**
   * The files, newest first, a page at a time as the stream is pulled (`purpose` narrows them,
   * say to `batch`). A caller looking for one file takes what it needs and stops the reads.
   */
  readonly list: (
    params?: ListParams,
    options?: ClientConfig.CallOptions
  ) => Stream.Stream<File.OpenAiFile, CallError>
}

/**
 * What `list` reads: the files of one purpose (default every purpose), `limit` per page (default 100).
 *
 * @since 0.1.0
 * @category models
 */
export interface ListParams {
  readonly purpose?: string | undefined
  readonly limit?: number | undefined
}

/**
 * The Files service.
 *
 * @since 0.1.0
 * @category tags
 */
export class Files extends Context.Tag("@batchfx/client/Files")<Files, Service>() {}

/**
 * How long an upload whose answer was lost is looked for before it is sent again: 60 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFindWithin: Duration.Duration = Duration.seconds(60)

/**
 * The default slowest body that is not a stall: 1 KiB/s.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultMinBytesPerSecond = 1024

/**
 * A stream of request lines from either a stream or an iterable.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toStream = <L, E = never, R = never>(
  lines: Stream.Stream<L, E, R> | Iterable<L>
): Stream.Stream<L, E, R> =>
  Predicate.hasProperty(lines, Stream.StreamTypeId)
    ? lines as Stream.Stream<L, E, R>
    : Stream.fromIterable(lines as Iterable<L>)

/**
 * Uploads request lines with the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const upload = <L extends RequestLine.BatchRequestLine, E = never, R = never>(
  lines: Stream.Stream<L, E, R> | Iterable<L>,
  options: UploadOptions
): Effect.Effect<File.OpenAiFile, CallError | InputError | E, Files | R> =>
  Effect.flatMap(Files, (files) => files.upload(lines, options))

/**
 * Uploads a JSONL file from disk with the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const uploadPath = (
  path: string,
  options: UploadOptions
): Effect.Effect<File.OpenAiFile, RequestError | InputError, Files | FileSystem.FileSystem> =>
  Effect.flatMap(Files, (files) => files.uploadPath(path, options))

/**
 * A file's bytes as a resuming stream, with the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const content = (id: string, options?: ContentOptions): Stream.Stream<Uint8Array, DownloadError, Files> =>
  Stream.unwrap(Effect.map(Files, (files) => files.content(id, options)))

/**
 * One file's object, with the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const retrieve = (
  id: string,
  options?: ClientConfig.CallOptions
): Effect.Effect<File.OpenAiFile, RequestError, Files> => Effect.flatMap(Files, (files) => files.retrieve(id, options))

/**
 * The files, newest first, with the service in context (see `Service.list`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const list = (
  params?: ListParams,
  options?: ClientConfig.CallOptions
): Stream.Stream<File.OpenAiFile, CallError, Files> =>
  Stream.unwrap(Effect.map(Files, (files) => files.list(params, options)))

/**
 * Deletes a file, with the service in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const del = (
  id: string,
  options?: ClientConfig.CallOptions
): Effect.Effect<File.FileDeleted, RequestError, Files> => Effect.flatMap(Files, (files) => files.delete(id, options))

/**
 * Whether a value is an `InputError`.
 *
 * @since 0.1.0
 * @category utils
 */
export const isInputError = (u: unknown): u is InputError => u instanceof InputError
