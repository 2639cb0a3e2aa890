/**
 * Where jobs live: their inputs, shards, batches and result lines, in SQL tables beside the
 * workflow engine's own. One SQLite file by default.
 *
 * @since 0.1.0
 */
import { Submit } from "@batchfx/client"
import { RequestLine } from "@batchfx/core"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { JobNotFound, StoreError } from "./JobsError.js"

/**
 * Where a job is: `pending` until a worker takes it, `running`, then `completed` (every batch
 * completed), `failed` (a step failed or a batch failed or expired) or `cancelled`.
 *
 * @since 0.1.0
 * @category models
 */
export const JobStatus = Schema.Literal("pending", "running", "completed", "failed", "cancelled")

/**
 * @since 0.1.0
 * @category models
 */
export type JobStatus = typeof JobStatus.Type

/**
 * Whether a job has ended.
 *
 * @since 0.1.0
 * @category utils
 */
export const isFinished = (status: JobStatus): boolean =>
  status === "completed" || status === "failed" || status === "cancelled"

/**
 * A job as stored.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job {
  readonly id: string
  readonly name: string | undefined
  readonly endpoint: string
  readonly status: JobStatus
  /** Milliseconds since the epoch. */
  readonly createdAt: number
  readonly finishedAt: number | undefined
  readonly lines: number
  readonly bytes: number
  /** 0 until the job is split. */
  readonly shards: number
  readonly cancelRequested: boolean
  /** Why the job failed, one sentence. */
  readonly error: string | undefined
  /** The job whose failed lines this one retries. */
  readonly retryOf: string | undefined
  /** The worker that last ran a step of the job (`host/pid/random`, see `Jobs.workerId`). */
  readonly worker: string | undefined
}

/**
 * One shard of a job: its slice of the input, its file and batch, and where they are.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shard {
  readonly jobId: string
  /** 1-based. */
  readonly shard: number
  readonly firstLine: number
  readonly lines: number
  readonly bytes: number
  readonly fileId: string | undefined
  readonly batchId: string | undefined
  /** The batch's last status seen. */
  readonly batchStatus: string | undefined
  readonly total: number
  readonly completed: number
  readonly failed: number
  readonly outputFileId: string | undefined
  readonly errorFileId: string | undefined
  /** Whether the shard's result lines are all in the store. */
  readonly downloaded: boolean
  /** How many times an upload was started (more than one only after a crash or a retry). */
  readonly uploadAttempts: number
  /** How many times a create was started. */
  readonly createAttempts: number
  /** When the first create was started (Unix seconds). */
  readonly firstCreateAt: number | undefined
  /** The model of the shard's lines, once its tokens are counted. */
  readonly model: string | undefined
  /** The shard's input tokens as the enqueued-token limit counts them, once counted. */
  readonly inputTokens: number | undefined
  /** Which batch of the shard this is: 1, then one more after each `token_limit_exceeded` refusal. */
  readonly batchTry: number
  /** The batches the service refused with `token_limit_exceeded` (they ran nothing), oldest first. */
  readonly refusedBatches: ReadonlyArray<string>
}

/**
 * One stored result line: the line as the API wrote it, and where it came from.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredResult {
  readonly shard: number
  readonly kind: "output" | "error"
  /** 1-based within its file. */
  readonly line: number
  /** The byte offset just past the line in its file. */
  readonly end: number
  readonly customId: string
  readonly text: string
}

/**
 * An input line with its result lines (none when the batch never answered for it).
 *
 * @since 0.1.0
 * @category models
 */
export interface JoinedRow {
  readonly line: number
  readonly customId: string
  readonly input: string
  readonly results: ReadonlyArray<{
    readonly kind: "output" | "error"
    readonly text: string
    readonly shard: number
    /** The result file the line is in. */
    readonly fileId: string
    /** 1-based within its file. */
    readonly line: number
    /** The byte offset just past the line in its file (0 for a line stored before offsets were kept). */
    readonly end: number
  }>
}

/**
 * What a batch looked like when last seen, as the store keeps it.
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchSeen {
  readonly batchId: string
  readonly status: string
  readonly total: number
  readonly completed: number
  readonly failed: number
  readonly outputFileId: string | undefined
  readonly errorFileId: string | undefined
}

/**
 * One shard as planned: which input lines it holds.
 *
 * @since 0.1.0
 * @category models
 */
export interface PlannedShard {
  /** 1-based. */
  readonly shard: number
  /** 1-based number of the shard's first input line. */
  readonly firstLine: number
  readonly lines: number
  readonly bytes: number
}

/**
 * A new job as `insertJob` takes it.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewJob {
  readonly id: string
  readonly name: string | undefined
  readonly endpoint: string
  readonly createdAt: number
  readonly retryOf: string | undefined
}

/**
 * The store's operations. Each write is one statement, so a crash leaves the store as it was
 * before or after it, never between; no transaction holds the database while a worker runs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /**
   * Stores a job and its input lines (each already checked and encoded as JSON); the job appears
   * only once every line is stored, and a failure of the stream stores nothing.
   */
  readonly insertJob: <E, R>(
    job: NewJob,
    lines: Stream.Stream<string, E, R>
  ) => Effect.Effect<{ readonly lines: number; readonly bytes: number }, E | StoreError, R>
  readonly job: (id: string) => Effect.Effect<Job, JobNotFound | StoreError>
  /** Every job, newest first. */
  readonly jobs: Effect.Effect<ReadonlyArray<Job>, StoreError>
  readonly shards: (jobId: string) => Effect.Effect<ReadonlyArray<Shard>, StoreError>
  readonly shard: (jobId: string, shard: number) => Effect.Effect<Shard, StoreError>
  readonly setStatus: (
    jobId: string,
    status: JobStatus,
    error?: string | undefined
  ) => Effect.Effect<void, StoreError>
  readonly requestCancel: (jobId: string) => Effect.Effect<void, StoreError>
  /** The job's shards: planned and stored on the first call, read back on every later one. */
  readonly split: (
    jobId: string,
    limits: { readonly maxLines: number; readonly maxBytes: number }
  ) => Effect.Effect<ReadonlyArray<PlannedShard>, StoreError>
  /** A slice of the input, as stored (JSON text), in order. */
  readonly inputLines: (
    jobId: string,
    firstLine: number,
    lines: number
  ) => Stream.Stream<string, StoreError>
  readonly countUploadAttempt: (jobId: string, shard: number) => Effect.Effect<void, StoreError>
  readonly setFile: (jobId: string, shard: number, fileId: string) => Effect.Effect<void, StoreError>
  readonly countCreateAttempt: (jobId: string, shard: number) => Effect.Effect<void, StoreError>
  readonly setBatch: (jobId: string, shard: number, batch: BatchSeen) => Effect.Effect<void, StoreError>
  /** Stores result lines; a line already stored (same shard, file and number) is kept as it was. */
  readonly insertResults: (
    jobId: string,
    results: ReadonlyArray<StoredResult>
  ) => Effect.Effect<void, StoreError>
  readonly setDownloaded: (jobId: string, shard: number) => Effect.Effect<void, StoreError>
  /** Records the shard's model and input tokens. */
  readonly setTokens: (
    jobId: string,
    shard: number,
    model: string,
    tokens: number
  ) => Effect.Effect<void, StoreError>
  /**
   * Records that the shard's batch `batchId` was refused with `token_limit_exceeded`: it joins the
   * refused batches and the shard is ready for its next batch (no batch, create attempts at 0). A
   * second call for the same batch changes nothing.
   */
  readonly refuseBatch: (jobId: string, shard: number, batchId: string) => Effect.Effect<void, StoreError>
  /** Records which worker runs the job now (one write only when it changed). */
  readonly setWorker: (jobId: string, worker: string) => Effect.Effect<void, StoreError>
  /** The inputs in order, each with its result lines, read a page at a time. */
  readonly joined: (jobId: string) => Stream.Stream<JoinedRow, StoreError>
  /** How many result lines are stored for a job. */
  readonly resultCount: (jobId: string) => Effect.Effect<number, StoreError>
}

/**
 * The job store.
 *
 * @since 0.1.0
 * @category tags
 */
export class JobStore extends Context.Tag("@batchfx/jobs/JobStore")<JobStore, Service>() {}

const encoder = new TextEncoder()

/** Rows per insert statement: SQLite's default limit is 32,766 parameters. */
const insertChunk = 500
/** Inputs per page of a joined read. */
const pageSize = 1000

const isSqlError = (u: unknown): u is SqlError => Predicate.isTagged(u, "SqlError")

const num = (u: unknown): number => (u === null || u === undefined ? 0 : Number(u))
const str = (u: unknown): string | undefined => (u === null || u === undefined ? undefined : String(u))

const toJob = (row: Record<string, unknown>): Job => ({
  id: String(row.id),
  name: str(row.name),
  endpoint: String(row.endpoint),
  status: String(row.status) as JobStatus,
  createdAt: num(row.created_at),
  finishedAt: row.finished_at === null ? undefined : num(row.finished_at),
  lines: num(row.lines),
  bytes: num(row.bytes),
  shards: num(row.shards),
  cancelRequested: num(row.cancel_requested) === 1,
  error: str(row.error),
  retryOf: str(row.retry_of),
  worker: str(row.worker)
})

const toShard = (row: Record<string, unknown>): Shard => ({
  jobId: String(row.job_id),
  shard: num(row.shard),
  firstLine: num(row.first_line),
  lines: num(row.lines),
  bytes: num(row.bytes),
  fileId: str(row.file_id),
  batchId: str(row.batch_id),
  batchStatus: str(row.batch_status),
  total: num(row.total),
  completed: num(row.completed),
  failed: num(row.failed),
  outputFileId: str(row.output_file_id),
  errorFileId: str(row.error_file_id),
  downloaded: num(row.downloaded) === 1,
  uploadAttempts: num(row.upload_attempts),
  createAttempts: num(row.create_attempts),
  firstCreateAt: row.first_create_at === null ? undefined : num(row.first_create_at),
  model: str(row.model),
  inputTokens: row.input_tokens === null || row.input_tokens === undefined ? undefined : num(row.input_tokens),
  batchTry: Math.max(1, num(row.batch_try)),
  refusedBatches: str(row.refused_batches)?.split(",").filter((id) => id !== "") ?? []
})

const addColumn = (sql: SqlClient.SqlClient, table: string, column: string, type: string) =>
  sql.unsafe(`SELECT ${column} FROM ${table} WHERE 1 = 0`).pipe(
    Effect.catchAll(() => sql.unsafe(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`))
  )

const migrate = (sql: SqlClient.SqlClient) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS batchfx_jobs (
      id TEXT PRIMARY KEY,
      name TEXT,
      endpoint TEXT NOT NULL,
      status TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      finished_at BIGINT,
      lines INTEGER NOT NULL DEFAULT 0,
      bytes BIGINT NOT NULL DEFAULT 0,
      shards INTEGER NOT NULL DEFAULT 0,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      error TEXT,
      retry_of TEXT,
      worker TEXT
    )`,
    sql`CREATE TABLE IF NOT EXISTS batchfx_job_inputs (
      job_id TEXT NOT NULL,
      line_no INTEGER NOT NULL,
      custom_id TEXT NOT NULL,
      line TEXT NOT NULL,
      PRIMARY KEY (job_id, line_no)
    )`,
    sql`CREATE TABLE IF NOT EXISTS batchfx_job_shards (
      job_id TEXT NOT NULL,
      shard INTEGER NOT NULL,
      first_line INTEGER NOT NULL,
      lines INTEGER NOT NULL,
      bytes INTEGER NOT NULL,
      file_id TEXT,
      batch_id TEXT,
      batch_status TEXT,
      total INTEGER NOT NULL DEFAULT 0,
      completed INTEGER NOT NULL DEFAULT 0,
      failed INTEGER NOT NULL DEFAULT 0,
      output_file_id TEXT,
      error_file_id TEXT,
      downloaded INTEGER NOT NULL DEFAULT 0,
      upload_attempts INTEGER NOT NULL DEFAULT 0,
      create_attempts INTEGER NOT NULL DEFAULT 0,
      first_create_at INTEGER,
      model TEXT,
      input_tokens BIGINT,
      batch_try INTEGER NOT NULL DEFAULT 1,
      refused_batches TEXT,
      PRIMARY KEY (job_id, shard)
    )`,
    sql`CREATE TABLE IF NOT EXISTS batchfx_job_results (
      job_id TEXT NOT NULL,
      shard INTEGER NOT NULL,
      kind TEXT NOT NULL,
      line_no INTEGER NOT NULL,
      custom_id TEXT NOT NULL,
      line TEXT NOT NULL,
      end_offset BIGINT,
      PRIMARY KEY (job_id, shard, kind, line_no)
    )`,
    sql`CREATE INDEX IF NOT EXISTS batchfx_job_results_custom_id ON batchfx_job_results (job_id, custom_id)`
  ], { discard: true }).pipe(
    // A store made by an older version gets the columns added since: result lines' offsets (its
    // old lines read 0), the worker, and the token budget's per shard.
    Effect.zipRight(Effect.all([
      addColumn(sql, "batchfx_job_results", "end_offset", "BIGINT"),
      addColumn(sql, "batchfx_jobs", "worker", "TEXT"),
      addColumn(sql, "batchfx_job_shards", "model", "TEXT"),
      addColumn(sql, "batchfx_job_shards", "input_tokens", "BIGINT"),
      addColumn(sql, "batchfx_job_shards", "batch_try", "INTEGER NOT NULL DEFAULT 1"),
      addColumn(sql, "batchfx_job_shards", "refused_batches", "TEXT")
    ], { discard: true })),
    // Workers starting at once race on Postgres's catalog ("duplicate key … pg_type"): the
    // loser's error comes once the winner has committed, so its next try finds the tables.
    Effect.retry({ times: 3 })
  )

/**
 * The store over the `SqlClient` in context; creates its tables when missing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Service, StoreError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const fail = (operation: string) => (cause: SqlError) => new StoreError({ operation, cause })
  yield* migrate(sql).pipe(Effect.mapError(fail("create its tables")))

  // Without a transaction, which would hold the database for the whole input: the lines go in
  // first and the job's row last, so no one sees the job before its input is complete, and a
  // failed input (or a crash) leaves only lines that no job names, removed on the next failure.
  const insertJob: Service["insertJob"] = (job, lines) =>
    Effect.gen(function*() {
      let n = 0
      let bytes = 0
      yield* lines.pipe(
        Stream.map((text) => {
          n++
          bytes += encoder.encode(text).length + 1
          const customId = (JSON.parse(text) as { readonly custom_id: string }).custom_id
          return { job_id: job.id, line_no: n, custom_id: customId, line: text }
        }),
        Stream.grouped(insertChunk),
        Stream.runForEach((rows) => sql`INSERT INTO batchfx_job_inputs ${sql.insert(Array.from(rows))}`)
      )
      yield* sql`INSERT INTO batchfx_jobs ${
        sql.insert({
          id: job.id,
          name: job.name ?? null,
          endpoint: job.endpoint,
          status: "pending",
          created_at: job.createdAt,
          lines: n,
          bytes,
          retry_of: job.retryOf ?? null
        })
      }`
      return { lines: n, bytes }
    }).pipe(
      Effect.tapError(() => sql`DELETE FROM batchfx_job_inputs WHERE job_id = ${job.id}`.pipe(Effect.ignore)),
      Effect.mapError((e) => (isSqlError(e) ? fail("store the job")(e) : e))
    )

  const job: Service["job"] = (id) =>
    sql`SELECT * FROM batchfx_jobs WHERE id = ${id}`.pipe(
      Effect.mapError(fail("read a job")),
      Effect.flatMap((rows) =>
        rows.length === 0 ? Effect.fail(new JobNotFound({ jobId: id })) : Effect.succeed(toJob(rows[0]!))
      )
    )

  const jobs: Service["jobs"] = sql`SELECT * FROM batchfx_jobs ORDER BY created_at DESC, id DESC`.pipe(
    Effect.map((rows) => rows.map(toJob)),
    Effect.mapError(fail("list the jobs"))
  )

  const shards: Service["shards"] = (jobId) =>
    sql`SELECT * FROM batchfx_job_shards WHERE job_id = ${jobId} ORDER BY shard`.pipe(
      Effect.map((rows) => rows.map(toShard)),
      Effect.mapError(fail("read the shards"))
    )

  const shard: Service["shard"] = (jobId, n) =>
    sql`SELECT * FROM batchfx_job_shards WHERE job_id = ${jobId} AND shard = ${n}`.pipe(
      Effect.mapError(fail("read a shard")),
      Effect.flatMap((rows) =>
        rows.length === 0
          ? Effect.fail(new StoreError({ operation: "read a shard", cause: new Error(`no shard ${n} of ${jobId}`) }))
          : Effect.succeed(toShard(rows[0]!))
      )
    )

  const setStatus: Service["setStatus"] = (jobId, status, error) =>
    Effect.flatMap(
      Effect.clockWith((c) => c.currentTimeMillis),
      (now) =>
        sql`UPDATE batchfx_jobs SET status = ${status}, error = ${error ?? null},
        finished_at = ${isFinished(status) ? now : null} WHERE id = ${jobId}`.pipe(
          Effect.asVoid,
          Effect.mapError(fail("record a job's status"))
        )
    )

  const requestCancel: Service["requestCancel"] = (jobId) =>
    sql`UPDATE batchfx_jobs SET cancel_requested = 1 WHERE id = ${jobId}`.pipe(
      Effect.asVoid,
      Effect.mapError(fail("record a cancel"))
    )

  const markRunning = (jobId: string, shards: number) =>
    sql`UPDATE batchfx_jobs SET shards = ${shards},
      status = CASE WHEN status = 'pending' THEN 'running' ELSE status END WHERE id = ${jobId}`

  const split: Service["split"] = (jobId, limits) =>
    Effect.gen(function*() {
      const existing = yield* sql`SELECT shard, first_line, lines, bytes FROM batchfx_job_shards
        WHERE job_id = ${jobId} ORDER BY shard`
      if (existing.length > 0) {
        yield* markRunning(jobId, existing.length)
        return existing.map((row): PlannedShard => ({
          shard: num(row.shard),
          firstLine: num(row.first_line),
          lines: num(row.lines),
          bytes: num(row.bytes)
        }))
      }
      const sizes = yield* sql`SELECT octet_length(line) + 1 AS size FROM batchfx_job_inputs
        WHERE job_id = ${jobId} ORDER BY line_no`
      // the client's rule, so a job is cut as `Submit.submit` would cut its input
      const planned = Submit.planParts(sizes.map((row) => num(row.size)), limits).map((p): PlannedShard => ({
        shard: p.part,
        firstLine: p.firstLine,
        lines: p.lines,
        bytes: p.bytes
      }))
      // one statement, so a crash leaves every shard or none
      yield* sql`INSERT INTO batchfx_job_shards ${
        sql.insert(planned.map((p) => ({
          job_id: jobId,
          shard: p.shard,
          first_line: p.firstLine,
          lines: p.lines,
          bytes: p.bytes
        })))
      }`
      yield* markRunning(jobId, planned.length)
      return planned
    }).pipe(Effect.mapError(fail("split a job")))

  const inputLines: Service["inputLines"] = (jobId, firstLine, lines) =>
    Stream.paginateEffect(firstLine, (from) => {
      const last = Math.min(from + pageSize, firstLine + lines) - 1
      return sql`SELECT line FROM batchfx_job_inputs WHERE job_id = ${jobId}
        AND line_no BETWEEN ${from} AND ${last} ORDER BY line_no`.pipe(
        Effect.map((rows) =>
          [
            rows.map((row) => String(row.line)),
            last + 1 < firstLine + lines ? Option.some(last + 1) : Option.none()
          ] as const
        ),
        Effect.mapError(fail("read a job's input"))
      )
    }).pipe(Stream.mapConcat((lines) => lines))

  const countUploadAttempt: Service["countUploadAttempt"] = (jobId, n) =>
    sql`UPDATE batchfx_job_shards SET upload_attempts = upload_attempts + 1
      WHERE job_id = ${jobId} AND shard = ${n}`.pipe(Effect.asVoid, Effect.mapError(fail("record an upload")))

  const setFile: Service["setFile"] = (jobId, n, fileId) =>
    sql`UPDATE batchfx_job_shards SET file_id = ${fileId} WHERE job_id = ${jobId} AND shard = ${n}`.pipe(
      Effect.asVoid,
      Effect.mapError(fail("record an upload"))
    )

  const countCreateAttempt: Service["countCreateAttempt"] = (jobId, n) =>
    Effect.flatMap(
      Effect.clockWith((c) => c.currentTimeMillis),
      (now) =>
        sql`UPDATE batchfx_job_shards SET create_attempts = create_attempts + 1,
        first_create_at = COALESCE(first_create_at, ${Math.floor(now / 1000)})
        WHERE job_id = ${jobId} AND shard = ${n}`.pipe(Effect.asVoid, Effect.mapError(fail("record a create")))
    )

  const setBatch: Service["setBatch"] = (jobId, n, b) =>
    sql`UPDATE batchfx_job_shards SET batch_id = ${b.batchId}, batch_status = ${b.status},
      total = ${b.total}, completed = ${b.completed}, failed = ${b.failed},
      output_file_id = ${b.outputFileId ?? null}, error_file_id = ${b.errorFileId ?? null}
      WHERE job_id = ${jobId} AND shard = ${n}`.pipe(Effect.asVoid, Effect.mapError(fail("record a batch")))

  const insertResults: Service["insertResults"] = (jobId, results) =>
    results.length === 0 ? Effect.void : Effect.forEach(
      chunks(results, insertChunk),
      (chunk) =>
        sql`INSERT INTO batchfx_job_results ${
          sql.insert(chunk.map((r) => ({
            job_id: jobId,
            shard: r.shard,
            kind: r.kind,
            line_no: r.line,
            custom_id: r.customId,
            line: r.text,
            end_offset: r.end
          })))
        } ON CONFLICT DO NOTHING`,
      { discard: true }
    ).pipe(Effect.mapError(fail("store result lines")))

  const setDownloaded: Service["setDownloaded"] = (jobId, n) =>
    sql`UPDATE batchfx_job_shards SET downloaded = 1 WHERE job_id = ${jobId} AND shard = ${n}`.pipe(
      Effect.asVoid,
      Effect.mapError(fail("record a download"))
    )

  const setTokens: Service["setTokens"] = (jobId, n, model, tokens) =>
    sql`UPDATE batchfx_job_shards SET model = ${model}, input_tokens = ${tokens}
      WHERE job_id = ${jobId} AND shard = ${n}`.pipe(Effect.asVoid, Effect.mapError(fail("record a shard's tokens")))

  // One statement, conditional on the batch, so that running it again after a crash is harmless.
  const refuseBatch: Service["refuseBatch"] = (jobId, n, batchId) =>
    sql`UPDATE batchfx_job_shards SET
      refused_batches = CASE WHEN refused_batches IS NULL OR refused_batches = '' THEN batch_id
        ELSE refused_batches || ',' || batch_id END,
      batch_try = batch_try + 1, batch_id = NULL, batch_status = NULL, total = 0, completed = 0, failed = 0,
      output_file_id = NULL, error_file_id = NULL, create_attempts = 0, first_create_at = NULL
      WHERE job_id = ${jobId} AND shard = ${n} AND batch_id = ${batchId}`.pipe(
      Effect.asVoid,
      Effect.mapError(fail("record a refused batch"))
    )

  const setWorker: Service["setWorker"] = (jobId, worker) =>
    sql`UPDATE batchfx_jobs SET worker = ${worker}
      WHERE id = ${jobId} AND (worker IS NULL OR worker <> ${worker})`.pipe(
      Effect.asVoid,
      Effect.mapError(fail("record a job's worker"))
    )

  const joined: Service["joined"] = (jobId) =>
    Stream.paginateEffect(
      1,
      (from) =>
        sql`SELECT i.line_no, i.custom_id, i.line AS input, r.kind, r.line AS result, r.shard,
          r.line_no AS result_line, r.end_offset,
          CASE r.kind WHEN 'output' THEN s.output_file_id ELSE s.error_file_id END AS file_id
        FROM batchfx_job_inputs i LEFT JOIN batchfx_job_results r
          ON r.job_id = i.job_id AND r.custom_id = i.custom_id
        LEFT JOIN batchfx_job_shards s ON s.job_id = r.job_id AND s.shard = r.shard
        WHERE i.job_id = ${jobId} AND i.line_no BETWEEN ${from} AND ${from + pageSize - 1}
        ORDER BY i.line_no, r.shard, r.kind DESC, r.line_no`.pipe(
          Effect.map((rows) => {
            const out: Array<JoinedRow> = []
            for (const row of rows) {
              const line = num(row.line_no)
              let last = out[out.length - 1]
              if (last === undefined || last.line !== line) {
                last = { line, customId: String(row.custom_id), input: String(row.input), results: [] }
                out.push(last)
              }
              if (row.result !== null && row.result !== undefined) {
                ;(last.results as Array<JoinedRow["results"][number]>).push({
                  kind: String(row.kind) as "output" | "error",
                  text: String(row.result),
                  shard: num(row.shard),
                  fileId: str(row.file_id) ?? "",
                  line: num(row.result_line),
                  end: num(row.end_offset)
                })
              }
            }
            return [out, out.length === 0 ? Option.none() : Option.some(from + pageSize)] as const
          }),
          Effect.mapError(fail("read a job's results"))
        )
    ).pipe(Stream.mapConcat((rows) => rows))

  const resultCount: Service["resultCount"] = (jobId) =>
    sql`SELECT count(*) AS n FROM batchfx_job_results WHERE job_id = ${jobId}`.pipe(
      Effect.map((rows) => num(rows[0]?.n)),
      Effect.mapError(fail("count result lines"))
    )

  return {
    insertJob,
    job,
    jobs,
    shards,
    shard,
    setStatus,
    requestCancel,
    split,
    inputLines,
    countUploadAttempt,
    setFile,
    countCreateAttempt,
    setBatch,
    insertResults,
    setDownloaded,
    setTokens,
    refuseBatch,
    setWorker,
    joined,
    resultCount
  }
})

const chunks = <A>(all: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size))
  return out
}

/**
 * The store over the `SqlClient` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<JobStore, StoreError, SqlClient.SqlClient> = Layer.effect(JobStore, make)

/**
 * The default limits of a shard: the service's limits of one batch (50,000 lines, 200 MB).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLimits = { maxLines: RequestLine.maxLines, maxBytes: RequestLine.maxBytes } as const
