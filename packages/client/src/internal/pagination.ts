import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"

/**
 * Two turns of the event loop before a page goes to the consumer. The pull that took the page gave
 * the producer its token for the next one, but the producer is only scheduled: a consumer doing
 * synchronous work on the page would run first, and the next request would leave only after that
 * work, so fetching and working would never overlap. The producer reaches the HTTP client within
 * the first turn and undici writes the request on the next; measured in the bench (20 ms of
 * latency, 20 ms of work per page): one turn was not enough, two let each request reach the server
 * within 1 ms of the page being taken.
 */
const letProducerSend: Effect.Effect<void> = Effect.async<void>((resume) => {
  let handle = setImmediate(() => {
    handle = setImmediate(() => resume(Effect.void))
  })
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * A lazy stream of pages: `step` fetches the page of a state and says where to go next. At most
 * `lookAhead` pages are fetched beyond what the consumer has asked for, so with a look-ahead of 1
 * the next page is on its way while the consumer works on the current one. Pages are fetched one
 * after the other (each needs the cursor of the one before).
 */
export const paginate = <S, A, E>(
  initial: S,
  step: (state: S) => Effect.Effect<readonly [A, Option.Option<S>], E>,
  lookAhead: number
): Stream.Stream<A, E> => {
  if (lookAhead <= 0) return Stream.paginateEffect(initial, step)
  return Stream.unwrapScoped(Effect.gen(function*() {
    // One token per page the producer may fetch: `lookAhead` up front, one more per pull.
    const demand = yield* Queue.unbounded<void>()
    const results = yield* Queue.unbounded<Exit.Exit<A, Option.Option<E>>>()
    yield* Queue.offerAll(demand, Array.from({ length: lookAhead }, () => undefined))
    const produce = Effect.gen(function*() {
      let state = initial
      while (true) {
        yield* Queue.take(demand)
        const exit = yield* Effect.exit(step(state))
        if (Exit.isFailure(exit)) {
          yield* Queue.offer(results, Exit.failCause(Cause.map(exit.cause, Option.some)))
          return
        }
        const [page, next] = exit.value
        yield* Queue.offer(results, Exit.succeed(page))
        if (Option.isNone(next)) {
          yield* Queue.offer(results, Exit.fail(Option.none()))
          return
        }
        state = next.value
      }
    })
    yield* Effect.forkScoped(produce)
    return Stream.repeatEffectOption(
      Effect.flatten(Effect.zipRight(Queue.offer(demand, undefined), Queue.take(results))).pipe(
        Effect.zipLeft(letProducerSend)
      )
    )
  }))
}
