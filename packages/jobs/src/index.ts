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

/**
 * Jobs on Postgres: the store's SQL client from a `postgres://` URL (`@effect/sql-pg`, an optional
 * peer dependency), for several workers sharing one queue.
 *
 * @since 0.1.0
 */
export * as Postgres from "./Postgres.js"

/**
 * The input tokens of request lines, counted as the API counts them against a model's
 * enqueued-token limit.
 *
 * @since 0.1.0
 */
export * as TokenCount from "./TokenCount.js"

/**
 * The enqueued-token budget: shards reserve their tokens before their batch is created and wait
 * for room instead of failing with `token_limit_exceeded`.
 *
 * @since 0.1.0
 */
export * as TokenBudget from "./TokenBudget.js"
