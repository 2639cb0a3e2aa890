import * as Postgres from "@batchfx/jobs/Postgres"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as net from "node:net"
import * as PostgresServer from "./postgresServer.js"

/** A port of 127.0.0.1 that nothing listens on. */
const closedPort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("Postgres.layerSql", () => {
  it.live("a server that does not answer is a StoreError that shows the URL without its password", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const url = `postgres://jobs:s3cret-pw@127.0.0.1:${port}/queue?password=s3cret-pw`
      const error = yield* Effect.flip(Layer.build(Postgres.layerSql(url)).pipe(Effect.scoped))
      assert.strictEqual(error._tag, "StoreError")
      assert.match(
        error.message,
        new RegExp(`^The job store failed to connect to postgres://\\S*\\*\\*\\*@127\\.0\\.0\\.1:${port}/queue`)
      )
      assert.strictEqual(Postgres.showUrl(url), `postgres://jobs:***@127.0.0.1:${port}/queue?password=***`)
      assert.notInclude(error.message, "s3cret")
      assert.notInclude(JSON.stringify(error), "s3cret")
    }))

  it.effect("a URL that is not Postgres's is refused with one sentence", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(Postgres.layerSql("mysql://u:p@h/db")).pipe(Effect.scoped))
      assert.match(
        error.message,
        /^The job store failed to open mysql:\/\/.*: a Postgres store URL starts with postgres:\/\/ or postgresql:\/\/$/
      )
      assert.isTrue(Postgres.isPostgresUrl("postgresql://h/db"))
      assert.isFalse(Postgres.isPostgresUrl("file:jobs.db"))
    }))
})

layer(PostgresServer.layer, { timeout: 60_000 })("Postgres.layerSql on a real server", (it) => {
  it.effect("connects and reads back 64-bit integers (millisecond timestamps) whole", () =>
    Effect.gen(function*() {
      const server = yield* PostgresServer.PostgresServer
      const rows = yield* Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`SELECT ${1_796_250_516_161}::bigint AS at, current_user AS who`
      ).pipe(Effect.provide(Postgres.layerSql(server.url)))
      assert.strictEqual(Number(rows[0]!.at), 1_796_250_516_161)
      assert.strictEqual(rows[0]!.who, "batchfx")
    }))
})
