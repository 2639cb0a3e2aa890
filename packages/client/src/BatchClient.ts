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
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
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
import * as InternalClientToken from "./internal/clientToken.js"
import * as InternalFiles from "./internal/files.js"
import * as Ids from "./internal/ids.js"
import * as InternalPagination from "./internal/pagination.js"
import * as Transport from "./internal/transport.js"

/**
 * The `metadata` key under which `create` stores its client token. It counts as one of the 16
 * metadata pairs; when the caller's metadata already has 16 pairs no token is added, and a create
 * that fails ambiguously is then not retried (it could make a second batch): see `hasRoomForToken`.
 *
 * @since 0.1.0
 * @category constants
 */
export const clientTokenKey = InternalClientToken.key

/**
 * How long `create` keeps looking for its client token after an ambiguous failure before it sends
 * the create again: the batch list shows a new batch only some time after the create, so one
 * look right away would miss it and make a second batch.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLookupWindow: Duration.Duration = Duration.seconds(60)

/**
 * A new client token (`bfx_` and 32 hex digits), for a caller that wants to know the token before
 * the create (to print it, or to retry the same create later with `clientToken`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeClientToken: Effect.Effect<string> = Effect.sync(() =>
  `bfx_${globalThis.crypto.randomUUID().replace(/-/g, "")}`
)

/**
 * Whether `create` can add its client token to this metadata: there must be fewer than 16 pairs and
 * no `batchfx_client_token` of the caller's own.
 *
 * @since 0.1.0
 * @category utils
 */
export const hasRoomForToken = (metadata: { readonly [key: string]: string } | null | undefined): boolean =>
  metadata === null || metadata === undefined ||
  (Object.keys(metadata).length < 16 && !Object.prototype.hasOwnProperty.call(metadata, clientTokenKey))

/**
 * Why an id cannot be sent, if it cannot (every call checks it before any request): empty, `.` or
 * `..`, or containing `/`. A tool that takes several ids can check them all before sending any.
 *
 * @since 0.1.0
 * @category utils
 */
export const idProblem: (id: string, kind: "batch" | "file") => string | undefined = Ids.idProblem

/**
 * Options of a listing call.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions extends ClientConfig.CallOptions {
  /** Pages fetched ahead of the consumer; default the client's (1). 0 fetches only on demand. */
  readonly lookAhead?: number | undefined
  /** The last page to fetch: a listing that needs `n` pages asks for no page after them. */
  readonly maxPages?: number | undefined
}

/**
 * Options of `create`.
 *
 * @since 0.1.0
 * @category models
 */
export interface CreateOptions extends ClientConfig.CallOptions {
  /**
   * Whether to tag the batch with a client token; default the client's setting (on). A string is
   * the token to use (from `makeClientToken`), for a caller that must know it before the create
   * ends, to tell the user how to find a batch whose create was interrupted.
   */
  readonly clientToken?: boolean | string | undefined
  /**
   * How long to keep looking for the token after an ambiguous failure before creating again;
   * default `defaultLookupWindow` (60 s). 0 looks once.
   */
  readonly lookupWindow?: Duration.DurationInput | undefined
  /** Runs before each create request is sent (after any look for an earlier attempt's batch). */
  readonly onSend?: ((attempt: number) => Effect.Effect<void>) | undefined
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
   * for a batch with that token, with backoff for up to `lookupWindow` (lists lag behind creates),
   * before it tries again, and returns it if found, so a retried create never makes a second batch.
   *
   * An ambiguous failure is looked for even when no retry follows (retries exhausted or none
   * allowed). When the create fails while a batch may exist (an ambiguous failure the looks did not
   * resolve, or any ambiguous failure without a token), the error is ambiguous (`isAmbiguous`): the
   * last such failure, even if a later attempt failed otherwise. A warning with the way to find
   * the batch (by its token, else its input file) is logged.
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

// The look for a token found nothing yet (a signal between the looks and their schedule).
class NotListedYet extends Data.TaggedError("NotListedYet") {}

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
      const maxPages = options.maxPages ?? Infinity
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
            if (last === undefined || page.has_more === false || state.page >= maxPages) {
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
      Stream.take(InternalClientToken.searchPages),
      Stream.mapConcat((page) => page.data),
      Stream.filter((batch) => batch.metadata?.[clientTokenKey] === token),
      Stream.runHead,
      Effect.withSpan("batchfx.batches.create.lookup", { attributes: { "batchfx.client_token": token } })
    )

  // Looks for the token for a while, as the list may show the batch only later.
  const lookFor = (
    token: string,
    window: Duration.DurationInput
  ): Effect.Effect<Option.Option<Batch.Batch>, ListError> =>
    findByToken(token).pipe(
      Effect.flatMap(Option.match({ onNone: () => Effect.fail(new NotListedYet()), onSome: Effect.succeed })),
      Effect.retry({ schedule: InternalClientToken.lookupSchedule(window), while: (e) => e._tag === "NotListedYet" }),
      Effect.map(Option.some),
      Effect.catchTag("NotListedYet", () => Effect.succeed(Option.none<Batch.Batch>()))
    )

  const create: Service["create"] = Effect.fn("BatchClient.create")(
    function*(params: CreateParams, options: CreateOptions = {}) {
      const valid = yield* validate(CreateBatchParams.CreateBatchParams, params, "create")
      const metadata = valid.metadata ?? {}
      const wanted = options.clientToken ?? settings.clientToken
      const token = wanted !== false && hasRoomForToken(metadata)
        ? Option.some(typeof wanted === "string" ? wanted : yield* makeClientToken)
        : Option.none<string>()
      const body = encodeCreate(
        Option.isSome(token) ? { ...valid, metadata: { ...metadata, [clientTokenKey]: token.value } } : valid
      )
      yield* Effect.annotateCurrentSpan("batchfx.client_token", Option.getOrElse(token, () => ""))
      const request = HttpClientRequest.post("/batches").pipe(HttpClientRequest.bodyUnsafeJson(body))
      const window = options.lookupWindow ?? defaultLookupWindow
      // The last failure after which the batch may exist and no look has found it, and whether an
      // attempt failed so since the last look: the next attempt, or the end, looks first.
      const unresolved = yield* Ref.make<CallError | undefined>(undefined)
      const lookPending = yield* Ref.make(false)
      const look = (n: number): Effect.Effect<Option.Option<Batch.Batch>, ListError> =>
        Option.isNone(token)
          ? Effect.succeed(Option.none())
          : Effect.flatMap(Ref.get(lookPending), (pending) =>
            pending
              ? lookFor(token.value, window).pipe(
                // a look that failed leaves the look pending: the next attempt looks again
                Effect.tap(() => Ref.set(lookPending, false)),
                Effect.tap(Option.match({
                  onNone: () => Effect.void,
                  onSome: (found) =>
                    Effect.logDebug("create found the batch of an earlier attempt").pipe(
                      Effect.annotateLogs({ batchId: found.id, attempt: n })
                    )
                }))
              )
              : Effect.succeed(Option.none()))
      const attempt = (n: number): Effect.Effect<Batch.Batch, ListError> =>
        Effect.gen(function*() {
          const found = yield* look(n)
          if (Option.isSome(found)) return found.value
          if (options.onSend !== undefined) yield* options.onSend(n)
          return yield* transport.attempt(request, decodeBatch, {
            operation: "batches.create",
            attempt: n,
            timeout: options.timeout
          }).pipe(
            Effect.tapError((error) =>
              isAmbiguous(error) ? Effect.zipRight(Ref.set(unresolved, error), Ref.set(lookPending, true)) : Effect.void
            )
          )
        })
      // A later failure (a 429, a failed look) does not settle an earlier ambiguous one: the batch
      // may still exist, so the error says so by being that ambiguous failure.
      const giveUp = (error: ListError): Effect.Effect<never, ListError> =>
        Effect.flatMap(Ref.get(unresolved), (earlier) => {
          const final = isAmbiguous(error) || earlier === undefined ? error : earlier
          return isAmbiguous(final)
            ? Effect.zipRight(
              Effect.logWarning(
                `the create may have made a batch although it failed: ${
                  InternalClientToken.howToFind(valid.input_file_id, Option.getOrUndefined(token))
                }`
              ),
              Effect.fail(final)
            )
            : Effect.fail(final)
        })
      return yield* transport.retrying(attempt, { retry: options.retry, retryAmbiguous: Option.isSome(token) }).pipe(
        // With no retry left (or none allowed), the last ambiguous attempt is still looked for.
        Effect.catchAll((error) =>
          look(0).pipe(
            Effect.catchAll(() => Effect.succeed(Option.none<Batch.Batch>())),
            Effect.flatMap(Option.match({ onNone: () => giveUp(error), onSome: Effect.succeed }))
          )
        )
      )
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
  Layer.merge(Layer.effect(BatchClient, make), Layer.effect(Files.Files, InternalFiles.make)).pipe(
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
