/**
 * JSON Lines: one JSON value per line, as batch input, output and error files are written.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as ParseMessage from "./ParseMessage.js"

/**
 * A line of a JSONL text that is not valid JSON or does not match its schema. `line` is 1-based.
 *
 * @since 0.1.0
 * @category errors
 */
export class JsonlLineError extends Schema.TaggedError<JsonlLineError>()("JsonlLineError", {
  line: Schema.Int,
  reason: Schema.String
}) {
  /** One sentence naming the line and what is wrong with it. */
  override get message(): string {
    return `line ${this.line}: ${this.reason}`
  }
}

/**
 * Encodes one value as a line of JSON, without the newline.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeLine = <A, I>(schema: Schema.Schema<A, I>) => {
  const encode = Schema.encode(schema)
  return (value: A): Effect.Effect<string, ParseResult.ParseError> =>
    Effect.map(encode(value), (encoded) => JSON.stringify(encoded))
}

/**
 * Encodes values as a JSONL text, each line ending with a newline.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeLines = <A, I>(schema: Schema.Schema<A, I>) => {
  const line = encodeLine(schema)
  return (values: Iterable<A>): Effect.Effect<string, ParseResult.ParseError> =>
    Effect.map(Effect.forEach(values, line), (lines) => lines.map((l) => l + "\n").join(""))
}

/**
 * Decodes one line of JSON with a schema; `lineNumber` goes into the error.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeLine = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(schema, { errors: "all" })
  return (text: string, lineNumber: number): Effect.Effect<A, JsonlLineError> =>
    Effect.suspend(() => {
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch (cause) {
        return new JsonlLineError({ line: lineNumber, reason: `not valid JSON (${(cause as Error).message})` })
      }
      return Effect.mapError(
        decode(json),
        (error) => new JsonlLineError({ line: lineNumber, reason: ParseMessage.format(error) })
      )
    })
}

/**
 * Splits a JSONL text into its non-blank lines with their 1-based numbers. A missing final newline,
 * `\r\n` endings and blank lines are tolerated.
 *
 * @since 0.1.0
 * @category decoding
 */
export const splitLines = (text: string): Array<readonly [line: number, text: string]> => {
  const lines: Array<readonly [number, string]> = []
  let number = 0
  for (const raw of text.split("\n")) {
    number++
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (line.trim() !== "") lines.push([number, line])
  }
  return lines
}

/**
 * Decodes a whole JSONL text held in memory, failing on the first bad line.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeLines = <A, I>(schema: Schema.Schema<A, I>) => {
  const line = decodeLine(schema)
  return (text: string): Effect.Effect<Array<A>, JsonlLineError> =>
    Effect.forEach(splitLines(text), ([number, t]) => line(t, number))
}

/**
 * One line cut from a byte stream: its text (without the line break), its 1-based number and the
 * byte offset just past it, which is where a resumed read must start.
 *
 * @since 0.1.0
 * @category models
 */
export interface RawLine {
  readonly text: string
  readonly line: number
  readonly end: number
}

/**
 * Cuts JSONL bytes into lines as chunks arrive, holding only the unfinished last line. Blank lines
 * are skipped but counted. Splitting on the newline byte is safe in UTF-8: 0x0A never occurs
 * inside a multi-byte character.
 *
 * @since 0.1.0
 * @category models
 */
export interface LineSplitter {
  /** The complete lines that this chunk finishes. */
  readonly push: (chunk: Uint8Array) => Array<RawLine>
  /** The last line, when the input does not end with a newline. */
  readonly flush: () => Array<RawLine>
  /** The byte offset just past the last complete line: where a resumed read must start. */
  readonly offset: () => number
  /** The number of the last line cut. */
  readonly lineNumber: () => number
}

// one options object for every line rather than one per line
const streaming: TextDecodeOptions = { stream: true }

/**
 * Makes a line splitter; `start` continues a read that broke off after `offset` bytes and `line`
 * lines.
 *
 * Each line is decoded on its own, newline included, by one streaming `TextDecoder`: a line of
 * ASCII becomes a one-byte string, which `JSON.parse` reads faster than a slice of a whole decoded
 * chunk (one multi-byte character makes the whole chunk's text two-byte, and the output files of
 * chat completions have some in most chunks). Streaming decoding is also the faster path of Node's
 * decoder; the newline ends any unfinished character, so each line decodes exactly as it would
 * alone. The unfinished last line is copied out of the chunk, so the splitter never holds the
 * caller's buffer alive.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeLineSplitter = (start: { readonly offset: number; readonly line: number } = {
  offset: 0,
  line: 0
}): LineSplitter => {
  // BOMs are removed by hand, one per line, as a decoder made for each line would.
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
  // the unfinished last line, as copies of the chunk tails that hold it
  let pending: Array<Uint8Array> = []
  let pendingBytes = 0
  let offset = start.offset
  let line = start.line

  /** Cuts one line from its bytes, which end with the newline unless it is the `last`. */
  const emit = (bytes: Uint8Array, out: Array<RawLine>, last: boolean) => {
    line++
    offset += bytes.length
    let text = last ? decoder.decode(bytes) : decoder.decode(bytes, streaming)
    let to = text.length
    if (to > 0 && text.charCodeAt(to - 1) === 10) to--
    if (to > 0 && text.charCodeAt(to - 1) === 13) to--
    const from = to > 0 && text.charCodeAt(0) === 0xFEFF ? 1 : 0
    if (from > 0 || to < text.length) text = text.slice(from, to)
    if (!isBlank(text)) out.push({ text, line, end: offset })
  }

  const takePending = (tail: Uint8Array): Uint8Array => {
    if (pending.length === 0) return tail
    const joined = new Uint8Array(pendingBytes + tail.length)
    let at = 0
    for (const part of pending) {
      joined.set(part, at)
      at += part.length
    }
    joined.set(tail, at)
    pending = []
    pendingBytes = 0
    return joined
  }

  return {
    push: (chunk) => {
      const out: Array<RawLine> = []
      let from = 0
      let newline = chunk.indexOf(10)
      while (newline !== -1) {
        emit(takePending(chunk.subarray(from, newline + 1)), out, false)
        from = newline + 1
        newline = chunk.indexOf(10, from)
      }
      if (from < chunk.length) {
        // Copy: the caller may reuse its buffer, and a view would keep all of it alive.
        pending.push(chunk.slice(from))
        pendingBytes += chunk.length - from
      }
      return out
    },
    flush: () => {
      const out: Array<RawLine> = []
      if (pendingBytes > 0) emit(takePending(new Uint8Array(0)), out, true)
      return out
    },
    offset: () => offset,
    lineNumber: () => line
  }
}

/** Whether a line holds only white space; a JSON line starts with a printable ASCII character. */
const isBlank = (text: string): boolean => {
  if (text.length === 0) return true
  const first = text.charCodeAt(0)
  return first > 32 && first < 127 ? false : text.trim() === ""
}
