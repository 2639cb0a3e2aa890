/**
 * Issue 20, points 2 (the create half) and 3 in the CLI: `create --input` and `submit` delete the
 * uploaded file when the create fails for good (`--keep-file` keeps it) and say so; they keep it
 * and say how to find the batch when it may exist; they warn before sending when the metadata has
 * no room for the client token; Ctrl-C during the create prints the token and the file id. Against
 * the emulator on a socket; counted at the server.
 */
import { FakeOpenAi, Fault } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { cli, envFor, fastDurations, inputFile, spawnBinary, startCli, tempDir } from "./utils.js"

const chat = "/v1/chat/completions"
const sixteenPairs = Array.from({ length: 16 }, (_, i) => ["--metadata", `k${i}=v`]).flat()

// Lets real I/O (files, sockets, promises) move on; never decides an outcome.
const realPause = (ms: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, ms)))

const counts = Effect.gen(function*() {
  const fake = yield* FakeOpenAi.FakeOpenAi
  return {
    uploads: yield* fake.requestCount("POST /v1/files"),
    creates: yield* fake.requestCount("POST /v1/batches"),
    deletes: yield* fake.requestCount("DELETE /v1/files/{id}")
  }
})

const uploadedId = (stderr: string): string => {
  const id = /Uploaded .* as (file-[\w-]+)/.exec(stderr)?.[1]
  if (id === undefined) throw new Error(`nothing was uploaded: ${stderr}`)
  return id
}

const scripted = (fault: Fault.Fault) =>
  Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) =>
    Effect.zipRight(
      fake.scriptFault("POST /v1/batches", 1, fault),
      Effect.addFinalizer(() => fake.clearFaults)
    ))

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "create --input and submit clean up after a failed create",
  (it) => {
    for (const command of ["submit", "create"] as const) {
      const args = (dir: string) =>
        command === "submit"
          ? ["submit", inputFile(dir, 2), "-e", chat]
          : ["create", "--input", inputFile(dir, 2), "-e", chat]

      it.scoped(`${command}: a create refused for good deletes the uploaded file and says so`, () =>
        Effect.gen(function*() {
          const before = yield* counts
          yield* scripted(Fault.status(400))
          const r = yield* cli(args(tempDir()))
          assert.strictEqual(r.code, 1, r.stderr)
          const id = uploadedId(r.stderr)
          assert.include(r.stderr, `The uploaded input file ${id} was deleted.`)
          const after = yield* counts
          assert.strictEqual(after.uploads - before.uploads, 1)
          assert.strictEqual(after.creates - before.creates, 1)
          assert.strictEqual(after.deletes - before.deletes, 1)
        }))

      it.scoped(`${command} --keep-file: a create refused for good keeps the file and names it`, () =>
        Effect.gen(function*() {
          const before = yield* counts
          yield* scripted(Fault.status(400))
          const r = yield* cli([...args(tempDir()), "--keep-file"])
          assert.strictEqual(r.code, 1, r.stderr)
          assert.include(r.stderr, `The uploaded input file ${uploadedId(r.stderr)} was kept.`)
          assert.strictEqual((yield* counts).deletes, before.deletes)
        }))

      it.scoped(`${command}: Ctrl-C during a slow create prints the token and the file id, and keeps the file`, () =>
        Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          const before = yield* counts
          // the answer to the create then comes 16 bytes every 10 s
          yield* scripted(Fault.slowBody({ chunkBytes: 16, delay: "10 seconds" }))
          const started = yield* startCli([...args(tempDir()), "--format", "json"], { env: envFor(fake) })
          for (let i = 0; i < 1000 && (yield* fake.requestCount("POST /v1/batches")) === before.creates; i++) {
            yield* realPause(10)
          }
          yield* realPause(50)
          const r = yield* started.interrupt
          assert.strictEqual(r.code, 130, r.stderr)
          const id = uploadedId(r.stderr)
          assert.match(
            r.stderr,
            new RegExp(
              `Interrupted while creating the batch; it may exist: look for a batch with metadata ` +
                `batchfx_client_token=bfx_[0-9a-f]{32} \\(input file ${id}\\)`
            )
          )
          assert.include(r.stderr, `The input file ${id} was kept`)
          assert.strictEqual(r.stdout, "")
          assert.strictEqual((yield* counts).deletes, before.deletes)
        }))
    }

    it.scoped("the binary: SIGINT during a slow create of submit exits 130 and prints the token and the file id", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const before = yield* counts
        yield* scripted(Fault.slowBody({ chunkBytes: 16, delay: "10 seconds" }))
        const running = yield* spawnBinary(["submit", inputFile(tempDir(), 2), "-e", chat], { env: envFor(fake) })
        yield* running.until("the upload", () => running.stderr().includes("Uploaded"))
        for (let i = 0; i < 1000 && (yield* fake.requestCount("POST /v1/batches")) === before.creates; i++) {
          yield* realPause(10)
        }
        yield* realPause(50)
        const { code } = yield* running.signal("SIGINT")
        assert.strictEqual(code, 130, running.stderr())
        const id = uploadedId(running.stderr())
        assert.match(running.stderr(), /Interrupted while creating the batch; it may exist: .*bfx_[0-9a-f]{32}/)
        assert.include(running.stderr(), `input file ${id}`)
        assert.notInclude(running.stderr(), "    at ")
        assert.strictEqual((yield* counts).deletes, before.deletes)
      }))

    it.scoped("submit with 16 metadata pairs warns before sending; a lost answer keeps the file and says how to look", () =>
      Effect.gen(function*() {
        const before = yield* counts
        yield* scripted(Fault.resetAfterHandling)
        const r = yield* cli(["submit", inputFile(tempDir(), 2), "-e", chat, ...sixteenPairs])
        assert.strictEqual(r.code, 1, r.stderr)
        const lines = r.stderr.split("\n")
        assert.match(lines[0]!, /^batchfx: warning: the metadata has 16 pairs, leaving no room for the client token;/)
        assert.match(lines[1]!, /^Uploaded /)
        const id = uploadedId(r.stderr)
        assert.include(r.stderr, `The batch may exist: look for a batch with input_file_id ${id}`)
        assert.include(r.stderr, "batchfx list")
        assert.include(r.stderr, `The input file ${id} was kept`)
        const after = yield* counts
        assert.strictEqual(after.creates - before.creates, 1, "not sent again")
        assert.strictEqual(after.deletes, before.deletes)
      }))

    it.scoped("create --input-file-id with room for the token prints no warning", () =>
      Effect.gen(function*() {
        const r = yield* cli(["create", "--input", inputFile(tempDir(), 1), "-e", chat, "--metadata", "a=b"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.notInclude(r.stderr, "warning")
      }))
  }
)
