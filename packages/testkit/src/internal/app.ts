/** The app: request ids, latency, faults, auth, quota and rate limit, counters, then the route families. */
import * as HttpRouter from "@effect/platform/HttpRouter"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import type { Route } from "../Route.js"
import { socketOf } from "./body.js"
import type { Context } from "./context.js"
import * as Faults from "./faults.js"
import { hex } from "./hash.js"
import { millis } from "./knobs.js"
import * as RateLimit from "./rateLimit.js"
import * as Batches from "./routes/batches.js"
import * as Files from "./routes/files.js"
import { ApiFailure, errorBody, errorResponse, faultError, invalid, json, redactKey, resetMarker } from "./wire.js"

const patterns: ReadonlyArray<readonly [string, RegExp, Route]> = [
  ["POST", /^\/v1\/files\/?$/, "POST /v1/files"],
  ["GET", /^\/v1\/files\/?$/, "GET /v1/files"],
  ["GET", /^\/v1\/files\/[^/]+\/?$/, "GET /v1/files/{id}"],
  ["GET", /^\/v1\/files\/[^/]+\/content\/?$/, "GET /v1/files/{id}/content"],
  ["DELETE", /^\/v1\/files\/[^/]+\/?$/, "DELETE /v1/files/{id}"],
  ["POST", /^\/v1\/batches\/?$/, "POST /v1/batches"],
  ["GET", /^\/v1\/batches\/?$/, "GET /v1/batches"],
  ["GET", /^\/v1\/batches\/[^/]+\/?$/, "GET /v1/batches/{id}"],
  ["POST", /^\/v1\/batches\/[^/]+\/cancel\/?$/, "POST /v1/batches/{id}/cancel"]
]

/** The route a request goes to, from its method and path (without the query string). */
const classify = (method: string, path: string): Route => {
  for (const [m, pattern, route] of patterns) {
    if (m === method && pattern.test(path)) return route
  }
  return "unmatched"
}

const count = (ctx: Context, method: string, route: Route, status: number) =>
  Ref.update(ctx.counters, (m) => {
    const key = `${method} ${route} ${status}`
    const prev = Option.getOrUndefined(HashMap.get(m, key))
    return HashMap.set(m, key, { method, route, status, count: (prev?.count ?? 0) + 1 })
  })

type Limited = RateLimit.Limited | undefined

/** Why a request is refused before it is handled, in the API's order: key, quota, rate limit. */
const refusal = (
  key: string | undefined,
  apiKey: string | undefined,
  knobs: FakeOpenAi.Knobs,
  limited: Limited
): ApiFailure | undefined => {
  if (key === undefined || key === "") {
    return invalid(
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username. You can obtain an API key from https://platform.openai.com/account/api-keys.",
      null,
      null,
      401
    )
  }
  if (apiKey !== undefined && key !== apiKey) {
    return invalid(
      `Incorrect API key provided: ${
        redactKey(key)
      }. You can find your API key at https://platform.openai.com/account/api-keys.`,
      null,
      "invalid_api_key",
      401
    )
  }
  if (knobs.quotaExhausted) {
    return new ApiFailure({
      status: 429,
      message:
        "You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
      type: "insufficient_quota",
      param: null,
      code: "insufficient_quota"
    })
  }
  if (limited === undefined || limited.allowed) return undefined
  return limited.failure
}

/** Both route families; a failure becomes the API's error body, a defect a 500. */
const routes = (ctx: Context): Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  HttpServerRequest.HttpServerRequest
> =>
  HttpRouter.concat(Files.router(ctx), Batches.router(ctx)).pipe(
    Effect.catchTags({
      ApiFailure: (e: ApiFailure) => Effect.succeed(errorResponse(e)),
      RouteNotFound: (e: HttpServerError.RouteNotFound) =>
        Effect.succeed(
          errorResponse(invalid(`Invalid URL (${e.request.method} ${e.request.url.split("?")[0]})`, null, null, 404))
        )
    }),
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause)
        ? Effect.failCause(cause)
        : Effect.succeed(json(errorBody(faultError(500)), 500))
    ),
    Effect.orDie
  )

/** The emulator's `HttpApp`. */
export const make = (
  ctx: Context
): Effect.Effect<HttpServerResponse.HttpServerResponse, never, HttpServerRequest.HttpServerRequest> => {
  const handled = routes(ctx)
  const limiter = RateLimit.make()
  const { seed } = ctx.options
  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const start = yield* Clock.currentTimeMillis
    const n = yield* Ref.getAndUpdate(ctx.requestSeq, (k) => k + 1)
    const requestId = `req_${hex(seed ^ 0x5eed, n, 32)}`
    const route = classify(request.method, request.url.split("?")[0] ?? "/")
    const arrival = yield* Faults.arrive(ctx, route)
    const knobs = yield* Ref.get(ctx.knobs)
    if (millis(knobs.latency) > 0) yield* Effect.sleep(knobs.latency)
    const fault = yield* Faults.pick(ctx, route, arrival, n, knobs)
    const socket = socketOf(request)

    // A reset is counted with status 0; in memory a marker header tells the client to fail.
    const reset = Effect.gen(function*() {
      yield* count(ctx, request.method, route, 0)
      if (socket !== undefined) {
        socket.resetAndDestroy()
        return yield* Effect.never
      }
      return HttpServerResponse.empty({ status: 599, headers: { [resetMarker]: "1" } })
    })
    if (fault?._tag === "ResetBeforeResponse") return yield* reset

    let headers: Record<string, string> = {}
    let response = Faults.replacement(fault)
    if (response === undefined) {
      // Only a request with the right key counts against the rate limit.
      const auth = request.headers["authorization"]
      const key = auth !== undefined && /^bearer /i.test(auth) ? auth.slice(7).trim() : undefined
      const now = yield* Clock.currentTimeMillis
      const apiKey = ctx.options.apiKey
      const accepted = key !== undefined && key !== "" && (apiKey === undefined || key === apiKey)
      const limited = accepted && !knobs.quotaExhausted ? yield* limiter.check(knobs.rateLimit, now) : undefined
      headers = limited?.headers ?? {}
      const refused = refusal(key, apiKey, knobs, limited)
      response = refused !== undefined ? errorResponse(refused) : yield* handled
    }
    const end = yield* Clock.currentTimeMillis
    response = HttpServerResponse.setHeaders(response, {
      ...headers,
      "x-request-id": requestId,
      "openai-processing-ms": String(end - start),
      "openai-version": "2020-10-01",
      "openai-organization": "org-batchfx",
      // The API names the project a request was billed to: the one asked for, else the key's own.
      "openai-project": request.headers["openai-project"] ?? "proj_batchfx"
    })
    if (fault?._tag === "ResetAfterHandling") return yield* reset
    yield* count(ctx, request.method, route, response.status)

    const cut = fault?._tag === "TruncatedBody"
      ? fault.afterBytes
      : route === "GET /v1/files/{id}/content" && response.status < 300
      ? knobs.breakContentAfterBytes
      : undefined
    return Faults.shapeBody(response, fault, cut, socket)
  })
}
