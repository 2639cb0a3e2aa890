/**
 * batchfx as a user writes it: the `list` Stream with full Schema decoding of every batch,
 * `Bulk.retrieveMany` under the client's governor, and output files read as a Stream of decoded
 * result lines.
 */
import { BatchClient, Transport } from "@batchfx/client"
import * as Bulk from "@batchfx/client/Bulk"
import { Jsonl, ResultLine } from "@batchfx/core"
import { HttpClientRequest } from "@effect/platform"
import { Chunk, Clock, Effect, Layer, Redacted, Schema, Stream } from "effect"
import { type Args, type Measured, parseArgs, report, type Scenario, spin } from "../measure.js"
import { batchId } from "../wire.js"

const timed = <E, R>(work: Effect.Effect<Omit<Measured, "ms">, E, R>): Effect.Effect<Measured, E, R> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeNanos
    const measured = yield* work
    const ended = yield* Clock.currentTimeNanos
    return { ...measured, ms: Number(ended - started) / 1e6 }
  })

const list = (args: Args) =>
  BatchClient.list({ limit: 100 }).pipe(
    Stream.runFold(0, (n) => {
      spin(args.workMicros)
      return n + 1
    }),
    Effect.map((items) => ({ items }))
  )

// The results Stream: the body as bytes, cut into lines, each decoded with `BatchResultLine`.
const decodeResultLine = Schema.decodeUnknownSync(Schema.parseJson(ResultLine.BatchResultLine))

const resultLines = (fileId: string) =>
  Stream.unwrap(Effect.gen(function*() {
    const transport = yield* Transport.Transport
    const response = yield* transport.send(
      HttpClientRequest.get(`/files/${encodeURIComponent(fileId)}/content`).pipe(
        HttpClientRequest.setHeader("accept", "application/binary")
      ),
      1
    )
    const splitter = Jsonl.makeLineSplitter()
    return response.stream.pipe(
      Stream.mapChunks((chunks) => Chunk.flatMap(chunks, (bytes) => Chunk.unsafeFromArray(splitter.push(bytes)))),
      Stream.concat(Stream.suspend(() => Stream.fromIterable(splitter.flush()))),
      Stream.map((line) => ({ line: decodeResultLine(line.text), bytes: line.end }))
    )
  }))

const results = (args: Args) =>
  resultLines(args.fileId).pipe(
    Stream.runFold({ items: 0, bytes: 0 }, (acc, { bytes }) => ({ items: acc.items + 1, bytes })),
    Effect.map((acc) => acc)
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

type Work = (args: Args) => Effect.Effect<Omit<Measured, "ms">, unknown, BatchClient.BatchClient | Transport.Transport>

const scenarios: Record<Scenario, Work> = { list, results, retrieve, cold }
const args = parseArgs()
const work = scenarios[args.scenario](args)
const ClientLive = BatchClient.layerNode({ apiKey: Redacted.make(args.apiKey), baseUrl: args.baseUrl })

const program = timed(work).pipe(
  Effect.provide(Layer.fresh(ClientLive)),
  Effect.flatMap((measured) => Effect.sync(() => report(measured)))
)

await Effect.runPromise(program)
