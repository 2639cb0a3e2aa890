/**
 * batchfx as a user writes it: the `list` Stream with full Schema decoding of every batch,
 * `Bulk.retrieveMany` under the client's governor, and output files read as a Stream of decoded
 * result lines.
 */
import * as BatchClient from "@batchfx/client/BatchClient"
import * as Bulk from "@batchfx/client/Bulk"
import type * as Files from "@batchfx/client/Files"
import * as Results from "@batchfx/client/Results"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import {
  type Args,
  begin,
  finish,
  type Measured,
  pageSize,
  parseArgs,
  report,
  type Scenario,
  spin
} from "../measure.js"
import { batchId } from "../wire.js"

const timed = <E, R>(work: Effect.Effect<Omit<Measured, "ms" | "cpuMs">, E, R>): Effect.Effect<Measured, E, R> =>
  Effect.gen(function*() {
    const started = yield* Effect.sync(begin)
    const figures = yield* work
    return finish(started, figures)
  })

// The consumer as Effect code writes it: one `Effect.sync` per batch doing the work. With
// `consumer=fold` the work runs in a synchronous `Stream.runFold`, as the SDK's loop body does: the
// difference between the two is the cost of Effect's `Stream.runForEach` (bench README).
const list = (args: Args) =>
  args.consumer === "fold"
    ? BatchClient.list({ limit: pageSize }).pipe(
      Stream.runFold(0, (items) => {
        spin(args.workMicros)
        return items + 1
      }),
      Effect.map((items) => ({ items }))
    )
    : Effect.suspend(() => {
      let items = 0
      return BatchClient.list({ limit: pageSize }).pipe(
        Stream.runForEach(() =>
          Effect.sync(() => {
            spin(args.workMicros)
            items++
          })
        ),
        Effect.map(() => ({ items }))
      )
    })

// The results Stream: `Results.readFile` streams the file, cuts lines and decodes each one with
// `BatchResultLine` into a `Result`.
const results = (args: Args) =>
  Results.readFile(args.fileId, "output").pipe(
    Stream.runFold({ items: 0, bytes: 0 }, (acc, result) => ({ items: acc.items + 1, bytes: result.position.end }))
  )

const retrieve = (args: Args) =>
  Bulk.retrieveMany(Array.from({ length: args.count }, (_, i) => batchId(i)), { concurrency: args.concurrency })
    .pipe(
      Stream.runFold({ items: 0, failures: 0 }, (acc, outcome) =>
        outcome._tag === "Succeeded"
          ? { items: acc.items + 1, failures: acc.failures }
          : { items: acc.items, failures: acc.failures + 1 }),
      Effect.map((acc) => acc)
    )

const cold = (_args: Args) =>
  BatchClient.list({ limit: 1 }).pipe(
    Stream.take(1),
    Stream.runCollect,
    Effect.tap((batches) => Effect.sync(() => console.log(Chunk.unsafeHead(batches).id))),
    Effect.map((batches) => ({ items: Chunk.size(batches) }))
  )

type Work = (
  args: Args
) => Effect.Effect<Omit<Measured, "ms" | "cpuMs">, unknown, BatchClient.BatchClient | Files.Files>

const scenarios: Record<Scenario, Work> = { list, results, retrieve, cold }
const args = parseArgs()
const work = scenarios[args.scenario](args)
const ClientLive = BatchClient.layer({ apiKey: Redacted.make(args.apiKey), baseUrl: args.baseUrl }).pipe(
  Layer.provide(NodeHttpClient.layerUndici)
)

const program = timed(work).pipe(
  Effect.provide(Layer.fresh(ClientLive)),
  Effect.flatMap((measured) => Effect.sync(() => report(measured)))
)

await Effect.runPromise(program)
