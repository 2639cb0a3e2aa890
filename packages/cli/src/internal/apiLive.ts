/**
 * The implementation of the API adapter over `@batchfx/client` (loaded on demand): the client's
 * own governor paces every request (`--concurrency` bounds requests in flight, `--rpm` adds a
 * budget), bulk calls go through `Bulk`, watching through `Watch` on a fixed poll interval, over
 * the platform's fetch client: Node's own fetch is already in Node, while a bundled undici is
 * compiled on every run of a command.
 */
import * as BatchClient from "@batchfx/client/BatchClient"
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import * as Bulk from "@batchfx/client/Bulk"
import * as ClientConfig from "@batchfx/client/ClientConfig"
import * as Files from "@batchfx/client/Files"
import * as Watch from "@batchfx/client/Watch"
import type * as Batch from "@batchfx/core/Batch"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { InvalidApiKey, MissingApiKey, UsageError } from "../CliError.js"
import { Api, defaultConcurrency, type Outcome, type Service } from "./api.js"
import type { Globals } from "./options.js"
import * as Output from "./output.js"

// Holds up to this long pass without a word.
const announceAfterMillis = 5_000

/** Builds the adapter over the client and Files services of one client. */
export const make = (
  options: { readonly concurrency?: number | undefined }
): Effect.Effect<Service, never, BatchClient.BatchClient | Files.Files> =>
  Effect.gen(function*() {
    const client = yield* BatchClient.BatchClient
    const files = yield* Files.Files
    const context = yield* Effect.context<BatchClient.BatchClient>()
    const concurrency = options.concurrency ?? defaultConcurrency

    const outcome = (o: Bulk.Outcome<Batch.Batch>): Outcome =>
      o._tag === "Succeeded"
        ? { _tag: "Succeeded", id: o.id, batch: o.value }
        : { _tag: "Failed", id: o.id, error: o.error }

    // While a bulk operation runs, a hold of the governor longer than a few seconds is told on
    // stderr once, so that a rate limit never looks like a hang.
    const announceWaits = Effect.gen(function*() {
      const output = yield* Effect.serviceOption(Output.Output)
      if (Option.isNone(output)) return
      let announced = 0
      yield* Effect.gen(function*() {
        const state = yield* client.governor
        const now = yield* Clock.currentTimeMillis
        if (state.status !== "waiting" || state.refusing || Option.isNone(state.until)) return
        const until = state.until.value
        if (until - now <= announceAfterMillis || now < announced) return
        announced = until
        yield* output.value.stderr.write(
          `batchfx: rate limited until ${new Date(until).toTimeString().slice(0, 8)}, waiting\n`
        )
      }).pipe(Effect.repeat(Schedule.spaced("250 millis")))
    })

    const many = (f: typeof Bulk.retrieveMany) => (ids: Stream.Stream<string, BatchClientError>) =>
      Stream.unwrapScoped(Effect.as(
        Effect.forkScoped(announceWaits),
        Stream.unwrap(Effect.map(Stream.runCollect(ids), (chunk) =>
          f(chunk, { concurrency }).pipe(Stream.map(outcome), Stream.provideContext(context))))
      ))

    return {
      concurrency,
      list: (params, options) =>
        client.list(params, options),
      retrieve: (id) => client.retrieve(id),
      create: (params) => client.create(params),
      cancel: (id) => client.cancel(id),
      retrieveMany: many(Bulk.retrieveMany),
      cancelMany: many(Bulk.cancelMany),
      upload: (path, endpoint) => files.uploadPath(path, { endpoint }),
      content: (fileId, options) => files.content(fileId, { expectedLines: options?.expectedLines }),
      watch: (id, interval) =>
        Watch.watch(id, { schedule: Schedule.spaced(interval) }).pipe(Stream.provideContext(context))
    }
  })

/** The adapter and the client it runs on, from explicit client options. */
export const layerOptions = (
  options: ClientConfig.Options,
  bulk: { readonly concurrency?: number | undefined; readonly rpm?: number | undefined } = {}
): Layer.Layer<Api | BatchClient.BatchClient | Files.Files, UsageError> =>
  Layer.effect(Api, make(bulk)).pipe(
    Layer.provideMerge(Layer.provide(
      BatchClient.layer({
        ...options,
        governor: {
          ...options.governor,
          ...(bulk.concurrency === undefined ? {} : { maxInFlight: bulk.concurrency }),
          ...(bulk.rpm === undefined ? {} : { requestsPerMinute: bulk.rpm })
        }
      }),
      layerHttp
    ))
  )

/** The first of these environment variables that is set and not blank. */
const firstEnv = (...names: ReadonlyArray<string>): Effect.Effect<Option.Option<string>> =>
  Effect.map(Effect.all(names.map(optionalEnv)), Option.firstSomeOf)

/** Hosts always reached directly, as Go's HTTP client does: an emulator on this machine (and `demo`). */
const loopback = "localhost,127.0.0.1,[::1]"

/**
 * The HTTP client: Node's fetch, through the proxies of the environment when `HTTPS_PROXY` or
 * `HTTP_PROXY` is set (lower case first, as curl reads them; `NO_PROXY` lists hosts reached
 * directly, and this machine always is). Node's fetch ignores these variables, so undici's
 * `EnvHttpProxyAgent` is passed to it as its dispatcher; undici is loaded only then, so a start
 * without a proxy stays fast.
 */
export const layerHttp: Layer.Layer<HttpClient.HttpClient, UsageError> = Layer.unwrapScoped(Effect.gen(function*() {
  const httpProxy = yield* firstEnv("http_proxy", "HTTP_PROXY")
  const httpsProxy = yield* firstEnv("https_proxy", "HTTPS_PROXY")
  const noProxy = yield* firstEnv("no_proxy", "NO_PROXY")
  if (Option.isNone(httpProxy) && Option.isNone(httpsProxy)) return FetchHttpClient.layer
  // undici is CommonJS: in the bundle only its default export carries the classes.
  const undici = yield* Effect.promise(() => import("@effect/platform-node/Undici"))
  const EnvHttpProxyAgent = undici.EnvHttpProxyAgent ?? undici.default.EnvHttpProxyAgent
  const dispatcher = yield* Effect.acquireRelease(
    Effect.try({
      // Every setting is given, so that the agent reads nothing of `process.env` on its own.
      try: () =>
        new EnvHttpProxyAgent({
          httpProxy: Option.getOrElse(httpProxy, () => ""),
          httpsProxy: Option.getOrElse(Option.orElse(httpsProxy, () => httpProxy), () => ""),
          noProxy: Option.match(noProxy, {
            onNone: () => loopback,
            onSome: (hosts) => hosts.trim() === "*" ? "*" : `${hosts},${loopback}`
          })
        }),
      catch: (error) =>
        new UsageError({
          description: Output.redactUserinfo(
            `the proxy setting (HTTPS_PROXY ${Option.getOrElse(httpsProxy, () => "unset")}, HTTP_PROXY ${
              Option.getOrElse(httpProxy, () => "unset")
            }) is not usable: ${error instanceof Error ? error.message : String(error)}`
          )
        })
    }),
    (agent) => Effect.promise(() => agent.destroy())
  )
  yield* Effect.logDebug(
    Output.redactUserinfo(
      `through the proxy ${Option.getOrElse(Option.orElse(httpsProxy, () => httpProxy), () => "")}` +
        Option.match(noProxy, { onNone: () => "", onSome: (hosts) => ` except for ${hosts}` })
    )
  )
  // Node's fetch takes an undici dispatcher in its options (the undici of @effect/platform-node
  // is newer than Node 20's own, and its dispatchers work with it).
  return Layer.provide(
    FetchHttpClient.layer,
    Layer.succeed(FetchHttpClient.RequestInit, { dispatcher } as globalThis.RequestInit)
  )
}))

const optionalEnv = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((s) => s.trim() !== "")),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/** A URL with any user name and password replaced by `***`, for messages. */
const withoutUserinfo = (url: string): string => url.replace(/^([^/]*\/\/)[^/@]*@/, "$1***@")

/**
 * Checks a base URL before anything is sent: it must be an http(s) URL and carry no user name or
 * password (the API key is the credential; fetch refuses such a URL, and its error would print it).
 */
const checkBaseUrl = (url: string, from: string): Effect.Effect<string, UsageError> => {
  const refuse = (why: string) => Effect.fail(new UsageError({ description: `${from} ${why}` }))
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return refuse(`is not a URL: ${withoutUserinfo(url)}`)
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return refuse(
      `must not carry a user name or password (${withoutUserinfo(url)}): the API key is the credential`
    )
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return refuse(`must be an http or https URL, got ${parsed.protocol}`)
  }
  return Effect.succeed(url)
}

/**
 * The adapter from the global options and the environment: `OPENAI_API_KEY` (required, kept
 * `Redacted`, a trailing CR/LF dropped), `--base-url` or `OPENAI_BASE_URL`, `--organization` or
 * `OPENAI_ORG_ID`, `--project` or `OPENAI_PROJECT_ID`. A missing key fails with `MissingApiKey`, a
 * key a header cannot carry with `InvalidApiKey`, a base URL with a password or no URL at all with
 * `UsageError`.
 */
export const layerGlobals = (
  globals: Globals
): Layer.Layer<Api | BatchClient.BatchClient | Files.Files, MissingApiKey | InvalidApiKey | UsageError> =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY")).pipe(
      Effect.orElseSucceed(() => Option.none<Redacted.Redacted>()),
      Effect.map(Option.map(ClientConfig.normalizeApiKey)),
      Effect.map(Option.filter((key) => Redacted.value(key).trim() !== ""))
    )
    if (Option.isNone(apiKey)) return yield* new MissingApiKey()
    const problem = ClientConfig.apiKeyProblem(Redacted.value(apiKey.value))
    if (problem !== undefined) return yield* new InvalidApiKey({ problem })
    const baseUrl = Option.isSome(globals.baseUrl)
      ? Option.some(yield* checkBaseUrl(globals.baseUrl.value, "--base-url"))
      : yield* optionalEnv("OPENAI_BASE_URL").pipe(
        Effect.flatMap(Effect.transposeMapOption((url) => checkBaseUrl(url, "OPENAI_BASE_URL")))
      )
    const organization = Option.isSome(globals.organization)
      ? globals.organization
      : yield* optionalEnv("OPENAI_ORG_ID")
    const project = Option.isSome(globals.project) ? globals.project : yield* optionalEnv("OPENAI_PROJECT_ID")
    return layerOptions({
      apiKey: apiKey.value,
      baseUrl: Option.getOrUndefined(baseUrl),
      organization: Option.getOrUndefined(organization),
      project: Option.getOrUndefined(project),
      maxRetries: Option.getOrUndefined(globals.maxRetries),
      timeout: Option.getOrUndefined(globals.timeout)
    }, { concurrency: Option.getOrUndefined(globals.concurrency), rpm: Option.getOrUndefined(globals.rpm) })
  }))
