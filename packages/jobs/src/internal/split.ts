/** Cutting a job's input into shards at the limits of one batch. */

/** One shard as planned: which input lines it holds. */
export interface PlannedShard {
  /** 1-based. */
  readonly shard: number
  /** 1-based number of the shard's first input line. */
  readonly firstLine: number
  readonly lines: number
  readonly bytes: number
}

/**
 * Greedy cut, the same rule as the client's `Submit`: a shard takes lines in order until the next
 * one would go over `maxLines` or `maxBytes` (each line counted with its newline).
 */
export const plan = (
  lineBytes: Iterable<number>,
  limits: { readonly maxLines: number; readonly maxBytes: number }
): ReadonlyArray<PlannedShard> => {
  const shards: Array<PlannedShard> = []
  let first = 1
  let lines = 0
  let bytes = 0
  let n = 0
  for (const size of lineBytes) {
    n++
    if (lines > 0 && (lines + 1 > limits.maxLines || bytes + size > limits.maxBytes)) {
      shards.push({ shard: shards.length + 1, firstLine: first, lines, bytes })
      first = n
      lines = 0
      bytes = 0
    }
    lines++
    bytes += size
  }
  if (lines > 0) shards.push({ shard: shards.length + 1, firstLine: first, lines, bytes })
  return shards
}
