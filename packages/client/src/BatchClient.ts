/**
 * The Batch API as an Effect service: listing as a lazy `Stream`, and retrieve, create, cancel,
 * each with typed errors, retries under a `Schedule`, per-attempt timeouts and a span per attempt.
 *
 * @since 0.1.0
 */
import { Batch, BatchPage, CreateBatchParams, ParseMessage } from "@batchfx/core"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import {
  type CallError,
  InvalidParams,
  isAmbiguous,
  type ListError,
  PaginationError,
  type RequestError
} from "./BatchClientError.js"
import * as ClientConfig from "./ClientConfig.js"
import * as Files from "./Files.js"
import type * as Governor from "./Governor.js"
import * as Ids from "./internal/ids.js"
import * as InternalPagination from "./internal/pagination.js"
import * as Transport from "./internal/transport.js"

/**
 * The `metadata` key under which `create` stores its client token. It counts as one of the 16
 * metadata pairs; when the caller's metadata already has 16 pairs no token is added, and a create
 * that fails ambiguously is then not retried (it could make a second batch).
 *
 * @since 0.1.0
 * @category constants
 */
export const clientTokenKey = "batchfx_client_token"

/**
 * How many pages (newest first, 100 batches each) `create` searches for its client token after an
 * ambiguous failure.
 *
 * @since 0.1.0
 * @category constants
 */
export const clientTokenSearchPages = 2

/**
 * Options of a listing call.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions extends ClientConfig.CallOptions {
  /** Pages fetched ahead of the consumer; default the client's (1). 0 fetches only on demand. */
  readonly lookAhead?: number | undefined
}

/**
 * Options of `create`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateOptions extends ClientConfig.CallOptions {
  /** Whether to tag the batch with a client token; default the client's setting (on). */
  readonly clientToken?: boolean | undefined
}

/**
 * The parameters of a list call as a caller writes them.
 *
 * @since 0.1.0
 * @category models
 */
export type ListParams = Schema.Schema.Encoded<typeof BatchPage.ListBatchesParams>

/**
 * The parameters of `create` as a caller writes them (plain strings; checked before sending).
 *
 * @since 0.1.0
 * @category models
 */
export type CreateParams = Schema.Schema.Encoded<typeof CreateBatchParams.CreateBatchParams>

/**
 * The operations of the Batch API.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Every batch, newest first, as a lazy stream: a page is requested only when the consumer needs
   * it, plus `lookAhead` pages ahead. Page size from `limit`, start after `after`. A failed page is
   * retried on its own, so no batch is skipped or repeated; a cursor that does not advance fails
   * with `PaginationError`.
   */
  readonly list: (params?: ListParams, options?: ListOptions) => Stream.Stream<Batch.Batch, ListError>
  /** The pages behind `list`, as the server sent them (the last one may be empty). */
  readonly listPages: (
    params?: ListParams,
    options?: ListOptions
  ) => Stream.Stream<BatchPage.BatchPage, ListError>
  /** One batch by id. */
  readonly retrieve: (id: string, options?: ClientConfig.CallOptions) => Effect.Effect<Batch.Batch, RequestError>
  /**
   * Creates a batch. The parameters are checked first (`InvalidParams`, nothing sent). The batch is
   * tagged with a client token (see `clientTokenKey`); after an ambiguous failure the client looks
   * for a batch with that token before it tries again, and returns it if found, so a retried create
   * never makes a second batch.
   */
  readonly create: (params: CreateParams, options?: CreateOptions) => Effect.Effect<Batch.Batch, ListError>
  /** Asks to cancel a batch; a completed or failed batch answers `Conflict`, never retried. */
  readonly cancel: (id: string, options?: ClientConfig.CallOptions) => Effect.Effect<Batch.Batch, RequestError>
  /** The client's rate-limit governor now (shared with `Files`): open, or waiting until when and why. */
  readonly governor: Effect.Effect<Governor.State>
}

/**
 * The Batch API client.
 *
 * @since 0.1.0
 * @category tags
 */
export class BatchClient extends Context.Tag("@batchfx/client/BatchClient")<BatchClient, Service>() {}

const validate = <A, I>(
  schema: Schema.Schema<A, I>,
  input: unknown,
  operation: string
): Effect.Effect<A, InvalidParams> =>
  Schema.decodeUnknown(schema, { onExcessProperty: "error" })(input).pipe(
    Effect.mapError((error) => new InvalidParams({ operation, description: ParseMessage.format(error) }))
  )

const validateId = (id: string, operation: string) => Ids.validateId(id, operation, "batch")

const encodeCreate = Schema.encodeSync(CreateBatchParams.CreateBatchParams)

const newToken = Effect.sync(() => `bfx_${globalThis.crypto.randomUUID().replace(/-/g, "")}`)

interface PageState {
  readonly after: Option.Option<string>
  readonly used: HashSet.HashSet<string>
  readonly page: number
}

const make: Effect.Effect<Service, never, Transport.Transport> = Effect.gen(function*() {
  const transport = yield* Transport.Transport
  const settings = transport.settings

  const decodeBatch = transport.decodeJson(Batch.decodeBatch)

  const decodePage = transport.decodeJson(BatchPage.decodeBatchPage)

  const fetchPage = (
    after: Option.Option<string>,
    limit: number | undefined,
    options: ListOptions,
    parentSpan: Tracer.AnySpan
  ): Effect.Effect<readonly [BatchPage.BatchPage, string | undefined], CallError> =>
    transport.execute(
      HttpClientRequest.get("/batches", {
        urlParams: {
          ...(limit === undefined ? {} : { limit: String(limit) }),
          ...(Option.isSome(after) ? { after: after.value } : {})
        }
      }),
      (response, n) => Effect.map(decodePage(response, n), (page) => [page, response.headers["x-request-id"]] as const),
      { operation: "batches.list", retry: options.retry, timeout: options.timeout, parentSpan }
    )

  // The listing's span is made once and named as the parent of each page's attempt spans, which
  // holds however the consumer runs the stream.
  const listPages: Service["listPages"] = (params = {}, options = {}) =>
    Stream.unwrapScoped(Effect.gen(function*() {
      const span = yield* Effect.makeSpanScoped("BatchClient.listPages")
      const valid = yield* validate(BatchPage.ListBatchesParams, params, "list")
      const initial: PageState = {
        after: Option.fromNullable(valid.after),
        used: valid.after === undefined ? HashSet.empty() : HashSet.make(valid.after),
        page: 1
      }
      const step = (
        state: PageState
      ): Effect.Effect<readonly [BatchPage.BatchPage, Option.Option<PageState>], CallError | PaginationError> =>
        Effect.flatMap(
          fetchPage(state.after, valid.limit, options, span),
          ([page, requestId]) => {
            const last = page.data.length === 0 ? undefined : page.data[page.data.length - 1]
            if (last === undefined || page.has_more === false) {
              return Effect.succeed([page, Option.none()] as const)
            }
            if (HashSet.has(state.used, last.id)) {
              return Effect.fail(
                new PaginationError({
                  cursor: last.id,
                  page: state.page,
                  requestId,
                  description: Option.match(state.after, {
                    onNone: () => `the first page ends with "${last.id}", a cursor already used`,
                    onSome: (after) =>
                      `the page after "${after}" ends with "${last.id}", a cursor already used, so the server is repeating pages`
                  })
                })
              )
            }
            return Effect.succeed(
              [
                page,
                Option.some({
                  after: Option.some(last.id),
                  used: HashSet.add(state.used, last.id),
                  page: state.page + 1
                })
              ] as const
            )
          }
        )
      return InternalPagination.paginate(initial, step, options.lookAhead ?? settings.lookAhead)
    }))

  const list: Service["list"] = (params, options) =>
    listPages(params, options).pipe(Stream.mapConcat((page) => page.data))

  const retrieve: Service["retrieve"] = Effect.fn("BatchClient.retrieve")(
    function*(id: string, options: ClientConfig.CallOptions = {}) {
      const valid = yield* validateId(id, "retrieve")
      return yield* transport.json(HttpClientRequest.get(`/batches/${encodeURIComponent(valid)}`), Batch.decodeBatch, {
        operation: "batches.retrieve",
        retry: options.retry,
        timeout: options.timeout
      })
    }
  )

  const cancel: Service["cancel"] = Effect.fn("BatchClient.cancel")(
    function*(id: string, options: ClientConfig.CallOptions = {}) {
      const valid = yield* validateId(id, "cancel")
      return yield* transport.json(
        HttpClientRequest.post(`/batches/${encodeURIComponent(valid)}/cancel`),
        Batch.decodeBatch,
        { operation: "batches.cancel", retry: options.retry, timeout: options.timeout }
      )
    }
  )

  const findByToken = (token: string): Effect.Effect<Option.Option<Batch.Batch>, ListError> =>
    listPages({ limit: 100 }, { lookAhead: 0 }).pipe(
      Stream.take(clientTokenSearchPages),
      Stream.mapConcat((page) => page.data),
      Stream.filter((batch) => batch.metadata?.[clientTokenKey] === token),
      Stream.runHead,
      Effect.withSpan("batchfx.batches.create.lookup", { attributes: { "batchfx.client_token": token } })
    )

  const create: Service["create"] = Effect.fn("BatchClient.create")(
    function*(params: CreateParams, options: CreateOptions = {}) {
      const valid = yield* validate(CreateBatchParams.CreateBatchParams, params, "create")
      const metadata = valid.metadata ?? {}
      const useToken = (options.clientToken ?? settings.clientToken) &&
        Object.keys(metadata).length < 16 && !(clientTokenKey in metadata)
      const token = useToken ? Option.some(yield* newToken) : Option.none<string>()
      const body = encodeCreate(
        Option.isSome(token) ? { ...valid, metadata: { ...metadata, [clientTokenKey]: token.value } } : valid
      )
      yield* Effect.annotateCurrentSpan("batchfx.client_token", Option.getOrElse(token, () => ""))
      const request = HttpClientRequest.post("/batches").pipe(HttpClientRequest.bodyUnsafeJson(body))
      // Set once an attempt failed in a way after which the batch may exist; from then on each
      // attempt first looks for it.
      const maybeCreated = yield* Ref.make(false)
      const attempt = (n: number): Effect.Effect<Batch.Batch, ListError> =>
        Effect.gen(function*() {
          if (Option.isSome(token) && (yield* Ref.get(maybeCreated))) {
            const found = yield* findByToken(token.value)
            if (Option.isSome(found)) {
              yield* Effect.logDebug("create found the batch of an earlier attempt").pipe(
                Effect.annotateLogs({ batchId: found.value.id, attempt: n })
              )
              return found.value
            }
          }
          return yield* transport.attempt(request, decodeBatch, {
            operation: "batches.create",
            attempt: n,
            timeout: options.timeout
          }).pipe(Effect.tapError((error) => isAmbiguous(error) ? Ref.set(maybeCreated, true) : Effect.void))
        })
      return yield* transport.retrying(attempt, { retry: options.retry, retryAmbiguous: Option.isSome(token) })
    }
  )

  return { list, listPages, retrieve, create, cancel, governor: transport.governor.state }
})

/**
 * The client's services (`BatchClient` and `Files`, sharing one governor and one retry policy)
 * from explicit options, over the `HttpClient` in context (for instance
 * `NodeHttpClient.layerUndici` from `@effect/platform-node`, or `FetchHttpClient.layer`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: ClientConfig.Options
): Layer.Layer<BatchClient | Files.Files, never, HttpClient.HttpClient> =>
  Layer.merge(Layer.effect(BatchClient, make), Layer.effect(Files.Files, Files.make)).pipe(
    Layer.provide(Transport.layer(options))
  )

/**
 * The client's services from `Config` (by default `OPENAI_API_KEY`, `OPENAI_BASE_URL`,
 * `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`), over the `HttpClient` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<ClientConfig.Options> = ClientConfig.config
): Layer.Layer<BatchClient | Files.Files, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.unwrapEffect(Effect.map(config, layer))

/**
 * Every batch, as a stream that needs the client.
 *
 * @since 0.1.0
 * @category accessors
 */
export const list = (
  params?: ListParams,
  options?: ListOptions
): Stream.Stream<Batch.Batch, ListError, BatchClient> =>
  Stream.unwrap(Effect.map(BatchClient, (client) => client.list(params, options)))

/**
 * Every page of the batch list, as a stream that needs the client.
 *
 * @since 0.1.0
 * @category accessors
 */
export const listPages = (
  params?: ListParams,
  options?: ListOptions
): Stream.Stream<BatchPage.BatchPage, ListError, BatchClient> =>
  Stream.unwrap(Effect.map(BatchClient, (client) => client.listPages(params, options)))

/**
 * One batch by id, with the client from context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const retrieve = (
  id: string,
  options?: ClientConfig.CallOptions
): Effect.Effect<Batch.Batch, RequestError, BatchClient> =>
  Effect.flatMap(BatchClient, (client) => client.retrieve(id, options))

/**
 * Creates a batch with the client from context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const create = (
  params: CreateParams,
  options?: CreateOptions
): Effect.Effect<Batch.Batch, ListError, BatchClient> =>
  Effect.flatMap(BatchClient, (client) => client.create(params, options))

/**
 * Cancels a batch with the client from context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const cancel = (
  id: string,
  options?: ClientConfig.CallOptions
): Effect.Effect<Batch.Batch, RequestError, BatchClient> =>
  Effect.flatMap(BatchClient, (client) => client.cancel(id, options))
