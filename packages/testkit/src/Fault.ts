/**
 * Faults the emulator can inject into a response, at random or on the n-th request of a route.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Either from "effect/Either"

/**
 * A fault injected into one response.
 *
 * - `Status`: an answer with this status and a JSON error body: `server_error` for 5xx, the API's usual
 *   body for 4xx (429 gets type `requests`, code `rate_limit_exceeded`, and no retry headers).
 * - `HtmlBadGateway`: a 502 with an HTML page, as a proxy in front of the API sends.
 * - `ResetBeforeResponse`: the connection is reset before anything is sent; the request is not handled.
 * - `ResetAfterHandling`: the request is handled (a create really creates the batch), then the connection
 *   is reset, so the client never sees the answer.
 * - `TruncatedBody`: the answer promises its full `Content-Length`, sends `afterBytes` bytes and closes.
 * - `SlowBody`: the answer is sent in chunks of `chunkBytes` with `delay` (on the Effect `Clock`) between them.
 * - `ShortBody`: the answer ends cleanly after `afterBytes` bytes, as a proxy that gives up sends: with
 *   `framing: "content-length"` its `Content-Length` says `afterBytes`; with `"chunked"` it has no length and
 *   its chunked encoding ends early. Nothing on the wire says the body is short.
 *
 * On the in-memory client the resets fail the request with a transport `RequestError` and a truncated
 * body fails the body stream; on a real socket they are real resets and short bodies.
 *
 * @since 0.1.0
 * @category models
 */
export type Fault =
  | { readonly _tag: "Status"; readonly status: number }
  | { readonly _tag: "HtmlBadGateway" }
  | { readonly _tag: "ResetBeforeResponse" }
  | { readonly _tag: "ResetAfterHandling" }
  | { readonly _tag: "TruncatedBody"; readonly afterBytes: number }
  | { readonly _tag: "SlowBody"; readonly chunkBytes: number; readonly delay: Duration.DurationInput }
  | { readonly _tag: "ShortBody"; readonly afterBytes: number; readonly framing: "content-length" | "chunked" }

/**
 * An answer with this status and a JSON error body (`server_error` for 5xx).
 *
 * @since 0.1.0
 * @category constructors
 */
export const status = (status: 500 | 502 | 503 | 504 | number): Fault => ({ _tag: "Status", status })

/**
 * A 502 whose body is an HTML page, not JSON.
 *
 * @since 0.1.0
 * @category constructors
 */
export const htmlBadGateway: Fault = { _tag: "HtmlBadGateway" }

/**
 * The connection is reset before the request is handled.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resetBeforeResponse: Fault = { _tag: "ResetBeforeResponse" }

/**
 * The request is handled (for a create: the batch exists), then the connection is reset.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resetAfterHandling: Fault = { _tag: "ResetAfterHandling" }

/**
 * The body stops after `afterBytes` bytes although `Content-Length` promised more.
 *
 * @since 0.1.0
 * @category constructors
 */
export const truncatedBody = (afterBytes: number): Fault => ({ _tag: "TruncatedBody", afterBytes })

/**
 * The body is sent in chunks of `chunkBytes` with `delay` between chunks.
 *
 * @since 0.1.0
 * @category constructors
 */
export const slowBody = (options: { readonly chunkBytes: number; readonly delay: Duration.DurationInput }): Fault => ({
  _tag: "SlowBody",
  chunkBytes: options.chunkBytes,
  delay: options.delay
})

/**
 * The body ends cleanly after `afterBytes` bytes: a `Content-Length` of `afterBytes` (the default), or a
 * chunked body whose last chunk comes early. Bodies of at most `afterBytes` bytes are sent whole.
 *
 * @since 0.1.0
 * @category constructors
 */
export const shortBody = (afterBytes: number, framing: "content-length" | "chunked" = "content-length"): Fault => ({
  _tag: "ShortBody",
  afterBytes,
  framing
})

/**
 * Reads a fault as the command lines write it: `500` (or any status), `html502`, `reset`,
 * `reset-after`, `truncate:<bytes>`, `short:<bytes>` (a short `Content-Length`), `short-chunked:<bytes>`,
 * `slow:<bytes>:<ms>`. An unknown spelling gives a message.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (text: string): Either.Either<Fault, string> => {
  const [kind, a, b] = text.trim().split(":")
  switch (kind) {
    case "html502":
      return Either.right(htmlBadGateway)
    case "reset":
      return Either.right(resetBeforeResponse)
    case "reset-after":
      return Either.right(resetAfterHandling)
    case "truncate":
      return Either.right(truncatedBody(Number(a ?? "10")))
    case "short":
      return Either.right(shortBody(Number(a ?? "10"), "content-length"))
    case "short-chunked":
      return Either.right(shortBody(Number(a ?? "10"), "chunked"))
    case "slow":
      return Either.right(slowBody({ chunkBytes: Number(a ?? "16"), delay: Number(b ?? "100") }))
    default:
      return kind !== undefined && /^[45]\d\d$/.test(kind)
        ? Either.right(status(Number(kind)))
        : Either.left(`unknown fault '${text}'`)
  }
}
