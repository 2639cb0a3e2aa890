/** Encoding, checking and splitting of batch inputs, and the multipart body of an upload. */
import { RequestLine } from "@batchfx/core"
import * as HttpBody from "@effect/platform/HttpBody"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()

/** How large the buffers are that encoded lines are packed into. */
const bufferSize = 64 * 1024

/** One future input file: its encoded bytes (packed in buffers) and what it holds. */
export interface Part {
  readonly chunks: ReadonlyArray<Uint8Array>
  readonly bytes: number
  readonly lines: number
  /** The 1-based number (in the whole input) of the part's first line. */
  readonly firstLine: number
}

/** What reading an input found. */
export interface Collected {
  readonly parts: ReadonlyArray<Part>
  /** The first `maxProblems` problems. */
  readonly problems: ReadonlyArray<RequestLine.LineProblem>
  /** How many problems there were in all. */
  readonly problemCount: number
  readonly lines: number
  readonly bytes: number
}

/** Options of `collect`. */
export interface CollectOptions {
  readonly endpoint: string
  readonly maxLines: number
  readonly maxBytes: number
  /** Split into several parts at the limits (true) or report going over them as problems (false). */
  readonly split: boolean
  readonly maxProblems: number
  /** Whether to keep the encoded bytes (false: only count them, for a caller that encodes each part later). */
  readonly keepBytes?: boolean
}

/** A part as the planner cuts it: where it starts and what it holds. */
export interface PlannedPart {
  /** 1-based. */
  readonly part: number
  /** The 1-based number (in the whole input) of the part's first line. */
  readonly firstLine: number
  readonly lines: number
  readonly bytes: number
}

/**
 * The one rule that cuts an input into batches, fed one line's encoded size at a time: a part takes
 * lines in order until the next one would go over `maxLines` or `maxBytes`. A line over `maxBytes`
 * on its own gets a part of its own (callers refuse such a line before uploading).
 */
export const makePartPlanner = (limits: { readonly maxLines: number; readonly maxBytes: number }) => {
  let parts = 0
  let first = 1
  let lines = 0
  let bytes = 0
  const close = (): PlannedPart => {
    const part = { part: ++parts, firstLine: first, lines, bytes }
    first += lines
    lines = 0
    bytes = 0
    return part
  }
  return {
    /** Adds the next line; returns the part it closes when the line starts a new one. */
    push: (size: number): PlannedPart | undefined => {
      const closed = lines > 0 && (lines + 1 > limits.maxLines || bytes + size > limits.maxBytes) ? close() : undefined
      lines++
      bytes += size
      return closed
    },
    /** The last part, if any line is in it. */
    finish: (): PlannedPart | undefined => (lines > 0 ? close() : undefined)
  }
}

class PartBuilder {
  readonly chunks: Array<Uint8Array> = []
  buffer = new Uint8Array(bufferSize)
  used = 0
  bytes = 0
  lines = 0
  constructor(readonly firstLine: number, readonly keep: boolean) {}

  add(bytes: Uint8Array): void {
    this.bytes += bytes.length
    this.lines++
    if (!this.keep) return
    if (bytes.length > bufferSize) {
      this.flush()
      this.chunks.push(bytes)
      return
    }
    if (this.used + bytes.length > bufferSize) this.flush()
    this.buffer.set(bytes, this.used)
    this.used += bytes.length
  }

  flush(): void {
    if (this.used > 0) {
      this.chunks.push(this.buffer.slice(0, this.used))
      this.used = 0
    }
  }

  done(): Part {
    this.flush()
    this.buffer = new Uint8Array(0)
    return { chunks: this.chunks, bytes: this.bytes, lines: this.lines, firstLine: this.firstLine }
  }
}

/**
 * Reads a whole input, checking every line as it passes (unique `custom_id`, `url`, no streaming,
 * one model) and packing the encoded lines into parts. Once a problem is found, bytes are no longer
 * kept: nothing will be uploaded.
 */
export const collect = <L extends RequestLine.BatchRequestLine, E, R>(
  lines: Stream.Stream<L, E, R>,
  options: CollectOptions,
  onLine?: (line: L) => void
): Effect.Effect<Collected, E, R> =>
  Effect.suspend(() => {
    const check = RequestLine.makeInputCheck(
      options.endpoint,
      options.split ? { maxLines: Number.POSITIVE_INFINITY, maxBytes: Number.POSITIVE_INFINITY } : {
        maxLines: options.maxLines,
        maxBytes: options.maxBytes
      }
    )
    const parts: Array<Part> = []
    const problems: Array<RequestLine.LineProblem> = []
    let problemCount = 0
    const planner = makePartPlanner(
      options.split ? options : { maxLines: Number.POSITIVE_INFINITY, maxBytes: Number.POSITIVE_INFINITY }
    )
    let current = new PartBuilder(1, options.keepBytes ?? true)
    let total = 0
    let bytes = 0
    const report = (found: ReadonlyArray<RequestLine.LineProblem>) => {
      for (const p of found) {
        problemCount++
        if (problems.length < options.maxProblems) problems.push(p)
      }
    }
    const push = (line: L): void => {
      total++
      report(check.pushLine(line))
      const encoded = encoder.encode(JSON.stringify(line) + "\n")
      bytes += encoded.length
      if (options.split && encoded.length > options.maxBytes) {
        report([{
          line: total,
          code: "line_too_large",
          param: null,
          message:
            `This line takes ${encoded.length} bytes, more than the ${options.maxBytes} bytes of a whole batch input.`
        }])
      }
      if (problemCount > 0) {
        // Nothing will be uploaded: drop what was kept.
        if (parts.length > 0 || current.lines > 0) {
          parts.length = 0
          current = new PartBuilder(total, options.keepBytes ?? true)
        }
        return
      }
      onLine?.(line)
      if (planner.push(encoded.length) !== undefined) {
        parts.push(current.done())
        current = new PartBuilder(total, options.keepBytes ?? true)
      }
      current.add(encoded)
    }
    return Stream.runForEachChunk(lines, (chunk) =>
      Effect.sync(() => {
        for (const line of chunk) push(line)
      })).pipe(
        Effect.map((): Collected => {
          report(check.finish())
          if (current.lines > 0 && problemCount === 0) parts.push(current.done())
          return { parts: problemCount > 0 ? [] : parts, problems, problemCount, lines: total, bytes }
        })
      )
  })

const safeFilename = (name: string): string => name.replace(/["\r\n\\]/g, "_")

/**
 * A `multipart/form-data` body with a `purpose` field and a `file` part whose content streams from
 * `content` (`size` bytes), so the content is never copied into one buffer.
 */
export const multipart = (
  content: Stream.Stream<Uint8Array, unknown>,
  size: number,
  filename: string,
  purpose: string
): HttpBody.HttpBody => {
  const boundary = `batchfx-${globalThis.crypto.randomUUID().replace(/-/g, "")}`
  const head = encoder.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n${purpose}\r\n` +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${safeFilename(filename)}"\r\n` +
      `Content-Type: application/jsonl\r\n\r\n`
  )
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`)
  return HttpBody.stream(
    Stream.concat(Stream.concat(Stream.make(head), content), Stream.make(tail)),
    `multipart/form-data; boundary=${boundary}`,
    head.length + size + tail.length
  )
}
