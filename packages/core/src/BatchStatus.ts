/**
 * The status of a batch and its lifecycle.
 *
 * @since 0.1.0
 */
import { openEnum } from "./internal/openEnum.js"

/**
 * Every status the API documents, in lifecycle order.
 *
 * @since 0.1.0
 * @category constants
 */
export const known = [
  "validating",
  "failed",
  "in_progress",
  "finalizing",
  "completed",
  "expired",
  "cancelling",
  "cancelled"
] as const

/**
 * A status the API documents.
 *
 * @since 0.1.0
 * @category models
 */
export type KnownBatchStatus = typeof known[number]

/**
 * A batch status: one of the documented values, or any other string the server may add later.
 *
 * @since 0.1.0
 * @category schemas
 */
export const BatchStatus = openEnum("BatchStatus", ...known)

/**
 * A batch status as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export type BatchStatus = typeof BatchStatus.Type

/**
 * The statuses after which a batch never changes again.
 *
 * @since 0.1.0
 * @category constants
 */
export const terminal: ReadonlySet<string> = new Set<KnownBatchStatus>(["failed", "completed", "expired", "cancelled"])

/**
 * Whether a batch in this status will never change again. A status we do not know is not terminal,
 * so a watcher keeps polling rather than stopping early.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isTerminal = (status: BatchStatus | string): boolean => terminal.has(status)

/**
 * Whether the status is one the API documents.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isKnown = (status: BatchStatus | string): status is KnownBatchStatus =>
  (known as ReadonlyArray<string>).includes(status)

/**
 * The position of a status along the lifecycle: `validating` 0, `in_progress` 1, `finalizing` and
 * `cancelling` 2, terminal statuses 3. Unknown statuses have no rank. A watcher uses this to tell
 * progress from a stale read.
 *
 * @since 0.1.0
 * @category utils
 */
export const lifecycleRank = (status: BatchStatus | string): number | undefined => {
  switch (status) {
    case "validating":
      return 0
    case "in_progress":
      return 1
    case "finalizing":
    case "cancelling":
      return 2
    case "failed":
    case "completed":
    case "expired":
    case "cancelled":
      return 3
    default:
      return undefined
  }
}

/**
 * The statuses a batch can move to next from each documented status.
 *
 * @since 0.1.0
 * @category constants
 */
export const transitions: { readonly [S in KnownBatchStatus]: ReadonlyArray<KnownBatchStatus> } = {
  validating: ["in_progress", "failed", "cancelling"],
  in_progress: ["finalizing", "cancelling"],
  finalizing: ["completed", "expired"],
  cancelling: ["cancelled"],
  failed: [],
  completed: [],
  expired: [],
  cancelled: []
}
