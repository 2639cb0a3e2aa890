/**
 * Durable OpenAI batch jobs on @effect/workflow and @effect/cluster.
 *
 * @since 0.1.0
 */

/**
 * The errors of durable jobs.
 *
 * @since 0.1.0
 */
export * as JobsError from "./JobsError.js"

/**
 * Where jobs live: inputs, shards, batches and result lines in SQL.
 *
 * @since 0.1.0
 */
export * as JobStore from "./JobStore.js"

/**
 * A job as a durable workflow: split, then per shard upload, create, await, download.
 *
 * @since 0.1.0
 */
export * as JobWorkflow from "./JobWorkflow.js"

/**
 * Durable jobs: submit, status, results, cancel, retry; the store and worker layers.
 *
 * @since 0.1.0
 */
export * as Jobs from "./Jobs.js"
