/**
 * Issue 22, point 1: `--output`/`--errors` are safe with files. Two destinations that are one file
 * (by path, symlink or hard link) or a destination that is an input are refused before any request;
 * an existing file is kept unless `--force` (which keeps its mode); a symlink stays and its target
 * gets the bytes; `-` is stdout; FIFOs, `/dev/null`, `/dev/stderr` on a log file and a `/dev/fd/N`
 * pipe are written as they are. Against the emulator on a socket; requests counted at the server.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import {
  chmodSync,
  createReadStream,
  existsSync,
  linkSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { bin, cli, envFor, fastDurations, inputFile, jsonLines, processEnv, tempDir } from "./utils.js"

const chat = "/v1/chat/completions"

/** A completed batch of three requests at the emulator; its id. */
const completedBatch = Effect.flatMap(
  FakeOpenAi.FakeOpenAi,
  (fake) => Effect.map(Effect.orDie(fake.seedBatch({ status: "completed", request_counts: { total: 3 } })), (b) => b.id)
)

const requests = Effect.flatMap(FakeOpenAi.FakeOpenAi, (fake) => fake.requestCount())

const temporaries = (dir: string) => readdirSync(dir).filter((name) => name.endsWith(".tmp"))

layer(FakeOpenAi.layer({ durations: fastDurations }), { excludeTestServices: true, timeout: "60 seconds" })(
  "--output and --errors",
  (it) => {
    it.effect("the same file twice, by path, symlink or hard link, is refused before any request (exit 2)", () =>
      Effect.gen(function*() {
        const id = yield* completedBatch
        const dir = tempDir()
        const target = join(dir, "results.jsonl")
        writeFileSync(target, "kept\n")
        symlinkSync(target, join(dir, "link.jsonl"))
        linkSync(target, join(dir, "hard.jsonl"))
        const fresh = join(dir, "new.jsonl")
        const before = yield* requests
        for (
          const [output, errors] of [
            [fresh, fresh],
            [fresh, join(dir, ".", "new.jsonl")],
            [target, join(dir, "link.jsonl")],
            [join(dir, "hard.jsonl"), target],
            ["-", "-"]
          ]
        ) {
          const r = yield* cli(["results", id, "--force", "--output", output!, "--errors", errors!])
          assert.strictEqual(r.code, 2, `${output} ${errors}: ${r.stderr}`)
          assert.match(
            r.stderr,
            /^batchfx: --output .* and --errors .* are the same (file|stream); give each its own\n/
          )
          assert.strictEqual(r.stdout, "")
        }
        // no --output: the output goes to stdout, so --errors - would mix the two
        const mixed = yield* cli(["results", id, "--errors", "-"])
        assert.strictEqual(mixed.code, 2, mixed.stderr)
        assert.include(mixed.stderr, "--output (stdout) and --errors (stdout) are the same stream")
        assert.strictEqual(yield* requests, before, "nothing was sent")
        assert.strictEqual(readFileSync(target, "utf8"), "kept\n")
        assert.isFalse(existsSync(fresh))
      }))

    it.effect("submit --output IN.jsonl (also through a symlink) is refused before the upload (exit 2)", () =>
      Effect.gen(function*() {
        const dir = tempDir()
        const input = inputFile(dir, 2)
        const original = readFileSync(input, "utf8")
        symlinkSync(input, join(dir, "alias.jsonl"))
        const before = yield* requests
        for (const output of [input, join(dir, "alias.jsonl")]) {
          for (const force of [["--force"], []]) {
            // without --force too: the sentence never suggests --force for an input
            const r = yield* cli(["submit", input, "-e", chat, ...force, "--output", output])
            assert.strictEqual(r.code, 2, r.stderr)
            assert.include(r.stderr, `is the input ${input}; write the results to another file`)
            assert.notInclude(r.stderr, "pass --force")
          }
        }
        const errors = yield* cli(["submit", input, "-e", chat, "--force", "--errors", input])
        assert.strictEqual(errors.code, 2, errors.stderr)
        assert.strictEqual(yield* requests, before, "nothing was uploaded")
        assert.strictEqual(readFileSync(input, "utf8"), original)
      }))

    it.effect("an existing file is kept without --force (exit 2, naming --force); --force replaces it, mode kept", () =>
      Effect.gen(function*() {
        const id = yield* completedBatch
        const dir = tempDir()
        const out = join(dir, "out.jsonl")
        writeFileSync(out, "precious\n")
        chmodSync(out, 0o600)
        const before = yield* requests
        const refused = yield* cli(["results", id, "-o", out])
        assert.strictEqual(refused.code, 2)
        assert.strictEqual(refused.stderr.split("\n")[0], `batchfx: --output ${out} exists; pass --force to replace it`)
        assert.strictEqual(readFileSync(out, "utf8"), "precious\n")
        assert.strictEqual(yield* requests, before, "nothing was sent")

        const r = yield* cli(["results", id, "-o", out, "--force"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.strictEqual(jsonLines(readFileSync(out, "utf8")).length, 3)
        assert.strictEqual(statSync(out).mode & 0o777, 0o600)
        assert.deepStrictEqual(temporaries(dir), [])
      }))

    it.effect("a symlink stays a symlink and its target gets the bytes, in the target's directory", () =>
      Effect.gen(function*() {
        const id = yield* completedBatch
        const dir = tempDir()
        const elsewhere = tempDir()
        const target = join(elsewhere, "real.jsonl")
        writeFileSync(target, "old\n")
        const link = join(dir, "link.jsonl")
        symlinkSync(target, link)
        const r = yield* cli(["results", id, "-o", link, "--force"])
        assert.strictEqual(r.code, 0, r.stderr)
        assert.isTrue(lstatSync(link).isSymbolicLink())
        assert.strictEqual(readlinkSync(link), target)
        assert.strictEqual(jsonLines(readFileSync(target, "utf8")).length, 3)
        // a dangling link: its target is created
        const dangling = join(dir, "dangling.jsonl")
        const missing = join(elsewhere, "created.jsonl")
        symlinkSync(missing, dangling)
        const created = yield* cli(["results", id, "-o", dangling])
        assert.strictEqual(created.code, 0, created.stderr)
        assert.isTrue(lstatSync(dangling).isSymbolicLink())
        assert.strictEqual(jsonLines(readFileSync(missing, "utf8")).length, 3)
        assert.deepStrictEqual([...temporaries(dir), ...temporaries(elsewhere)], [])
      }))

    it.effect("-o - is stdout (no file named -); --errors /dev/null and a FIFO are written as they are", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const expired = yield* Effect.orDie(
          fake.seedBatch({ status: "expired", request_counts: { total: 4, completed: 1 } })
        )
        const dash = yield* cli(["results", expired.id, "-o", "-", "--errors", "/dev/null"])
        assert.strictEqual(dash.code, 1, dash.stderr)
        assert.strictEqual(jsonLines(dash.stdout).length, 1)
        assert.isFalse(existsSync("-"))
        assert.isTrue(statSync("/dev/null").isCharacterDevice())

        const dir = tempDir()
        const fifo = join(dir, "pipe")
        execFileSync("mkfifo", [fifo])
        const received = Effect.async<string>((resume) => {
          let text = ""
          createReadStream(fifo, "utf8").on("data", (d) => void (text += d)).on(
            "end",
            () => resume(Effect.succeed(text))
          )
        })
        const [r, text] = yield* Effect.all([
          cli(["results", expired.id, "--errors", fifo, "-o", "/dev/null"]),
          received
        ], {
          concurrency: 2
        })
        assert.strictEqual(r.code, 1, r.stderr)
        assert.strictEqual(jsonLines(text).length, 3, "the error file's lines came through the FIFO")
        assert.isTrue(statSync(fifo).isFIFO(), "the FIFO is still a FIFO")
        assert.deepStrictEqual(temporaries(dir), [])
      }))

    it.effect("the binary in bash: -o >(gzip > FILE) is written directly; -o /dev/stderr 2>LOG through stderr", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        const id = yield* completedBatch
        const dir = tempDir()
        const shell = (script: string) =>
          Effect.async<{ code: number | null; stderr: string }>((resume) => {
            const child = spawn("bash", ["-c", script], {
              env: processEnv({ ...envFor(fake), BATCHFX: bin, NODE: process.execPath, ID: id, DIR: dir }),
              stdio: ["ignore", "ignore", "pipe"]
            })
            let stderr = ""
            child.stderr.setEncoding("utf8").on("data", (d: string) => void (stderr += d))
            child.on("close", (code) => resume(Effect.succeed({ code, stderr })))
            return Effect.sync(() => void child.kill("SIGKILL"))
          })
        // bash hands the process substitution over as /dev/fd/63, a pipe to gzip
        const gzipped = yield* shell(
          `"$NODE" "$BATCHFX" results "$ID" -o >(gzip > "$DIR/out.gz"); code=$?; wait $!; exit $code`
        )
        assert.strictEqual(gzipped.code, 0, gzipped.stderr)
        assert.match(gzipped.stderr, /Wrote \/dev\/fd\/\d+ /)
        assert.strictEqual(jsonLines(gunzipSync(readFileSync(join(dir, "out.gz"))).toString("utf8")).length, 3)

        // stderr appended to (2>>) and truncated (2>): the results go through the stream itself, so
        // the run's own later lines never overwrite them
        const log = join(dir, "log.txt")
        writeFileSync(log, "earlier line\n")
        for (const redirect of [">>", ">"]) {
          const logged = yield* shell(
            `"$NODE" "$BATCHFX" results "$ID" -o /dev/stderr --errors /dev/fd/1 2${redirect}"$DIR/log.txt"`
          )
          const text = readFileSync(log, "utf8")
          assert.strictEqual(logged.code, 0, text)
          if (redirect === ">>") assert.isTrue(text.startsWith("earlier line\n"), "what the log held is kept")
          assert.strictEqual(text.split("\n").filter((line) => line.startsWith("{")).length, 3, text)
          assert.isTrue(jsonLines(text.split("\n").filter((line) => line.startsWith("{")).join("\n")).length === 3)
        }
        assert.isTrue(lstatSync("/dev/stderr").isSymbolicLink(), "/dev/stderr is still the system's link")
        assert.deepStrictEqual(readdirSync(dir).sort(), ["log.txt", "out.gz"])
      }))

    it.effect("a directory, or a file in a missing directory, is refused before any request (exit 2)", () =>
      Effect.gen(function*() {
        const id = yield* completedBatch
        const dir = tempDir()
        const before = yield* requests
        const directory = yield* cli(["results", id, "-o", dir])
        assert.strictEqual(directory.code, 2)
        assert.include(directory.stderr, `--output ${dir} is a directory`)
        const missing = yield* cli(["results", id, "--errors", join(dir, "no", "such.jsonl")])
        assert.strictEqual(missing.code, 2)
        assert.include(missing.stderr, `the directory ${join(dir, "no")} does not exist`)
        assert.strictEqual(yield* requests, before)
      }))

    it.effect("a regular file under /dev (/dev/shm) is a file like any other: kept without --force, replaced whole", () =>
      Effect.gen(function*() {
        const id = yield* completedBatch
        const shm = join("/dev/shm", `batchfx-test-${process.pid}-${Date.now()}.jsonl`)
        writeFileSync(shm, "old line\n")
        const refused = yield* cli(["results", id, "-o", shm])
        assert.strictEqual(refused.code, 2)
        assert.include(refused.stderr, "exists; pass --force")
        const r = yield* cli(["results", id, "-o", shm, "--force"])
        assert.strictEqual(r.code, 0, r.stderr)
        const text = readFileSync(shm, "utf8")
        assert.notInclude(text, "old line", "replaced, not appended to")
        assert.strictEqual(jsonLines(text).length, 3)
        rmSync(shm)
      }))
  }
)
