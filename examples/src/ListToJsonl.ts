/**
 * Streams every batch of the account into a JSONL file, one batch per line, in the server's order
 * (newest first). Pages are fetched lazily, one page ahead, and written as they arrive, so memory
 * stays flat however many batches there are.
 *
 * Run: `pnpm build && OPENAI_API_KEY=sk-… node examples/dist/ListToJsonl.js batches.jsonl`
 * (`OPENAI_BASE_URL` points it at another server, such as `batchfx fake-server`).
 */
import { BatchClient } from "@batchfx/client"
import type { BatchClientError } from "@batchfx/client"
import { Batch, Jsonl } from "@batchfx/core"
import { FileSystem } from "@effect/platform"
import { NodeContext, NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import type { PlatformError } from "@effect/platform/Error"
import { Console, Effect, Layer, Ref, Stream } from "effect"
import type { ParseResult } from "effect"
import { pathToFileURL } from "node:url"

const encodeBatch = Jsonl.encodeLine(Batch.Batch)

/**
 * Writes every batch to `path` as JSON lines and returns how many were written.
 */
export const listToJsonl = (
  path: string,
  params?: BatchClient.ListParams
): Effect.Effect<
  number,
  BatchClientError.BatchClientError | PlatformError | ParseResult.ParseError,
  BatchClient.BatchClient | FileSystem.FileSystem
> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const count = yield* Ref.make(0)
    yield* BatchClient.list(params).pipe(
      Stream.tap(() => Ref.update(count, (n) => n + 1)),
      Stream.mapEffect((batch) => Effect.map(encodeBatch(batch), (line) => line + "\n")),
      Stream.encodeText,
      Stream.run(fs.sink(path))
    )
    return yield* Ref.get(count)
  })

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const path = process.argv[2] ?? "batches.jsonl"
  listToJsonl(path, { limit: 100 }).pipe(
    Effect.flatMap((n) => Console.log(`wrote ${n} batches to ${path}`)),
    Effect.provide(
      Layer.mergeAll(BatchClient.layerConfig().pipe(Layer.provide(NodeHttpClient.layerUndici)), NodeContext.layer)
    ),
    NodeRuntime.runMain
  )
}
