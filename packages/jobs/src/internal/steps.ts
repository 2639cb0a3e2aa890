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
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { StepFailed, StoreError } from "../JobsError.js"
import * as JobStore from "../JobStore.js"

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
}

export class StepSettings extends Context.Tag("@batchfx/jobs/internal/StepSettings")<StepSettings, Settings>() {}

export const defaultSettings: Settings = {
  poll: undefined,
  awaitRound: Duration.minutes(10),
  limits: JobStore.defaultLimits,
  shardConcurrency: 4,
  listLag: Duration.seconds(10)
}

/** The metadata keys that tie a batch to its job and shard, searched after a crash. */
export const jobKey = "batchfx_job"
export const shardKey = "batchfx_shard"

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
    return Option.some(file.id)
  }).pipe(Effect.mapError(failed("upload", shard)), Effect.withSpan("batchfx.jobs.upload"))

/**
 * Finds the shard's batch among the newest batches, back to a few minutes before the first create
 * was started (the server's and our clocks may differ), however many batches came since.
 */
const findBatch = (jobId: string, shard: number, since: number | undefined) =>
  Effect.flatMap(BatchClient.BatchClient, (client) =>
    client.list({ limit: 100 }, { lookAhead: 0 }).pipe(
      since === undefined ? Stream.take(100 * searchPages) : Stream.takeWhile((b) => b.created_at >= since - clockSkew),
      Stream.filter((b) => b.metadata?.[jobKey] === jobId && b.metadata?.[shardKey] === String(shard)),
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
      const found = yield* lookAgainDuringLag(findBatch(jobId, shard, s.firstCreateAt))
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
      metadata: { [jobKey]: jobId, [shardKey]: String(shard) }
    })
    yield* store.setBatch(jobId, shard, seen(batch))
    return Option.some(batch.id)
  }).pipe(Effect.mapError(failed("create", shard)), Effect.withSpan("batchfx.jobs.create"))

/** What one await step saw last. */
export const Round = Schema.Struct({ status: Schema.String, terminal: Schema.Boolean })

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
    return { status, terminal: last !== undefined && BatchStatus.isTerminal(last.status) }
  }).pipe(Effect.mapError(failed("await", shard)), Effect.withSpan("batchfx.jobs.await"))

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
  }).pipe(
    Effect.mapError((error) => failed("download", shard)(error instanceof Error ? error : { message: String(error) })),
    Effect.withSpan("batchfx.jobs.download")
  )

/** The job's final status from its shards, recorded. */
export const finish = (jobId: string, stepError: string | undefined) =>
  Effect.gen(function*() {
    const store = yield* JobStore.JobStore
    const job = yield* store.job(jobId)
    if (JobStore.isFinished(job.status)) return job.status
    const shards = yield* store.shards(jobId)
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
  }).pipe(retryStore, Effect.orDie)
