/**
 * What a `jobs run` worker prints on stderr: pg's deprecation notice about a query sent while its
 * connection answers another (which the cluster's shard locks cause on a Postgres store, at random
 * moments) is kept off, and any other warning is printed as Node prints it. The built binary runs
 * with a preload that raises both warnings through `util.deprecate`, as pg does, once the worker
 * has announced itself: the same call at a moment the test chooses.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { spawnBinary, tempDir } from "./utils.js"

const pgWarning =
  "Calling client.query() when the client is already executing a query is deprecated and will be removed in pg@9.0. Use async/await or an external async flow control mechanism instead."

const preload = (dir: string): string => {
  const path = join(dir, "warn.mjs")
  writeFileSync(
    path,
    `import { deprecate } from "node:util"
const write = process.stderr.write.bind(process.stderr)
let fired = false
process.stderr.write = (chunk, ...rest) => {
  const written = write(chunk, ...rest)
  if (!fired && String(chunk).includes("working on the jobs of")) {
    fired = true
    deprecate(() => {}, ${JSON.stringify(pgWarning)})()
    deprecate(() => {}, "batchfx-test: another deprecation")()
  }
  return written
}
`
  )
  return pathToFileURL(path).href
}

describe("jobs run: warnings of dependencies", () => {
  it.scoped(
    "pg's queued-query deprecation is kept off stderr; another deprecation is printed",
    () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const worker = yield* spawnBinary(["jobs", "run", "--store", `file:${join(dir, "jobs.db")}`], {
          env: { OPENAI_API_KEY: "sk-test-warnings", NODE_OPTIONS: `--import=${preload(dir)}` }
        })
        // both warnings were raised in this order: once the second is on stderr, the first had its turn
        yield* worker.until(
          "the other deprecation",
          () => worker.stderr().includes("batchfx-test: another deprecation")
        )
        const stopped = yield* worker.signal("SIGINT")
        assert.strictEqual(stopped.code, 130, worker.stderr())
        assert.notInclude(worker.stderr(), "already executing a query")
        assert.include(worker.stderr(), "DeprecationWarning: batchfx-test: another deprecation")
      }),
    { timeout: 60_000 }
  )
})
