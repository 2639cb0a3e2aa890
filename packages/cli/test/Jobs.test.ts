import * as TokenCount from "@batchfx/jobs/TokenCount"
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli, configured, envFor, fastDurations, inputFile, jsonLines, runCli, startCli, tempDir } from "./utils.js"

const Fake = FakeOpenAi.layer({ durations: fastDurations, apiKey: "sk-fake-batchfx" })

/** Repeats a read of the store every 200 ms until `done` holds for what it read. */
const pollUntil = <A>(done: (a: A) => boolean) => <E, R>(read: Effect.Effect<A, E, R>) =>
  Effect.repeat(read, Schedule.spaced("200 millis").pipe(Schedule.whileInput((a: A) => !done(a)), Schedule.passthrough))

/** A store of its own for each test, in a fresh directory. */
const freshStore = () => `file:${join(tempDir(), "jobs.db")}`

layer(Fake, { excludeTestServices: true, timeout: "120 seconds" })("batchfx jobs against the emulator", (it) => {
  it.effect("submit --wait runs the job to the end; status --format json says completed; results has every line", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const input = inputFile(dir, 7)
      const store = `file:${join(dir, "jobs.db")}`
      const submitted = yield* cli([
        "jobs",
        "submit",
        input,
        "--endpoint",
        "/v1/chat/completions",
        "--name",
        "seven",
        "--wait",
        "--store",
        store
      ])
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      assert.match(id, /^job_[0-9a-f]+$/)

      const status = yield* cli(["jobs", "status", id, "--format", "json", "--store", store])
      assert.strictEqual(status.code, 0, status.stderr)
      const report = JSON.parse(status.stdout) as Record<string, unknown>
      assert.strictEqual(report["status"], "completed")
      assert.strictEqual(report["name"], "seven")
      assert.strictEqual(report["lines"], 7)
      assert.strictEqual(report["completed"], 7)
      assert.strictEqual(report["results"], 7)

      const output = join(dir, "out.jsonl")
      const errors = join(dir, "err.jsonl")
      const results = yield* cli(["jobs", "results", id, "--output", output, "--errors", errors, "--store", store])
      assert.strictEqual(results.code, 0, results.stderr)
      const lines = jsonLines(readFileSync(output, "utf8"))
      assert.deepStrictEqual(
        lines.map((l) => l["custom_id"]).sort(),
        Array.from({ length: 7 }, (_, i) => `req-${i + 1}`).sort()
      )
      assert.strictEqual(readFileSync(errors, "utf8"), "")
      assert.include(results.stderr, `batchfx: 7 output lines written to ${output}`)

      // -o - writes the lines to stdout, and the count on stderr says stdout, not a file named -
      const piped = yield* cli(["jobs", "results", id, "-o", "-", "--store", store])
      assert.strictEqual(piped.code, 0, piped.stderr)
      assert.deepStrictEqual(jsonLines(piped.stdout), lines)
      assert.strictEqual(piped.stderr, "batchfx: 7 output lines written to stdout\n")

      // in a pipe, list is JSON lines with the job in it
      const list = yield* cli(["jobs", "list", "--store", store])
      assert.strictEqual(list.code, 0, list.stderr)
      assert.deepStrictEqual(jsonLines(list.stdout).map((j) => [j["id"], j["status"]]), [[id, "completed"]])
    }))

  it.effect("submit without --wait leaves the job pending; cancel ends it cancelled and nothing is sent", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const store = freshStore()
      const input = inputFile(tempDir(), 3)
      const before = yield* fake.requestCount()
      const submitted = yield* cli(["jobs", "submit", input, "--endpoint", "/v1/chat/completions", "--store", store])
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      const pending = yield* cli(["jobs", "status", id, "--format", "json", "--store", store])
      assert.strictEqual((JSON.parse(pending.stdout) as { status: string }).status, "pending")

      const cancelled = yield* cli(["jobs", "cancel", id, "--store", store])
      assert.strictEqual(cancelled.code, 0, cancelled.stderr)
      assert.include(cancelled.stderr, "cancelled")
      const after = yield* cli(["jobs", "status", id, "--format", "json", "--store", store])
      assert.strictEqual((JSON.parse(after.stdout) as { status: string }).status, "cancelled")
      assert.strictEqual(yield* fake.requestCount(), before)
    }))

  it.effect("a bad input is refused with the line named; nothing is stored", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const store = `file:${join(dir, "jobs.db")}`
      const input = join(dir, "bad.jsonl")
      writeFileSync(
        input,
        `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}\nnot json\n`
      )
      const r = yield* cli(["jobs", "submit", input, "--endpoint", "/v1/chat/completions", "--store", store])
      assert.strictEqual(r.code, 1)
      assert.strictEqual(r.stdout, "")
      assert.include(r.stderr, "2")
      const list = yield* cli(["jobs", "list", "--format", "json", "--store", store])
      assert.deepStrictEqual(JSON.parse(list.stdout), [])
    }))

  it.effect("an unknown job and a bad store URL are each one sentence (exit 1)", () =>
    Effect.gen(function*() {
      const unknown = yield* cli(["jobs", "status", "job_nope", "--store", freshStore()])
      assert.strictEqual(unknown.code, 1)
      assert.strictEqual(unknown.stderr, "batchfx: No job job_nope in the store.\n")

      // a file where the store's directory should be
      const dir = tempDir()
      const blocker = join(dir, "blocker")
      writeFileSync(blocker, "")
      const bad = yield* cli(["jobs", "list", "--store", `file:${join(blocker, "jobs.db")}`])
      assert.strictEqual(bad.code, 1)
      assert.match(bad.stderr, /^batchfx: The job store failed to [^\n]+\n$/)
      assert.strictEqual(bad.stdout, "")

      // a libSQL URL libsql refuses (an unknown parameter): one sentence, and its token is never shown
      const remote = yield* cli([
        "jobs",
        "list",
        "--store",
        "libsql://127.0.0.1:9/db?authToken=sekrit-token&colour=blue"
      ])
      assert.strictEqual(remote.code, 1)
      assert.match(remote.stderr, /^batchfx: The job store failed to [^\n]+\n$/)
      assert.notInclude(remote.stderr, "sekrit-token")

      const scheme = yield* cli(["jobs", "list"], { env: { BATCHFX_STORE: "ftp://example.invalid/jobs" } })
      assert.strictEqual(scheme.code, 2)
      assert.match(
        scheme.stderr,
        /^batchfx: BATCHFX_STORE must be a path, a file: URL, a libsql:, http\(s\): or ws\(s\): URL of a libSQL server, or a postgres\(ql\): URL, not ftp:\n/
      )
    }))

  it.effect("jobs run works on the stored jobs until interrupted, then says where they go on; cancel of a running job cancels its batch at the server", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const dir = tempDir()
      const store = `file:${join(dir, "jobs.db")}`
      const statusOf = (id: string) =>
        Effect.map(
          cli(["jobs", "status", id, "--format", "json", "--store", store]),
          (r) =>
            JSON.parse(r.stdout) as {
              status: string
              cancel_requested: boolean
              shards: ReadonlyArray<{ batch_id: string | null; batch_status: string | null }>
            }
        )
      const submit = (n: number) =>
        Effect.map(
          cli([
            "jobs",
            "submit",
            inputFile(dir, n, `in-${n}.jsonl`),
            "--endpoint",
            "/v1/chat/completions",
            "--store",
            store
          ]),
          (r) => r.stdout.trim()
        )
      const done = yield* submit(4)
      const worker = yield* startCli(["jobs", "run", "--store", store], { env: envFor(fake) })
      yield* worker.stderr.until((text) => text.includes("working on the jobs of"))
      // the store is read until the job ends; the test's timeout bounds the wait
      const finished = yield* statusOf(done).pipe(pollUntil((r) => r.status !== "pending" && r.status !== "running"))
      assert.strictEqual(finished.status, "completed")
      const stopped = yield* worker.interrupt
      assert.strictEqual(stopped.code, 130, stopped.stderr)
      // Ctrl-C ends with a sentence that says where the jobs go on, as the last line
      assert.match(
        stopped.stderr,
        /\nbatchfx: worker \S+ stopped; its jobs go on at the next 'batchfx jobs run', from the step they had reached\n$/
      )

      // a job whose batch is running (the emulator keeps it in progress for a minute), cancelled
      // by another command of this process while the worker runs: each waits for the other's
      // writes without blocking the event loop
      yield* fake.configure({ durations: { inProgress: "60 seconds" } })
      const running = yield* submit(2)
      const again = yield* startCli(["jobs", "run", "--store", store], { env: envFor(fake) })
      const created = yield* statusOf(running).pipe(pollUntil((r) => r.shards[0]?.batch_status === "in_progress"))
      const cancel = yield* cli(["jobs", "cancel", running, "--store", store])
      assert.strictEqual(cancel.code, 0, cancel.stderr)
      assert.include(cancel.stderr, "cancel requested")
      const batch = jsonLines((yield* cli(["get", created.shards[0]!.batch_id!])).stdout)[0]!
      assert.oneOf(batch["status"], ["cancelling", "cancelled"])
      const requested = yield* statusOf(running)
      assert.strictEqual(requested.cancel_requested, true)
      // the worker still runs: its event loop was never blocked by the other command's writes
      const stoppedAgain = yield* again.interrupt
      assert.strictEqual(stoppedAgain.code, 130, stoppedAgain.stderr)
      // a worker started after another stopped is not announced as a warning of the cluster's
      assert.notMatch(stoppedAgain.stderr, /WARN|healthy runners/)
      yield* fake.configure({ durations: fastDurations })
    }))

  it.effect("jobs run --token-limit keeps two jobs' batches under the limit; status shows the worker and the tokens", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAi.FakeOpenAi
      const dir = tempDir()
      const store = `file:${join(dir, "jobs.db")}`
      const input = inputFile(dir, 3)
      const totals = yield* TokenCount.ofLines(readFileSync(input, "utf8").split("\n").filter((l) => l !== ""))
      const tokens = totals.get("gpt-4o-mini")!
      // room for one job's batch at a time at the emulator
      yield* configured({ tokenLimit: { "gpt-4o-mini": tokens } })
      const ids: Array<string> = []
      for (let i = 0; i < 2; i++) {
        const r = yield* cli(["jobs", "submit", input, "--endpoint", "/v1/chat/completions", "--store", store])
        ids.push(r.stdout.trim())
      }
      const worker = yield* startCli(
        ["jobs", "run", "--store", store, "--token-limit", `gpt-4o-mini=${tokens}`],
        { env: envFor(fake) }
      )
      const announced = yield* worker.stderr.until((text) => text.includes("working on the jobs of"))
      const workerId = /as worker (\S+) /.exec(announced)?.[1]
      assert.match(workerId ?? "", /^[^/\s]+\/\d+\/[0-9a-f-]{6}$/)
      const statusOf = (id: string) =>
        Effect.map(cli(["jobs", "status", id, "--format", "json", "--store", store]), (r) =>
          JSON.parse(r.stdout) as {
            status: string
            worker: string | null
            tokens: ReadonlyArray<Record<string, unknown>>
            shards: ReadonlyArray<{ batch_id: string; input_tokens: number; refused_batches: ReadonlyArray<string> }>
          })
      const ended = yield* Effect.forEach(
        ids,
        (id) => statusOf(id).pipe(pollUntil((r) => r.status !== "pending" && r.status !== "running"))
      )
      assert.deepStrictEqual(ended.map((r) => r.status), ["completed", "completed"])
      assert.strictEqual((yield* worker.interrupt).code, 130)
      for (const report of ended) {
        assert.strictEqual(report.worker, workerId)
        assert.deepStrictEqual(report.tokens, [
          { model: "gpt-4o-mini", tokens: 0, limit: tokens, configured: tokens, learned: null }
        ])
        assert.strictEqual(report.shards[0]!.input_tokens, tokens)
        // the second job waited for the first's tokens: its batch was never refused
        assert.deepStrictEqual(report.shards[0]!.refused_batches, [])
      }
      const batches = yield* Effect.forEach(
        ended,
        (r) =>
          Effect.map(cli(["get", r.shards[0]!.batch_id, "--format", "jsonl"]), (g) => jsonLines(g.stdout)[0]!["status"])
      )
      assert.deepStrictEqual(batches, ["completed", "completed"])
      const text = yield* cli(["jobs", "status", ids[0]!, "--format", "table", "--store", store])
      assert.include(text.stdout, `  worker ${workerId}\n`)
      assert.include(text.stdout, `  tokens queued for gpt-4o-mini: 0, limit ${tokens.toLocaleString("en-US")}\n`)
    }).pipe(Effect.scoped))

  it.effect("a bad --token-limit or BATCHFX_TOKEN_LIMITS is a usage error (exit 2); --token-limit needs --wait", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const store = `file:${join(dir, "jobs.db")}`
      const input = inputFile(dir, 1)
      const submit = ["jobs", "submit", input, "--endpoint", "/v1/chat/completions", "--store", store]
      const noValue = yield* cli([...submit, "--wait", "--token-limit", "gpt-4o-mini"])
      assert.strictEqual(noValue.code, 2)
      assert.include(noValue.stderr, "--token-limit needs MODEL=N, got 'gpt-4o-mini'")
      const zero = yield* cli(["jobs", "run", "--store", store, "--token-limit", "gpt-4o-mini=0"])
      assert.strictEqual(zero.code, 2)
      assert.include(
        zero.stderr,
        "--token-limit needs MODEL=N with N a whole number of tokens of at least 1, got 'gpt-4o-mini=0'"
      )
      const env = yield* cli([...submit, "--wait"], { env: { BATCHFX_TOKEN_LIMITS: "gpt-4o-mini=lots" } })
      assert.strictEqual(env.code, 2)
      assert.include(env.stderr, "BATCHFX_TOKEN_LIMITS needs MODEL=N")
      const noWait = yield* cli([...submit, "--token-limit", "gpt-4o-mini=5"])
      assert.strictEqual(noWait.code, 2)
      assert.include(noWait.stderr, "--token-limit is for the worker: add --wait")
      // nothing was stored by any of them
      assert.deepStrictEqual(
        JSON.parse((yield* cli(["jobs", "list", "--format", "json", "--store", store])).stdout),
        []
      )
    }))

  it.effect("jobs run: a bad --runner-address, --listen or BATCHFX_RUNNER_ADDRESS, a wildcard to advertise, or either flag on a SQLite store, is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const pg = ["jobs", "run", "--store", "postgres://batchfx@127.0.0.1:1/jobs"]
      const noPort = yield* cli([...pg, "--runner-address", "10.0.0.5"])
      assert.strictEqual(noPort.code, 2)
      assert.include(noPort.stderr, "--runner-address: '10.0.0.5' is not a runner address: write host:port")
      const badPort = yield* cli([...pg, "--listen", "0.0.0.0:70000"])
      assert.strictEqual(badPort.code, 2)
      assert.include(badPort.stderr, "--listen: '0.0.0.0:70000' is not a runner address")
      const env = yield* cli(pg, { env: { BATCHFX_RUNNER_ADDRESS: "[::1]" } })
      assert.strictEqual(env.code, 2)
      assert.include(env.stderr, "BATCHFX_RUNNER_ADDRESS: '[::1]' is not a runner address")
      // a wildcard is somewhere to listen, not an address another machine can reach this one at
      const wildcard = yield* cli([...pg, "--listen", "0.0.0.0:34431"])
      assert.strictEqual(wildcard.code, 2)
      assert.include(wildcard.stderr, "--listen: listening on 0.0.0.0:34431 needs a runner address too")
      const wildcardEnv = yield* cli(pg, { env: { BATCHFX_RUNNER_LISTEN: "[::]:34431" } })
      assert.strictEqual(wildcardEnv.code, 2)
      assert.include(wildcardEnv.stderr, "BATCHFX_RUNNER_LISTEN: listening on [::]:34431 needs a runner address too")
      const advertised = yield* cli([...pg, "--runner-address", "0.0.0.0:34431", "--listen", "0.0.0.0:34431"])
      assert.strictEqual(advertised.code, 2)
      assert.include(advertised.stderr, "--runner-address: '0.0.0.0:34431' cannot be reached by other workers")
      const sqlite = yield* cli(["jobs", "run", "--store", freshStore(), "--runner-address", "127.0.0.1:34431"])
      assert.strictEqual(sqlite.code, 2)
      assert.include(sqlite.stderr, "--runner-address and --listen are for a Postgres store")
    }))

  it.effect("demo runs a durable job through a worker restart: one upload, one batch, every result", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["demo"])
      assert.strictEqual(r.code, 0, r.stderr)
      // a worker started after another stopped is not announced as a warning of the cluster's
      assert.notMatch(r.stderr, /WARN|healthy runners/)
      assert.match(r.stdout, /6\. A durable job survives a restart/)
      assert.match(r.stdout, /a worker uploaded the input, created batch_\w+ and was stopped while it ran/)
      assert.match(r.stdout, /the job is running; a new worker picks it up/)
      assert.match(
        r.stdout,
        /it resumed polling batch_\w+: the job completed [\d.]+ s later, with 1 upload and 1 batch in all/
      )
      assert.match(r.stdout, /12 result lines stored: 10 succeeded, 2 failed/)
    }))
})
