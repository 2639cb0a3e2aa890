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
    yield* Queue.offerAll(demand, Array.from({ length: lookAhead }, () => undefined))
    // Pages wait here for the consumer, and the fibers wake each other with constant effects: a
    // page handed through an async callback (a Queue of pages does that) outlives young-generation
    // collections, so every page of a long listing went to the old generation and the peak memory
    // grew with the listing's length.
    const ready: Array<Exit.Exit<A, Option.Option<E>>> = []
    let taker: ((wake: Effect.Effect<void>) => void) | undefined = undefined
    const deliver = (exit: Exit.Exit<A, Option.Option<E>>) =>
      Effect.sync(() => {
        ready.push(exit)
        const wake = taker
        taker = undefined
        wake?.(Effect.void)
      })
    const awaitReady = Effect.async<void>((resume) => {
      if (ready.length > 0) {
        resume(Effect.void)
        return undefined
      }
      taker = resume
      return Effect.sync(() => {
        if (taker === resume) taker = undefined
      })
    })
    const takeReady: Effect.Effect<A, Option.Option<E>> = Effect.suspend(() => ready.shift()!)
    const pull: Effect.Effect<A, Option.Option<E>> = Effect.suspend(() =>
      ready.length > 0 ? ready.shift()! : Effect.zipRight(awaitReady, takeReady)
    )
    const produce = Effect.gen(function*() {
      let state = initial
      while (true) {
        yield* Queue.take(demand)
        const exit = yield* Effect.exit(step(state))
        if (Exit.isFailure(exit)) {
          yield* deliver(Exit.failCause(Cause.map(exit.cause, Option.some)))
          return
        }
        const [page, next] = exit.value
        yield* deliver(Exit.succeed(page))
        if (Option.isNone(next)) {
          yield* deliver(Exit.fail(Option.none()))
          return
        }
        state = next.value
      }
    })
    yield* Effect.forkScoped(produce)
    return Stream.repeatEffectOption(
      Effect.zipRight(Queue.offer(demand, undefined), pull).pipe(
        Effect.zipLeft(letProducerSend)
      )
    )
  }))
}
