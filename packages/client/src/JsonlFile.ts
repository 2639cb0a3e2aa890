/**
 * JSONL files on streams: values written to a path as JSON lines by a `Sink` (the file appears
 * under its name only once complete, and an existing file is kept unless asked), and request
 * lines read from a path as a typed `Stream`.
 *
 * @since 0.1.0
 */
import { Jsonl, RequestLine } from "@batchfx/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Sink from "effect/Sink"
import * as Stream from "effect/Stream"

/**
 * The file could not be written or read: it exists (and `overwrite` was not given), or the file
 * system refused.
 *
 * @since 0.1.0
 * @category errors
 */
export class JsonlFileError extends Schema.TaggedError<JsonlFileError>("@batchfx/client/JsonlFileError")(
  "JsonlFileError",
  {
    /** The file. */
    path: Schema.String,
    /** What went wrong, as the end of a sentence. */
    reason: Schema.String
  }
) {
  /** One sentence. */
  override get message(): string {
    return `${this.path}: ${this.reason}.`
  }
}

/**
 * Options of `sink`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SinkOptions<A, I> {
  /** Encodes each value before it is written; default: the value as it is, with `JSON.stringify`. */
  readonly schema?: Schema.Schema<A, I> | undefined
  /** Replace a file that already exists; default false (the sink fails before writing anything). */
  readonly overwrite?: boolean | undefined
}

const encoder = new TextEncoder()

/**
 * Writes every value as one JSON line to `path` and ends with the number of lines. The lines go
 * to a temporary file beside it, renamed to `path` when the stream ends; a stream that fails or is
 * interrupted leaves no file behind, and never a partial one under `path`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sink = <A, I = A>(
  path: string,
  options: SinkOptions<A, I> = {}
): Sink.Sink<number, A, never, JsonlFileError, FileSystem.FileSystem> =>
  Sink.unwrapScoped(Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const refused = (what: string) => (error: unknown) =>
      new JsonlFileError({ path, reason: `${what} (${error instanceof Error ? error.message : String(error)})` })
    if (options.overwrite !== true && (yield* fs.exists(path).pipe(Effect.mapError(refused("cannot be read"))))) {
      return yield* new JsonlFileError({ path, reason: "already exists, and overwrite was not asked for" })
    }
    const temp = `${path}.${globalThis.crypto.randomUUID().slice(0, 8)}.tmp`
    let renamed = false
    yield* Effect.addFinalizer(() => renamed ? Effect.void : Effect.ignore(fs.remove(temp)))
    const file = yield* fs.open(temp, { flag: "wx" }).pipe(Effect.mapError(refused("cannot be written")))
    const encode = options.schema === undefined
      ? (value: A) => Effect.succeed(JSON.stringify(value))
      : Jsonl.encodeLine(options.schema)
    return Sink.foldLeftChunksEffect(0, (count, chunk: Iterable<A>) =>
      Effect.forEach(chunk, encode).pipe(
        Effect.mapError(refused("a value could not be encoded")),
        Effect.flatMap((lines) =>
          lines.length === 0
            ? Effect.succeed(count)
            : Effect.as(
              file.writeAll(encoder.encode(lines.join("\n") + "\n")).pipe(
                Effect.mapError(refused("cannot be written"))
              ),
              count + lines.length
            )
        )
      )).pipe(
        Sink.mapEffect((count) =>
          fs.rename(temp, path).pipe(
            Effect.mapError(refused("cannot be written")),
            Effect.tap(() => {
              renamed = true
            }),
            Effect.as(count)
          )
        )
      )
  }))

/**
 * The request lines of a JSONL file, decoded one at a time as the file is read: a line that is not
 * a request line fails the stream with its line number.
 *
 * @since 0.1.0
 * @category constructors
 */
export const requestLines = (
  path: string
): Stream.Stream<RequestLine.BatchRequestLine, JsonlFileError | Jsonl.JsonlLineError, FileSystem.FileSystem> =>
  Stream.unwrap(Effect.map(FileSystem.FileSystem, (fs) => {
    const splitter = Jsonl.makeLineSplitter()
    const decode = Jsonl.decodeLine(RequestLine.BatchRequestLine)
    const raw = fs.stream(path).pipe(
      Stream.mapError((error) => new JsonlFileError({ path, reason: `cannot be read (${error.message})` })),
      Stream.mapConcat((chunk) => splitter.push(chunk)),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(splitter.flush())))
    )
    return Stream.mapEffect(raw, (line) => decode(line.text, line.line))
  }))
