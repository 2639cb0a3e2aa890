/**
 * The errors of durable jobs.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as StoreUrl from "./internal/storeUrl.js"

/**
 * No job has this id in the store.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobNotFound extends Schema.TaggedError<JobNotFound>("@batchfx/jobs/JobNotFound")("JobNotFound", {
  jobId: Schema.String
}) {
  override get message(): string {
    return `No job ${this.jobId} in the store.`
  }
}

/**
 * The job store could not be read or written (the database is missing, locked, or not ours), or
 * its URL names no kind of store. Its message shows a URL without credentials or query string.
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>("@batchfx/jobs/StoreError")("StoreError", {
  operation: Schema.String,
  cause: Schema.Defect
}) {
  override get message(): string {
    const reason = this.cause instanceof Error ? this.cause.message : String(this.cause)
    // a driver's message may quote a URL whole: never its user information or token
    return StoreUrl.scrubAll(`The job store failed to ${this.operation}: ${reason}`)
  }
}

/**
 * A step of a job failed. When `transient`, the worker runs it again after a pause (up to
 * `stepAttempts` times); otherwise (the server refused the input or the batch, the key is wrong,
 * …) the job ends `failed` with this sentence.
 *
 * @since 0.1.0
 * @category errors
 */
export class StepFailed extends Schema.TaggedError<StepFailed>("@batchfx/jobs/StepFailed")("StepFailed", {
  step: Schema.String,
  shard: Schema.Number,
  reason: Schema.String,
  /** An outage (5xx, reset, timeout, 429) that outlasted the client's retries: the step is tried again later. */
  transient: Schema.optionalWith(Schema.Boolean, { default: () => false })
}) {
  override get message(): string {
    return `Shard ${this.shard}: ${this.step} failed: ${this.reason}`
  }
}
