/**
 * Decoding errors as short sentences that name the path of each problem.
 *
 * @since 0.1.0
 */
import * as ParseResult from "effect/ParseResult"

/**
 * Renders a path the way a reader writes it: `data[0].object`, `metadata.tags`.
 *
 * @since 0.1.0
 * @category utils
 */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (out, key) =>
      typeof key === "number"
        ? `${out}[${key}]`
        : typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)
        ? out === "" ? key : `${out}.${key}`
        : `${out}[${JSON.stringify(String(key))}]`,
    ""
  )

/**
 * One line per problem, each starting with its path: `created_at: Expected number, actual "2024-…"`.
 *
 * @since 0.1.0
 * @category utils
 */
export const format = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  return issues
    .filter((issue) => !isNullBranchNoise(issue, issues))
    .map((issue) => issue.path.length === 0 ? issue.message : `${formatPath(issue.path)}: ${issue.message}`)
    .join("\n")
}

// A key that may be null fails in two branches; the "Expected null" one says nothing when the
// other branch reported what is really wrong at or below the same path.
const isNullBranchNoise = (
  issue: ParseResult.ArrayFormatterIssue,
  all: ReadonlyArray<ParseResult.ArrayFormatterIssue>
): boolean =>
  /^Expected (null|undefined), actual /.test(issue.message) &&
  all.some((other) =>
    other !== issue &&
    !/^Expected (null|undefined), actual /.test(other.message) &&
    issue.path.every((key, i) => other.path[i] === key)
  )
