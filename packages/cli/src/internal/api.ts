/**
 * The adapter between the commands and the client: one place that decides which client function
 * serves each operation. Operations the client does not offer yet are built here on what it has
 * (bulk calls as bounded `Stream.mapEffect` under a local governor, watching as polling `retrieve`
 * on a `Schedule`); switching them to the client's own versions touches only this file.
 */
import * as BatchClient from "@batchfx/client/BatchClient"
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import type * as ClientConfig from "@batchfx/client/ClientConfig"
import * as Files from "@batchfx/client/Files"
import * as Governor from "@batchfx/client/Governor"
import type * as Transport from "@batchfx/client/Transport"
import { Batch, BatchStatus, type File } from "@batchfx/core"
import type { FileSystem } from "@effect/platform"
import { Config, Context, Duration, Effect, Layer, Option, Redacted, Schedule, Schema, Stream } from "effect"
import { MissingApiKey } from "../CliError.js"
import type { Globals } from "./options.js"

/** What happened to one id of a bulk operation. */
export type Outcome =
  | { readonly _tag: "Succeeded"; readonly id: string; readonly batch: Batch.Batch }
  | { readonly _tag: "Failed"; readonly id: string; readonly error: BatchClientError }

/** The operations the commands use. */
export interface Service {
  /** Calls at once for bulk operations. */
  readonly concurrency: number
  readonly list: (params: BatchClient.ListParams) => Stream.Stream<Batch.Batch, BatchClientError>
  readonly retrieve: (id: string) => Effect.Effect<Batch.Batch, BatchClientError>
  readonly create: (params: BatchClient.CreateParams) => Effect.Effect<Batch.Batch, BatchClientError>
  readonly cancel: (id: string) => Effect.Effect<Batch.Batch, BatchClientError>
  /** One outcome per id, in input order; one failure does not stop the others. */
  readonly retrieveMany: (ids: Stream.Stream<string, BatchClientError>) => Stream.Stream<Outcome, BatchClientError>
  readonly cancelMany: (ids: Stream.Stream<string, BatchClientError>) => Stream.Stream<Outcome, BatchClientError>
  /** Checks a JSONL file line by line (nothing is sent if a line is bad), then uploads it. */
  readonly upload: (
    path: string,
    endpoint: string
  ) => Effect.Effect<File.OpenAiFile, BatchClientError | Files.InputError, FileSystem.FileSystem>
  /** A file's bytes, resuming a broken body. */
  readonly content: (fileId: string) => Stream.Stream<Uint8Array, BatchClientError>
  /** The batch now and after every change, polled every `interval`, ending at a terminal status. */
  readonly watch: (id: string, interval: Duration.DurationInput) => Stream.Stream<Batch.Batch, BatchClientError>
}

/** The adapter service. */
export class Api extends Context.Tag("@batchfx/cli/Api")<Api, Service>() {}

/** Default calls at once for bulk operations. */
export const defaultConcurrency = 8

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

/** Time between polls when nothing says otherwise. */
export const defaultInterval: Duration.Duration = Duration.seconds(2)
