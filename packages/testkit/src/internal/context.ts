/** What the app and every route family share: options, knobs, stored state, fault script and counters. */
import type { Batch } from "@batchfx/core"
import { RequestLine } from "@batchfx/core"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import type { Fault } from "../Fault.js"
import type { Route } from "../Route.js"
import * as Content from "./content.js"
import { alnum, hex } from "./hash.js"
import type { Resolved } from "./knobs.js"
import { resolve } from "./knobs.js"
import * as Store from "./store.js"
import { invalid } from "./wire.js"

/** Everything stored, replaced as a whole on each change. */
export interface State {
  readonly files: HashMap.HashMap<string, Store.StoredFile>
  readonly fileOrder: Chunk.Chunk<string>
  readonly batches: HashMap.HashMap<string, Store.StoredBatch>
  readonly batchOrder: Chunk.Chunk<string>
  readonly seeded: number
  readonly seededAt: number
  /** The completion window in force when they were seeded, in seconds, so `--speed` applies to them too. */
  readonly seededWindow: number
  /** Files of seeded batches are generated on demand, so a deletion has to be remembered. */
  readonly deletedSeeded: HashSet.HashSet<string>
  readonly nextId: number
}

/** A fault waiting for the `at`-th arrival at `route`. */
export interface Scripted {
  readonly route: Route
  readonly at: number
  readonly fault: Fault
}

/** The emulator's shared context, built once per emulator. */
export interface Context {
  readonly options: Resolved
  readonly knobs: Ref.Ref<FakeOpenAi.Knobs>
  readonly state: Ref.Ref<State>
  readonly counters: Ref.Ref<HashMap.HashMap<string, FakeOpenAi.Counter>>
  /** Requests that arrived per route, so a scripted fault can name the n-th one. */
  readonly arrivals: Ref.Ref<HashMap.HashMap<Route, number>>
  readonly script: Ref.Ref<ReadonlyArray<Scripted>>
  readonly requestSeq: Ref.Ref<number>
  /** The largest upload in bytes: with purpose `batch`, and with any purpose. */
  readonly uploadLimits: { readonly batch: number; readonly file: number }
}

export const make = (options: FakeOpenAi.Options): Effect.Effect<Context> =>
  Effect.gen(function*() {
    const { uploadLimits, ...rest } = options
    const resolved = resolve(rest)
    return {
      options: resolved,
      knobs: yield* Ref.make(resolved.knobs),
      state: yield* Ref.make<State>({
        files: HashMap.empty(),
        fileOrder: Chunk.empty(),
        batches: HashMap.empty(),
        batchOrder: Chunk.empty(),
        seeded: 0,
        seededAt: 0,
        seededWindow: 86_400,
        deletedSeeded: HashSet.empty(),
        nextId: 0
      }),
      counters: yield* Ref.make(HashMap.empty<string, FakeOpenAi.Counter>()),
      arrivals: yield* Ref.make(HashMap.empty<Route, number>()),
      script: yield* Ref.make<ReadonlyArray<Scripted>>([]),
      requestSeq: yield* Ref.make(0),
      uploadLimits: {
        batch: uploadLimits?.batch ?? RequestLine.maxBytes,
        file: uploadLimits?.file ?? 512 * 1024 * 1024
      }
    }
  })

// ---- ids ------------------------------------------------------------------------------------

/** Takes the next sequence number for an id. */
export const nextId = (s: State): [number, State] => [s.nextId, { ...s, nextId: s.nextId + 1 }]

export const fileId = (seed: number, n: number) => `file-${alnum(seed, n, 24)}`

/** A batch id that never looks like a seeded one. */
export const batchId = (seed: number, n: number) => {
  let id = `batch_${hex(seed, n, 32)}`
  for (let i = 1; id.startsWith(Store.seedPrefix); i++) id = `batch_${hex(seed + i, n, 32)}`
  return id
}

// ---- stored files and batches ---------------------------------------------------------------

/** Writes the result files of a batch that reached a terminal status, once. */
export const settle = (seed: number, s: State, b: Store.StoredBatch, now: number): [Store.StoredBatch, State] => {
  if (b.files !== undefined) return [b, s]
  const v = Store.view(b, now)
  if (v.terminalAt === undefined) return [b, s]
  if (b.validation()._tag === "Invalid") {
    const settled = { ...b, files: { output: null, error: null } }
    return [settled, { ...s, batches: HashMap.set(s.batches, b.id, settled) }]
  }
  const contents = Store.resultFiles(b, now)
  const createdAt = Math.floor(v.terminalAt / 1000)
  let next = s
  const write = (text: string, suffix: string): string | null => {
    if (text === "") return null
    const [n, after] = nextId(next)
    const id = fileId(seed, n)
    const content = Store.bytesOf(text)
    next = {
      ...after,
      files: HashMap.set(after.files, id, {
        id,
        seq: Chunk.size(after.fileOrder),
        bytes: content.length,
        createdAt,
        expiresAt: createdAt + (b.outputExpiresSeconds ?? 2_592_000),
        filename: `${b.id}_${suffix}.jsonl`,
        purpose: "batch_output",
        content: Content.of(content)
      }),
      fileOrder: Chunk.append(after.fileOrder, id)
    }
    return id
  }
  const output = write(contents.output, "output")
  const error = write(contents.error, "error")
  const settled = { ...b, files: { output, error } }
  return [settled, { ...next, batches: HashMap.set(next.batches, b.id, settled) }]
}

/** The wire form of a batch at `now`, writing its result files if it just became terminal. */
export const observe = (ctx: Context, id: string, now: number): Effect.Effect<Batch.BatchEncoded | undefined> =>
  Ref.modify(ctx.state, (s) => {
    const stored = HashMap.get(s.batches, id)
    if (Option.isNone(stored)) {
      const index = Store.seededIndex(id)
      return [
        index !== undefined && index < s.seeded ? Store.seededBatch(index, s.seededAt, s.seededWindow) : undefined,
        s
      ]
    }
    const [b, next] = settle(ctx.options.seed, s, stored.value, now)
    return [Store.view(b, now).batch, next]
  })

/** A stored file or a file of a seeded batch. */
export const findFile = (s: State, id: string): Store.StoredFile | undefined => {
  const stored = HashMap.get(s.files, id)
  if (Option.isSome(stored)) return stored.value
  const seeded = Store.seededFileIndex(id)
  if (seeded === undefined || seeded.index >= s.seeded || HashSet.has(s.deletedSeeded, id)) return undefined
  return Store.seededFile(seeded.index, seeded.kind, s.seededAt, s.seededWindow)
}

export const getFile = (ctx: Context, id: string) =>
  Effect.flatMap(Ref.get(ctx.state), (s) => {
    const file = findFile(s, id)
    return file === undefined
      ? Effect.fail(invalid(`No such File object: ${id}`, "id", null, 404))
      : Effect.succeed(file)
  })

// ---- the request ----------------------------------------------------------------------------

export const pathParam = Effect.map(HttpRouter.params, (p) => p["id"] ?? "")

export const searchParam = (name: string) =>
  Effect.map(HttpServerRequest.ParsedSearchParams, (p) => {
    const value = p[name]
    return Array.isArray(value) ? value[0] : value
  })
