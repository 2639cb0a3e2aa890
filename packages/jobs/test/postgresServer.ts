/**
 * A real Postgres server for tests: `initdb` in a temporary directory, `postgres` on a free port of
 * 127.0.0.1, stopped and removed when the layer's scope closes. It uses the binaries of Debian's
 * `postgresql` package (CI installs it with `.ci/postgres.sh`), or those in `BATCHFX_PG_BIN`.
 * Without them the tests fail with one sentence that says how to install them; nothing is skipped.
 */
import * as Postgres from "@batchfx/jobs/Postgres"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as Command from "@effect/platform/Command"
import type * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/** A running server: connect to `url` (user `batchfx`, trust authentication, database `postgres`). */
export interface Server {
  readonly url: string
  readonly port: number
}

export class PostgresServer extends Context.Tag("@batchfx/jobs/test/PostgresServer")<PostgresServer, Server>() {}

export const missingMessage =
  "Postgres is not installed, and the Postgres tests need its initdb and postgres: run `apt-get install -y postgresql` (Debian, Ubuntu; or `bash .ci/postgres.sh`), or set BATCHFX_PG_BIN to the directory that holds them."

/** The directory of `initdb` and `postgres`: BATCHFX_PG_BIN, else the newest Debian cluster's, else PATH. */
export const binDir = (): string | undefined => {
  const has = (dir: string) => fs.existsSync(path.join(dir, "initdb")) && fs.existsSync(path.join(dir, "postgres"))
  const fromEnv = process.env.BATCHFX_PG_BIN
  if (fromEnv !== undefined && fromEnv !== "") return has(fromEnv) ? fromEnv : undefined
  const debian = "/usr/lib/postgresql"
  if (fs.existsSync(debian)) {
    const versions = fs.readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a))
    for (const v of versions) if (has(path.join(debian, v, "bin"))) return path.join(debian, v, "bin")
  }
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) if (dir !== "" && has(dir)) return dir
  return undefined
}

/** Postgres refuses to run as root: as root, the server runs as the `postgres` user Debian's package makes. */
const runAs = (): { readonly uid: number; readonly gid: number; readonly name: string } | undefined => {
  if (process.getuid?.() !== 0) return undefined
  const line = fs.readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("postgres:"))
  if (line === undefined) {
    throw new Error(
      "The Postgres tests run as root, and Postgres refuses to: they need a 'postgres' user to run it as (`apt-get install -y postgresql` makes one)."
    )
  }
  const [, , uid, gid] = line.split(":")
  return { uid: Number(uid), gid: Number(gid), name: "postgres" }
}

/** A port of 127.0.0.1 nothing listens on now. */
export const freePort = Effect.async<number, Error>((resume) => {
  const server = net.createServer()
  server.once("error", (e) => resume(Effect.fail(e)))
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const command = (
  user: ReturnType<typeof runAs>,
  bin: string,
  args: ReadonlyArray<string>
): Command.Command =>
  user === undefined
    ? Command.make(bin, ...args)
    // setpriv execs the server itself, so a signal to the child reaches Postgres (runuser would stand between)
    : Command.make(
      "setpriv",
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      "--init-groups",
      "--",
      bin,
      ...args
    )

/**
 * Reads the server's log to its end (a full pipe would stop the server) and completes `ready` when
 * it says it accepts connections, or fails it with the log if the server stops first.
 */
const watchLog = (stderr: Stream.Stream<Uint8Array, unknown>, ready: Deferred.Deferred<void, Error>) =>
  Effect.suspend(() => {
    let log = ""
    return stderr.pipe(
      Stream.decodeText(),
      Stream.runForEach((text) => {
        if (log.length < 100_000) log += text
        return log.includes("ready to accept connections") ? Deferred.succeed(ready, undefined) : Effect.void
      }),
      Effect.ignore,
      Effect.zipRight(
        Effect.suspend(() => Deferred.fail(ready, new Error(`postgres stopped before accepting connections:\n${log}`)))
      )
    )
  })

const start = Effect.gen(function*() {
  const bin = binDir()
  if (bin === undefined) return yield* Effect.fail(new Error(missingMessage))
  const user = yield* Effect.try(runAs)
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "batchfx-pg-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  if (user !== undefined) fs.chownSync(dir, user.uid, user.gid)
  const data = path.join(dir, "data")
  const init = yield* command(user, path.join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "batchfx",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-sync"
  ]).pipe(Command.string)
  if (!fs.existsSync(path.join(data, "PG_VERSION"))) return yield* Effect.fail(new Error(`initdb failed:\n${init}`))
  // A port taken between the probe and the server's bind fails the start: try a few.
  const server = yield* Effect.gen(function*() {
    const port = yield* freePort
    const process = yield* command(user, path.join(bin, "postgres"), [
      "-D",
      data,
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      "-k",
      dir,
      // a test database is thrown away: no fsync, and enough connections for several workers
      "-F",
      "-c",
      "max_connections=200",
      "-c",
      "shared_buffers=32MB"
    ]).pipe(Command.start)
    const ready = yield* Deferred.make<void, Error>()
    yield* Effect.forkScoped(watchLog(process.stderr, ready))
    yield* Deferred.await(ready).pipe(Effect.timeoutFail({
      duration: Duration.seconds(30),
      onTimeout: () => new Error("postgres did not accept connections within 30 s")
    }))
    // the Command's own finalizer kills with SIGTERM ("smart": waits for clients); SIGINT is a fast shutdown
    yield* Effect.addFinalizer(() =>
      process.kill("SIGINT").pipe(Effect.zipRight(process.exitCode), Effect.timeout("10 seconds"), Effect.ignore)
    )
    return { port, url: `postgres://batchfx@127.0.0.1:${port}/postgres` }
  }).pipe(Effect.retry({ times: 2 }))
  return server
})

/**
 * A fresh server for the layer's life (one per test file that provides it: `initdb` takes a second
 * or two). A missing installation is a defect whose message says how to install it.
 */
export const layer: Layer.Layer<PostgresServer> = Layer.scoped(PostgresServer, start).pipe(
  Layer.provide(NodeContext.layer as Layer.Layer<CommandExecutor.CommandExecutor>),
  Layer.orDie
)

/** A new empty database on the test server, so that each test starts from no tables; its URL. */
export const freshDatabase: Effect.Effect<string, never, PostgresServer> = Effect.gen(function*() {
  const server = yield* PostgresServer
  const name = `t_${globalThis.crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`
  yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(`CREATE DATABASE ${name}`)).pipe(
    Effect.provide(Postgres.layerSql(server.url))
  )
  return server.url.replace(/\/postgres$/, `/${name}`)
}).pipe(Effect.orDie)
