/** Response bodies as byte streams: cutting, re-chunking and the socket under a request. */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { IncomingMessage } from "node:http"

export const socketOf = (request: HttpServerRequest.HttpServerRequest) =>
  request.source instanceof IncomingMessage ? request.source.socket : undefined

/**
 * Reads and drops the rest of a request body refused before its end, and waits for its end: Node
 * stops reading a request once its answer is sent, so a client still sending would stall or meet
 * a broken pipe instead of the answer. Past `limit` more bytes the connection is closed instead.
 * Nothing to do on the in-memory client, whose body is already whole.
 */
export const discardRest = (request: HttpServerRequest.HttpServerRequest, limit: number) =>
  Effect.async<void>((resume) => {
    const source = request.source
    if (!(source instanceof IncomingMessage) || source.complete || source.destroyed) return resume(Effect.void)
    let dropped = 0
    const onData = (piece: Uint8Array) => {
      dropped += piece.length
      if (dropped > limit) source.destroy()
    }
    const onEnd = () => resume(Effect.void)
    source.on("data", onData).once("end", onEnd).once("close", onEnd).once("error", onEnd)
    source.unpipe()
    source.resume()
    return Effect.sync(() => {
      source.off("data", onData).off("end", onEnd).off("close", onEnd).off("error", onEnd)
    })
  })

/** Cuts a byte stream after `n` bytes. */
export const takeBytes = <E>(stream: Stream.Stream<Uint8Array, E>, n: number): Stream.Stream<Uint8Array, E> =>
  stream.pipe(
    Stream.mapAccum(0, (sent, chunk) => {
      const room = Math.max(0, n - sent)
      return [sent + chunk.length, chunk.length <= room ? chunk : chunk.subarray(0, room)] as const
    }),
    Stream.takeWhile((chunk) => chunk.length > 0)
  )

/** Re-chunks a byte stream into pieces of at most `size` bytes. */
export const rechunk = <E>(stream: Stream.Stream<Uint8Array, E>, size: number): Stream.Stream<Uint8Array, E> =>
  Stream.flatMap(stream, (chunk) => {
    const pieces: Array<Uint8Array> = []
    for (let i = 0; i < chunk.length; i += size) pieces.push(chunk.subarray(i, i + size))
    return Stream.fromIterable(pieces)
  })

/** Joins byte chunks into one array, copying each once. */
export const concatBytes = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const parts = Array.from(chunks)
  const out = new Uint8Array(parts.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const c of parts) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

/** The error a truncated body ends with on the in-memory client. */
export class TruncatedBody extends Schema.TaggedError<TruncatedBody>()("TruncatedBody", {
  sent: Schema.Int,
  promised: Schema.Int
}) {}

export const bodyOf = (
  response: HttpServerResponse.HttpServerResponse
): { readonly stream: Stream.Stream<Uint8Array, unknown>; readonly length: number } | undefined => {
  const body = response.body
  switch (body._tag) {
    case "Uint8Array":
      return { stream: Stream.make(body.body), length: body.body.length }
    case "Stream":
      return body.contentLength === undefined ? undefined : { stream: body.stream, length: body.contentLength }
    default:
      return undefined
  }
}

export const withBody = (
  response: HttpServerResponse.HttpServerResponse,
  stream: Stream.Stream<Uint8Array, unknown>,
  length: number
) => {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(response.headers)) if (k !== "content-type") headers[k] = v
  return HttpServerResponse.stream(stream, {
    status: response.status,
    headers,
    contentLength: length,
    contentType: response.headers["content-type"] ?? "application/octet-stream"
  })
}
