/**
 * `--help`: a command's summary, usage, arguments, its own options, the global options it takes
 * and its examples, wrapped to the terminal's width, without the type boilerplate of
 * `@effect/cli`'s help ("A user-defined piece of text.", "This setting is optional."). The top
 * level lists the commands and describes the global options, in under 40 lines.
 */
import { builtIns } from "./argv.js"
import type * as Spec from "./spec.js"

/** The width help is wrapped to when the terminal's is unknown (a pipe, a file). */
export const defaultWidth = 80

/** Words of `text` in lines of at most `width` characters, every line after the first indented by `indent`. */
export const wrap = (text: string, width: number, indent: number): Array<string> => {
  const lines: Array<string> = []
  let line = ""
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    const room = width - (lines.length === 0 ? 0 : indent)
    if (line !== "" && line.length + 1 + word.length > room) {
      lines.push(line)
      line = word
    } else {
      line = line === "" ? word : `${line} ${word}`
    }
  }
  if (line !== "" || lines.length === 0) lines.push(line)
  return lines.map((l, i) => i === 0 ? l : " ".repeat(indent) + l)
}

/** Items (each kept whole) in lines of at most `width` characters, two spaces apart. */
const wrapItems = (items: ReadonlyArray<string>, width: number): Array<string> =>
  items.reduce<Array<string>>((lines, item) => {
    const last = lines[lines.length - 1]
    if (last !== undefined && last.length + 2 + item.length <= width) lines[lines.length - 1] = `${last}  ${item}`
    else lines.push(item)
    return lines
  }, [])

/** Rows of a two-column list (`  term   description`), the descriptions wrapped under each other. */
const table = (rows: ReadonlyArray<readonly [string, string]>, width: number): Array<string> => {
  const termWidth = Math.min(Math.max(...rows.map(([term]) => term.length)), 26)
  const indent = 2 + termWidth + 2
  return rows.flatMap(([term, description]) => {
    if (term.length > termWidth) {
      return [`  ${term}`, ...wrap(description, width - indent, 0).map((l) => " ".repeat(indent) + l)]
    }
    const [first, ...rest] = wrap(description, width - indent, 0)
    return [
      `  ${term.padEnd(termWidth)}  ${first ?? ""}`.trimEnd(),
      ...rest.map((l) => " ".repeat(indent) + l)
    ]
  })
}

const optionTerm = (option: Spec.OptionSpec): string => {
  const shorts = option.short.join(", ")
  const longs = [option.long, ...option.aliases].join(", ")
  const names = shorts === "" ? `    ${longs}` : `${shorts}, ${longs}`
  return option.value === undefined ? names : `${names} ${option.value}`
}

const optionDescription = (option: Spec.OptionSpec): string => {
  const values = option.values.length > 0 && !option.description.includes(option.values[0]!)
    ? ` One of: ${option.values.join(", ")}.`
    : ""
  const repeat = option.repeatable && !/repeat/i.test(option.description) ? " Repeatable." : ""
  const required = option.optional ? "" : " Required."
  return `${option.description}${values}${repeat}${required}`
}

const usageLine = (spec: Spec.CommandSpec): string => {
  const args = spec.args.map((a) => {
    const name = `<${a.name}>${a.repeatable ? "..." : ""}`
    return a.optional ? `[${name}]` : name
  })
  const required = spec.options.filter((o) => !o.optional).map((o) => `${o.long} ${o.value ?? ""}`.trimEnd())
  return [spec.path.join(" "), ...required, spec.subcommands.length > 0 ? "<command>" : "", "[options]", ...args]
    .filter((p) => p !== "").join(" ")
}

const examples = (about: Spec.About): Array<string> =>
  about.examples.length === 0
    ? []
    : ["", "EXAMPLES", ...about.examples.flatMap(([line, says]) => [`  # ${says}`, `  ${line}`])]

/** The help of `spec`, a command under `root` (or `root` itself), for a terminal `columns` wide (0: unknown). */
export const render = (spec: Spec.CommandSpec, root: Spec.CommandSpec, columns: number): string => {
  const width = Math.max(40, Math.min(columns > 0 ? columns : defaultWidth, 100))
  if (spec === root) return renderRoot(root, width)
  // A global option is the root's own, description and all: `wait --timeout` has the name of the
  // request timeout but is the wait's, and is shown with the command's options.
  const globalDescriptions = new Map(root.options.map((o) => [o.long, o.description]))
  const isGlobal = (o: Spec.OptionSpec) => globalDescriptions.get(o.long) === o.description
  const own = spec.options.filter((o) => !isGlobal(o))
  const globals = spec.options.filter(isGlobal)
  const lines = [
    ...wrap(spec.about.summary, width, 0),
    ...(spec.about.details === undefined ? [] : ["", ...wrap(spec.about.details.join(" "), width, 0)]),
    "",
    "USAGE",
    ...wrap(usageLine(spec), width - 2, 4).map((l) => `  ${l}`)
  ]
  if (spec.subcommands.length > 0) {
    lines.push(
      "",
      "COMMANDS",
      ...table(spec.subcommands.map((c) => [c.name, c.about.summary]), width)
    )
  }
  if (spec.args.length > 0) {
    lines.push("", "ARGUMENTS", ...table(spec.args.map((a) => [`<${a.name}>`, a.description]), width))
  }
  if (own.length > 0) {
    lines.push("", "OPTIONS", ...table(own.map((o) => [optionTerm(o), optionDescription(o)]), width))
  }
  if (globals.length > 0) {
    const names = [...globals, builtIns.find((o) => o.long === "--log-level")!]
      .map((o) => `${o.long}${o.value === undefined ? "" : ` ${o.value}`}`)
    lines.push(
      "",
      "GLOBAL OPTIONS (before or after the command)",
      ...wrapItems(names, width - 2).map((l) => `  ${l}`)
    )
  }
  lines.push(...examples(spec.about))
  if (spec.subcommands.length > 0) {
    lines.push("", `Run '${spec.path.join(" ")} <command> --help' for a command's options.`)
  }
  return lines.join("\n") + "\n"
}

const renderRoot = (root: Spec.CommandSpec, width: number): string => {
  const globals = [...root.options, builtIns.find((o) => o.long === "--log-level")!]
  const lines = [
    ...wrap(root.about.summary, width, 0),
    "",
    "USAGE",
    `  ${root.name} <command> [options]`,
    "",
    "COMMANDS",
    ...table(root.subcommands.map((c) => [c.name, c.about.summary]), width),
    "",
    "GLOBAL OPTIONS (before or after the command)",
    ...table([
      ...globals.map((o) => [optionTerm(o).trimStart(), o.description] as const),
      ["-h, --help", `This help, or a command's: ${root.name} <command> --help.`],
      ["--completions SHELL", "A completion script for bash, zsh or fish."],
      ["--version", "The version."]
    ], width),
    ...(root.about.details === undefined ? [] : ["", ...root.about.details.flatMap((d) => wrap(d, width, 0))]),
    ...examples(root.about)
  ]
  return lines.join("\n") + "\n"
}
