/**
 * The steps of a job, each written to be run again after a crash without doing its work twice:
 * it first looks in the store (and, after an attempt that may have reached the server, at the
 * server) for what an earlier run already did.
 */
import { BatchClient, BatchClientError, Files, Retry, Watch } from "@batchfx/client"
import { type Batch, BatchStatus, Jsonl, type RequestLine } from "@batchfx/core"
import * as Activity from "@effect/workflow/Activity"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { StepFailed, StoreError } from "../JobsError.js"
import * as JobStore from "../JobStore.js"
import * as TokenBudget from "../TokenBudget.js"
import * as TokenCount from "../TokenCount.js"
import * as Metrics from "./metrics.js"

/** How the worker runs steps. */
export interface Settings {
  /** The poll schedule of a batch; default the client's `Watch.defaultSchedule`. */
  readonly poll: Watch.PollSchedule | undefined
  /** How long one durable await step polls before its progress is recorded as done. */
  readonly awaitRound: Duration.Duration
  readonly limits: { readonly maxLines: number; readonly maxBytes: number }
  /** Shards of one job worked on at once. */
  readonly shardConcurrency: number
  /**
   * How long after an upload or create the server's lists may still leave it out: a step that
   * finds no trace of an earlier attempt keeps looking this long before it sends again.
   */
  readonly listLag: Duration.Duration
  /** How often a shard waiting for room under the enqueued-token budget looks again. */
  readonly tokenWait: Schedule.Schedule<unknown, unknown>
  /** The pause after a `token_limit_exceeded` refusal before the next batch (doubling per refusal). */
  readonly refusalPause: Duration.Duration
}

export class StepSettings extends Context.Tag("@batchfx/jobs/internal/StepSettings")<StepSettings, Settings>() {}

export const defaultSettings: Settings = {
  poll: undefined,
  awaitRound: Duration.minutes(10),
  limits: JobStore.defaultLimits,
  shardConcurrency: 4,
  listLag: Duration.seconds(10),
  tokenWait: TokenBudget.defaultWait,
  refusalPause: Duration.minutes(1)
}

/** The metadata keys that tie a batch to its job and shard, searched after a crash. */
export const jobKey = "batchfx_job"
export const shardKey = "batchfx_shard"
/** The metadata key of a shard's second and later batch (after a `token_limit_exceeded` refusal). */
export const tryKey = "batchfx_try"

/** The span attributes of a step of a job. */
export const spanOf = (name: string, jobId: string, shard?: number) =>
  Effect.withSpan(`batchfx.jobs.${name}`, {
    attributes: shard === undefined
      ? { "batchfx.job_id": jobId }
      : { "batchfx.job_id": jobId, "batchfx.shard": shard }
  })

/** The budget's reservation of a shard: one per shard, so reserving it again after a crash holds it once. */
export const reservationId = (jobId: string, shard: number) => `${jobId}/${shard}`

/** The file name of a shard's upload, searched after a crash. */
export const filenameOf = (jobId: string, shard: number) => `batchfx-${jobId}-${shard}.jsonl`

/** How many pages of the newest batches a create looks through for its own batch. */
const searchPages = 3

/**
 * Looks for the work of an earlier attempt until it is found or `listLag` has passed since the
 * first look: the lists lag behind uploads and creates.
 */
const lookAgainDuringLag = <A, E, R>(find: Effect.Effect<Option.Option<A>, E, R>) =>
  Effect.flatMap(StepSettings, (settings) => {
    const notYet = Symbol.for("@batchfx/jobs/notYet")
    const every = Duration.millis(Math.max(250, Duration.toMillis(settings.listLag) / 5))
    return find.pipe(
      Effect.flatMap((found) => (Option.isSome(found) ? Effect.succeed(found) : Effect.fail(notYet))),
      Effect.retry({
        while: (e) => e === notYet,
        schedule: Schedule.spaced(every).pipe(Schedule.upTo(settings.listLag))
      }),
      Effect.catchIf((e): e is typeof notYet => e === notYet, () => Effect.succeed(Option.none<A>()))
    )
  })

const failed = (step: string, shard: number) => (error: { readonly message: string }) =>
  new StepFailed({
    step,
    shard,
    reason: error.message,
    // an outage of the API, or a store that failed (locked past the busy wait, a full disk)
    transient: error instanceof StoreError ||
      (BatchClientError.isBatchClientError(error) && Retry.isRetryable(error, { serverWaitCap: Duration.infinity }))
  })

/**
 * Retries a store operation outside the steps (the split, the finish) on a failed store: 1 s
 * doubling, at most a minute apart, for 10 minutes.
 */
export const retryStore = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, {
    schedule: Schedule.exponential("1 second").pipe(
      Schedule.either(Schedule.spaced("1 minute")),
      Schedule.upTo("10 minutes")
    ),
    while: (e) => e instanceof StoreError
  })

/** What the steps need. */
export type Requirements =
  | JobStore.JobStore
  | TokenBudget.TokenBudget
  | BatchClient.BatchClient
  | Files.Files
  | StepSettings

/** How many times a step that meets an outage is run before the job fails. */
export const stepAttempts = 12

/**
 * The pause before a step that met an outage fails (and is run again): 5 s doubling with each
 * attempt, at most 5 minutes; 12 attempts ride out about half an hour.
 */
export const pauseAfterOutage = (error: StepFailed) =>
  error.transient
    ? Effect.flatMap(Effect.serviceOption(Activity.CurrentAttempt), (current) => {
      // the engine provides the attempt to every activity it runs
      const attempt = Option.getOrElse(current, () => 1)
      return Effect.sleep(Duration.min(Duration.seconds(5 * 2 ** Math.max(0, attempt - 1)), Duration.minutes(5)))
    })
    : Effect.void

/** A snapshot of a batch for the store. */
export const seen = (batch: Batch.Batch): JobStore.BatchSeen => ({
  batchId: batch.id,
  status: batch.status,
  total: batch.request_counts?.total ?? 0,
  completed: batch.request_counts?.completed ?? 0,
  failed: batch.request_counts?.failed ?? 0,
  outputFileId: batch.output_file_id ?? undefined,
  errorFileId: batch.error_file_id ?? undefined
})

/**
 * Finds the shard's upload by its file name among the newest batch files, back to a few minutes
 * before the job was stored (the server's and our clocks may differ): no upload of it is older.
 */
const findUpload = (filename: string, jobCreatedAt: number) =>
  Files.list({ purpose: "batch" }).pipe(
    Stream.takeWhile((f) => f.created_at >= Math.floor(jobCreatedAt / 1000) - clockSkew),
    Stream.filter((f) => f.filename === filename),
    Stream.map((f) => f.id),
    Stream.runHead
  )

/** The file id of the shard's input: the one recorded, the one found on the server, or a new upload. */
export const upload = (jobId: string, shard: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const files = yield* Files.Files
    const job = yield* store.job(jobId)
    const s = yield* store.shard(jobId, shard)
    if (s.fileId !== undefined) return Option.some(s.fileId)
    if (job.cancelRequested) return Option.none<string>()
    const filename = filenameOf(jobId, shard)
    if (s.uploadAttempts > 0) {
      const found = yield* lookAgainDuringLag(findUpload(filename, job.createdAt))
      if (Option.isSome(found)) {
        yield* store.setFile(jobId, shard, found.value)
        return found
      }
    }
    yield* store.countUploadAttempt(jobId, shard)
    const lines = store.inputLines(jobId, s.firstLine, s.lines).pipe(
      Stream.map((text) => JSON.parse(text) as RequestLine.BatchRequestLine)
    )
    const file = yield* files.upload(lines, { endpoint: job.endpoint, filename })
    yield* store.setFile(jobId, shard, file.id)
    yield* Metric.increment(Metrics.shardsUploaded)
    return Option.some(file.id)
  }).pipe(Effect.mapError(failed("upload", shard)), spanOf("upload", jobId, shard))

/**
 * Finds the shard's batch among the newest batches, back to a few minutes before the first create
 * was started (the server's and our clocks may differ), however many batches came since.
 */
const findBatch = (jobId: string, shard: number, batchTry: number, since: number | undefined) =>
  Effect.flatMap(BatchClient.BatchClient, (client) =>
    client.list({ limit: 100 }, { lookAhead: 0 }).pipe(
      since === undefined ? Stream.take(100 * searchPages) : Stream.takeWhile((b) => b.created_at >= since - clockSkew),
      Stream.filter((b) =>
        b.metadata?.[jobKey] === jobId && b.metadata?.[shardKey] === String(shard) &&
        (b.metadata?.[tryKey] ?? "1") === String(batchTry)
      ),
      Stream.runHead
    ))

/** How far (in seconds) the server's clock may be behind ours. */
const clockSkew = 600

/** The shard's batch: the one recorded, the one found on the server, or a new one. */
export const create = (jobId: string, shard: number, fileId: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const client = yield* BatchClient.BatchClient
    const job = yield* store.job(jobId)
    const s = yield* store.shard(jobId, shard)
    if (s.batchId !== undefined) return Option.some(s.batchId)
    if (job.cancelRequested) return Option.none<string>()
    if (s.createAttempts > 0) {
      const found = yield* lookAgainDuringLag(findBatch(jobId, shard, s.batchTry, s.firstCreateAt))
      if (Option.isSome(found)) {
        yield* store.setBatch(jobId, shard, seen(found.value))
        return Option.some(found.value.id)
      }
    }
    yield* store.countCreateAttempt(jobId, shard)
    const batch = yield* client.create({
      input_file_id: fileId,
      endpoint: job.endpoint,
      completion_window: "24h",
      // the first batch of a shard carries no try number, as before batches could be refused
      metadata: {
        [jobKey]: jobId,
        [shardKey]: String(shard),
        ...(s.batchTry > 1 ? { [tryKey]: String(s.batchTry) } : {})
      }
    })
    yield* store.setBatch(jobId, shard, seen(batch))
    yield* Metric.increment(Metrics.batchesCreated)
    return Option.some(batch.id)
  }).pipe(Effect.mapError(failed("create", shard)), spanOf("create", jobId, shard))

/**
 * What one await step saw last; `refused` when the batch failed with `token_limit_exceeded`
 * (with the limit its message states, when it states one).
 */
export const Round = Schema.Struct({
  status: Schema.String,
  terminal: Schema.Boolean,
  refused: Schema.optional(Schema.Boolean),
  refusedLimit: Schema.optional(Schema.Number)
})

/**
 * Polls the shard's batch for at most one round, recording each change; asks the server to cancel
 * it when the job was cancelled. Polling again after a crash is harmless, so a round cut short is
 * simply run again.
 */
export const awaitRound = (jobId: string, shard: number, batchId: string) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const client = yield* BatchClient.BatchClient
    const settings = yield* StepSettings
    const budget = yield* TokenBudget.TokenBudget
    let cancelAsked = false
    let last: Batch.Batch | undefined
    yield* Watch.watch(batchId, { schedule: settings.poll }).pipe(
      Stream.interruptAfter(settings.awaitRound),
      Stream.runForEach((batch) =>
        Effect.gen(function*() {
          last = batch
          yield* store.setBatch(jobId, shard, seen(batch))
          if (cancelAsked || BatchStatus.isTerminal(batch.status)) return
          const job = yield* store.job(jobId)
          // `Jobs.cancel` asks the server itself and records `cancelling`; ask once, not twice
          const recorded = job.cancelRequested ? (yield* store.shard(jobId, shard)).batchStatus : undefined
          if (job.cancelRequested && recorded !== "cancelling" && recorded !== "cancelled") {
            cancelAsked = true
            yield* client.cancel(batchId).pipe(Effect.catchTag("Conflict", () => Effect.void))
          }
        })
      )
    )
    const status = last?.status ?? "unknown"
    const terminal = last !== undefined && BatchStatus.isTerminal(last.status)
    if (!terminal) return { status, terminal }
    // the batch enqueues nothing any more: its tokens go back to the budget at once
    yield* budget.release(reservationId(jobId, shard))
    const refusal = last!.status === "failed" ? TokenBudget.fromBatchErrors(last!.errors) : undefined
    return refusal === undefined
      ? { status, terminal }
      : { status, terminal, refused: true, ...(refusal.limit === undefined ? {} : { refusedLimit: refusal.limit }) }
  }).pipe(Effect.mapError(failed("await", shard)), spanOf("await", jobId, shard))

/** How many result lines are stored at once. */
const storeChunk = 500

/**
 * Stores the shard's output and error lines as the API wrote them. A run cut short is run again
 * from the first line: lines already stored are kept, none is stored twice.
 */
export const download = (jobId: string, shard: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const files = yield* Files.Files
    const s = yield* store.shard(jobId, shard)
    if (s.downloaded) return
    const read = (fileId: string | undefined, kind: "output" | "error") =>
      fileId === undefined ? Effect.void : Effect.suspend(() => {
        const splitter = Jsonl.makeLineSplitter()
        return files.content(fileId).pipe(
          Stream.mapConcat((chunk) => splitter.push(chunk)),
          Stream.concat(Stream.suspend(() => Stream.fromIterable(splitter.flush()))),
          Stream.map((raw): JobStore.StoredResult => {
            const text = raw.text.replace(/\r?\n$/, "")
            const customId = String((JSON.parse(text) as { readonly custom_id?: unknown }).custom_id ?? "")
            return { shard, kind, line: raw.line, end: raw.end, customId, text }
          }),
          Stream.grouped(storeChunk),
          Stream.runForEach((chunk) => store.insertResults(jobId, Array.from(chunk)))
        )
      })
    yield* read(s.outputFileId, "output")
    yield* read(s.errorFileId, "error")
    yield* store.setDownloaded(jobId, shard)
    if (s.batchStatus === "completed") yield* Metric.increment(Metrics.shardsCompleted)
  }).pipe(
    Effect.mapError((error) => failed("download", shard)(error instanceof Error ? error : { message: String(error) })),
    spanOf("download", jobId, shard)
  )

/** The shard's model and input tokens: those recorded, or counted from its stored lines and recorded. */
export const count = (jobId: string, shard: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const s = yield* store.shard(jobId, shard)
    if (s.inputTokens !== undefined && s.model !== undefined) return { model: s.model, tokens: s.inputTokens }
    const totals = yield* TokenCount.ofStream(store.inputLines(jobId, s.firstLine, s.lines))
    // a job's lines name one model (its input check says so); a line without one counts under ""
    const model = [...totals.keys()].find((m) => m !== "") ?? ""
    const tokens = [...totals.values()].reduce((n, t) => n + t, 0)
    yield* store.setTokens(jobId, shard, model, tokens)
    return { model, tokens }
  }).pipe(Effect.mapError(failed("count", shard)), spanOf("count", jobId, shard))

class NoRoomYet extends Schema.TaggedError<NoRoomYet>()("NoRoomYet", {}) {}

/**
 * Holds the shard's tokens in the budget, waiting (on `tokenWait`) while the model's batches in
 * flight leave no room; `false` when the job was cancelled meanwhile. The reservation is keyed by
 * job and shard, so running this again after a crash holds the tokens once. A shard larger than
 * the model's whole limit fails: it could never be sent.
 */
export const reserve = (jobId: string, shard: number, model: string, tokens: number) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const budget = yield* TokenBudget.TokenBudget
    const settings = yield* StepSettings
    if (model === "") return true
    const id = reservationId(jobId, shard)
    let waiting = false
    return yield* Effect.gen(function*() {
      if ((yield* store.job(jobId)).cancelRequested) return false
      if (yield* budget.tryReserve({ id, model, tokens })) return true
      if (!waiting) {
        // said and counted once, when the wait begins, so that a log tells why a shard is not sent
        waiting = true
        yield* Metric.increment(Metrics.tokenWaits)
        yield* Effect.logInfo(`${id} waits for room under the enqueued-token limit of ${model} (${tokens} tokens)`)
      }
      return yield* new NoRoomYet()
    }).pipe(
      Effect.retry({ schedule: settings.tokenWait, while: (e) => e._tag === "NoRoomYet" }),
      // a finite wait schedule that ran out: the shard fails with a sentence rather than a defect
      Effect.catchTag("NoRoomYet", () =>
        Effect.fail(
          new StoreError({
            operation: "reserve tokens",
            cause: new Error(`the wait for room under the enqueued-token limit of ${model} ran out`)
          })
        ))
    )
  }).pipe(
    Effect.catchTag("TokensOverLimit", (e) => Effect.fail({ message: e.message })),
    Effect.mapError(failed("reserve", shard)),
    spanOf("reserve", jobId, shard)
  )

/**
 * After the service refused the shard's batch with `token_limit_exceeded` (another client used
 * the budget, or the limit is lower than configured): learns the limit the message states, records
 * the refused batch so that the next one can be created, gives the tokens back, and pauses before
 * the shard reserves again (`refusalPause`, doubling with each refusal, at most 15 minutes).
 */
export const refused = (
  jobId: string,
  shard: number,
  batchId: string,
  model: string,
  limit: number | undefined,
  refusals: number
) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const budget = yield* TokenBudget.TokenBudget
    const settings = yield* StepSettings
    if (limit !== undefined && model !== "") yield* budget.learn(model, limit)
    yield* store.refuseBatch(jobId, shard, batchId)
    yield* budget.release(reservationId(jobId, shard))
    yield* Metric.increment(Metrics.batchesRefused)
    yield* Effect.logWarning(
      `batch ${batchId} of ${jobId}/${shard} was refused with token_limit_exceeded${
        limit === undefined ? "" : ` (limit ${limit} tokens of ${model})`
      }: a new batch follows once there is room`
    )
    yield* Effect.sleep(
      Duration.min(Duration.times(settings.refusalPause, 2 ** Math.max(0, refusals - 1)), Duration.minutes(15))
    )
  }).pipe(Effect.mapError(failed("create", shard)), spanOf("refused", jobId, shard))

/** Gives the shard's tokens back (a shard that ended without a batch, or failed); harmless when none are held. */
export const release = (jobId: string, shard: number) =>
  Effect.flatMap(TokenBudget.TokenBudget, (budget) => budget.release(reservationId(jobId, shard))).pipe(
    Effect.mapError(failed("release", shard)),
    spanOf("release", jobId, shard)
  )

/** The job's final status from its shards, recorded; every token the job still holds is given back. */
export const finish = (jobId: string, stepError: string | undefined) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const budget = yield* TokenBudget.TokenBudget
    const job = yield* store.job(jobId)
    const shards = yield* store.shards(jobId)
    yield* Effect.forEach(shards, (s) => budget.release(reservationId(jobId, s.shard)), { discard: true })
    if (JobStore.isFinished(job.status)) return job.status
    const status: JobStore.JobStatus = job.cancelRequested
      ? "cancelled"
      : stepError !== undefined || shards.some((s) => s.batchStatus !== "completed")
      ? "failed"
      : "completed"
    const reason = stepError ?? (status === "failed"
      ? shards.filter((s) => s.batchStatus !== "completed").map((s) =>
        `shard ${s.shard}: batch ${s.batchId ?? "(none)"} ended ${s.batchStatus ?? "unknown"}`
      ).join("; ")
      : undefined)
    yield* store.setStatus(jobId, status, reason)
    return status
  }).pipe(retryStore, Effect.orDie, spanOf("finish", jobId))
