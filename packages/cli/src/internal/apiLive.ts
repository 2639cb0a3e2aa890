/** The implementation of the API adapter over `@batchfx/client` (loaded on demand). */
import * as BatchClient from "@batchfx/client/BatchClient"
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import type * as ClientConfig from "@batchfx/client/ClientConfig"
import * as Files from "@batchfx/client/Files"
import * as Governor from "@batchfx/client/Governor"
import type * as Transport from "@batchfx/client/Transport"
import { Batch, BatchStatus } from "@batchfx/core"
import { Config, Effect, Layer, Option, Redacted, Schedule, Schema, Stream } from "effect"
import { MissingApiKey } from "../CliError.js"
import { Api, defaultConcurrency, type Outcome, type Service } from "./api.js"
import type { Globals } from "./options.js"

const encodeBatch = Schema.encodeSync(Batch.Batch)

/** Builds the adapter over the client and Files services of one client. */
export const make = (
  options: { readonly concurrency?: number | undefined; readonly rpm?: number | undefined }
): Effect.Effect<Service, never, BatchClient.BatchClient | Files.Files> =>
  Effect.gen(function*() {
    const client = yield* BatchClient.BatchClient
    const files = yield* Files.Files
    const concurrency = options.concurrency ?? defaultConcurrency
    const governor = yield* Governor.make({ maxInFlight: concurrency, requestsPerMinute: options.rpm })
    const governed = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> => governor.run(() => effect)

    const retrieve = (id: string) => governed(client.retrieve(id))
    const cancel = (id: string) => governed(client.cancel(id))

    const many =
      (f: (id: string) => Effect.Effect<Batch.Batch, BatchClientError>) =>
      (ids: Stream.Stream<string, BatchClientError>): Stream.Stream<Outcome, BatchClientError> =>
        Stream.mapEffect(ids, (id) =>
          f(id).pipe(
            Effect.map((batch): Outcome => ({ _tag: "Succeeded", id, batch })),
            Effect.catchAll((error) => Effect.succeed<Outcome>({ _tag: "Failed", id, error }))
          ), { concurrency })

    const watch: Service["watch"] = (id, interval) =>
      Stream.repeatEffectWithSchedule(retrieve(id), Schedule.spaced(interval)).pipe(
        Stream.changesWith((a, b) => JSON.stringify(encodeBatch(a)) === JSON.stringify(encodeBatch(b))),
        Stream.takeUntil((batch) => BatchStatus.isTerminal(batch.status))
      )

    return {
      concurrency,
      list: (params) => client.list(params),
      retrieve,
      create: (params) => governed(client.create(params)),
      cancel,
      retrieveMany: many(retrieve),
      cancelMany: many(cancel),
      upload: (path, endpoint) => files.uploadPath(path, { endpoint }),
      content: (fileId) => files.content(fileId),
      watch
    }
  })

/** The adapter and the client it runs on, from explicit client options. */
export const layerOptions = (
  options: ClientConfig.Options,
  bulk: { readonly concurrency?: number | undefined; readonly rpm?: number | undefined } = {}
): Layer.Layer<Api | BatchClient.BatchClient | Files.Files | Transport.Transport> =>
  Layer.effect(Api, make(bulk)).pipe(
    Layer.provideMerge(Files.layer),
    Layer.provideMerge(BatchClient.layerNode(options))
  )

const optionalEnv = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((s) => s.trim() !== "")),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/**
 * The adapter from the global options and the environment: `OPENAI_API_KEY` (required, kept
 * `Redacted`), `--base-url` or `OPENAI_BASE_URL`, `--organization` or `OPENAI_ORG_ID`, `--project`
 * or `OPENAI_PROJECT_ID`. A missing key fails with `MissingApiKey`.
 */
export const layerGlobals = (
  globals: Globals
): Layer.Layer<Api | BatchClient.BatchClient | Files.Files | Transport.Transport, MissingApiKey> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY")).pipe(
      Effect.orElseSucceed(() => Option.none<Redacted.Redacted>()),
      Effect.map(Option.filter((key) => Redacted.value(key).trim() !== ""))
    )
    if (Option.isNone(apiKey)) return yield* new MissingApiKey()
    const baseUrl = Option.orElse(globals.baseUrl, () => Option.none<string>())
    const envBase = yield* optionalEnv("OPENAI_BASE_URL")
    const organization = Option.isSome(globals.organization)
      ? globals.organization
      : yield* optionalEnv("OPENAI_ORG_ID")
    const project = Option.isSome(globals.project) ? globals.project : yield* optionalEnv("OPENAI_PROJECT_ID")
    return layerOptions({
      apiKey: apiKey.value,
      baseUrl: Option.getOrUndefined(Option.orElse(baseUrl, () => envBase)),
      organization: Option.getOrUndefined(organization),
      project: Option.getOrUndefined(project),
      maxRetries: Option.getOrUndefined(globals.maxRetries),
      timeout: Option.getOrUndefined(globals.timeout)
    }, { concurrency: Option.getOrUndefined(globals.concurrency), rpm: Option.getOrUndefined(globals.rpm) })
  }))
