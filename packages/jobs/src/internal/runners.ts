/**
 * Workers sharing one Postgres store: each worker is a runner of `@effect/cluster` reached over a
 * socket, with the runners, shard locks and workflow messages in the store's database. A job's
 * workflow lives in one shard, so it runs on one worker at a time; when a worker stops answering,
 * its shards (and the jobs in them) move to the workers left.
 */
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import type * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlError from "@effect/sql/SqlError"
import * as ConfigError from "effect/ConfigError"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as net from "node:net"
import { StoreError } from "../JobsError.js"
import { addressesProblem, parseAddress, show } from "./runnerAddress.js"

/** Where a runner is reached and where it listens, as `host:port` (`[::1]:port` for IPv6). */
export interface Addresses {
  /** The address other workers reach this one at; default 127.0.0.1 and a free port. */
  readonly address?: string | undefined
  /** The address to listen on; default the advertised one. */
  readonly listen?: string | undefined
}

/**
 * The cluster's settings for workers on Postgres. Shard locks are rows that expire rather than
 * Postgres advisory locks: an advisory lock lasts as long as its connection, and the connection of
 * a machine that lost power or its network stays open on the server until TCP gives up (two hours
 * by default), while an expiring row frees a dead worker's jobs within `shardLockExpiration`. A
 * live worker renews its rows every 5 s; each renewal must answer within that time, which leaves
 * room for a busy database (2 s timed out at times on a loaded 2-core machine).
 */
export const sharding: Partial<ShardingConfig.ShardingConfig["Type"]> = {
  shardLockDisableAdvisory: true,
  shardLockRefreshInterval: Duration.seconds(5),
  shardLockExpiration: Duration.seconds(20),
  runnerHealthCheckInterval: Duration.seconds(5)
}

const invalid = (name: string, message: string) => ConfigError.InvalidData([name], message)

/** A port nothing listens on now, asked of the system (the runner binds it right after). */
const freePort = (host: string) =>
  Effect.async<number, ConfigError.ConfigError>((resume) => {
    const server = net.createServer()
    server.once(
      "error",
      (error) => resume(Effect.fail(invalid("runnerAddress", `cannot listen on ${host}: ${error.message}`)))
    )
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** The runner addresses from the options: the advertised one, and the one to listen on. */
export const resolve = (
  options: Addresses
): Effect.Effect<
  { readonly address: RunnerAddress.RunnerAddress; readonly listen: RunnerAddress.RunnerAddress },
  ConfigError.ConfigError
> =>
  Effect.gen(function*() {
    const wrong = addressesProblem({ runnerAddress: options.address, listenAddress: options.listen })
    if (wrong !== undefined) return yield* Effect.fail(invalid(wrong.option, wrong.problem))
    const parse = (text: string) => parseAddress(text) as RunnerAddress.RunnerAddress
    const listen = options.listen === undefined ? undefined : parse(options.listen)
    const address = options.address === undefined
      ? RunnerAddress.make(
        listen?.host ?? "127.0.0.1",
        listen?.port ?? (yield* freePort("127.0.0.1"))
      )
      : parse(options.address)
    return { address, listen: listen ?? address }
  })

/**
 * The cluster of a worker on Postgres: a socket runner at its address, with message and runner
 * storage in the SQL database in context.
 */
export const layer = (
  options: Addresses & { readonly sharding?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined }
) =>
  Layer.unwrapEffect(
    Effect.map(
      resolve(options),
      ({ address, listen }) =>
        oneAtATime(address, socketRunner(address, listen, options.sharding)).pipe(
          Layer.tap(() => address === listen ? Effect.void : warnIfUnreachable(address))
        )
    )
  )

/**
 * Warns when this worker's advertised address does not reach it from its own machine (nothing
 * answers there, or no route): the other workers will find it unhealthy and pass it by, which the
 * cluster does without a word. Behind NAT an address the others reach may still fail from inside,
 * hence a warning rather than a failure.
 */
const warnIfUnreachable = (address: RunnerAddress.RunnerAddress) =>
  Effect.gen(function*() {
    const socket = yield* NodeSocket.makeNet({ host: address.host, port: address.port, openTimeout: "2 seconds" })
    const opened = yield* Deferred.make<void>()
    // opened: the run (and the connection) ends there; a failure to open fails the run first
    return yield* Effect.raceFirst(
      socket.runRaw(() => {}, { onOpen: Deferred.succeed(opened, undefined) }),
      Deferred.await(opened)
    )
  }).pipe(
    Effect.catchAll((error) =>
      Effect.logWarning(
        `the runner address ${show(address)} does not reach this worker from its own machine (${
          problemOf(error)
        }): other workers will pass it by unless they reach it there`
      )
    )
  )

/** A socket error as its system code (ECONNREFUSED, …), else its message. */
const problemOf = (error: unknown): string => {
  const cause = error !== null && typeof error === "object" && "cause" in error ? error.cause : error
  if (cause !== null && typeof cause === "object" && "code" in cause && typeof cause.code === "string") {
    return cause.code
  }
  return cause instanceof Error ? cause.message : String(cause)
}

/** The Postgres advisory lock under which a worker sets up its runner (any fixed number; "bfx"). */
const setupLock = 0x626678

/**
 * Builds a worker's cluster while no other worker of the database builds its own, and holds the
 * lock until the runner is registered, so that a worker starting next sees it. The cluster
 * creates its tables with `CREATE TABLE IF NOT EXISTS`, which Postgres does not make safe against
 * another session doing the same at that moment (one fails with a duplicate key in `pg_type`); and
 * two workers given one address at the same moment would both take it. The lock is a session's,
 * on a connection held only while the cluster is built.
 */
const oneAtATime = <A, E, R>(address: RunnerAddress.RunnerAddress, cluster: Layer.Layer<A, E, R>) =>
  Layer.scopedContext(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const scope = yield* Effect.scope
    return yield* Effect.scoped(Effect.gen(function*() {
      const connection = yield* sql.reserve
      return yield* Effect.acquireUseRelease(
        connection.executeRaw(`SELECT pg_advisory_lock(${setupLock})`, []),
        () =>
          addressFree(sql, address).pipe(
            Effect.zipRight(Layer.buildWithScope(cluster, scope)),
            Effect.tap(() => registered(sql, address))
          ),
        () => Effect.ignore(connection.executeRaw(`SELECT pg_advisory_unlock(${setupLock})`, []))
      )
    }))
  })).pipe(Layer.catchAll((error) =>
    Layer.fail(
      error instanceof SqlError.SqlError
        ? new StoreError({ operation: "set up this worker's runner", cause: error })
        : error
    )
  ))

/** How long a live worker's heartbeat may stand still: two renewals (every 5 s) and a margin. */
const heartbeatSilence = 12

/** A runner's address as the cluster stores it (RunnerStorage: `host:port`, IPv6 without brackets). */
const keyOf = (address: RunnerAddress.RunnerAddress) => `${address.host}:${address.port}`

const heartbeatAt = (sql: SqlClient.SqlClient, address: RunnerAddress.RunnerAddress) =>
  Effect.map(
    sql<{ readonly beat: string; readonly age: number }>`
      SELECT last_heartbeat::text AS beat, EXTRACT(EPOCH FROM (NOW() - last_heartbeat))::float8 AS age
      FROM cluster_runners WHERE address = ${keyOf(address)}`,
    (rows) => rows[0]
  )

/**
 * Fails when another live worker is registered at `address`: two runners at one address would
 * both take its shard locks, and run the same jobs at once. A row whose heartbeat moves while
 * this worker watches (until it is `heartbeatSilence` seconds old, and at least 6 s, more than a
 * renewal) is a live worker's; one that stands still is a dead one's (a restart at a fixed
 * address waits for it), and an older one is passed at once.
 */
const addressFree = (sql: SqlClient.SqlClient, address: RunnerAddress.RunnerAddress) =>
  Effect.gen(function*() {
    const tables = yield* sql<{ readonly name: string | null }>`SELECT to_regclass('cluster_runners')::text AS name`
    if (tables[0]?.name === null || tables[0]?.name === undefined) return
    const first = yield* heartbeatAt(sql, address)
    if (first === undefined || first.age > heartbeatSilence) return
    const watch = Math.max(6, heartbeatSilence - first.age)
    yield* Effect.logInfo(
      `the worker last registered at ${show(address)} renewed its registration ${
        Math.max(0, Math.round(first.age))
      } s ago: watching up to ${Math.round(watch)} s whether it is still alive`
    )
    const seen = yield* heartbeatAt(sql, address).pipe(
      Effect.map((now) => now === undefined ? "gone" : now.beat === first.beat ? "still" : "moved"),
      // passthrough: the repeat yields what was seen last, not the schedule's count
      Effect.repeat({ schedule: Schedule.passthrough(Schedule.spaced("1 second")), until: (seen) => seen !== "still" }),
      Effect.timeoutTo({ duration: Duration.seconds(watch), onTimeout: () => "still", onSuccess: (seen) => seen })
    )
    if (seen === "moved") {
      return yield* Effect.fail(invalid(
        "runnerAddress",
        `another worker is registered at ${
          show(address)
        } and alive (its heartbeat moved while this one waited): give each worker an address of its own`
      ))
    }
  })

/** Waits (at most 10 s) until the runner at `address` is registered; the cluster does it in a fiber of its own. */
const registered = (sql: SqlClient.SqlClient, address: RunnerAddress.RunnerAddress) =>
  heartbeatAt(sql, address).pipe(
    Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (row) => row !== undefined }),
    Effect.timeout("10 seconds"),
    Effect.ignore
  )

const socketRunner = (
  address: RunnerAddress.RunnerAddress,
  listen: RunnerAddress.RunnerAddress,
  overrides: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
) =>
  NodeClusterSocket.layer({
    storage: "sql",
    shardingConfig: {
      ...sharding,
      ...overrides,
      runnerAddress: Option.some(address),
      runnerListenAddress: Option.some(listen)
    }
  }).pipe(Layer.catchAll((error) =>
    Layer.fail(
      error._tag === "SocketServerError"
        ? invalid(
          "listenAddress",
          `cannot listen on ${listen.host}:${listen.port} for other workers: ${
            error.cause instanceof Error ? error.cause.message : String(error.cause)
          }`
        )
        : error
    )
  ))
