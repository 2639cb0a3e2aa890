import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/**
 * A lazy stream of pages: `step` fetches the page of a state and says where to go next. While the
 * consumer works on page n, pages n+1 … n+`lookAhead` are fetched, each in a fiber of the
 * stream's scope that starts once the page before it has given its cursor; nothing further is
 * requested until the consumer pulls again. Closing the stream interrupts the fetches ahead.
 */
export const paginate = <S, A, E>(
  initial: S,
  step: (state: S) => Effect.Effect<readonly [A, Option.Option<S>], E>,
  lookAhead: number
): Stream.Stream<A, E> => {
  if (lookAhead <= 0) return Stream.paginateEffect(initial, step)
  type Fetched = Option.Option<readonly [A, Option.Option<S>]>
  return Stream.unwrapScoped(Effect.gen(function*() {
    const scope = yield* Effect.scope
    // The page after the one `previous` gives, or none past the last page.
    const fetchAfter = (previous: Effect.Effect<Fetched, E>) =>
      Effect.forkIn(
        Effect.flatMap(previous, (fetched) =>
          Option.isSome(fetched) && Option.isSome(fetched.value[1])
            ? Effect.asSome(step(fetched.value[1].value))
            : Effect.succeedNone),
        scope
      )
    const first = yield* Effect.forkIn(Effect.asSome(step(initial)), scope)
    return Stream.unfoldEffect(
      [first] as ReadonlyArray<Fiber.Fiber<Fetched, E>>,
      Effect.fnUntraced(function*(queue) {
        const ahead = [...queue]
        while (ahead.length <= lookAhead) ahead.push(yield* fetchAfter(Fiber.join(ahead[ahead.length - 1]!)))
        const fetched = yield* Fiber.join(ahead[0]!)
        // One turn of the event loop before the consumer has the page: the fetch started for the
        // next page reaches the socket first, even when the consumer's work holds the thread.
        yield* Effect.sleep(0)
        return Option.map(fetched, ([page]) => [page, ahead.slice(1)] as const)
      })
    )
  }))
}
