/**
 * Help, completion and the command line (issue 22, point 4): help without type boilerplate, usage
 * lines that start with `batchfx`, 1 to 3 examples per command that the parser accepts, a top level
 * that fits 40 lines; `--wizard` hidden and refused without a terminal; global options (and
 * `--log-level`) before or after the command; `--opt=value`; "did you mean"; completion scripts that
 * offer each value of `--format` and `--status` as a word and each command's own options, run in a
 * real bash.
 */
import { FakeOpenAi } from "@batchfx/testkit"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Cli from "../src/Cli.js"
import * as Argv from "../src/internal/argv.js"
import type * as Spec from "../src/internal/spec.js"
import { cli, jsonLines, runCli } from "./utils.js"

const tree = Cli.commandTree()
const every = (spec: Spec.CommandSpec): Array<Spec.CommandSpec> => [spec, ...spec.subcommands.flatMap(every)]
const boilerplate =
  /user-defined piece of text|This setting is optional|A true or false value|An integer\.|One of the following/

layer(FakeOpenAi.layer(), { excludeTestServices: true, timeout: "60 seconds" })(
  "batchfx help and command line",
  (it) => {
    it.effect("every command's help: no type boilerplate, usage from batchfx, 1 to 3 examples the parser accepts", () =>
      Effect.gen(function*() {
        const commands = every(tree)
        assert.includeMembers(commands.map((c) => c.path.join(" ")), [
          "batchfx jobs",
          "batchfx jobs submit",
          "batchfx list"
        ])
        for (const spec of commands) {
          const r = yield* runCli([...spec.path.slice(1), "--help"])
          const name = spec.path.join(" ")
          assert.strictEqual(r.code, 0, `${name}: ${r.stderr}`)
          assert.notMatch(r.stdout, boilerplate, name)
          assert.notInclude(r.stdout, "--wizard", name)
          assert.notInclude(r.stdout, "$ ", name)
          const usage = r.stdout.split("\n").slice(r.stdout.split("\n").indexOf("USAGE") + 1)[0]!
          assert.match(usage, spec === tree ? /^ {2}batchfx <command>/ : new RegExp(`^ {2}${name} `), name)
          assert.isAtLeast(spec.about.examples.length, 1, name)
          assert.isAtMost(spec.about.examples.length, 3, name)
          for (const [line] of spec.about.examples) {
            assert.include(r.stdout, line, name)
            // The batchfx part of the example (up to a pipe) names a command and options that exist.
            const words = line.slice(line.indexOf("batchfx ")).split(/ (?:\||&&) /)[0]!.split(" ").slice(1)
            const prepared = Argv.prepare(tree, words)
            assert.strictEqual(prepared._tag, "Run", `${line}: ${prepared._tag === "Usage" ? prepared.message : ""}`)
          }
        }
        const list = yield* runCli(["list", "--help"])
        assert.isAtMost(list.stdout.split("\n").length, 50)
        assert.match(list.stdout, /-f, --format FORMAT +Output format/)
        assert.match(list.stdout, /--status STATUS +Only batches in this status/)
        const wait = (yield* runCli(["wait", "--help"])).stdout
        assert.include(wait, "--interval DURATION")
        // wait's --timeout is its own (exit 3), not the request timeout of the global options
        assert.match(wait, /--timeout DURATION +Give up waiting after this long/)
        assert.notMatch(wait.slice(wait.indexOf("GLOBAL OPTIONS"), wait.indexOf("EXAMPLES")), /--timeout/)
      }))

    it.effect("the top-level help fits 40 lines of 80 columns and names every command; a command is required", () =>
      Effect.gen(function*() {
        for (const options of [{}, { stdoutIsTTY: true, columns: 80 }]) {
          const r = yield* runCli(["--help"], options)
          assert.strictEqual(r.code, 0, r.stderr)
          const lines = r.stdout.trimEnd().split("\n")
          assert.isAtMost(lines.length, 40, r.stdout)
          for (const line of lines) assert.isAtMost(line.length, 80, line)
          for (const command of tree.subcommands) assert.match(r.stdout, new RegExp(`^ {2}${command.name} `, "m"))
          assert.include(r.stdout, "jobs")
          assert.include(r.stdout, "--log-level LEVEL")
        }
        const none = yield* runCli([])
        assert.strictEqual(none.code, 2)
        assert.include(
          none.stderr,
          "a command is required: list, get, create, cancel, wait, results, submit, jobs, fake-server or demo."
        )
        // `batchfx help [command...]` is the same help
        assert.strictEqual(
          (yield* runCli(["help", "jobs", "list"])).stdout,
          (yield* runCli(["jobs", "list", "-h"])).stdout
        )
        assert.strictEqual((yield* runCli(["help"])).stdout, (yield* runCli(["--help"])).stdout)
        const unknown = yield* runCli(["help", "lsit"])
        assert.strictEqual(unknown.code, 2)
        assert.include(unknown.stderr, "unknown command 'lsit'. Did you mean 'list'?")
        const wide = yield* runCli(["list", "--help"], { stdoutIsTTY: true, columns: 60 })
        for (const line of wide.stdout.trimEnd().split("\n")) assert.isAtMost(line.length, 60, line)
      }))

    it.effect("--wizard is refused with a sentence when stdin or stderr is not a terminal (no hang), starts on one", () =>
      Effect.gen(function*() {
        for (const args of [["--wizard"], ["list", "--wizard"], ["jobs", "list", "--wizard"]]) {
          const r = yield* runCli(args, { stderrIsTTY: true })
          assert.strictEqual(r.code, 2, args.join(" "))
          assert.include(r.stderr, "--wizard asks questions, and needs stdin and stderr to be a terminal")
          assert.strictEqual(r.stdout, "")
        }
        // On a terminal @effect/cli's wizard starts (and ends when the input does).
        const asked = yield* runCli(["list", "--wizard"], { stdinIsTTY: true, stderrIsTTY: true, input: "" })
        assert.include(asked.stdout + asked.stderr, "Wizard Mode")
        assert.notInclude(asked.stderr, "needs stdin and stderr to be a terminal")
      }))

    it.effect("global options and --log-level work before and after the command; --opt=value everywhere", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.seedBatches(30)
        const env = { OPENAI_API_KEY: fake.apiKey }
        for (
          const args of [
            ["--base-url", fake.baseUrl, "list", "--max", "3"],
            ["list", "--base-url", fake.baseUrl, "--max", "3"],
            [`--base-url=${fake.baseUrl}`, "list", "--max=3"],
            ["list", "--max=3", `--base-url=${fake.baseUrl}`, "--format=jsonl", "--verbose=false"]
          ]
        ) {
          const r = yield* runCli(args, { env })
          assert.strictEqual(r.code, 0, `${args.join(" ")}: ${r.stderr}`)
          assert.strictEqual(jsonLines(r.stdout).length, 3, args.join(" "))
          assert.notInclude(r.stderr, "DEBUG")
        }
        for (
          const args of [["--log-level", "debug", "list", "--max", "1"], ["list", "--max", "1", "--log-level=debug"]]
        ) {
          const r = yield* cli(args)
          assert.strictEqual(r.code, 0, r.stderr)
          assert.include(r.stderr, "DEBUG", args.join(" "))
        }
        const statuses = yield* cli(["list", "--status=failed", "--status=completed", "--format=json"])
        assert.strictEqual(statuses.code, 0, statuses.stderr)
        const listed = JSON.parse(statuses.stdout) as ReadonlyArray<{ readonly status: string }>
        assert.isAbove(listed.length, 0)
        assert.isTrue(listed.every((b) => b.status === "failed" || b.status === "completed"))
        const spaced = yield* cli(["list", "--status", "failed", "--status", "completed", "--format", "json"])
        assert.strictEqual(statuses.stdout, spaced.stdout)
        const badLevel = yield* cli(["list", "--log-level", "loud"])
        assert.strictEqual(badLevel.code, 2)
        assert.include(badLevel.stderr, "--log-level takes one of all, trace, debug, info, warning, error, fatal, none")
        const flagValue = yield* cli(["list", "--verbose=maybe"])
        assert.strictEqual(flagValue.code, 2)
        assert.include(flagValue.stderr, "--verbose takes no value (got 'maybe').")
      }))

    it.effect("an unknown command or option is one sentence with a did-you-mean, exit 2, before any request", () =>
      Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        yield* fake.resetCounters
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
          [["lsit"], "batchfx: unknown command 'lsit'. Did you mean 'list'?\nRun 'batchfx --help' for usage.\n"],
          [["jobs", "stauts"], "batchfx: unknown command 'stauts' of 'batchfx jobs'. Did you mean 'status'?"],
          [["list", "--stauts", "failed"], "unknown option '--stauts' for 'batchfx list'. Did you mean '--status'?"],
          [["list", "--fromat=json"], "unknown option '--fromat' for 'batchfx list'. Did you mean '--format'?"],
          [["get", "--limit", "5", "batch_1"], "unknown option '--limit' for 'batchfx get'."],
          [["--stauts", "list"], "unknown option '--stauts' for 'batchfx'."],
          [["list", "--since"], "--since needs a value (AGE|DATE)."],
          // the parser's own sentences named neither the command nor the option
          [["list", "--format", "yaml"], "batchfx: --format takes table, json or jsonl (got 'yaml')."],
          [["jobs", "list", "-f", "xml"], "batchfx: -f takes table, json or jsonl (got 'xml')."],
          [["get"], "batchfx: missing argument <batch-id>.\nRun 'batchfx get --help' for usage."],
          [["jobs", "status"], "batchfx: missing argument <JOB>."],
          [["submit", "a.jsonl", "b.jsonl"], "unexpected argument 'b.jsonl' ('batchfx submit' takes <FILE.jsonl>)."],
          [["list", "extra"], "'batchfx list' takes no arguments (got 'extra')."],
          [["jobs", "results", "job_1"], "batchfx: --output FILE is required.\nRun 'batchfx jobs results --help'"],
          [["create", "--input-file-id", "file-1"], "batchfx: --endpoint ENDPOINT is required."],
          [["list", "-n", "abc"], "batchfx: -n takes a whole number (got 'abc')."],
          [["list", "--max=1.5"], "batchfx: --max takes a whole number (got '1.5')."],
          [["fake-server", "--rps", "fast"], "batchfx: --rps takes a number (got 'fast')."],
          // the parser's own errors, one sentence with the pointer too
          [
            ["wait", "b", "--interval", "soon"],
            "batchfx: --interval: 'soon' is not a duration: use a number and a unit, e.g. 500ms, 10s, 5m, 2h, 7d\n" +
            "Run 'batchfx wait --help' for usage.\n"
          ]
        ]
        for (const [args, message] of cases) {
          const r = yield* cli(args)
          assert.strictEqual(r.code, 2, args.join(" "))
          assert.include(r.stderr, message, args.join(" "))
          assert.strictEqual(r.stderr.trimEnd().split("\n").length, 2, r.stderr)
          assert.strictEqual(r.stdout, "")
        }
        assert.strictEqual(yield* fake.requestCount(), 0)
      }))
  }
)

/** Runs the bash completion of `words` (the last one being completed) in a real bash; returns the offers. */
const complete = (script: string, words: ReadonlyArray<string>): Array<string> => {
  const array = words.map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(" ")
  const result = spawnSync("bash", [
    "-c",
    `source ${script}; COMP_WORDS=(${array}); COMP_CWORD=${
      words.length - 1
    }; _batchfx; printf '%s\\n' "\${COMPREPLY[@]}"`
  ], { encoding: "utf8", cwd: completionDir })
  if (result.status !== 0) throw new Error(`bash: ${result.stderr}`)
  return result.stdout.split("\n").filter((l) => l !== "")
}

const completionDir = mkdtempSync(join(tmpdir(), "batchfx-completion-"))

layer(FakeOpenAi.layer(), { timeout: "60 seconds" })("completion scripts", (it) => {
  it.effect("bash offers each --format and --status value, each command's own options, files where files go", () =>
    Effect.gen(function*() {
      const r = yield* runCli(["--completions", "bash"])
      assert.strictEqual(r.code, 0, r.stderr)
      const script = join(completionDir, "batchfx.bash")
      writeFileSync(script, r.stdout)
      writeFileSync(join(completionDir, "requests.jsonl"), "")
      assert.deepStrictEqual(complete(script, ["batchfx", "list", "--format", ""]), ["table", "json", "jsonl"])
      assert.deepStrictEqual(complete(script, ["batchfx", "list", "-f", "js"]), ["json", "jsonl"])
      assert.deepStrictEqual(complete(script, ["batchfx", "list", "--format", "=", ""]), ["table", "json", "jsonl"])
      assert.deepStrictEqual(complete(script, ["batchfx", "list", "--status", "f"]), ["failed", "finalizing"])
      assert.deepStrictEqual(complete(script, ["batchfx", "cancel", "--all", "--status", "c"]), [
        "completed",
        "cancelling",
        "cancelled"
      ])
      assert.deepStrictEqual(complete(script, ["batchfx", "--log-level", "w"]), ["warning"])
      // a command's own options, global ones too, never another command's
      const listOptions = complete(script, ["batchfx", "list", "--"])
      assert.includeMembers(listOptions, ["--status", "--since", "--format", "--base-url", "--help"])
      assert.notInclude(listOptions, "--input")
      assert.notInclude(listOptions, "--wizard")
      assert.includeMembers(complete(script, ["batchfx", "submit", "--"]), ["--wait", "--output"])
      // commands, subcommands, and the option values skipped while finding the command
      assert.deepStrictEqual(complete(script, ["batchfx", "l"]), ["list"])
      assert.deepStrictEqual(complete(script, ["batchfx", "--base-url", "http://x/v1", "jobs", "s"]), [
        "submit",
        "status"
      ])
      assert.deepStrictEqual(complete(script, ["batchfx", "jobs", "list", "--f"]), ["--format"])
      assert.deepStrictEqual(complete(script, ["batchfx", "submit", "req"]), ["requests.jsonl"])
      assert.deepStrictEqual(complete(script, ["batchfx", "results", "b1", "-o", "req"]), ["requests.jsonl"])
      assert.deepStrictEqual(complete(script, ["batchfx", "list", "--max", ""]), [])
      // a value named FILE is completed with file names (options and submit's input), no other value
      for (
        const words of [
          ["batchfx", "submit", "--errors", "req"],
          ["batchfx", "results", "b1", "--output", "=", "req"],
          ["batchfx", "create", "--input", "req"],
          ["batchfx", "jobs", "results", "job_1", "--errors", "req"],
          ["batchfx", "jobs", "submit", "req"]
        ]
      ) assert.deepStrictEqual(complete(script, words), ["requests.jsonl"], words.join(" "))
      for (
        const words of [
          ["batchfx", "create", "--input-file-id", "req"],
          ["batchfx", "list", "--after", "req"],
          ["batchfx", "submit", "--endpoint", "req"],
          ["batchfx", "jobs", "submit", "--store", "req"],
          ["batchfx", "get", "req"],
          ["batchfx", "results", "req"]
        ]
      ) assert.deepStrictEqual(complete(script, words), [], words.join(" "))
      assert.deepStrictEqual(complete(script, ["batchfx", "wait", "b1", "--format", ""]), ["table", "json", "jsonl"])
      assert.deepStrictEqual(complete(script, ["batchfx", "jobs", "list", "--format", "=", "j"]), ["json", "jsonl"])
    }))

  it.effect("zsh runs the same function through bashcompinit; fish lists each value apart", () =>
    Effect.gen(function*() {
      const zsh = yield* runCli(["--completions", "zsh"])
      assert.strictEqual(zsh.code, 0, zsh.stderr)
      assert.include(zsh.stdout, "bashcompinit")
      assert.include(zsh.stdout, "complete -F _batchfx batchfx")
      const fish = yield* runCli(["--completions", "fish"])
      assert.strictEqual(fish.code, 0, fish.stderr)
      assert.match(
        fish.stdout,
        /-n '__fish_seen_subcommand_from list; and not __fish_seen_subcommand_from jobs' -s f -l format -x -a 'table json jsonl'/
      )
      assert.match(
        fish.stdout,
        /-l status -x -a 'validating failed in_progress finalizing completed expired cancelling cancelled'/
      )
      assert.match(
        fish.stdout,
        /-n '__fish_seen_subcommand_from jobs; and __fish_seen_subcommand_from list' -s f -l format/
      )
      // files for a FILE value, none for an id
      assert.match(fish.stdout, /-l input -r -F/)
      assert.match(fish.stdout, /-l input-file-id -x -d/)
      const bad = yield* runCli(["--completions", "powershell"])
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, "--completions takes bash, zsh or fish (got 'powershell').")
    }))
})
