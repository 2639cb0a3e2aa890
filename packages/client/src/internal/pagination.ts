import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
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
 * One fiber waiting until `isReady` holds, woken by whoever makes it hold: `wait` ends at once if it
 * already does, and an interrupted wait leaves nothing behind.
 */
const waiter = (isReady: () => boolean) => {
  let waiting: ((wake: Effect.Effect<void>) => void) | undefined = undefined
  const wait = Effect.async<void>((resume) => {
    if (isReady()) {
      resume(Effect.void)
      return undefined
    }
    waiting = resume
    return Effect.sync(() => {
      if (waiting === resume) waiting = undefined
    })
  })
  const wake = (): void => {
    const resume = waiting
    waiting = undefined
    resume?.(Effect.void)
  }
  return { wait, wake }
}

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
  return Stream.unwrapScoped(Effect.suspend(() => {
    // Pages the producer may fetch: `lookAhead` up front, one more per pull.
    let demand = lookAhead
    const producer = waiter(() => demand > 0)
    // Pages wait here for the consumer, and the fibers wake each other with constant effects: a
    // page handed through an async callback (a Queue of pages does that) outlives young-generation
    // collections, so every page of a long listing went to the old generation and the peak memory
    // grew with the listing's length.
    const ready: Array<Exit.Exit<A, Option.Option<E>>> = []
    const taker = waiter(() => ready.length > 0)
    const deliver = (exit: Exit.Exit<A, Option.Option<E>>): void => {
      ready.push(exit)
      taker.wake()
    }
    const takeReady: Effect.Effect<A, Option.Option<E>> = Effect.suspend(() => ready.shift()!)
    // A pull gives the producer one more page to fetch, then takes the next page.
    const pull: Effect.Effect<A, Option.Option<E>> = Effect.suspend(() => {
      demand++
      producer.wake()
      return ready.length > 0 ? ready.shift()! : Effect.zipRight(taker.wait, takeReady)
    })
    // One page per step, in plain effects: 8 fewer effect steps per page than an `Effect.gen` loop
    // over a `Queue` of tokens. Its callbacks run once each, in the producer's fiber.
    const produce = (state: S): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (demand === 0) return Effect.zipRight(producer.wait, produce(state))
        demand--
        return Effect.matchCauseEffect(step(state), {
          onFailure: (cause) => Effect.sync(() => deliver(Exit.failCause(Cause.map(cause, Option.some)))),
          onSuccess: ([page, next]) => {
            deliver(Exit.succeed(page))
            if (Option.isNone(next)) {
              deliver(Exit.fail(Option.none()))
              return Effect.void
            }
            return produce(next.value)
          }
        })
      })
    return Effect.as(
      Effect.forkScoped(produce(initial)),
      Stream.repeatEffectOption(Effect.zipLeft(pull, letProducerSend))
    )
  }))
}
