/**
 * JSON Lines: one JSON value per line, as batch input, output and error files are written.
 *
 * @since 0.1.0
 */
import { Effect, type ParseResult, Schema } from "effect"
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
