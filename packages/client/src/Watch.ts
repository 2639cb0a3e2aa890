/**
 * Watching a batch: a `Stream` of the batch each time it changes, polled on a `Schedule` driven by
 * the Effect `Clock` (never more often than once a second), ending at a terminal status, bounded by
 * the batch's `expires_at`, and riding out server outages until then.
 *
 * @since 0.1.0
 */
import { Batch, BatchStatus } from "@batchfx/core"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { BatchClient } from "./BatchClient.js"
import { type BatchClientError, retryAfter } from "./BatchClientError.js"
import type * as ClientConfig from "./ClientConfig.js"
import { isRetryable } from "./Retry.js"

/**
 * The watch stopped before the batch reached a terminal status: `reason` is `deadline` when the
 * batch was still not terminal `grace` after its `expires_at`, `schedule` when the poll schedule
 * ended.
 *
 * @since 0.1.0
 * @category errors
 */
export class WatchTimeout extends Schema.TaggedError<WatchTimeout>("@batchfx/client/WatchTimeout")("WatchTimeout", {
  /** The batch watched. */
  batchId: Schema.String,
  /** Why the watch stopped. */
  reason: Schema.Literal("deadline", "schedule"),
  /** The last status seen. */
  status: Schema.String,
  /** The batch's `expires_at` (Unix seconds), if it had one. */
  expiresAt: Schema.optional(Schema.Number)
}) {
  /** One sentence. */
  override get message(): string {
    return this.reason === "deadline"
      ? `Batch ${this.batchId} is still ${this.status} long after its expiry time (${
        this.expiresAt === undefined ? "unknown" : new Date(this.expiresAt * 1000).toISOString()
      }); stopped watching.`
      : `Stopped watching batch ${this.batchId} while it was ${this.status}: the poll schedule ended.`
  }
}

/**
 * A poll schedule: it sees each batch observed and gives the wait before the next poll.
 *
 * @since 0.1.0
 * @category models
 */
export type PollSchedule = Schedule.Schedule<unknown, Batch.Batch>

/**
 * The default poll schedule: 2 seconds, then ×1.5 each poll, capped at one minute.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultSchedule: PollSchedule = Schedule.exponential("2 seconds", 1.5).pipe(
  Schedule.union(Schedule.spaced("1 minute"))
)

/**
 * The shortest time between two polls: 1 second. A shorter schedule is stretched to it, since
 * faster polling only spends the rate limit on a batch that changes over minutes.
 *
 * @since 0.1.0
 * @category constants
 */
export const minimumInterval: Duration.Duration = Duration.seconds(1)

/**
 * The longest wait between two attempts while the server is failing: one minute.
 *
 * @since 0.1.0
 * @category constants
 */
export const outageCap: Duration.Duration = Duration.minutes(1)

/**
 * The deadline of a watch before any batch is seen (and of a batch without `expires_at`): the
 * longest completion window, 24 hours, from the start of the watch (plus the grace).
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultWindow: Duration.Duration = Duration.hours(24)

/**
 * How long after `expires_at` a batch may stay non-terminal before the watch gives up (the service
 * needs about 10 minutes to move an overdue batch to `expired`). Default one hour.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultGrace: Duration.Duration = Duration.hours(1)

/**
 * Options of a watch.
 *
 * @since 0.1.0
 * @category models
 */
export interface WatchOptions extends ClientConfig.CallOptions {
  /** The poll schedule; default `defaultSchedule`. */
  readonly schedule?: PollSchedule | undefined
  /** How long past `expires_at` to keep polling a non-terminal batch; default `defaultGrace`. */
  readonly grace?: Duration.DurationInput | undefined
  /** The batch as already known (say, from `create`): it is emitted first and not fetched again. */
  readonly initial?: Batch.Batch | undefined
}

/**
 * The progress of a batch, from its `request_counts`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly status: string
  readonly total: number
  readonly completed: number
  readonly failed: number
  /** `completed + failed` over `total`, from 0 to 1 (0 while `total` is 0). */
  readonly fraction: number
  readonly terminal: boolean
}

/**
 * The progress of a batch.
 *
 * @since 0.1.0
 * @category utils
 */
export const progress = (batch: Batch.Batch): Progress => {
  const counts = batch.request_counts
  const total = counts?.total ?? 0
  const completed = counts?.completed ?? 0
  const failed = counts?.failed ?? 0
  const terminal = BatchStatus.isTerminal(batch.status)
  return {
    status: batch.status,
    total,
    completed,
    failed,
    fraction: total === 0 ? (terminal ? 1 : 0) : Math.min(1, (completed + failed) / total),
    terminal
  }
}

const encodeBatch = Schema.encodeSync(Batch.Batch)

/** Two observations are the same when their wire forms are. */
const fingerprint = (batch: Batch.Batch): string => JSON.stringify(encodeBatch(batch))

interface State {
  readonly last: Option.Option<string>
  readonly polled: boolean
  readonly done: boolean
  readonly previous: Option.Option<Batch.Batch>
}

/** A poll schedule whose waits are at least `minimumInterval`. */
const atLeastMinimum = (schedule: PollSchedule): PollSchedule =>
  Schedule.modifyDelay(schedule, (_, delay) => Duration.max(delay, minimumInterval))

/**
 * Whether a failed poll is part of an outage to ride out: what the client would retry (5xx,
 * resets, timeouts, 429), whatever wait the server asks for, since a watch has hours to spare.
 */
const isTransient = (error: BatchClientError): boolean => isRetryable(error, { serverWaitCap: Duration.infinity })

/**
 * The waits between attempts during an outage, for at most `budget`: from 1 second, doubling,
 * capped at a minute, lengthened by up to a quarter at random so that many watchers do not return
 * together, and never shorter than a wait the server asked for.
 */
const outageSchedule = (budget: Duration.Duration): Schedule.Schedule<unknown, BatchClientError> =>
  Schedule.exponential(minimumInterval, 2).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, outageCap)),
    (capped) => Schedule.jitteredWith(capped, { min: 1, max: 1.25 }),
    Schedule.intersect(Schedule.identity<BatchClientError>()),
    Schedule.modifyDelay(([, error], delay) => Duration.max(delay, retryAfter(error) ?? Duration.zero)),
    Schedule.upTo(budget)
  )

/**
 * The batch each time it changes (status, counts, files, timestamps), starting with its current
 * state and ending with its first terminal observation. Polls follow the schedule, never more often
 * than `minimumInterval`. A poll that fails with what the client retries (5xx, resets, timeouts,
 * 429) is tried again with backoff until the watch's deadline, whatever the per-call retry budget:
 * the deadline is `expires_at` plus `grace` (24 hours plus `grace` from the start while no batch
 * has been seen); past it the last error fails the stream. A batch still not terminal `grace` after
 * `expires_at` fails with `WatchTimeout`, as does the end of a finite schedule.
 *
 * @since 0.1.0
 * @category accessors
 */
export const watch = (
  id: string,
  options: WatchOptions = {}
): Stream.Stream<Batch.Batch, BatchClientError | WatchTimeout, BatchClient> =>
  Stream.unwrap(Effect.gen(function*() {
    const client = yield* BatchClient
    const driver = yield* Schedule.driver(atLeastMinimum(options.schedule ?? defaultSchedule))
    const grace = Duration.decode(options.grace ?? defaultGrace)
    const call = { retry: options.retry, timeout: options.timeout }
    const started = yield* Clock.currentTimeMillis

    /** When the watch stops riding out an outage, in epoch milliseconds. */
    const deadline = (previous: Option.Option<Batch.Batch>): number =>
      Option.match(Option.flatMapNullable(previous, (b) => b.expires_at), {
        onNone: () => started + Duration.toMillis(defaultWindow),
        onSome: (expiresAt) => expiresAt * 1000
      }) + Duration.toMillis(grace)

    const retrieve = (previous: Option.Option<Batch.Batch>): Effect.Effect<Batch.Batch, BatchClientError> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        client.retrieve(id, call).pipe(
          Effect.retry({
            schedule: outageSchedule(Duration.millis(Math.max(0, deadline(previous) - now))),
            while: isTransient
          })
        ))

    const observe = (state: State): Effect.Effect<Batch.Batch, BatchClientError | WatchTimeout> =>
      Effect.gen(function*() {
        if (!state.polled && options.initial !== undefined) return options.initial
        if (state.polled && Option.isSome(state.previous)) {
          const previous = state.previous.value
          yield* Effect.catchAll(
            driver.next(previous),
            () =>
              new WatchTimeout({
                batchId: id,
                reason: "schedule",
                status: previous.status,
                expiresAt: previous.expires_at ?? undefined
              })
          )
        }
        return yield* retrieve(state.previous)
      })

    const step = (
      state: State
    ): Effect.Effect<Option.Option<readonly [Chunk.Chunk<Batch.Batch>, State]>, BatchClientError | WatchTimeout> =>
      Effect.gen(function*() {
        if (state.done) return Option.none()
        const batch = yield* observe(state)
        const terminal = BatchStatus.isTerminal(batch.status)
        const print = fingerprint(batch)
        const changed = Option.match(state.last, { onNone: () => true, onSome: (last) => last !== print })
        if (!terminal && batch.expires_at !== undefined && batch.expires_at !== null) {
          const now = yield* Clock.currentTimeMillis
          if (now > batch.expires_at * 1000 + Duration.toMillis(grace)) {
            return yield* new WatchTimeout({
              batchId: id,
              reason: "deadline",
              status: batch.status,
              expiresAt: batch.expires_at
            })
          }
        }
        const next: State = { last: Option.some(print), polled: true, done: terminal, previous: Option.some(batch) }
        return Option.some([changed ? Chunk.of(batch) : Chunk.empty(), next] as const)
      })

    return Stream.unfoldChunkEffect<State, Batch.Batch, BatchClientError | WatchTimeout, never>(
      { last: Option.none(), polled: false, done: false, previous: Option.none() },
      step
    )
  }))

/**
 * Polls until the batch reaches a terminal status and returns it.
 *
 * @since 0.1.0
 * @category accessors
 */
export const awaitTerminal = (
  id: string,
  options?: WatchOptions
): Effect.Effect<Batch.Batch, BatchClientError | WatchTimeout, BatchClient> =>
  Effect.flatMap(Stream.runLast(watch(id, options)), (last) =>
    Option.match(last, {
      onSome: Effect.succeed,
      onNone: () => Effect.dieMessage(`watch of ${id} ended without a batch`)
    }))
