/**
 * Finding an upload by its file name, after a crash left it unknown whether the upload reached the
 * server. The client's `Files` has no listing yet, so this is the one request jobs make on their
 * own: `GET /files?purpose=batch`, newest first, with the client's headers.
 */
import { ClientConfig } from "@batchfx/client"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"

const FileList = Schema.Struct({
  data: Schema.Array(Schema.Struct({ id: Schema.String, filename: Schema.String }))
})

/** Looks for a batch input file by name among the newest files. */
export class FileLookup extends Context.Tag("@batchfx/jobs/internal/FileLookup")<FileLookup, {
  readonly byFilename: (filename: string) => Effect.Effect<Option.Option<string>, Error>
}>() {}

/** How many of the newest batch files are searched. */
const searched = 10_000

export const layer = (options: ClientConfig.Options): Layer.Layer<FileLookup, never, HttpClient.HttpClient> =>
  Layer.effect(
    FileLookup,
    Effect.map(HttpClient.HttpClient, (http) => {
      const settings = ClientConfig.settings(options)
      const client = http.pipe(
        HttpClient.mapRequest((request) => {
          let out = request.pipe(
            HttpClientRequest.prependUrl(settings.baseUrl),
            HttpClientRequest.bearerToken(settings.apiKey),
            HttpClientRequest.acceptJson
          )
          if (Option.isSome(settings.organization)) {
            out = HttpClientRequest.setHeader(out, "OpenAI-Organization", settings.organization.value)
          }
          if (Option.isSome(settings.project)) {
            out = HttpClientRequest.setHeader(out, "OpenAI-Project", settings.project.value)
          }
          return out
        }),
        HttpClient.filterStatusOk,
        HttpClient.retryTransient({ schedule: Schedule.exponential("500 millis"), times: 5 })
      )
      return {
        byFilename: (filename: string) =>
          client.get("/files", { urlParams: { purpose: "batch", order: "desc", limit: String(searched) } }).pipe(
            Effect.flatMap(HttpClientResponse.schemaBodyJson(FileList)),
            Effect.map((list) => Option.fromNullable(list.data.find((f) => f.filename === filename)?.id)),
            Effect.scoped,
            // the request holds the key; only a sentence leaves this module
            Effect.mapError((error) => new Error(`cannot list files (${error._tag})`)),
            Effect.withSpan("batchfx.jobs.findUpload")
          )
      }
    })
  )
