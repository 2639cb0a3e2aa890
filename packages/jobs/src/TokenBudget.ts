/**
 * The enqueued-token budget: the API limits the input tokens of a model's batches in flight, and a
 * batch over it fails with `token_limit_exceeded`. A shard reserves its tokens before its batch is
 * created and releases them when the batch ends, so the batches in flight stay under the limit;
 * a shard over it waits (on a `Schedule`) instead of failing. Reservations live in the store's SQL
 * database, so the budget holds across every worker sharing it, SQLite or Postgres.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { StoreError } from "./JobsError.js"

/**
 * A shard needs more tokens than the model's whole limit: it can never run, so it fails at once
 * instead of waiting. Cut smaller shards.
 *
 * @since 0.1.0
 * @category errors
 */
export class TokensOverLimit extends Schema.TaggedError<TokensOverLimit>("@batchfx/jobs/TokensOverLimit")(
  "TokensOverLimit",
  { id: Schema.String, model: Schema.String, tokens: Schema.Number, limit: Schema.Number }
) {
  override get message(): string {
    return `${this.id} needs ${this.tokens} input tokens of ${this.model}, more than its enqueued-token limit of ${this.limit}: split it into smaller shards.`
  }
}

/**
 * A model's tokens in flight and its limit (`undefined`: none known).
 *
 * @since 0.1.0
 * @category models
 */
export interface ModelUsage {
  readonly model: string
  readonly tokens: number
  readonly limit: number | undefined
  /** The limit given in the options. */
  readonly configured: number | undefined
  /** The limit read from the last `token_limit_exceeded` failure. */
  readonly learned: number | undefined
}

/**
 * A reservation: `id` names what holds it (say `job_…/3` for a job's third shard), so reserving
 * the same `id` again (after a crash) holds it once.
 *
 * @since 0.1.0
 * @category models
 */
export interface Reservation {
  readonly id: string
  readonly model: string
  readonly tokens: number
}

/**
 * The budget's operations.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Holds the tokens, waiting (on the budget's schedule) while the model's tokens in flight leave no room. */
  readonly reserve: (reservation: Reservation) => Effect.Effect<void, TokensOverLimit | StoreError>
  /** Holds the tokens if there is room now; `false` when there is not. */
  readonly tryReserve: (reservation: Reservation) => Effect.Effect<boolean, TokensOverLimit | StoreError>
  /** Gives the tokens back (when the batch ended, or was never created); releasing twice is harmless. */
  readonly release: (id: string) => Effect.Effect<void, StoreError>
  /** Sets (or with `undefined` clears) a model's configured limit for every worker of the store. */
  readonly setLimit: (model: string, limit: number | undefined) => Effect.Effect<void, StoreError>
  /** Records the limit a `token_limit_exceeded` failure stated; the lower of it and the configured one holds. */
  readonly learn: (model: string, limit: number) => Effect.Effect<void, StoreError>
  /** Every model with a limit or tokens in flight, by name. */
  readonly usage: Effect.Effect<ReadonlyArray<ModelUsage>, StoreError>
}

/**
 * The budget.
 *
 * @since 0.1.0
 * @category tags
 */
export class TokenBudget extends Context.Tag("@batchfx/jobs/TokenBudget")<TokenBudget, Service>() {}

/**
 * Options of the budget.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Limits per model, written to the store when the layer starts (they then hold for every worker). */
  readonly limits?: { readonly [model: string]: number } | undefined
  /** How often a waiting reservation looks again; default 1 s growing ×1.5 to at most 30 s. */
  readonly wait?: Schedule.Schedule<unknown, unknown> | undefined
}

/**
 * The default wait: a second, growing to 30 s; a batch ends in minutes to hours, so a few checks
 * a minute are enough, and each is one short transaction.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultWait: Schedule.Schedule<unknown, unknown> = Schedule.exponential("1 second", 1.5).pipe(
  Schedule.either(Schedule.spaced("30 seconds"))
)

/**
 * The limit a `token_limit_exceeded` message states, as OpenAI words it ("… Limit: 90,000
 * enqueued tokens. …") or Azure ("… the configured limit of 30K …").
 *
 * @since 0.1.0
 * @category utils
 */
export const limitFromMessage = (message: string): number | undefined => {
  const openai = /Limit:\s*([\d,]+)\s*enqueued tokens/i.exec(message)
  if (openai !== null) return Number(openai[1]!.replace(/,/g, ""))
  const azure = /limit of\s*([\d,.]+)\s*([KMB]?)\b/i.exec(message)
  if (azure === null) return undefined
  const scale = { "": 1, K: 1e3, M: 1e6, B: 1e9 }[azure[2]!.toUpperCase() as "" | "K" | "M" | "B"]
  const n = Math.round(Number(azure[1]!.replace(/,/g, "")) * scale)
  return Number.isFinite(n) ? n : undefined
}

/**
 * The model and limit of a batch's `token_limit_exceeded` error, if it has one.
 *
 * @since 0.1.0
 * @category utils
 */
export const fromBatchErrors = (
  errors:
    | { readonly data?: ReadonlyArray<{ readonly code?: string | null; readonly message?: string | null }> }
    | null
    | undefined
): { readonly model: string | undefined; readonly limit: number | undefined } | undefined => {
  const error = errors?.data?.find((e) => e.code === "token_limit_exceeded")
  if (error === undefined) return undefined
  const message = error.message ?? ""
  return {
    model: /limit reached for (\S+?)\s+in organization/i.exec(message)?.[1],
    limit: limitFromMessage(message)
  }
}

const num = (u: unknown): number | undefined => (u === null || u === undefined ? undefined : Number(u))

const lowest = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b)

class NoRoomYet extends Schema.TaggedError<NoRoomYet>()("NoRoomYet", {}) {}

const migrate = (sql: SqlClient.SqlClient) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS batchfx_token_limits (
      model TEXT PRIMARY KEY,
      configured BIGINT,
      learned BIGINT,
      version BIGINT NOT NULL DEFAULT 0
    )`,
    sql`CREATE TABLE IF NOT EXISTS batchfx_token_reservations (
      id TEXT PRIMARY KEY,
      model TEXT NOT NULL,
      tokens BIGINT NOT NULL,
      reserved_at BIGINT NOT NULL
    )`,
    sql`CREATE INDEX IF NOT EXISTS batchfx_token_reservations_model ON batchfx_token_reservations (model)`
  ], { discard: true }).pipe(
    // Two workers starting at once race on Postgres's catalog ("duplicate key … pg_type"): the
    // loser's error comes once the winner has committed, so its next try finds the tables. No
    // pause, so that a test on TestClock never waits for one.
    Effect.retry({ times: 3 })
  )

/**
 * The budget over the `SqlClient` in context; creates its tables when missing and writes the
 * configured limits.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, StoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const fail = (operation: string) => (cause: SqlError) => new StoreError({ operation, cause })
    yield* migrate(sql).pipe(Effect.mapError(fail("create the token budget's tables")))

    const ensureModel = (model: string) =>
      sql`INSERT INTO batchfx_token_limits (model) VALUES (${model}) ON CONFLICT DO NOTHING`

    const setLimit: Service["setLimit"] = (model, limit) =>
      sql`INSERT INTO batchfx_token_limits (model, configured) VALUES (${model}, ${limit ?? null})
        ON CONFLICT (model) DO UPDATE SET configured = excluded.configured`.pipe(
        Effect.asVoid,
        Effect.mapError(fail("set a token limit"))
      )

    const learn: Service["learn"] = (model, limit) =>
      sql`INSERT INTO batchfx_token_limits (model, learned) VALUES (${model}, ${limit})
        ON CONFLICT (model) DO UPDATE SET learned = excluded.learned`.pipe(
        Effect.asVoid,
        Effect.mapError(fail("record a learned token limit"))
      )

    // One short transaction per try. Bumping the model's row first serializes the tries of every
    // worker on that model (a row lock on Postgres, the write lock on SQLite), so the sum read next
    // cannot miss a reservation committed meanwhile.
    const tryReserve: Service["tryReserve"] = (r) =>
      Effect.gen(function*() {
        if (!(yield* roomAtFirstSight(r))) return false
        const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
        return yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`UPDATE batchfx_token_limits SET version = version + 1 WHERE model = ${r.model}`
          const held = yield* sql`SELECT tokens FROM batchfx_token_reservations WHERE id = ${r.id}`
          if (held.length > 0) return true
          const [limits] = yield* sql`SELECT configured, learned FROM batchfx_token_limits WHERE model = ${r.model}`
          const limit = lowest(num(limits?.configured), num(limits?.learned))
          if (limit !== undefined && r.tokens > limit) {
            return yield* new TokensOverLimit({ id: r.id, model: r.model, tokens: r.tokens, limit })
          }
          const [sum] = yield* sql`SELECT COALESCE(SUM(tokens), 0) AS n FROM batchfx_token_reservations
            WHERE model = ${r.model}`
          if (limit !== undefined && (num(sum?.n) ?? 0) + r.tokens > limit) return false
          yield* sql`INSERT INTO batchfx_token_reservations ${
            sql.insert({ id: r.id, model: r.model, tokens: r.tokens, reserved_at: now })
          }`
          return true
        }))
      }).pipe(Effect.catchTag("SqlError", (e) => Effect.fail(fail("reserve tokens")(e))))

    // A look without the lock before each try: a shard waiting for room reads two rows and gives its
    // connection back, instead of queueing on the model's row lock while holding it (ninety waiting
    // shards held every connection of their workers' pools, and the cluster could not read its
    // storage). `true` when the locked try may succeed; the try decides.
    const roomAtFirstSight = (r: Reservation) =>
      Effect.gen(function*() {
        const [limits] = yield* sql`SELECT configured, learned FROM batchfx_token_limits WHERE model = ${r.model}`
        if (limits === undefined) {
          yield* ensureModel(r.model)
          return true
        }
        const limit = lowest(num(limits.configured), num(limits.learned))
        if (limit === undefined || r.tokens > limit) return true
        const [held] = yield* sql`SELECT COALESCE(SUM(tokens), 0) AS n,
          COALESCE(SUM(CASE WHEN id = ${r.id} THEN 1 ELSE 0 END), 0) AS mine
          FROM batchfx_token_reservations WHERE model = ${r.model}`
        return (num(held?.mine) ?? 0) > 0 || (num(held?.n) ?? 0) + r.tokens <= limit
      })

    const reserve: Service["reserve"] = (r) =>
      Effect.suspend(() => {
        let told = false
        return tryReserve(r).pipe(
          Effect.flatMap((held) => (held ? Effect.void : new NoRoomYet())),
          // said once, when the wait begins, so that a worker's log tells why a shard is not sent yet
          Effect.tapError((e) =>
            e._tag !== "NoRoomYet" || told ? Effect.void : Effect.logInfo(
              `${r.id} waits for room under the enqueued-token limit of ${r.model} (${r.tokens} tokens)`
            ).pipe(Effect.tap(() => (told = true)))
          ),
          Effect.retry({ schedule: options.wait ?? defaultWait, while: (e) => e._tag === "NoRoomYet" })
        )
      }).pipe(
        // the wait schedule above never ends by default; a finite one that ran out is a defect
        Effect.catchTag("NoRoomYet", () => Effect.dieMessage(`the wait for ${r.id}'s tokens ran out`)),
        Effect.withSpan("TokenBudget.reserve", { attributes: { id: r.id, model: r.model, tokens: r.tokens } })
      )

    const release: Service["release"] = (id) =>
      sql`DELETE FROM batchfx_token_reservations WHERE id = ${id}`.pipe(
        Effect.asVoid,
        Effect.mapError(fail("release tokens"))
      )

    const usage: Service["usage"] = Effect.gen(function*() {
      const limits = yield* sql`SELECT model, configured, learned FROM batchfx_token_limits`
      const held = yield* sql`SELECT model, SUM(tokens) AS n FROM batchfx_token_reservations GROUP BY model`
      const byModel = new Map<string, ModelUsage>()
      for (const row of limits) {
        const configured = num(row.configured)
        const learned = num(row.learned)
        byModel.set(String(row.model), {
          model: String(row.model),
          tokens: 0,
          limit: lowest(configured, learned),
          configured,
          learned
        })
      }
      for (const row of held) {
        const model = String(row.model)
        const known = byModel.get(model)
        const tokens = num(row.n) ?? 0
        byModel.set(
          model,
          known === undefined
            ? { model, tokens, limit: undefined, configured: undefined, learned: undefined }
            : { ...known, tokens }
        )
      }
      return [...byModel.values()]
        .filter((u) => u.tokens > 0 || u.limit !== undefined)
        .sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0))
    }).pipe(Effect.mapError(fail("read the token budget")))

    for (const [model, limit] of Object.entries(options.limits ?? {})) yield* setLimit(model, limit)

    return { reserve, tryReserve, release, setLimit, learn, usage }
  })

/**
 * The budget over the `SqlClient` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<TokenBudget, StoreError, SqlClient.SqlClient> =>
  Layer.effect(TokenBudget, make(options))
