/**
 * Decodes a page of `GET /v1/batches` and prints how many batches are in each status.
 *
 * Run: `pnpm build && node examples/dist/ListSummary.js [page.json]` (without a file it reads a
 * sample page shaped like the API's).
 */
import { BatchPage, BatchStatus, ParseMessage } from "@batchfx/core"
import type { ParseResult } from "effect"
import { Console, Effect, Schema } from "effect"
import { readFileSync } from "node:fs"
import { pathToFileURL } from "node:url"

/** How many batches of a page are in each status, in lifecycle order (unknown statuses last). */
export const countByStatus = (page: BatchPage.BatchPage): ReadonlyArray<readonly [status: string, count: number]> => {
  const counts = new Map<string, number>()
  for (const batch of page.data) counts.set(batch.status, (counts.get(batch.status) ?? 0) + 1)
  const rank = (status: string) => BatchStatus.lifecycleRank(status) ?? Number.MAX_SAFE_INTEGER
  return [...counts].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
}

/** Decodes a list page from JSON text and renders the summary table. */
export const listSummary = (json: string): Effect.Effect<string, string> =>
  Schema.decodeUnknown(Schema.parseJson(BatchPage.BatchPage))(json).pipe(
    Effect.mapError((error: ParseResult.ParseError) => `not a batch list page:\n${ParseMessage.format(error)}`),
    Effect.map((page) => {
      const rows = countByStatus(page).map(([status, count]) =>
        `${status.padEnd(12)} ${String(count).padStart(5)}${BatchStatus.isTerminal(status) ? "  (final)" : ""}`
      )
      const more = page.has_more === true ? `more pages after ${page.data.at(-1)?.id}` : "last page"
      return [`${page.data.length} batches on this page, ${more}`, ...rows].join("\n")
    })
  )

const day = 86_400
const sampleBatch = (id: string, status: string, created_at: number) => ({
  id,
  object: "batch",
  endpoint: "/v1/chat/completions",
  model: status === "validating" ? null : "gpt-4o-mini-2024-07-18",
  errors: null,
  input_file_id: `file-${id.slice(6)}`,
  completion_window: "24h",
  status,
  output_file_id: status === "completed" ? `file-out-${id.slice(6)}` : null,
  error_file_id: null,
  created_at,
  in_progress_at: null,
  expires_at: created_at + day,
  finalizing_at: null,
  completed_at: null,
  failed_at: null,
  expired_at: null,
  cancelling_at: null,
  cancelled_at: null,
  request_counts: { total: 10, completed: status === "completed" ? 10 : 0, failed: 0 },
  metadata: null
})

/** A page shaped like the API's, with one status the API may add some day. */
export const samplePage = JSON.stringify({
  object: "list",
  data: [
    sampleBatch("batch_6", "in_progress", 1_764_300_000),
    sampleBatch("batch_5", "validating", 1_764_290_000),
    sampleBatch("batch_4", "completed", 1_764_280_000),
    sampleBatch("batch_3", "completed", 1_764_270_000),
    sampleBatch("batch_2", "cancelled", 1_764_260_000),
    sampleBatch("batch_1", "paused", 1_764_250_000)
  ],
  first_id: "batch_6",
  last_id: "batch_1",
  has_more: true
})

/** The example program: reads the page named on the command line, or the sample. */
export const main = (path: string | undefined) =>
  Effect.sync(() => (path === undefined ? samplePage : readFileSync(path, "utf8"))).pipe(
    Effect.flatMap(listSummary),
    Effect.flatMap(Console.log),
    Effect.catchAll((message) => Effect.zipRight(Console.error(message), Effect.sync(() => (process.exitCode = 1))))
  )

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  Effect.runPromise(main(process.argv[2]))
}
