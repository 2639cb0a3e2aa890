/**
 * `--help` of the built executables (`dist/bin.js` and the published `dist/bundle/batchfx.js`) is
 * answered from the command tree the bundle saved, without loading the command line: its text
 * must be the in-process command line's, byte for byte.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { dirname, join } from "node:path"
import { bin, binary, runCli, runScript } from "./utils.js"

const published = join(dirname(bin), "bundle", "batchfx.js")

it.effect(
  "--help from bin.js and the bundle's batchfx.js is the command line's own help",
  () =>
    Effect.gen(function*() {
      for (const path of [[], ["list"], ["jobs", "list"], ["fake-server"]]) {
        const expected = yield* runCli([...path, "--help"])
        assert.strictEqual(expected.code, 0, expected.stderr)
        for (const run of [binary([...path, "--help"]), runScript(published, ["-h", ...path])]) {
          const r = yield* run
          assert.strictEqual(r.code, 0, r.stderr)
          assert.strictEqual(r.stdout, expected.stdout, path.join(" "))
        }
      }
      // Not a help request after all: the command line answers (here: a usage error).
      const wrong = yield* runScript(published, ["lsit", "--help"])
      assert.strictEqual(wrong.code, 2)
      assert.include(wrong.stderr, "unknown command 'lsit'. Did you mean 'list'?")
    }),
  { timeout: 60_000 }
)
