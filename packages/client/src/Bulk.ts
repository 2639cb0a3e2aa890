/**
 * Bulk operations: one client call per id, many at once under the client's governor, with one
 * outcome per id. One failure does not stop the others; an exhausted quota stops asking.
 *
 * @since 0.1.0
 */
import type { Batch } from "@batchfx/core"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import { BatchClient } from "./BatchClient.js"
import type { BatchClientError, QuotaExhausted } from "./BatchClientError.js"

/**
 * The call succeeded for this id.
 *
 * @since 0.1.0
 * @category models
 */
export interface Succeeded<A> {
  readonly _tag: "Succeeded"
  readonly id: string
  readonly value: A
}

/**
 * The call failed for this id (after the client's retries).
 *
 * @since 0.1.0
 * @category models
 */
export interface Failed {
  readonly _tag: "Failed"
  readonly id: string
  readonly error: BatchClientError
}

/**
 * The call was not made for this id because the quota was already exhausted; the error is the
 * server's answer that said so.
 *
 * @since 0.1.0
 * @category models
 */
export interface NotAttempted {
  readonly _tag: "NotAttempted"
  readonly id: string
  readonly error: QuotaExhausted
}

/**
 * What happened to one id of a bulk operation: exactly one per id.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome<A> = Succeeded<A> | Failed | NotAttempted

/**
 * Options of a bulk operation.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Calls at once; default 8. The client's governor bounds and paces them further. */
  readonly concurrency?: number | undefined
  /** Emit outcomes as they finish instead of in input order; default false. */
  readonly unordered?: boolean | undefined
}

/**
 * Maps each id of a stream through a client call, with one outcome per id. After the first
 * `QuotaExhausted` answer no further call is made: every id left gets a `NotAttempted` outcome
 * carrying that answer.
 *
 * @since 0.1.0
 * @category combinators
 */
export const forEachId: {
  <A, R2>(
    f: (id: string) => Effect.Effect<A, BatchClientError, R2>,
    options?: Options
  ): <E, R>(ids: Stream.Stream<string, E, R>) => Stream.Stream<Outcome<A>, E, R | R2>
  <A, E, R, R2>(
    ids: Stream.Stream<string, E, R>,
    f: (id: string) => Effect.Effect<A, BatchClientError, R2>,
    options?: Options
  ): Stream.Stream<Outcome<A>, E, R | R2>
} = dual(
  (args) => Stream.StreamTypeId in args[0],
  <A, E, R, R2>(
    ids: Stream.Stream<string, E, R>,
    f: (id: string) => Effect.Effect<A, BatchClientError, R2>,
    options: Options = {}
  ): Stream.Stream<Outcome<A>, E, R | R2> =>
    Stream.unwrap(Effect.map(Ref.make<QuotaExhausted | undefined>(undefined), (quota) => {
      const one = (id: string): Effect.Effect<Outcome<A>, never, R2> =>
        Effect.flatMap(Ref.get(quota), (exhausted): Effect.Effect<Outcome<A>, never, R2> =>
          exhausted !== undefined
            ? Effect.succeed({ _tag: "NotAttempted", id, error: exhausted })
            : f(id).pipe(
              Effect.map((value): Outcome<A> => ({ _tag: "Succeeded", id, value })),
              Effect.catchAll((error) =>
                Effect.as(
                  error._tag === "QuotaExhausted" ? Ref.update(quota, (q) => q ?? error) : Effect.void,
                  { _tag: "Failed", id, error } satisfies Outcome<A>
                )
              )
            ))
      return Stream.mapEffect(ids, one, {
        concurrency: Math.max(1, options.concurrency ?? 8),
        unordered: options.unordered ?? false
      })
    }))
)

const idStream = <E, R>(ids: Iterable<string> | Stream.Stream<string, E, R>): Stream.Stream<string, E, R> =>
  Stream.StreamTypeId in ids ? ids as Stream.Stream<string, E, R> : Stream.fromIterable(ids as Iterable<string>)

/**
 * Retrieves many batches: one outcome per id. The ids may be a stream with its own errors and
 * requirements (`client.list(...).pipe(Stream.map((b) => b.id))`), which pass through.
 *
 * @since 0.1.0
 * @category combinators
 */
export const retrieveMany = <E = never, R = never>(
  ids: Iterable<string> | Stream.Stream<string, E, R>,
  options?: Options
): Stream.Stream<Outcome<Batch.Batch>, E, BatchClient | R> =>
  Stream.unwrap(
    Effect.map(BatchClient, (client) => forEachId(idStream(ids), (id) => client.retrieve(id), options))
  )

/**
 * Cancels many batches: one outcome per id (a batch that already ended answers `Conflict`). The ids
 * may be a stream with its own errors and requirements, which pass through.
 *
 * @since 0.1.0
 * @category combinators
 */
export const cancelMany = <E = never, R = never>(
  ids: Iterable<string> | Stream.Stream<string, E, R>,
  options?: Options
): Stream.Stream<Outcome<Batch.Batch>, E, BatchClient | R> =>
  Stream.unwrap(
    Effect.map(BatchClient, (client) => forEachId(idStream(ids), (id) => client.cancel(id), options))
  )
