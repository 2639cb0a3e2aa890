/** Fault injection: which request gets a fault, and what a fault does to an answer. */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import type { Socket } from "node:net"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import type { Fault } from "../Fault.js"
import type { Route } from "../Route.js"
import { bodyOf, rechunk, takeBytes, TruncatedBody, withBody } from "./body.js"
import type { Context, Scripted } from "./context.js"
import { unit } from "./hash.js"
import { errorBody, faultError, htmlBadGateway, json } from "./wire.js"

/** Schedules `fault` for the `nth` request (1 = the next) that arrives at `route`. */
export const script = (ctx: Context, route: Route, nth: number, fault: Fault) =>
  Effect.flatMap(Ref.get(ctx.arrivals), (m) =>
    Ref.update(ctx.script, (entries) => [
      ...entries,
      { route, at: Option.getOrElse(HashMap.get(m, route), () => 0) + Math.max(1, Math.floor(nth)), fault }
    ]))

/** Counts an arrival at `route` and returns its number there (1-based). */
export const arrive = (ctx: Context, route: Route) =>
  Ref.modify(ctx.arrivals, (m) => {
    const k = Option.getOrElse(HashMap.get(m, route), () => 0) + 1
    return [k, HashMap.set(m, route, k)] as const
  })

/**
 * The fault of a request: a scripted one (used up) or a random draw, a pure function of the seed
 * and the request's sequence number `n`.
 */
export const pick = (ctx: Context, route: Route, arrival: number, n: number, knobs: FakeOpenAi.Knobs) =>
  Ref.modify(ctx.script, (entries): [Fault | undefined, ReadonlyArray<Scripted>] => {
    const index = entries.findIndex((e) => e.route === route && e.at === arrival)
    if (index >= 0) return [entries[index]!.fault, entries.filter((_, i) => i !== index)]
    const random = knobs.randomFaults
    const seed = random?.seed ?? ctx.options.seed
    if (
      random !== undefined && random.faults.length > 0 &&
      (random.routes === undefined || random.routes.includes(route)) &&
      unit(seed, n) < random.rate
    ) {
      return [random.faults[Math.floor(unit(seed + 1, n) * random.faults.length)]!, entries]
    }
    return [undefined, entries]
  })

/** The answer a fault gives instead of handling the request, if it is that kind of fault. */
export const replacement = (fault: Fault | undefined): HttpServerResponse.HttpServerResponse | undefined =>
  fault?._tag === "Status"
    ? json(errorBody(faultError(fault.status)), fault.status)
    : fault?._tag === "HtmlBadGateway"
    ? HttpServerResponse.text(htmlBadGateway, { status: 502, contentType: "text/html" })
    : undefined

/**
 * Cuts the body after `cut` bytes, ends it cleanly but short, or sends it slowly, as the fault asks.
 * A cut closes the socket; in memory (no socket) it fails the body stream. A short body ends as a
 * whole one does, on a socket and in memory alike.
 */
export const shapeBody = (
  response: HttpServerResponse.HttpServerResponse,
  fault: Fault | undefined,
  cut: number | undefined,
  socket: Socket | undefined
): HttpServerResponse.HttpServerResponse => {
  const body = bodyOf(response)
  if (body !== undefined && cut !== undefined && cut < body.length) {
    const broken = Stream.concat(
      takeBytes(body.stream, cut),
      Stream.suspend(() => {
        if (socket !== undefined) {
          socket.end()
          return Stream.fromEffect(Effect.never)
        }
        return Stream.fail(new TruncatedBody({ sent: cut, promised: body.length }))
      })
    )
    return withBody(response, broken, body.length)
  }
  if (body !== undefined && fault?._tag === "ShortBody" && fault.afterBytes < body.length) {
    const short = takeBytes(body.stream, Math.max(0, fault.afterBytes))
    if (fault.framing === "content-length") return withBody(response, short, Math.max(0, fault.afterBytes))
    // No length: Node sends the stream chunked and ends it with the last chunk, cleanly.
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(response.headers)) {
      if (k !== "content-type" && k !== "content-length") headers[k] = v
    }
    return HttpServerResponse.stream(short, {
      status: response.status,
      headers,
      contentType: response.headers["content-type"] ?? "application/octet-stream"
    })
  }
  if (body !== undefined && fault?._tag === "SlowBody") {
    const slow = rechunk(body.stream, Math.max(1, fault.chunkBytes)).pipe(
      Stream.zipWithIndex,
      Stream.mapEffect(([chunk, i]) => i === 0 ? Effect.succeed(chunk) : Effect.as(Effect.sleep(fault.delay), chunk))
    )
    return withBody(response, slow, body.length)
  }
  return response
}
