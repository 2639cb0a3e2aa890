/**
 * The lines of a batch input file and the checks the service applies to them.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The most requests one batch input may hold.
 *
 * @since 0.1.0
 * @category constants
 */
export const maxLines = 50_000

/**
 * The largest batch input file, in bytes (200 MB).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxBytes = 209_715_200

/**
 * The body of one request: the ordinary request body of its endpoint. Streaming is refused.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestBody = Schema.Record({ key: Schema.String, value: Schema.Unknown }).pipe(
  Schema.filter((body) =>
    body.stream !== true || {
      path: ["stream"],
      message: "body.stream must not be true: batch requests cannot stream"
    }
  )
).annotations({ identifier: "RequestBody" })

/**
 * One line of a batch input file.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchRequestLine = Schema.Struct({
  custom_id: Schema.String,
  method: Schema.Literal("POST"),
  url: Schema.String,
  body: RequestBody
}).annotations({ identifier: "BatchRequestLine" })

/**
 * A request line as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchRequestLine extends Schema.Schema.Type<typeof BatchRequestLine> {}

/**
 * What is wrong with one line of an input, in the terms the service uses in `errors.data`.
 * `line` is 1-based; `null` for problems of the whole file.
 *
 * @since 0.1.0
 * @category models
 */
export interface LineProblem {
  readonly line: number | null
  readonly code: string
  readonly param: string | null
  readonly message: string
}

/**
 * Limits an input check applies; the defaults are the service's.
 *
 * @since 0.1.0
 * @category models
 */
export interface InputLimits {
  readonly maxLines?: number
  readonly maxBytes?: number
}

/**
 * An incremental check of a whole input file, one line at a time, so a file of any size is checked
 * in constant memory apart from the set of `custom_id`s.
 *
 * @since 0.1.0
 * @category models
 */
export interface InputCheck {
  /** Checks the next line given as raw text (blank lines are skipped, as the service does). */
  readonly pushText: (text: string) => ReadonlyArray<LineProblem>
  /** Checks the next line given as a value. */
  readonly pushLine: (line: BatchRequestLine) => ReadonlyArray<LineProblem>
  /** Problems of the file as a whole, once every line was pushed. */
  readonly finish: () => ReadonlyArray<LineProblem>
  /** Lines and bytes (with newlines) seen so far. */
  readonly lines: () => number
  readonly bytes: () => number
}

const requiredKeys = ["custom_id", "method", "url", "body"] as const

const encoder = new TextEncoder()

/**
 * Starts a check of an input for a batch on `endpoint`: every line a JSON object with `custom_id`,
 * `method: "POST"`, `url` equal to the endpoint and an object `body` without `stream: true`;
 * `custom_id`s unique; one model for the whole file; at most 50,000 lines and 200 MB.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeInputCheck = (endpoint: string, limits: InputLimits = {}): InputCheck => {
  const lineLimit = limits.maxLines ?? maxLines
  const byteLimit = limits.maxBytes ?? maxBytes
  const seen = new Set<string>()
  let lineCount = 0
  let byteCount = 0
  let model: unknown = undefined
  let tooMany = false
  let tooLarge = false

  const check = (line: number, value: unknown): Array<LineProblem> => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return [{ line, code: "invalid_json_line", param: null, message: "This line is not a JSON object." }]
    }
    const record = value as Record<string, unknown>
    const problems: Array<LineProblem> = []
    for (const key of requiredKeys) {
      if (record[key] === undefined || record[key] === null) {
        problems.push({
          line,
          code: "missing_required_parameter",
          param: key,
          message: `Missing required parameter: '${key}'.`
        })
      }
    }
    const { body, custom_id, method, url } = record
    if (custom_id !== undefined && custom_id !== null) {
      if (typeof custom_id !== "string") {
        problems.push({ line, code: "invalid_request", param: "custom_id", message: "custom_id must be a string." })
      } else if (seen.has(custom_id)) {
        problems.push({
          line,
          code: "duplicate_custom_id",
          param: "custom_id",
          message: `The custom_id '${custom_id}' is used by an earlier line; each custom_id must be unique.`
        })
      } else {
        seen.add(custom_id)
      }
    }
    if (method !== undefined && method !== null && method !== "POST") {
      problems.push({
        line,
        code: "invalid_request",
        param: "method",
        message: `Only the POST method is supported, got ${JSON.stringify(method)}.`
      })
    }
    if (url !== undefined && url !== null && url !== endpoint) {
      problems.push({
        line,
        code: "invalid_url",
        param: "url",
        message: `The url ${JSON.stringify(url)} does not match the batch endpoint '${endpoint}'.`
      })
    }
    if (body !== undefined && body !== null) {
      if (typeof body !== "object" || Array.isArray(body)) {
        problems.push({ line, code: "invalid_request", param: "body", message: "body must be a JSON object." })
      } else {
        const fields = body as Record<string, unknown>
        if (fields.stream === true) {
          problems.push({
            line,
            code: "streaming_unsupported",
            param: "body.stream",
            message: "Streaming is not supported in batch requests."
          })
        }
        if (fields.model !== undefined) {
          if (model === undefined) {
            model = fields.model
          } else if (fields.model !== model) {
            problems.push({
              line,
              code: "mismatched_model",
              param: "body.model",
              message: `Every line must use the same model: this line uses ${
                JSON.stringify(fields.model)
              }, earlier lines ${JSON.stringify(model)}.`
            })
          }
        }
      }
    }
    return problems
  }

  const count = (text: string): Array<LineProblem> => {
    lineCount++
    byteCount += encoder.encode(text).length + 1
    const problems: Array<LineProblem> = []
    if (lineCount > lineLimit && !tooMany) {
      tooMany = true
      problems.push({
        line: null,
        code: "too_many_tasks",
        param: null,
        message: `The input has more than ${lineLimit} requests; a batch may hold at most ${lineLimit}.`
      })
    }
    if (byteCount > byteLimit && !tooLarge) {
      tooLarge = true
      problems.push({
        line: null,
        code: "file_too_large",
        param: null,
        message: `The input is larger than ${byteLimit} bytes; a batch input may be at most ${byteLimit} bytes.`
      })
    }
    return problems
  }

  return {
    pushText: (text) => {
      if (text.trim() === "") return []
      const problems = count(text)
      let value: unknown
      try {
        value = JSON.parse(text)
      } catch {
        problems.push({
          line: lineCount,
          code: "invalid_json_line",
          param: null,
          message: "This line is not parseable as valid JSON."
        })
        return problems
      }
      return problems.concat(check(lineCount, value))
    },
    pushLine: (line) => {
      const problems = count(JSON.stringify(line))
      return problems.concat(check(lineCount, line))
    },
    finish: () =>
      lineCount === 0
        ? [{ line: null, code: "empty_batch", param: null, message: "The input file has no requests." }]
        : [],
    lines: () => lineCount,
    bytes: () => byteCount
  }
}

/**
 * Checks a whole input held in memory and returns every problem, in line order.
 *
 * @since 0.1.0
 * @category utils
 */
export const checkLines = (
  endpoint: string,
  lines: Iterable<BatchRequestLine>,
  limits?: InputLimits
): ReadonlyArray<LineProblem> => {
  const check = makeInputCheck(endpoint, limits)
  const problems: Array<LineProblem> = []
  for (const line of lines) problems.push(...check.pushLine(line))
  problems.push(...check.finish())
  return problems
}

/**
 * Renders problems as one sentence each, prefixed with the line number.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatProblems = (problems: ReadonlyArray<LineProblem>): string =>
  problems.map((p) => (p.line === null ? p.message : `line ${p.line}: ${p.message}`)).join("\n")
