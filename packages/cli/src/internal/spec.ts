/**
 * The command tree as plain data, read from `@effect/cli`'s descriptors: each command's names,
 * options (names, whether they take a value, the values they accept), arguments, and what
 * `about` says of it (summary, details, examples). Help, completion scripts and the checks of the
 * command line before parsing (`argv.ts`) are all made from it, so that they never disagree with
 * the parser. @effect/cli 0.77 exposes no public walk of a command's options: the walk reads its
 * descriptor objects by their `_tag`s and skips any shape it does not know.
 */
import * as BatchStatus from "@batchfx/core/BatchStatus"
import * as Command from "@effect/cli/Command"
import type * as HelpDoc from "@effect/cli/HelpDoc"
import type * as Span from "@effect/cli/HelpDoc/Span"

/** What a command's help says beyond its options: a one-line summary, more, and 1 to 3 examples. */
export interface About {
  readonly summary: string
  readonly details?: ReadonlyArray<string> | undefined
  /** `[command line, what it does]`, the command line starting with `batchfx`. */
  readonly examples: ReadonlyArray<readonly [string, string]>
}

/** One option. */
export interface OptionSpec {
  /** `--limit` */
  readonly long: string
  /** `-n`, if any */
  readonly short: ReadonlyArray<string>
  /** Other long names (`--seed` of `--seed-batches`). */
  readonly aliases: ReadonlyArray<string>
  /** The value's name (`N`, `URL`), or undefined for a flag. */
  readonly value: string | undefined
  /** The accepted values, when they are a known list (a choice, or the statuses). */
  readonly values: ReadonlyArray<string>
  /**
   * Whether `values` are the only ones the parser accepts (a choice, such as `--format`); the
   * statuses are suggestions, since a status newer than this version still filters.
   */
  readonly choice?: boolean | undefined
  /** Whether the value is a number the parser reads: a whole one (`--limit N`) or any (`--rps X`). */
  readonly number?: "integer" | "float" | undefined
  /** Whether the value is a path (completed with file names). */
  readonly path: boolean
  readonly repeatable: boolean
  readonly optional: boolean
  readonly description: string
}

/** One positional argument. */
export interface ArgSpec {
  readonly name: string
  readonly description: string
  readonly repeatable: boolean
  readonly optional: boolean
}

/** One command and the commands under it. */
export interface CommandSpec {
  /** `["batchfx", "jobs", "list"]` */
  readonly path: ReadonlyArray<string>
  readonly name: string
  readonly about: About
  readonly options: ReadonlyArray<OptionSpec>
  readonly args: ReadonlyArray<ArgSpec>
  readonly subcommands: ReadonlyArray<CommandSpec>
}

// What `about` attached to each command's descriptor (the descriptor object is kept by every later
// transformation of the command: `provide`, `transformHandler`, and `withSubcommands` wraps it).
const abouts = new WeakMap<object, About>()

/**
 * Describes a command: its description (what @effect/cli shows, and the summary) and the rest of
 * its help (details and examples), which the help of `help.ts` shows.
 */
export const about =
  (about: About) =>
  <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>): Command.Command<Name, R, E, A> => {
    const described = Command.withDescription(command, [about.summary, ...(about.details ?? [])].join(" "))
    abouts.set(described.descriptor, about)
    return described
  }

/**
 * Describes a command's subcommands after the tree is made (`about` describes one as it is made):
 * `aboutAll(jobs, { "": ..., submit: ... })`, keyed by the path below `command` ("" for itself).
 */
export const aboutAll = <Name extends string, R, E, A>(
  command: Command.Command<Name, R, E, A>,
  byPath: Readonly<Record<string, About>>
): void => {
  const visit = (node: unknown, path: ReadonlyArray<string>): void => {
    if (!isNode(node)) return
    switch (node._tag) {
      case "Standard": {
        const about = byPath[path.join(" ")]
        if (about !== undefined) abouts.set(node, about)
        return
      }
      case "Map":
        return visit(node["command"], path)
      case "Subcommands": {
        visit(node["parent"], path)
        for (const child of node["children"] as ReadonlyArray<unknown>) {
          const standard = standardOf(child)
          if (standard !== undefined) visit(child, [...path, String(standard["name"])])
        }
        return
      }
    }
  }
  visit(command.descriptor, [])
}

const standardOf = (node: unknown): Node | undefined =>
  !isNode(node)
    ? undefined
    : node._tag === "Standard"
    ? node
    : node._tag === "Map"
    ? standardOf(node["command"])
    : node._tag === "Subcommands"
    ? standardOf(node["parent"])
    : undefined

/**
 * Values offered for options that take text, by option name: `--status` is text rather than a
 * choice so that a status newer than this version still filters (with a warning).
 */
const suggestedValues: Readonly<Record<string, ReadonlyArray<string>>> = { status: BatchStatus.known }

// ---- reading @effect/cli's descriptors ----------------------------------------------------------

type Node = { readonly _tag: string } & Record<string, unknown>

const isNode = (u: unknown): u is Node => typeof u === "object" && u !== null && typeof (u as Node)._tag === "string"

const spanText = (span: Span.Span): string => {
  const s = span as unknown as Node
  switch (s._tag) {
    case "Text":
    case "Code":
    case "URI":
      return String(s["value"])
    case "Sequence":
      return spanText(s["left"] as Span.Span) + spanText(s["right"] as Span.Span)
    case "Error":
    case "Weak":
    case "Strong":
      return spanText(s["value"] as Span.Span)
    default:
      return ""
  }
}

/** The text of a help document, its paragraphs joined by spaces. */
export const docText = (doc: HelpDoc.HelpDoc): string => {
  const d = doc as unknown as Node
  switch (d._tag) {
    case "Paragraph":
    case "Header":
      return spanText(d["value"] as Span.Span)
    case "Sequence":
      return [docText(d["left"] as HelpDoc.HelpDoc), docText(d["right"] as HelpDoc.HelpDoc)].filter((t) => t !== "")
        .join(" ")
    default:
      return ""
  }
}

const option = (single: Node, repeatable: boolean, optional: boolean, values: ReadonlyArray<string>): OptionSpec => {
  const name = String(single["name"])
  const aliases = (single["aliases"] as ReadonlyArray<string> | undefined) ?? []
  const names = [name, ...aliases].map((n) => n.length === 1 ? `-${n}` : `--${n}`)
  const primitive = isNode(single["primitiveType"]) ? single["primitiveType"] : { _tag: "Text" }
  const pseudo = single["pseudoName"] as { readonly _tag: string; readonly value?: string } | undefined
  const flag = primitive._tag === "Bool"
  const choices = primitive._tag === "Choice"
    ? ((primitive["alternatives"] as ReadonlyArray<readonly [string, unknown]>) ?? []).map(([n]) => n)
    : []
  const valueName = pseudo?._tag === "Some" && pseudo.value !== undefined
    ? pseudo.value
    : primitive._tag === "Choice"
    ? "FORMAT"
    : primitive._tag === "Integer"
    ? "N"
    : primitive._tag === "Float"
    ? "X"
    : primitive._tag === "Path"
    ? "FILE"
    : "TEXT"
  const long = names.find((n) => n.startsWith("--")) ?? names[0]!
  return {
    long,
    short: names.filter((n) => !n.startsWith("--")),
    aliases: names.filter((n) => n.startsWith("--") && n !== long),
    value: flag ? undefined : valueName,
    values: choices.length > 0 ? choices : values,
    choice: choices.length > 0,
    number: primitive._tag === "Integer" ? "integer" : primitive._tag === "Float" ? "float" : undefined,
    path: primitive._tag === "Path",
    repeatable,
    optional: optional || flag || repeatable,
    description: docText(single["description"] as HelpDoc.HelpDoc)
  }
}

const options = (node: unknown, repeatable = false, optional = false): Array<OptionSpec> => {
  if (!isNode(node)) return []
  switch (node._tag) {
    case "Single":
      return [option(node, repeatable, optional, suggestedValues[String(node["name"])] ?? [])]
    case "Variadic":
    case "KeyValueMap":
      return options(node["argumentOption"], true, optional)
    case "Map":
    case "WithFallback":
      return options(node["options"], repeatable, optional)
    case "WithDefault":
      return options(node["options"], repeatable, true)
    case "Both":
    case "OrElse":
      return [...options(node["left"], repeatable, optional), ...options(node["right"], repeatable, optional)]
    default:
      return []
  }
}

const args = (node: unknown, repeatable = false, optional = false): Array<ArgSpec> => {
  if (!isNode(node)) return []
  switch (node._tag) {
    case "Single": {
      const pseudo = node["pseudoName"] as { readonly _tag: string; readonly value?: string } | undefined
      return [{
        name: pseudo?._tag === "Some" && pseudo.value !== undefined ? pseudo.value : String(node["name"]),
        description: docText(node["description"] as HelpDoc.HelpDoc),
        repeatable,
        optional
      }]
    }
    case "Variadic": {
      const min = node["min"] as { readonly _tag: string; readonly value?: number } | undefined
      return args(node["args"], true, optional || !(min?._tag === "Some" && (min.value ?? 0) > 0))
    }
    case "Map":
    case "WithFallbackConfig":
      return args(node["args"], repeatable, optional)
    case "WithDefault":
      return args(node["args"], repeatable, true)
    case "Both":
      return [...args(node["left"], repeatable, optional), ...args(node["right"], repeatable, optional)]
    default:
      return []
  }
}

const read = (node: unknown, parent: ReadonlyArray<string>, about: About | undefined): CommandSpec | undefined => {
  if (!isNode(node)) return undefined
  const own = abouts.get(node) ?? about
  switch (node._tag) {
    case "Standard": {
      const name = String(node["name"])
      return {
        path: [...parent, name],
        name,
        about: own ?? { summary: docText(node["description"] as HelpDoc.HelpDoc), examples: [] },
        options: options(node["options"]),
        args: args(node["args"]),
        subcommands: []
      }
    }
    case "Map":
      return read(node["command"], parent, own)
    case "Subcommands": {
      const spec = read(node["parent"], parent, own)
      if (spec === undefined) return undefined
      const children = (node["children"] as ReadonlyArray<unknown>).map((child) => read(child, spec.path, undefined))
      return { ...spec, subcommands: children.filter((c): c is CommandSpec => c !== undefined) }
    }
    default:
      return undefined
  }
}

/** The tree of a command (`batchfx` and everything under it). */
export const fromCommand = <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>): CommandSpec =>
  read(command.descriptor, [], undefined) ??
    { path: ["batchfx"], name: "batchfx", about: { summary: "", examples: [] }, options: [], args: [], subcommands: [] }

/** The command at `path` under `root` (`["jobs", "list"]`), or undefined. */
export const find = (root: CommandSpec, path: ReadonlyArray<string>): CommandSpec | undefined =>
  path.reduce<CommandSpec | undefined>((spec, name) => spec?.subcommands.find((c) => c.name === name), root)
