/**
 * Endpoints a batch can target and its completion window.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { openEnum } from "./internal/openEnum.js"

/**
 * The endpoints the newest API reference lists for batches.
 *
 * @since 0.1.0
 * @category constants
 */
export const known = [
  "/v1/chat/completions",
  "/v1/embeddings",
  "/v1/completions",
  "/v1/responses",
  "/v1/moderations",
  "/v1/images/generations",
  "/v1/images/edits",
  "/v1/videos"
] as const

/**
 * An endpoint the API documents for batches.
 *
 * @since 0.1.0
 * @category models
 */
export type KnownEndpoint = typeof known[number]

/**
 * A batch endpoint as read from the server: a documented value or any other string.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Endpoint = openEnum("Endpoint", ...known)

/**
 * A batch endpoint as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export type Endpoint = typeof Endpoint.Type

/**
 * Whether the endpoint is one the API documents.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isKnown = (endpoint: string): endpoint is KnownEndpoint =>
  (known as ReadonlyArray<string>).includes(endpoint)

/**
 * An endpoint for a create request. The accepted set moves on the server, so any `/v1/` path is
 * allowed here (the reference prefers a warning to a hard block); the server has the last word.
 *
 * @since 0.1.0
 * @category schemas
 */
export const EndpointInput = Endpoint.pipe(
  Schema.filter((s) =>
    /^\/v1\/[a-z0-9_/.-]+$/.test(s) ||
    `endpoint must be an API path such as "/v1/chat/completions" (known: ${known.join(", ")}), got ${JSON.stringify(s)}`
  )
).annotations({
  identifier: "EndpointInput",
  arbitrary: () => (fc) => fc.constantFrom(...known)
})

/**
 * The completion window as read from the server.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CompletionWindow = openEnum("CompletionWindow", "24h")

/**
 * The completion window as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export type CompletionWindow = typeof CompletionWindow.Type

/**
 * The only completion window a create request may ask for.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CompletionWindowInput = Schema.Literal("24h").annotations({
  identifier: "CompletionWindowInput",
  message: (issue) => ({
    message: `completion_window must be "24h", got ${JSON.stringify(issue.actual)}`,
    override: true
  })
})
