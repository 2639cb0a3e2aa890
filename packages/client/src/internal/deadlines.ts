import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Scope from "effect/Scope"

/** Runs effects under deadlines kept by one watchdog fiber. */
export interface Deadlines {
  /**
   * `effect` in a fiber of its own, interrupted when `timeout` has passed, in which case the
   * result is `onTimeout()`; a value that came first wins.
   */
  readonly timeout: <A, E, R, E2>(
    effect: Effect.Effect<A, E, R>,
    timeout: Duration.Duration,
    onTimeout: () => E2
  ) => Effect.Effect<A, E | E2, R>
}

interface Pending {
  readonly deadline: number
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown>
  expired: boolean
}

/**
 * Deadlines kept by one watchdog fiber for the life of the scope, so that an effect under a
 * deadline costs one fork, not the two fibers and the timer of `Effect.timeoutFail` (which, on a
 * cold process listing 100,000 batches, cost about a tenth of the CPU). The watchdog sleeps on the
 * `Clock` of the fiber that made it until the earliest deadline, so `TestClock` drives it; a
 * deadline earlier than the one it sleeps for wakes it.
 */
export const make: Effect.Effect<Deadlines, never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Effect.clock
  const pending = new Set<Pending>()
  let sleepingUntil = Number.POSITIVE_INFINITY
  let wake: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  // An earlier deadline came while the watchdog was between computing its sleep and waiting.
  let missed = false
  const woken = Effect.async<void>((resume) => {
    if (missed) {
      missed = false
      resume(Effect.void)
      return undefined
    }
    wake = resume
    return Effect.sync(() => {
      if (wake === resume) wake = undefined
    })
  })
  const watchdogId = FiberId.make(-1, 0)

  const watch: Effect.Effect<never> = Effect.suspend(() => {
    const now = clock.unsafeCurrentTimeMillis()
    missed = false
    let earliest = Number.POSITIVE_INFINITY
    for (const entry of pending) {
      if (entry.deadline <= now) {
        pending.delete(entry)
        entry.expired = true
        entry.fiber.unsafeInterruptAsFork(watchdogId)
      } else if (entry.deadline < earliest) {
        earliest = entry.deadline
      }
    }
    sleepingUntil = earliest
    const wait = earliest === Number.POSITIVE_INFINITY
      ? woken
      : Effect.raceFirst(clock.sleep(Duration.millis(earliest - now)), woken)
    return Effect.zipRight(wait, watch)
  })
  yield* Effect.forkScoped(watch)

  const register = (entry: Pending) => {
    pending.add(entry)
    if (entry.deadline < sleepingUntil) {
      sleepingUntil = entry.deadline
      const resume = wake
      wake = undefined
      if (resume === undefined) missed = true
      else resume(Effect.void)
    }
  }

  // The deadline is read from the watchdog's clock at once, and the wait is one match: the
  // attempt's fiber ends (its exit, or a timeout if the watchdog interrupted it), or the caller is
  // interrupted and takes the attempt's fiber down with it.
  const timeout: Deadlines["timeout"] = <A, E, R, E2>(
    effect: Effect.Effect<A, E, R>,
    duration: Duration.Duration,
    onTimeout: () => E2
  ) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.forkDaemon(restore(effect)), (fiber) => {
        const entry: Pending = {
          deadline: clock.unsafeCurrentTimeMillis() + Duration.toMillis(duration),
          fiber,
          expired: false
        }
        register(entry)
        return Effect.matchCauseEffect(restore(fiber.await), {
          onFailure: (cause): Effect.Effect<A, E | E2> => {
            pending.delete(entry)
            return Effect.zipRight(Fiber.interrupt(fiber), Effect.failCause(cause))
          },
          onSuccess: (exit): Effect.Effect<A, E | E2> => {
            pending.delete(entry)
            return entry.expired && Exit.isInterrupted(exit) ? Effect.fail(onTimeout()) : exit
          }
        })
      })
    )

  return { timeout }
})
