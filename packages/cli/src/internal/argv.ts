/**
 * The command line read before `@effect/cli` parses it: which command it names, whether it asks
 * for help, completions or the wizard, and the checks that give one clear sentence (with a "did
 * you mean") for an unknown command or option. What it hands to the parser is normalized:
 * `--opt=value` split in two, `--log-level` taken out (applied by `Cli.run`), the options given
 * between a command and its subcommand (`jobs --verbose list`) moved after the subcommand, and the
 * command's options put before its positionals, which follow a `--`: options go anywhere after the
 * command, and `-` (stdin) or a file named `-x` is a positional (`@effect/cli` reads a positional
 * that starts with `-` ahead of an option as an unknown option).
 */
import type * as Spec from "./spec.js"

/** What the command line asks for. */
export type Prepared =
  | {
    readonly _tag: "Run"
    /** The arguments for the parser (without node and the script). */
    readonly args: ReadonlyArray<string>
    readonly command: Spec.CommandSpec
    readonly logLevel: string | undefined
    readonly wizard: boolean
  }
  | { readonly _tag: "Help"; readonly command: Spec.CommandSpec }
  | { readonly _tag: "Completions"; readonly shell: Shell }
  | { readonly _tag: "Usage"; readonly message: string; readonly command: Spec.CommandSpec }

/** The shells `--completions` writes a script for. */
export type Shell = "bash" | "zsh" | "fish"

const shells: Record<string, Shell> = { bash: "bash", sh: "bash", zsh: "zsh", fish: "fish" }

/** The log levels of `--log-level`, as Effect names them in lower case. */
export const logLevels = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"] as const

/** The options `@effect/cli` (or `Cli.run`) answers for every command. */
export const builtIns: ReadonlyArray<Spec.OptionSpec> = [
  builtIn("--help", undefined, "Show this help.", ["-h"]),
  builtIn("--version", undefined, "Print the version."),
  builtIn("--completions", "SHELL", "Print a completion script: bash, zsh or fish.", [], Object.keys(shells)),
  builtIn("--log-level", "LEVEL", "Log level on stderr (default info; --verbose is debug).", [], logLevels),
  builtIn("--wizard", undefined, "Build the command by answering questions (needs a terminal).")
]

function builtIn(
  long: string,
  value: string | undefined,
  description: string,
  short: ReadonlyArray<string> = [],
  values: ReadonlyArray<string> = []
): Spec.OptionSpec {
  return { long, short, aliases: [], value, values, path: false, repeatable: false, optional: true, description }
}

/** The names an option answers to. */
export const namesOf = (option: Spec.OptionSpec): ReadonlyArray<string> => [
  option.long,
  ...option.short,
  ...option.aliases
]

const lookup = (options: ReadonlyArray<Spec.OptionSpec>, name: string) => options.find((o) => namesOf(o).includes(name))

/** Every option of a command and the commands under it (a command's own first). */
const withDescendants = (spec: Spec.CommandSpec): ReadonlyArray<Spec.OptionSpec> => [
  ...spec.options,
  ...spec.subcommands.flatMap(withDescendants)
]

/** The edit distance of two strings: insertions, deletions, substitutions and swaps of neighbours. */
export const distance = (a: string, b: string): number => {
  const d: Array<Array<number>> = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= b.length; j++) d[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/** ` Did you mean 'x'?` for the closest candidate (a prefix of one, or at most a third of its letters off). */
export const didYouMean = (word: string, candidates: ReadonlyArray<string>): string => {
  const prefixed = candidates.filter((c) => word.length >= 3 && c.startsWith(word))
  if (prefixed.length === 1) return ` Did you mean '${prefixed[0]}'?`
  const scored = candidates
    .map((c) => ({ c, d: distance(word.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(1, Math.floor(Math.max(c.length, word.length) / 3)))
    .sort((x, y) => x.d - y.d)
  return scored.length === 0 ? "" : ` Did you mean '${scored[0]!.c}'?`
}

/** `a, b or c` */
const orList = (words: ReadonlyArray<string>): string =>
  words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`

const truthy = new Set(["true", "yes", "y", "1", "on"])
const falsy = new Set(["false", "no", "n", "0", "off"])

/** Reads the command line (without node and the script) against the command tree `root`. */
export const prepare = (root: Spec.CommandSpec, argv: ReadonlyArray<string>): Prepared => {
  let spec = root
  const path: Array<string> = []
  const before: Array<string> = []
  const after: Array<string> = []
  const positionals: Array<string> = []
  let help = false
  let wizard = false
  let completions: string | undefined
  let logLevel: string | undefined
  const usage = (message: string): Prepared => ({ _tag: "Usage", message, command: spec })
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!
    const out = path.length === 0 ? before : after
    // `--`: the rest are positionals, whatever they look like.
    if (token === "--") {
      positionals.push(...argv.slice(i + 1))
      break
    }
    if (token.startsWith("-") && token !== "-" && !/^-\d/.test(token)) {
      const eq = token.startsWith("--") ? token.indexOf("=") : -1
      const name = eq === -1 ? token : token.slice(0, eq)
      const inline = eq === -1 ? undefined : token.slice(eq + 1)
      // Between a command and its subcommand, an option of any command under it is taken (and
      // checked against the subcommand when it is known).
      const option = lookup(builtIns, name) ?? lookup(
        spec.subcommands.length > 0 && path.length > 0
          ? withDescendants(spec)
          : spec.options,
        name
      )
      if (option === undefined) {
        const known = [...spec.options, ...builtIns].flatMap((o) => [o.long, ...o.aliases])
        return usage(`unknown option '${name}' for '${spec.path.join(" ")}'.${didYouMean(name, known)}`)
      }
      let value: string | undefined
      if (option.value !== undefined) {
        value = inline ?? argv[++i]
        if (value === undefined) return usage(`${name} needs a value (${option.value}).`)
        if (option.choice === true && !option.values.includes(value)) {
          return usage(`${name} takes ${orList(option.values)} (got '${value}').`)
        }
        // As the parser reads a number (`Number` of the text), with the option named.
        const number = value.trim() === "" ? Number.NaN : Number(value)
        if (option.number === "integer" && !Number.isInteger(number)) {
          return usage(`${name} takes a whole number (got '${value}').`)
        }
        if (option.number === "float" && Number.isNaN(number)) return usage(`${name} takes a number (got '${value}').`)
      } else if (inline !== undefined && !truthy.has(inline.toLowerCase())) {
        if (falsy.has(inline.toLowerCase())) continue
        return usage(`${name} takes no value (got '${inline}').`)
      }
      switch (option.long) {
        case "--help":
          help = true
          continue
        case "--wizard":
          // Passed on to @effect/cli, which asks its questions when stdin and stderr are a terminal.
          wizard = true
          break
        case "--completions":
          completions = value
          continue
        case "--log-level":
          if (!(logLevels as ReadonlyArray<string>).includes(value!.toLowerCase())) {
            return usage(`--log-level takes one of ${logLevels.join(", ")} (got '${value}').`)
          }
          logLevel = value!.toLowerCase()
          continue
      }
      out.push(name, ...(value === undefined ? [] : [value]))
      continue
    }
    // `batchfx help [command...]`, as git and kubectl read it: the help of that command.
    if (spec === root && token === "help" && !root.subcommands.some((c) => c.name === "help")) {
      let target = root
      for (const name of argv.slice(i + 1).filter((a) => !a.startsWith("-"))) {
        const child = target.subcommands.find((c) => c.name === name)
        if (child === undefined) {
          return {
            _tag: "Usage",
            message: `unknown command '${name}'.${didYouMean(name, target.subcommands.map((c) => c.name))}`,
            command: target
          }
        }
        target = child
      }
      return { _tag: "Help", command: target }
    }
    if (spec.subcommands.length > 0 && positionals.length === 0) {
      const child = spec.subcommands.find((c) => c.name === token)
      if (child !== undefined) {
        spec = child
        path.push(token)
        continue
      }
      if (spec.args.length === 0) {
        const where = spec.path.length > 1 ? ` of '${spec.path.join(" ")}'` : ""
        return usage(`unknown command '${token}'${where}.${didYouMean(token, spec.subcommands.map((c) => c.name))}`)
      }
    }
    positionals.push(token)
  }
  if (completions !== undefined) {
    const shell = shells[completions.toLowerCase()]
    return shell === undefined
      ? usage(`--completions takes bash, zsh or fish (got '${completions}').`)
      : { _tag: "Completions", shell }
  }
  if (help) return { _tag: "Help", command: spec }
  const version = before.includes("--version") || after.includes("--version")
  // What was given after the command must be the command's own (an option of a sibling passed the
  // walk above between a command and its subcommand).
  const given = new Set<string>()
  for (let i = 0; i < after.length; i++) {
    const token = after[i]!
    const option = token.startsWith("--") || /^-[a-zA-Z]$/.test(token) ? lookup(spec.options, token) : undefined
    if (option === undefined && token.startsWith("-") && token !== "-" && !/^-\d/.test(token)) {
      if (lookup(builtIns, token) !== undefined) continue
      const known = [...spec.options, ...builtIns].flatMap((o) => [o.long, ...o.aliases])
      return usage(`unknown option '${token}' for '${spec.path.join(" ")}'.${didYouMean(token, known)}`)
    }
    if (option !== undefined) given.add(option.long)
    if (option?.value !== undefined) i++
  }
  if (spec.subcommands.length > 0 && !wizard && !version && (spec !== root || path.length === 0)) {
    const names = spec.subcommands.map((c) => c.name)
    const list = orList(names)
    return usage(spec === root ? `a command is required: ${list}.` : `a ${spec.name} command is required: ${list}.`)
  }
  // The arguments' count and the required options, said in one sentence here (the parser's own
  // words name no command).
  if (!wizard && !version && spec.subcommands.length === 0) {
    const missing = spec.options.find((o) => !o.optional && !given.has(o.long))
    if (missing !== undefined) {
      const term = missing.value === undefined ? missing.long : `${missing.long} ${missing.value}`
      return usage(`${term} is required.`)
    }
    if (positionals.length > 0 && spec.args.length === 0) {
      return usage(`'${spec.path.join(" ")}' takes no arguments (got '${positionals[0]}').`)
    }
    const required = spec.args.filter((a) => !a.optional)
    if (positionals.length < required.length) {
      return usage(`missing argument <${required[positionals.length]!.name}>.`)
    }
    if (!spec.args.some((a) => a.repeatable) && positionals.length > spec.args.length) {
      const takes = spec.args.map((a) => `<${a.name}>`).join(" ")
      return usage(`unexpected argument '${positionals[spec.args.length]}' ('${spec.path.join(" ")}' takes ${takes}).`)
    }
  }
  // The positionals after every option and a `--`, which @effect/cli takes as "the rest are arguments".
  const rest = positionals.length === 0 ? [] : ["--", ...positionals]
  return { _tag: "Run", args: [...before, ...path, ...after, ...rest], command: spec, logLevel, wizard }
}
