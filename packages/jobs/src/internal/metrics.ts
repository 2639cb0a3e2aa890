/**
 * The worker's counters, as Effect metrics (read them with `Metric.value`, or export them with
 * `@effect/opentelemetry`): work done at the server, and how often a shard waited for the budget.
 */
import * as Metric from "effect/Metric"

/** Shards whose input was uploaded by this process (an upload found after a crash is not counted). */
export const shardsUploaded = Metric.counter("batchfx_jobs_shards_uploaded", {
  description: "Shards uploaded as batch input files",
  incremental: true
})

/** Batches created by this process, a new batch after a `token_limit_exceeded` refusal included. */
export const batchesCreated = Metric.counter("batchfx_jobs_batches_created", {
  description: "Batches created for shards",
  incremental: true
})

/** Shards whose batch ended `completed` and whose result lines are all stored. */
export const shardsCompleted = Metric.counter("batchfx_jobs_shards_completed", {
  description: "Shards completed and downloaded",
  incremental: true
})

/** Shards that had to wait for room under a model's enqueued-token limit (counted once per wait). */
export const tokenWaits = Metric.counter("batchfx_jobs_token_waits", {
  description: "Shards that waited for the enqueued-token budget",
  incremental: true
})

/** Batches the service refused with `token_limit_exceeded` (another client used the budget). */
export const batchesRefused = Metric.counter("batchfx_jobs_batches_refused", {
  description: "Batches refused with token_limit_exceeded",
  incremental: true
})
