import { Jobs, JobsError } from "@batchfx/jobs"
import { NodeContext } from "@effect/platform-node"
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { chat, chatLines, tempStore } from "./utils.js"

const openStore = (url: string) =>
  Effect.flip(Layer.build(Jobs.layerStore(url))).pipe(Effect.scoped, Effect.provide(NodeContext.layer))

describe("The store's URL", () => {
  it.effect("an unknown scheme is refused with a sentence listing the accepted ones; nothing is made", () =>
    Effect.gen(function*() {
      const error = yield* openStore("ftp://example.invalid/jobs")
      assert.instanceOf(error, JobsError.StoreError)
      assert.strictEqual(
        error.message,
        "The job store failed to open ftp://example.invalid/jobs: the store URL must be a path, a file: URL, " +
          "a libsql:, http(s): or ws(s): URL of a libSQL server, or a postgres(ql): URL, not ftp:"
      )
      assert.strictEqual(Jobs.storeUrlProblem("ftp://example.invalid/jobs"), error.message.split("store URL ")[1])
      // paths, Windows drives and the accepted schemes pass the same rule
      const oks = ["jobs.db", "./a/jobs.db", "C:\\jobs\\jobs.db", "file:x.db", ":memory:", "libsql://h/db"]
      for (const ok of [...oks, "postgres://u@h/db", "postgresql://h:5432/db", "POSTGRES://h/db"]) {
        assert.isUndefined(Jobs.storeUrlProblem(ok), ok)
      }
      assert.match(Jobs.storeUrlProblem(" ") ?? "", /^is empty/)
    }))

  it.effect("a store error never shows the URL's user, password or token", () =>
    Effect.gen(function*() {
      // libSQL refuses the unknown parameter before connecting
      const url = "libsql://alice:hunter2@127.0.0.1:9/db?authToken=sekrit-token&colour=blue"
      const error = yield* openStore(url)
      assert.instanceOf(error, JobsError.StoreError)
      assert.match(error.message, /^The job store failed to /)
      for (const secret of ["alice", "hunter2", "sekrit-token", "colour=blue"]) assert.notInclude(error.message, secret)
      assert.strictEqual(Jobs.redactStoreUrl(url), "libsql://127.0.0.1:9/db")
      assert.strictEqual(Jobs.redactStoreUrl("file:/tmp/jobs.db?mode=ro"), "file:/tmp/jobs.db")
      assert.strictEqual(
        Jobs.redactStoreUrl("postgresql://alice:hunter2@db.example:5432/jobs?password=hunter2&sslmode=require"),
        "postgresql://db.example:5432/jobs"
      )
    }))

  it.effect(
    "a Postgres store that cannot be reached is one sentence without the password",
    () =>
      Effect.gen(function*() {
        // port 9 on 127.0.0.1: nothing listens, the connection is refused at once
        const url = "postgres://alice:hunter2@127.0.0.1:9/jobs?password=hunter2"
        const error = yield* openStore(url)
        assert.instanceOf(error, JobsError.StoreError)
        assert.match(
          error.message,
          /^The job store failed to connect to postgres:\/\/\*\*\*@127\.0\.0\.1:9\/jobs.*ECONNREFUSED/
        )
        for (const secret of ["alice", "hunter2"]) assert.notInclude(error.message, secret)
      }),
    30_000
  )
})

describe("The store in one process", () => {
  it.live(
    "a connection that holds the write lock keeps running while another one of the process waits for it",
    () =>
      Effect.gen(function*() {
        const url = tempStore()
        // two commands of one process, each with its own connection: a worker's store and a `cancel`'s
        const worker = yield* Layer.build(Jobs.layerStore(url))
        const other = yield* Layer.build(Layer.fresh(Jobs.layerStore(url)))
        const sql = SqlClient.SqlClient.pipe(Effect.provide(worker))
        const holding = yield* Deferred.make<void>()
        // the worker's engine holds a write transaction across awaits; 300 ms of it here
        const holder = yield* Effect.flatMap(sql, (sql) =>
          sql.withTransaction(Effect.gen(function*() {
            yield* sql`UPDATE batchfx_jobs SET name = name WHERE id = 'none'`
            yield* Deferred.succeed(holding, undefined)
            const start = Date.now()
            yield* Effect.sleep("300 millis")
            return Date.now() - start
          }))).pipe(Effect.fork)
        yield* Deferred.await(holding)
        const started = Date.now()
        // a write of the other connection meets the lock
        const jobId = yield* Jobs.submit(chatLines(2), { endpoint: chat }).pipe(Effect.provide(other))
        const waited = Date.now() - started
        const held = yield* Fiber.join(holder)
        // the holder's timer fired on time: the waiting write never blocked the event loop
        assert.isBelow(held, 1_000, `the lock holder's 300 ms took ${held} ms`)
        assert.isAtLeast(waited, 200, "the write did wait for the lock")
        assert.isBelow(waited, 2_000)
        // the write that met the lock is committed: the other connection, and a fresh one, see it
        // (libsql 0.4 kept the writes of a connection that once answered SQLITE_BUSY uncommitted)
        const report = yield* Jobs.status(jobId).pipe(Effect.provide(worker))
        assert.strictEqual(report.job.lines, 2)
        const fresh = yield* Layer.build(Layer.fresh(Jobs.layerStore(url)))
        assert.deepStrictEqual((yield* Jobs.list.pipe(Effect.provide(fresh))).map((j) => j.id), [jobId])
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    20_000
  )
})

const root = fileURLToPath(new URL("../../..", import.meta.url))
const packageDir = fileURLToPath(new URL("..", import.meta.url))

/**
 * Opens a store in a fresh Node process through the built package, as a user's app imports it;
 * says whether the modules of the index are there, whether the store opened, and whether pg was loaded.
 */
const openInFreshProcess = (url: string) => {
  const script = `
    import { createRequire } from "node:module"
    const { Jobs, Postgres, TokenBudget, TokenCount } = await import("@batchfx/jobs")
    const { Effect, Layer } = await import("effect")
    const { NodeContext } = await import("@effect/platform-node")
    const exit = await Effect.runPromiseExit(
      Layer.build(Jobs.layerStore(process.argv[1])).pipe(Effect.scoped, Effect.provide(NodeContext.layer))
    )
    const cache = Object.keys(createRequire(process.cwd() + "/").cache)
    console.log(JSON.stringify({
      modules: [typeof Postgres.layerSql, typeof TokenBudget.layer, typeof TokenCount.ofLines],
      opened: exit._tag,
      pg: cache.some((p) => /[\\/]node_modules[\\/]pg[\\/]/.test(p))
    }))`
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script, url], {
    cwd: packageDir,
    encoding: "utf8"
  })
  return JSON.parse(out.trim().split("\n").pop()!) as { modules: Array<string>; opened: string; pg: boolean }
}

describe("The package as an app loads it", () => {
  beforeAll(() => {
    execFileSync(
      process.execPath,
      [`${root}/node_modules/typescript/bin/tsc`, "-b", "packages/jobs/tsconfig.src.json"],
      {
        cwd: root,
        stdio: "pipe"
      }
    )
  }, 120_000)

  it(
    "the index gives Postgres, TokenBudget and TokenCount; a SQLite store never loads pg, a Postgres store does",
    () => {
      const sqlite = openInFreshProcess(tempStore())
      assert.deepStrictEqual(sqlite, { modules: ["function", "function", "function"], opened: "Success", pg: false })
      // nothing listens on port 9: the store fails to open, after loading pg to try
      const postgres = openInFreshProcess("postgres://batchfx@127.0.0.1:9/jobs")
      assert.deepStrictEqual(postgres, { modules: ["function", "function", "function"], opened: "Failure", pg: true })
    },
    60_000
  )
})
