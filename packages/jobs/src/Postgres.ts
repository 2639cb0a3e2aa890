/**
 * Jobs on Postgres: the store's `SqlClient` from a `postgres://` URL, through `@effect/sql-pg`
 * (an optional peer: only a Postgres store needs it), so that several workers on several machines
 * share one queue.
 *
 * @since 0.1.0
 */
import type * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { StoreError } from "./JobsError.js"

/**
 * Whether a store URL names a Postgres database (`postgres://` or `postgresql://`).
 *
 * @since 0.1.0
 * @category utils
 */
export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url)

/**
 * A store URL as it may be shown: its password (and any `password=` parameter) as `***`.
 *
 * @since 0.1.0
 * @category utils
 */
export const showUrl = (url: string): string =>
  url
    .replace(/^(postgres(?:ql)?:\/\/[^:/?#@]*):[^@/?#]*@/i, "$1:***@")
    .replace(/([?&]password=)[^&#]*/gi, "$1***")

/**
 * Options of a Postgres store beside its URL.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Connections in the pool; default 10. A worker runs 4 shards at once and polls the runner's storage. */
  readonly maxConnections?: number | undefined
  /** How long a connection may take; default 10 s. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * How long the server lets a session sit idle inside a transaction before it ends the session
   * (`idle_in_transaction_session_timeout`, unless the URL sets it); default 30 s. It frees the row
   * locks of a worker frozen or cut off mid-transaction.
   */
  readonly idleTransactionTimeout?: Duration.DurationInput | undefined
}

/**
 * The SQL client of a `postgres://` URL. The pool connects once when the layer is built, so a
 * wrong host, user or database fails here as a `StoreError` that shows the URL without its password.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (url: string, options: Options = {}): Layer.Layer<SqlClient.SqlClient, StoreError> =>
  isPostgresUrl(url)
    ? Layer.unwrapEffect(Effect.map(loadPgClient(url), (Pg) =>
      Pg.layer({
        url: Redacted.make(
          withIdleTransactionTimeout(url, Duration.decode(options.idleTransactionTimeout ?? Duration.seconds(30)))
        ),
        maxConnections: options.maxConnections ?? 10,
        connectTimeout: options.connectTimeout ?? Duration.seconds(10),
        applicationName: "batchfx-jobs"
      }).pipe(
        Layer.mapError((cause) =>
          new StoreError({ operation: `connect to ${showUrl(url)}`, cause: new Error(causeText(cause)) })
        )
      )))
    : Layer.fail(
      new StoreError({
        operation: `open ${showUrl(url)}`,
        cause: new Error("a Postgres store URL starts with postgres:// or postgresql://")
      })
    )

/**
 * The URL with `idle_in_transaction_session_timeout` unless it sets one: a worker frozen or cut off
 * inside a transaction would otherwise keep that transaction's row locks (a model's row of the
 * token budget) until TCP gives up, and every other worker would queue on them, each holding a
 * pooled connection. The store's transactions last milliseconds.
 */
const withIdleTransactionTimeout = (url: string, timeout: Duration.Duration): string =>
  /[?&]idle_in_transaction_session_timeout=/i.test(url)
    ? url
    : `${url}${url.includes("?") ? "&" : "?"}idle_in_transaction_session_timeout=${Duration.toMillis(timeout)}`

/**
 * `@effect/sql-pg`, loaded when a Postgres store is opened: it is an optional peer dependency, so
 * importing this package (a SQLite user) neither loads pg nor needs it installed.
 */
const loadPgClient = (url: string): Effect.Effect<typeof PgClient, StoreError> =>
  Effect.tryPromise({
    try: () => import("@effect/sql-pg/PgClient"),
    catch: (cause) =>
      new StoreError({
        operation: `open ${showUrl(url)}`,
        cause: new Error(
          `a Postgres store needs the package @effect/sql-pg (${
            cause instanceof Error ? cause.message : String(cause)
          }): install it beside @batchfx/jobs`
        )
      })
  })

/** The driver's reason, without anything it may have copied from the URL. */
const causeText = (error: { readonly message: string; readonly cause?: unknown }): string => {
  const inner = error.cause instanceof Error ? `: ${error.cause.message}` : ""
  return `${error.message}${inner}`
}
