/**
 * Durable batch jobs: hand a job to the store, let a worker run it (surviving restarts), come back
 * for its status and results.
 *
 * @since 0.1.0
 */
import { BatchClient, ClientConfig, Files, Results } from "@batchfx/client"
import * as Outcome from "@batchfx/client/Results"
import { type Batch, Jsonl, RequestLine } from "@batchfx/core"
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SingleRunner from "@effect/cluster/SingleRunner"
import * as FileSystem from "@effect/platform/FileSystem"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Path from "@effect/platform/Path"
import * as LibsqlClient from "@effect/sql-libsql/LibsqlClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Libsql from "@libsql/client"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as HashSet from "effect/HashSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as BusyRetry from "./internal/busyRetry.js"
import * as Metrics from "./internal/metrics.js"
import * as RunnerAddress from "./internal/runnerAddress.js"
import * as Steps from "./internal/steps.js"
import * as StoreUrl from "./internal/storeUrl.js"
import * as WorkerId from "./internal/workerId.js"
import { type JobNotFound, StoreError } from "./JobsError.js"
import * as JobStore from "./JobStore.js"
import * as JobWorkflow from "./JobWorkflow.js"
import * as TokenBudget from "./TokenBudget.js"

/**
 * Options of a new job.
 *
 * @since 0.1.0
 * @category models
 */
export interface SubmitOptions {
  /** The batch endpoint; every line's `url` must equal it. */
  readonly endpoint: string
  /** A name to recognise the job by in lists. */
  readonly name?: string | undefined
  /** How many problems an `InputError` keeps; default 100. */
  readonly maxProblems?: number | undefined
  /** The job whose failed lines this one retries. */
  readonly retryOf?: string | undefined
}

/**
 * Why a new job's input was refused, or the store failed.
 *
 * @since 0.1.0
 * @category models
 */
export type SubmitError = Files.InputError | StoreError

const newJobId = Effect.sync(() => `job_${globalThis.crypto.randomUUID().replace(/-/g, "").slice(0, 24)}`)

/** Encoded lines, checked as they pass; problems end the stream with `InputError` (so nothing is stored). */
const checked = <E, R>(
  items: Stream.Stream<
    { readonly text: string; readonly fileLine: number } | { readonly value: RequestLine.BatchRequestLine },
    E,
    R
  >,
  options: SubmitOptions,
  path: string | undefined
): Stream.Stream<string, E | Files.InputError, R> =>
  Stream.suspend(() => {
    // the shard limits apply later, when the job is split
    const check = RequestLine.makeInputCheck(options.endpoint, {
      maxLines: Number.POSITIVE_INFINITY,
      maxBytes: Number.POSITIVE_INFINITY
    })
    const max = options.maxProblems ?? 100
    const problems: Array<RequestLine.LineProblem> = []
    let count = 0
    /** Records problems (numbered as the file numbers its lines); true when there were none. */
    const report = (found: ReadonlyArray<RequestLine.LineProblem>, fileLine?: number) => {
      count += found.length
      for (const p of found) {
        if (problems.length >= max) break
        problems.push(fileLine !== undefined && p.line === check.lines() ? { ...p, line: fileLine } : p)
      }
      return found.length === 0
    }
    const end = Stream.suspend(() => {
      report(check.finish())
      return count === 0 ? Stream.empty : Stream.fail(
        new Files.InputError({ problems, count, ...(path === undefined ? {} : { path }) })
      )
    })
    return items.pipe(
      Stream.filterMap((item) => {
        if ("text" in item) {
          if (item.text.trim() === "") return Option.none()
          const ok = report(check.pushText(item.text), item.fileLine)
          return ok && count === 0 ? Option.some(JSON.stringify(JSON.parse(item.text))) : Option.none()
        }
        const ok = report(check.pushLine(item.value))
        return ok && count === 0 ? Option.some(JSON.stringify(item.value)) : Option.none()
      }),
      Stream.concat(end)
    )
  })

const store = (
  lines: Stream.Stream<string, unknown, unknown>,
  options: SubmitOptions
) =>
  Effect.gen(function*() {
    const jobs = yield* JobStore.JobStore
    const id = yield* newJobId
    const createdAt = yield* Effect.clockWith((c) => c.currentTimeMillis)
    yield* jobs.insertJob(
      { id, name: options.name, endpoint: options.endpoint, createdAt, retryOf: options.retryOf },
      lines
    )
    return id
  })

/**
 * Stores a new job from request lines and returns its id; a worker (`run`, `layerWorker`) runs it.
 * Every line is checked first (unique `custom_id`, `url` equal to the endpoint, no streaming, one
 * model); any problem fails with `InputError` and nothing is stored. The input is kept in the
 * store, so the job does not depend on it afterwards.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submit = <L extends RequestLine.BatchRequestLine, E = never, R = never>(
  lines: Stream.Stream<L, E, R> | Iterable<L>,
  options: SubmitOptions
): Effect.Effect<string, SubmitError | E, JobStore.JobStore | R> =>
  store(
    checked(Stream.map(Files.toStream(lines), (value) => ({ value })), options, undefined),
    options
  ) as Effect.Effect<string, SubmitError | E, JobStore.JobStore | R>

/**
 * Stores a new job from JSONL bytes (standard input, say), checked line by line with the input's
 * own line numbers (blank lines counted). `path` only names the input in an `InputError`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitJsonl = <E, R>(
  bytes: Stream.Stream<Uint8Array, E, R>,
  options: SubmitOptions & { readonly path?: string | undefined }
): Effect.Effect<string, SubmitError | E, JobStore.JobStore | R> =>
  Effect.suspend(() => {
    const splitter = Jsonl.makeLineSplitter()
    const raw = bytes.pipe(
      Stream.mapConcat((chunk) => splitter.push(chunk)),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(splitter.flush()))),
      Stream.map((line) => ({ text: line.text, fileLine: line.line }))
    )
    return store(checked(raw, options, options.path), options) as Effect.Effect<
      string,
      SubmitError | E,
      JobStore.JobStore | R
    >
  })

/**
 * Stores a new job from a JSONL file (read once, checked line by line with the file's line numbers).
 *
 * @since 0.1.0
 * @category accessors
 */
export const submitPath = (
  path: string,
  options: SubmitOptions
): Effect.Effect<string, SubmitError, JobStore.JobStore | FileSystem.FileSystem> =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    submitJsonl(
      fs.stream(path).pipe(
        Stream.mapError((error) =>
          new Files.InputError({
            problems: [{
              line: null,
              code: "unreadable_file",
              param: null,
              message: `cannot be read (${error.message})`
            }],
            count: 1,
            path
          })
        )
      ),
      { ...options, path }
    ))

/**
 * A job with its shards and overall progress.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobReport {
  readonly job: JobStore.Job
  readonly shards: ReadonlyArray<JobStore.Shard>
  /** Requests over every batch so far. */
  readonly total: number
  readonly completed: number
  readonly failed: number
  /** Result lines stored. */
  readonly results: number
  /** The worker that last ran a step of the job (`host/pid/random`), if one has. */
  readonly worker: string | undefined
  /**
   * The enqueued-token budget per model (tokens of the shards in flight, across every job and
   * worker of the store, and the limit), when the store's `TokenBudget` is in context
   * (`layerStore` provides it); empty otherwise.
   */
  readonly tokens: ReadonlyArray<TokenBudget.ModelUsage>
}

/**
 * A job's status, shards, batches and counts, from the store.
 *
 * @since 0.1.0
 * @category accessors
 */
export const status = (jobId: string): Effect.Effect<JobReport, JobNotFound | StoreError, JobStore.JobStore> =>
  Effect.gen(function*() {
    const jobs = yield* JobStore.JobStore
    const job = yield* jobs.job(jobId)
    const shards = yield* jobs.shards(jobId)
    const results = yield* jobs.resultCount(jobId)
    const budget = yield* Effect.serviceOption(TokenBudget.TokenBudget)
    const tokens = Option.isSome(budget) ? yield* budget.value.usage : []
    const sum = (f: (s: JobStore.Shard) => number) => shards.reduce((n, s) => n + f(s), 0)
    return {
      job,
      shards,
      total: sum((s) => s.total),
      completed: sum((s) => s.completed),
      failed: sum((s) => s.failed),
      results,
      worker: job.worker,
      tokens
    }
  })

/**
 * Every job in the store, newest first.
 *
 * @since 0.1.0
 * @category accessors
 */
export const list: Effect.Effect<ReadonlyArray<JobStore.Job>, StoreError, JobStore.JobStore> = Effect.flatMap(
  JobStore.JobStore,
  (jobs) => jobs.jobs
)

/**
 * One input of a job with its outcome, as the client's `Results.Outcome` (so a job's results and a
 * submission's are handled alike): `Succeeded` (a 2xx answer) or `Failed` (an error line or a
 * non-2xx answer), each with its input and the result line decoded; `Missing` (no result line,
 * because the batch never ran it or has not ended); `Unmatched` with reason `duplicate` for a second
 * result line of the same input. `inputLine` is the input's 1-based line in the job.
 *
 * @since 0.1.0
 * @category models
 */
export type JobResult = Results.Outcome<unknown, RequestLine.BatchRequestLine> & {
  readonly inputLine: number
}

const toResults = (
  row: JobStore.JoinedRow
): Effect.Effect<ReadonlyArray<JobResult>, Results.ResultDecodeError> => {
  const input = JSON.parse(row.input) as RequestLine.BatchRequestLine
  if (row.results.length === 0) {
    return Effect.succeed([{ _tag: "Missing", customId: row.customId, input, inputLine: row.line }])
  }
  const out: Array<JobResult> = []
  for (const r of row.results) {
    const result = Outcome.fromText(r.text, { file: r.kind, fileId: r.fileId, line: r.line, end: r.end })
    if (result instanceof Results.ResultDecodeError) return Effect.fail(result)
    out.push(
      out.length === 0
        ? { ...result, input, inputLine: row.line }
        : { _tag: "Unmatched", customId: row.customId, reason: "duplicate", result, inputLine: row.line }
    )
  }
  return Effect.succeed(out)
}

/**
 * A job's results joined to its inputs by `custom_id`, across every shard, in input order, read
 * from the store a page at a time. A stored line that is not a result line fails the stream with
 * the client's `ResultDecodeError`, naming its file and line.
 *
 * @since 0.1.0
 * @category accessors
 */
export const results = (
  jobId: string
): Stream.Stream<JobResult, JobNotFound | StoreError | Results.ResultDecodeError, JobStore.JobStore> =>
  Stream.unwrap(Effect.gen(function*() {
    const jobs = yield* JobStore.JobStore
    yield* jobs.job(jobId)
    return jobs.joined(jobId).pipe(Stream.mapConcatEffect(toResults))
  }))

/**
 * Cancels a job: no batch is created for it from now on, and its batches still running are asked
 * to cancel (now, and by the worker if one is created meanwhile). Their partial results are still
 * downloaded; the job ends `cancelled`. A job no worker has started ends `cancelled` at once.
 *
 * @since 0.1.0
 * @category accessors
 */
export const cancel = (
  jobId: string
): Effect.Effect<JobReport, JobNotFound | StoreError, JobStore.JobStore | BatchClient.BatchClient> =>
  Effect.gen(function*() {
    const jobs = yield* JobStore.JobStore
    const client = yield* BatchClient.BatchClient
    const job = yield* jobs.job(jobId)
    if (JobStore.isFinished(job.status)) return yield* status(jobId)
    yield* jobs.requestCancel(jobId)
    if (job.status === "pending") yield* jobs.setStatus(jobId, "cancelled")
    const shards = yield* jobs.shards(jobId)
    yield* Effect.forEach(
      shards.filter((s) => s.batchId !== undefined && !isTerminalStatus(s.batchStatus)),
      (s) =>
        client.cancel(s.batchId!).pipe(
          Effect.flatMap((batch) => jobs.setBatch(jobId, s.shard, Steps.seen(batch))),
          Effect.catchAll((error) => Effect.logWarning(`could not cancel batch ${s.batchId}: ${error.message}`))
        ),
      { discard: true, concurrency: 4 }
    )
    return yield* status(jobId)
  })

const isTerminalStatus = (status: string | undefined) =>
  status === "completed" || status === "failed" || status === "expired" || status === "cancelled"

/**
 * Starts a new job with the inputs of `jobId` that did not succeed (failed or missing). Fails with
 * `InputError` (“no request lines”) when every input succeeded.
 *
 * @since 0.1.0
 * @category accessors
 */
export const retryFailed = (
  jobId: string,
  options: { readonly name?: string | undefined } = {}
): Effect.Effect<string, SubmitError | JobNotFound | Results.ResultDecodeError, JobStore.JobStore> =>
  Effect.gen(function*() {
    const jobs = yield* JobStore.JobStore
    const job = yield* jobs.job(jobId)
    const failedInputs = results(jobId).pipe(
      // the first outcome of each input carries it; a second result line of it is `Unmatched`
      Stream.filterMap((r) => r._tag === "Failed" || r._tag === "Missing" ? Option.some(r.input) : Option.none())
    )
    return yield* submit(failedInputs, {
      endpoint: job.endpoint,
      name: options.name ?? `${job.name ?? job.id} (retry)`,
      retryOf: jobId
    })
  })

/**
 * The result lines of a job as the API wrote them (`custom_id` intact), output or error files,
 * across every shard in shard order.
 *
 * @since 0.1.0
 * @category accessors
 */
export const resultLines = (
  jobId: string,
  file: "output" | "error"
): Stream.Stream<string, JobNotFound | StoreError, JobStore.JobStore> =>
  Stream.unwrap(Effect.gen(function*() {
    const jobs = yield* JobStore.JobStore
    yield* jobs.job(jobId)
    return jobs.joined(jobId).pipe(
      Stream.mapConcat((row) => row.results.filter((r) => r.kind === file).map((r) => r.text))
    )
  }))

/**
 * Waits until a job has ended (reading the store every `interval`, default a second) and returns it.
 *
 * @since 0.1.0
 * @category accessors
 */
export const awaitJob = (
  jobId: string,
  interval: Duration.DurationInput = "1 second"
): Effect.Effect<JobStore.Job, JobNotFound | StoreError, JobStore.JobStore> =>
  Effect.flatMap(JobStore.JobStore, (jobs) => {
    const loop: Effect.Effect<JobStore.Job, JobNotFound | StoreError> = Effect.flatMap(
      jobs.job(jobId),
      (job) => (JobStore.isFinished(job.status) ? Effect.succeed(job) : Effect.zipRight(Effect.sleep(interval), loop))
    )
    return loop
  })

// ---- layers --------------------------------------------------------------------------------------

/**
 * The default store: `BATCHFX_STORE`, else this SQLite file.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultStore = "file:.batchfx/jobs.db"

/**
 * The store's URL from `BATCHFX_STORE`, default `defaultStore`.
 *
 * @since 0.1.0
 * @category config
 */
export const storeConfig: Config.Config<string> = Config.string("BATCHFX_STORE").pipe(
  Config.withDefault(defaultStore)
)

/**
 * Why a URL cannot name a store, as the end of a sentence (“must be a path, a file: URL, or …”),
 * or `undefined` when it can: the rule `layerSql` applies, for callers that check a URL first.
 *
 * @since 0.1.0
 * @category utils
 */
export const storeUrlProblem = (url: string): string | undefined => StoreUrl.problem(url)

/**
 * A store URL as it may be shown: without user name, password or query string (a libSQL URL may
 * carry its `authToken` there). Every `StoreError` of `layerSql` shows the URL this way.
 *
 * @since 0.1.0
 * @category utils
 */
export const redactStoreUrl = (url: string): string => StoreUrl.redact(url)

/**
 * The SQL client of a store URL: a `file:` URL (or a bare path) is an embedded SQLite file, made
 * with its directory when missing, in WAL mode so that readers (`status`, `results`) never stop a
 * worker; `libsql:`, `http(s):` and `ws(s):` URLs reach a libSQL server; `postgres:` and
 * `postgresql:` URLs a Postgres database through `@effect/sql-pg` (`Postgres.layerSql`, loaded only
 * then), which several workers on several machines may share. Any other scheme is a
 * `StoreError` that lists the accepted ones. A busy database is waited for without blocking the
 * event loop (a worker and another command can share a process). Integers are read as `bigint`
 * because the workflow engine's ids are 64-bit.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (
  url: string
): Layer.Layer<SqlClient.SqlClient, StoreError, FileSystem.FileSystem | Path.Path> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const shown = StoreUrl.redact(url)
    const failure = (operation: string) => (cause: unknown) =>
      new StoreError({
        operation,
        cause: new Error(StoreUrl.scrub(cause instanceof Error ? cause.message : String(cause), url))
      })
    const parsed = StoreUrl.parse(url)
    if (parsed === undefined) {
      return yield* failure(`open ${shown}`)(new Error(`the store URL ${StoreUrl.problem(url)}`))
    }
    if (parsed.kind === "postgres") {
      // loaded here, so that a SQLite store never loads the Postgres module (nor pg, which it loads)
      const Postgres = yield* Effect.promise(() => import("./Postgres.js"))
      return Postgres.layerSql(url)
    }
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (parsed.kind === "file") {
      const file = parsed.url.slice("file:".length).replace(/[?#].*$/s, "")
      yield* fs.makeDirectory(path.dirname(file), { recursive: true }).pipe(
        Effect.mapError(failure(`create the directory of ${StoreUrl.redact(file)}`))
      )
    }
    const client = yield* Effect.acquireRelease(
      Effect.try({
        try: () => BusyRetry.wrap(Libsql.createClient({ url: parsed.url, intMode: "bigint" })),
        catch: failure(`open ${shown}`)
      }),
      (client) => Effect.sync(() => client.close())
    )
    if (parsed.kind === "file") {
      yield* Effect.tryPromise({
        try: async () => {
          await client.execute(`PRAGMA busy_timeout = ${BusyRetry.busyTimeoutMillis}`)
          await client.execute("PRAGMA journal_mode = WAL")
          // in WAL mode a commit survives a crash of the process without an fsync of its own;
          // only a power cut can lose the last ones
          await client.execute("PRAGMA synchronous = NORMAL")
        },
        catch: failure(`open ${shown}`)
      })
    }
    return LibsqlClient.layer({ liveClient: client }) as Layer.Layer<SqlClient.SqlClient, StoreError>
  }))

/**
 * The store (and its SQL client) at a URL, with its enqueued-token budget (read by `status`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStore = (
  url: string
): Layer.Layer<
  JobStore.JobStore | TokenBudget.TokenBudget | SqlClient.SqlClient,
  StoreError,
  FileSystem.FileSystem | Path.Path
> => Layer.merge(JobStore.layer, TokenBudget.layer()).pipe(Layer.provideMerge(layerSql(url)))

/**
 * The store at `BATCHFX_STORE` (default `file:.batchfx/jobs.db`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStoreConfig: Layer.Layer<
  JobStore.JobStore | TokenBudget.TokenBudget | SqlClient.SqlClient,
  StoreError | ConfigError.ConfigError,
  FileSystem.FileSystem | Path.Path
> = Layer.unwrapEffect(Effect.map(storeConfig, layerStore))

/**
 * Options of a worker.
 *
 * @since 0.1.0
 * @category models
 */
export interface WorkerOptions {
  /** The poll schedule of each batch; default the client's (2 s, ×1.5, at most a minute). */
  readonly poll?: Schedule.Schedule<unknown, Batch.Batch> | undefined
  /** How long one recorded await step polls; default 10 minutes. */
  readonly awaitRound?: Duration.DurationInput | undefined
  /** The limits of one shard; default 50,000 lines and 200 MB. */
  readonly limits?: { readonly maxLines?: number; readonly maxBytes?: number } | undefined
  /** Shards of a job worked on at once; default 4. */
  readonly shardConcurrency?: number | undefined
  /** How often the worker looks for jobs it has not started; default every second. */
  readonly pickUp?: Duration.DurationInput | undefined
  /**
   * How long the server's lists may lag behind an upload or a create (default 10 s): after a
   * crash, a step that finds no trace of its earlier attempt looks this long before sending again.
   */
  readonly listLag?: Duration.DurationInput | undefined
  /** Settings of the cluster's runner over `singleRunnerSharding` (say, to poll storage less often). */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
  /**
   * On a Postgres store, where the other workers reach this one, as `host:port` (`[::1]:port`
   * for IPv6); default 127.0.0.1 and a free port, which serves workers on one machine. Workers on
   * several machines each give an address the others can reach. See `runnerAddressConfig`.
   */
  readonly runnerAddress?: string | undefined
  /** On a Postgres store, the address this worker listens on (say `0.0.0.0:34431`); default `runnerAddress`. */
  readonly listenAddress?: string | undefined
  /**
   * Runs as the store's only worker, with no runner socket, on Postgres too (the cluster's single
   * runner, as on SQLite); default false: on Postgres a worker shares the jobs with the others.
   */
  readonly singleRunner?: boolean | undefined
  /**
   * Enqueued-token limits per model (`{ "gpt-4o-mini": 2_000_000 }`), written to the store when
   * the worker starts, so they hold for every worker of the store. Without one, a model's limit is
   * learned from the first `token_limit_exceeded` failure. See `tokenLimitsConfig`.
   */
  readonly tokenLimits?: { readonly [model: string]: number } | undefined
  /** How often a shard waiting for room under the budget looks again; default 1 s growing to 30 s. */
  readonly tokenWait?: Schedule.Schedule<unknown, unknown> | undefined
  /** The pause after a `token_limit_exceeded` refusal before the next batch; default a minute, doubling. */
  readonly refusalPause?: Duration.DurationInput | undefined
}

/**
 * Parses enqueued-token limits as `MODEL=N` pairs separated by commas (`gpt-4o-mini=2000000,
 * gpt-4o=90000`; `_` may group digits); the sentence says what is wrong.
 *
 * @since 0.1.0
 * @category utils
 */
export const parseTokenLimits = (
  text: string
): { readonly limits: { readonly [model: string]: number } } | { readonly problem: string } => {
  const limits: Record<string, number> = {}
  for (const pair of text.split(",").map((p) => p.trim()).filter((p) => p !== "")) {
    const at = pair.lastIndexOf("=")
    const model = at < 0 ? "" : pair.slice(0, at).trim()
    const digits = at < 0 ? "" : pair.slice(at + 1).trim().replace(/_/g, "")
    const limit = Number(digits)
    if (model === "" || !/^\d+$/.test(digits) || !Number.isSafeInteger(limit) || limit < 1) {
      return { problem: `needs MODEL=N with N a whole number of tokens of at least 1, got '${pair}'` }
    }
    limits[model] = limit
  }
  return { limits }
}

/**
 * Enqueued-token limits from `BATCHFX_TOKEN_LIMITS` (`MODEL=N,…`), none when it is not set.
 *
 * @since 0.1.0
 * @category config
 */
export const tokenLimitsConfig: Config.Config<{ readonly [model: string]: number }> = Config.string(
  "BATCHFX_TOKEN_LIMITS"
).pipe(
  Config.mapOrFail((text) => {
    const parsed = parseTokenLimits(text)
    return "problem" in parsed
      ? Either.left(ConfigError.InvalidData([], `BATCHFX_TOKEN_LIMITS ${parsed.problem}`))
      : Either.right(parsed.limits)
  }),
  Config.withDefault({})
)

const addressVariable = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((text) => {
      const parsed = RunnerAddress.parseAddress(text)
      return typeof parsed === "string"
        ? Either.left(ConfigError.InvalidData([], `${name}: ${parsed}`))
        : Either.right(text)
    }),
    Config.option,
    Config.map(Option.getOrUndefined)
  )

/**
 * A worker's runner addresses from `BATCHFX_RUNNER_ADDRESS` and `BATCHFX_RUNNER_LISTEN`
 * (`host:port`), each unset when the variable is; they matter on a Postgres store only. A value
 * that is not an address fails with the variable's name and what is wrong.
 *
 * @since 0.1.0
 * @category config
 */
export const runnerAddressConfig: Config.Config<{
  readonly runnerAddress: string | undefined
  readonly listenAddress: string | undefined
}> = Config.all({
  runnerAddress: addressVariable("BATCHFX_RUNNER_ADDRESS"),
  listenAddress: addressVariable("BATCHFX_RUNNER_LISTEN")
}).pipe(Config.mapOrFail((addresses) => {
  const wrong = RunnerAddress.addressesProblem(addresses)
  if (wrong === undefined) return Either.right(addresses)
  // a wildcard to listen on, with no runner address beside it, is the listen variable's fault
  const name = wrong.option === "listenAddress" || addresses.runnerAddress === undefined
    ? "BATCHFX_RUNNER_LISTEN"
    : "BATCHFX_RUNNER_ADDRESS"
  return Either.left(ConfigError.InvalidData([], `${name}: ${wrong.problem}`))
}))

/**
 * Why a worker's `runnerAddress` and `listenAddress` cannot serve together, naming the option at
 * fault, or `undefined`: each must be a runner address, and the address other workers reach this
 * one at (`runnerAddress`, else `listenAddress`) cannot be a wildcard such as `0.0.0.0`, which
 * another machine reads as itself. `layerWorker` fails with the same sentence.
 *
 * @since 0.1.0
 * @category utils
 */
export const runnerAddressesProblem = (
  addresses: { readonly runnerAddress?: string | undefined; readonly listenAddress?: string | undefined }
): { readonly option: "runnerAddress" | "listenAddress"; readonly problem: string } | undefined =>
  RunnerAddress.addressesProblem(addresses)

/**
 * This worker process's id, as `status` shows it: host name, process id and a short random part,
 * made once per process.
 *
 * @since 0.1.0
 * @category utils
 */
export const workerId = (): string => WorkerId.workerId()

/**
 * The worker's counters (Effect `Metric`s, per process): shards uploaded, batches created, shards
 * completed, shards that waited for the enqueued-token budget, batches refused with
 * `token_limit_exceeded`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  shardsUploaded: Metrics.shardsUploaded,
  batchesCreated: Metrics.batchesCreated,
  shardsCompleted: Metrics.shardsCompleted,
  tokenWaits: Metrics.tokenWaits,
  batchesRefused: Metrics.batchesRefused
} as const

/**
 * The cluster settings of a worker: storage is polled every second rather than every 10 s, so a
 * restarted worker resumes its jobs and a new job starts within a second or two.
 * A stopped worker (Ctrl-C, the end of `runUntilDone`) waits a second for its steps, not the
 * cluster's 15: a step cut short is run again on the next start, as after a crash.
 * `shardsPerGroup` must stay the same for the life of a store: each workflow's messages are filed
 * under a shard computed from it.
 *
 * @since 0.1.0
 * @category constants
 */
export const singleRunnerSharding: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardsPerGroup: 300,
  entityTerminationTimeout: Duration.seconds(1),
  entityMessagePollInterval: Duration.seconds(1),
  refreshAssignmentsInterval: Duration.seconds(1),
  sendRetryInterval: Duration.millis(100)
}

/**
 * The client services a worker and `cancel` use, from the client's options, over the `HttpClient`
 * in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (
  options: ClientConfig.Options
): Layer.Layer<BatchClient.BatchClient | Files.Files, never, HttpClient.HttpClient> => BatchClient.layer(options)

/**
 * The client services from `Config` (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, …).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClientConfig: Layer.Layer<
  BatchClient.BatchClient | Files.Files,
  ConfigError.ConfigError,
  HttpClient.HttpClient
> = Layer.unwrapEffect(Effect.map(ClientConfig.config, layerClient))

/**
 * A worker: the workflow engine over the store's SQL database, running every unfinished job (those
 * stored before it started and those stored while it runs) until its scope closes. Restarted after
 * a crash, it resumes each job at the step the crash cut short.
 *
 * On SQLite the worker is the cluster's single runner: one worker per store. On Postgres each
 * worker is a runner reached over a socket at `runnerAddress`, and the workers of one store share
 * its jobs: each job runs on one of them at a time, and the jobs of a worker that stops answering
 * go on at the others, from the step it had reached.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWorker = (
  options: WorkerOptions = {}
): Layer.Layer<
  never,
  ConfigError.ConfigError | StoreError,
  | JobStore.JobStore
  | SqlClient.SqlClient
  | BatchClient.BatchClient
  | Files.Files
> => {
  const settings: Steps.Settings = {
    poll: options.poll,
    awaitRound: options.awaitRound === undefined
      ? Steps.defaultSettings.awaitRound
      : Duration.decode(options.awaitRound),
    limits: { ...JobStore.defaultLimits, ...options.limits },
    shardConcurrency: options.shardConcurrency ?? Steps.defaultSettings.shardConcurrency,
    listLag: options.listLag === undefined ? Steps.defaultSettings.listLag : Duration.decode(options.listLag),
    tokenWait: options.tokenWait ?? Steps.defaultSettings.tokenWait,
    refusalPause: options.refusalPause === undefined
      ? Steps.defaultSettings.refusalPause
      : Duration.decode(options.refusalPause)
  }
  const pickUp = Layer.scopedDiscard(Effect.gen(function*() {
    const jobs = yield* JobStore.JobStore
    const started = new Set<string>()
    const startNew = Effect.gen(function*() {
      const all = yield* jobs.jobs
      for (const job of all) {
        if (JobStore.isFinished(job.status) || started.has(job.id)) continue
        started.add(job.id)
        yield* JobWorkflow.JobWorkflow.execute({ jobId: job.id }, { discard: true })
      }
    }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("could not look for new jobs", cause)))
    yield* startNew.pipe(
      Effect.repeat(Schedule.spaced(options.pickUp ?? "1 second")),
      Effect.forkScoped
    )
  }))
  return pickUp.pipe(
    Layer.provideMerge(JobWorkflow.layer),
    Layer.provide(Layer.succeed(Steps.StepSettings, settings)),
    // the worker's own budget, which writes the configured limits to the store as it starts
    Layer.provide(TokenBudget.layer({ limits: options.tokenLimits, wait: settings.tokenWait })),
    Layer.provideMerge(ClusterWorkflowEngine.layer),
    Layer.provideMerge(layerRunners(options)),
    Layer.locallyWith(FiberRef.currentLoggers, HashSet.map(withoutRestartWarning))
  )
}

/**
 * The cluster under a worker, by the store's dialect: a single runner on SQLite, socket runners on
 * Postgres. The socket runners come from `@effect/platform-node`, loaded only for a Postgres store.
 */
const layerRunners = (options: WorkerOptions) =>
  Layer.unwrapEffect(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const shardingConfig = { ...singleRunnerSharding, ...options.sharding }
    if (options.singleRunner === true || sql.onDialectOrElse({ pg: () => false, orElse: () => true })) {
      return SingleRunner.layer({ runnerStorage: "sql", shardingConfig })
    }
    const Runners = yield* Effect.tryPromise({
      try: () => import("./internal/runners.js"),
      catch: (cause) =>
        ConfigError.InvalidData(
          ["runnerAddress"],
          `workers on a Postgres store need the package @effect/platform-node (${
            cause instanceof Error ? cause.message : String(cause)
          }): install it beside @batchfx/jobs`
        )
    })
    return Runners.layer({ address: options.runnerAddress, listen: options.listenAddress, sharding: shardingConfig })
  }))

/**
 * The cluster's “No healthy runners available”: logged once by every worker started on a store
 * whose last runner stopped (the store marks that runner unhealthy, and the cluster then marks
 * the new one healthy itself). Expected on every restart, so the worker's loggers leave it out;
 * the cluster's other messages pass.
 */
const isRestartWarning = (message: unknown): boolean =>
  (Array.isArray(message) ? message[0] : message) === "No healthy runners available"

const withoutRestartWarning = <O>(logger: Logger.Logger<unknown, O>): Logger.Logger<unknown, O | undefined> =>
  Logger.make((options) => isRestartWarning(options.message) ? undefined : logger.log(options))

/**
 * Everything but the worker, from options: the store at `options.store` and the client.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: {
  readonly store: string
  readonly client: ClientConfig.Options
}): Layer.Layer<
  JobStore.JobStore | TokenBudget.TokenBudget | SqlClient.SqlClient | BatchClient.BatchClient | Files.Files,
  StoreError,
  FileSystem.FileSystem | Path.Path | HttpClient.HttpClient
> => Layer.merge(layerStore(options.store), layerClient(options.client))

/**
 * Everything but the worker, from `Config`: the store at `BATCHFX_STORE` and the client from
 * `OPENAI_API_KEY`, `OPENAI_BASE_URL`, ….
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig: Layer.Layer<
  JobStore.JobStore | TokenBudget.TokenBudget | SqlClient.SqlClient | BatchClient.BatchClient | Files.Files,
  StoreError | ConfigError.ConfigError,
  FileSystem.FileSystem | Path.Path | HttpClient.HttpClient
> = Layer.merge(layerStoreConfig, layerClientConfig)

/**
 * Runs a worker in this process until the job `jobId` ends (what `batchfx jobs submit --wait`
 * does), then stops it and returns the job. Other unfinished jobs of the store advance meanwhile.
 *
 * @since 0.1.0
 * @category accessors
 */
export const runUntilDone = (jobId: string, options: WorkerOptions = {}) =>
  awaitJob(jobId, "200 millis").pipe(Effect.provide(layerWorker(options)), Effect.scoped)

/**
 * Runs a worker until interrupted.
 *
 * @since 0.1.0
 * @category accessors
 */
export const run = (options: WorkerOptions = {}) => Layer.launch(layerWorker(options))
