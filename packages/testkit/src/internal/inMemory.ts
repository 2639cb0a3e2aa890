/** An `HttpClient` that hands each request to the app in the calling fiber, with no socket. */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { resetMarker } from "./wire.js"

type RequestInitWithDuplex = RequestInit & { duplex?: "half" }

const toWebRequest = (request: HttpClientRequest.HttpClientRequest, url: URL) =>
  Effect.gen(function*() {
    const headers = new Headers(request.headers)
    const init: RequestInitWithDuplex = { method: request.method, headers }
    const body = request.body
    switch (body._tag) {
      case "Empty":
        break
      case "Uint8Array":
        if (!headers.has("content-type")) headers.set("content-type", body.contentType)
        init.body = new Uint8Array(body.body)
        break
      case "Raw":
        if (
          typeof body.body === "string" || body.body instanceof ReadableStream || body.body instanceof Blob
        ) {
          init.body = body.body
          init.duplex = "half"
        } else {
          return yield* new HttpClientError.RequestError({
            request,
            reason: "Encode",
            description: "the in-memory client cannot send this raw body"
          })
        }
        break
      case "FormData":
        headers.delete("content-type")
        init.body = body.formData
        break
      case "Stream":
        if (body.contentType !== "" && !headers.has("content-type")) headers.set("content-type", body.contentType)
        init.body = yield* Stream.toReadableStreamEffect(body.stream)
        init.duplex = "half"
        break
    }
    return new Request(url, init)
  })

export const httpClient = (app: HttpApp.Default): HttpClient.HttpClient =>
  HttpClient.make((request, url, signal) =>
    Effect.gen(function*() {
      const web = yield* toWebRequest(request, url)
      const response = yield* app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(web)),
        Effect.catchAllCause((cause) =>
          Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause }))
        )
      )
      if (response.headers[resetMarker] !== undefined) {
        return yield* new HttpClientError.RequestError({
          request,
          reason: "Transport",
          description: "connection reset by the emulator (in memory)"
        })
      }
      const runtime = yield* Effect.runtime<never>()
      const answer = HttpServerResponse.toWeb(response, { runtime })
      // An aborted request ends its body with an error, as the network clients' do.
      const body = answer.body === null ? null : answer.body.pipeThrough(new TransformStream(), { signal })
      return HttpClientResponse.fromWeb(request, new Response(body, answer))
    })
  )
