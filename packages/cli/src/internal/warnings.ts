/**
 * Warnings of dependencies that say nothing a user of `batchfx` can act on, kept off stderr. Only
 * these exact warnings: any other warning of Node or of a package is printed as Node prints it.
 */

/**
 * pg 8's notice when a query is sent on a connection that is still answering another. The cluster
 * under `batchfx jobs run` on a Postgres store (@effect/cluster's shard locks) keeps its lock
 * operations on one reserved connection, and its renewal can meet another lock operation there:
 * pg queues the second query, which is correct in pg 8 (the version the bundle carries), and warns
 * that pg 9 will not. Neither the user nor the command can change it, and on a worker's stderr it
 * reads like a fault: a `DeprecationWarning` with a hint to rerun under `--trace-deprecation`.
 */
export const pgQueuedQueryWarning = "Calling client.query() when the client is already executing a query"

const silenced: ReadonlyArray<string> = [pgQueuedQueryWarning]

/** Whether a warning, as given to `process.emitWarning`, is one of those kept off stderr. */
export const isSilenced = (warning: unknown): boolean => {
  const text = typeof warning === "string" ? warning : warning instanceof Error ? warning.message : undefined
  return text !== undefined && silenced.some((start) => text.startsWith(start))
}

/**
 * Keeps the warnings above off stderr for the rest of the process: `process.emitWarning` (which
 * Node's `util.deprecate` calls) drops them and passes every other warning on.
 */
export const silenceDependencyWarnings = (): void => {
  const emit = process.emitWarning
  process.emitWarning = function(this: unknown, warning: string | Error, ...rest: Array<unknown>) {
    if (isSilenced(warning)) return
    return (emit as (...args: Array<unknown>) => void).call(process, warning, ...rest)
  } as typeof process.emitWarning
}
