/**
 * A worker process of figures 4 and 5 (`multiWorker.ts`): `Jobs.run` on the Postgres store at
 * `BATCHFX_STORE` against the emulator at `OPENAI_BASE_URL`, polling each batch every second
 * (as figure 2's worker does), one line per shard, looking for new jobs every second (the
 * default, as `batchfx jobs run` does). It prints its worker id as its first line, then
 * works until it is killed.
 */
import { Jobs } from "@batchfx/jobs"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Logger, Schedule } from "effect"

const program = Effect.gen(function*() {
  process.stdout.write(`${Jobs.workerId()}\n`)
  return yield* Jobs.run({
    poll: Schedule.spaced("1 second"),
    limits: { maxLines: 1 },
    // the emulator's lists do not lag: a resumed step that finds no trace of its send looks 2 s
    listLag: "2 seconds"
  })
}).pipe(
  Effect.provide(Layer.mergeAll(Jobs.layerStoreConfig, Jobs.layerClientConfig)),
  Effect.provide(Layer.merge(NodeContext.layer, NodeHttpClient.layerUndici)),
  // stdout carries the worker id only
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger)))
)

Effect.runPromiseExit(program).then((exit) => {
  if (exit._tag === "Failure") process.stderr.write(`worker failed: ${String(exit.cause)}\n`)
  process.exit(exit._tag === "Success" ? 0 : 1)
})
