/**
 * A libSQL client that waits for a busy database without blocking the event loop. SQLite's own
 * busy timeout sleeps inside the (synchronous) native call: while one connection of a process
 * waits there, another connection of the same process that holds the write lock cannot run to its
 * commit, so a worker and a `cancel` in one process would stall each other for the whole timeout.
 * Here SQLite waits a few milliseconds at most and a busy statement is retried on a `Schedule`,
 * between which the event loop runs.
 */
import type * as Libsql from "@libsql/client"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"

/** How long SQLite itself waits (blocking) for a lock before it answers SQLITE_BUSY. */
export const busyTimeoutMillis = 10

/** How long a statement keeps being retried while another process or connection writes. */
export const busyGiveUp: Duration.Duration = Duration.seconds(30)

/** SQLITE_BUSY, or one of its extended codes (`SQLITE_BUSY_SNAPSHOT`, …). */
export const isBusy = (u: unknown): boolean =>
  typeof u === "object" && u !== null && "code" in u && typeof u.code === "string" &&
  u.code.startsWith("SQLITE_BUSY")

/** 5 ms doubling to at most 200 ms, jittered (so that two waiters do not retry in step), for `busyGiveUp`. */
const busySchedule = Schedule.exponential("5 millis").pipe(
  Schedule.jittered,
  Schedule.either(Schedule.spaced("200 millis")),
  Schedule.upTo(busyGiveUp)
)

/**
 * Runs `attempt` and, only when it answers SQLITE_BUSY, again on `busySchedule`, calling `reset`
 * before each new attempt.
 */
const retryingWhenBusy = <A>(attempt: () => Promise<A>, reset: () => Promise<void>): Promise<A> =>
  attempt().catch((error: unknown) =>
    isBusy(error)
      ? Effect.runPromiseExit(
        Effect.tryPromise({ try: () => reset().then(attempt), catch: (e) => e }).pipe(
          Effect.retry({ schedule: busySchedule, while: isBusy })
        )
      ).then((exit) =>
        // the last error as libSQL threw it, so the store's messages stay the same
        Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
      )
      : Promise.reject(error)
  )

/**
 * `client` whose statements, batches and write transactions retry while the database is busy,
 * with SQLite's busy timeout kept short on every connection (libSQL opens a new connection after
 * each transaction, and the timeout is set per connection).
 */
export const wrap = (client: Libsql.Client): Libsql.Client => {
  const pragma = () => client.execute(`PRAGMA busy_timeout = ${busyTimeoutMillis}`)
  // libsql 0.4 leaves a connection whose statement (or BEGIN) answered SQLITE_BUSY in a state
  // where its later writes are silently never committed: it is dropped, and the client opens a
  // new one (`transaction` hands the current connection to the transaction, closed at once)
  const reset = async () => {
    const dropped = await client.transaction("deferred")
    dropped.close()
    await pragma()
  }
  return new Proxy(client, {
    get(target, property, receiver) {
      switch (property) {
        case "execute":
          return (...args: Array<unknown>) =>
            retryingWhenBusy(
              () => (target.execute as (...a: Array<unknown>) => Promise<Libsql.ResultSet>)(...args),
              reset
            )
        case "batch":
          return (stmts: Array<Libsql.InStatement>, mode?: Libsql.TransactionMode) =>
            retryingWhenBusy(() => target.batch(stmts, mode), reset)
        case "transaction":
          // `write` is BEGIN IMMEDIATE: a busy database answers at the BEGIN, before any statement
          return async (mode?: Libsql.TransactionMode) => {
            const tx = await retryingWhenBusy(() => target.transaction(mode), reset)
            await pragma()
            return tx
          }
      }
      const value = Reflect.get(target, property, receiver)
      return typeof value === "function" ? value.bind(target) : value
    }
  })
}
