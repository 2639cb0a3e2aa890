/** The check every id passes before it is put in a request path. */
import * as Effect from "effect/Effect"
import { InvalidParams } from "../BatchClientError.js"

/**
 * Why an id cannot be sent, if it cannot: empty, `.` or `..`, which URL parsing resolves away
 * (`GET /v1/batches/.` becomes a list), or a `/`, which addresses another resource even when
 * escaped, because some proxies decode `%2F`.
 */
export const idProblem = (id: string, kind: "batch" | "file"): string | undefined =>
  typeof id !== "string" || id.trim() === ""
    ? `the ${kind} id must be a non-empty string`
    : id === "." || id === ".."
    ? `the ${kind} id cannot be "${id}"`
    : id.includes("/")
    ? `the ${kind} id cannot contain "/" (got ${JSON.stringify(id)})`
    : undefined

/** Succeeds with the id when it may be sent; else `InvalidParams` with `idProblem`'s sentence. */
export const validateId = (
  id: string,
  operation: string,
  kind: "batch" | "file"
): Effect.Effect<string, InvalidParams> => {
  const problem = idProblem(id, kind)
  return problem === undefined
    ? Effect.succeed(id)
    : Effect.fail(new InvalidParams({ operation, description: problem }))
}
