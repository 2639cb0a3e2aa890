/** The check every id passes before it is put in a request path. */
import * as Effect from "effect/Effect"
import { InvalidParams } from "../BatchClientError.js"

/**
 * Refuses an id that would change the request's path: `.` and `..` are resolved away by URL
 * parsing (`GET /v1/batches/.` becomes a list), and a `/` addresses another resource even when
 * escaped, because some proxies decode `%2F`.
 */
export const validateId = (
  id: string,
  operation: string,
  kind: "batch" | "file"
): Effect.Effect<string, InvalidParams> => {
  const refuse = (why: string) => Effect.fail(new InvalidParams({ operation, description: `the ${kind} id ${why}` }))
  if (typeof id !== "string" || id.trim() === "") return refuse("must be a non-empty string")
  if (id === "." || id === "..") return refuse(`cannot be "${id}"`)
  if (id.includes("/")) return refuse(`cannot contain "/" (got ${JSON.stringify(id)})`)
  return Effect.succeed(id)
}
