/**
 * `--completions bash|zsh|fish`: a completion script made from the command tree. It completes
 * command names, each command's own options (and the global ones), each value of an option that
 * has a known list (`--format`, `--status`, `--log-level`) as a word of its own, file names for
 * options and arguments that are files, and nothing for other values.
 */
import { builtIns, namesOf, type Shell } from "./argv.js"
import type * as Spec from "./spec.js"

const all = (spec: Spec.CommandSpec): Array<Spec.CommandSpec> => [spec, ...spec.subcommands.flatMap(all)]

/** A command's path below the root, as the scripts name it (`""`, `list`, `jobs list`). */
const key = (spec: Spec.CommandSpec): string => spec.path.slice(1).join(" ")

const optionsOf = (spec: Spec.CommandSpec): ReadonlyArray<Spec.OptionSpec> => [
  ...spec.options,
  ...builtIns.filter((o) => o.long !== "--wizard")
]

const takesFiles = (spec: Spec.CommandSpec): boolean =>
  spec.args.some((a) => /file|jsonl/i.test(a.name)) && spec.subcommands.length === 0

// A value named FILE (or PATH) is a file; FILE_ID, BATCH_ID and the like are not.
const isFile = (option: Spec.OptionSpec): boolean => option.path || /^(FILE|PATH)$/.test(option.value ?? "")

const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`

const bashFunction = (root: Spec.CommandSpec): string => {
  const commands = all(root)
  const lines: Array<string> = [
    `_${root.name}() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" path="" skip="" i w`,
    `  ((COMP_CWORD > 0)) && prev="\${COMP_WORDS[COMP_CWORD-1]}"`,
    // `--opt=value`: bash splits the word at '=' (COMP_WORDBREAKS), so the option is two words back.
    `  if [[ "$prev" == "=" ]]; then prev="\${COMP_WORDS[COMP_CWORD-2]}"; elif [[ "$cur" == "=" ]]; then prev="\${COMP_WORDS[COMP_CWORD-1]}"; cur=""; fi`,
    `  for ((i = 1; i < COMP_CWORD; i++)); do`,
    `    w="\${COMP_WORDS[i]}"`,
    `    if [[ -n "$skip" ]]; then skip=""; continue; fi`,
    `    case "$path|$w" in`
  ]
  for (const spec of commands) {
    const valued = optionsOf(spec).filter((o) => o.value !== undefined).flatMap(namesOf)
    if (valued.length > 0) lines.push(`      ${valued.map((n) => quote(`${key(spec)}|${n}`)).join("|")}) skip=1 ;;`)
    for (const child of spec.subcommands) {
      lines.push(`      ${quote(`${key(spec)}|${child.name}`)}) path=${quote(key(child))} ;;`)
    }
  }
  lines.push(`    esac`, `  done`, `  case "$path|$prev" in`)
  for (const spec of commands) {
    for (const option of optionsOf(spec).filter((o) => o.value !== undefined)) {
      const cases = namesOf(option).map((n) => quote(`${key(spec)}|${n}`)).join("|")
      const reply = option.values.length > 0
        ? `COMPREPLY=($(compgen -W ${quote(option.values.join(" "))} -- "$cur"))`
        : isFile(option)
        ? `COMPREPLY=($(compgen -f -- "$cur"))`
        : `COMPREPLY=()`
      lines.push(`    ${cases}) ${reply}; return ;;`)
    }
  }
  lines.push(`  esac`, `  if [[ "$cur" == -* ]]; then`, `    case "$path" in`)
  for (const spec of commands) {
    const names = optionsOf(spec).flatMap((o) => [o.long, ...o.aliases])
    lines.push(`      ${quote(key(spec))}) COMPREPLY=($(compgen -W ${quote(names.join(" "))} -- "$cur")) ;;`)
  }
  lines.push(`    esac`, `    return`, `  fi`, `  case "$path" in`)
  for (const spec of commands) {
    if (spec.subcommands.length > 0) {
      const names = spec.subcommands.map((c) => c.name).join(" ")
      lines.push(`    ${quote(key(spec))}) COMPREPLY=($(compgen -W ${quote(names)} -- "$cur")) ;;`)
    } else if (takesFiles(spec)) {
      lines.push(`    ${quote(key(spec))}) COMPREPLY=($(compgen -f -- "$cur")) ;;`)
    }
  }
  lines.push(`    *) COMPREPLY=() ;;`, `  esac`, `}`)
  return lines.join("\n")
}

const bash = (root: Spec.CommandSpec): string =>
  [
    `# ${root.name} completion for bash: add to ~/.bashrc`,
    `#   source <(${root.name} --completions bash)`,
    bashFunction(root),
    `complete -F _${root.name} ${root.name}`,
    ""
  ].join("\n")

// zsh runs the bash function through its bash emulation (bashcompinit), so both shells complete alike.
const zsh = (root: Spec.CommandSpec): string =>
  [
    `#compdef ${root.name}`,
    `# ${root.name} completion for zsh: add to ~/.zshrc`,
    `#   source <(${root.name} --completions zsh)`,
    `autoload -U +X compinit && { (( $+functions[compdef] )) || compinit; }`,
    `autoload -U +X bashcompinit && bashcompinit`,
    bashFunction(root),
    `complete -F _${root.name} ${root.name}`,
    ""
  ].join("\n")

const fish = (root: Spec.CommandSpec): string => {
  const lines = [
    `# ${root.name} completion for fish: ${root.name} --completions fish > ~/.config/fish/completions/${root.name}.fish`,
    `complete -c ${root.name} -f`
  ]
  const names = (spec: Spec.CommandSpec) => spec.subcommands.map((c) => c.name).join(" ")
  // The condition under which a command's completions apply: its path seen, no deeper command seen.
  const condition = (spec: Spec.CommandSpec): string => {
    const path = spec.path.slice(1)
    if (path.length === 0) return "__fish_use_subcommand"
    const seen = path.map((name) => `__fish_seen_subcommand_from ${name}`)
    const parent = root.subcommands.find((c) => c.name === path[0])
    // `list` and `jobs list`: a top-level command must not match under `jobs`.
    const others = root.subcommands.filter((c) => c.subcommands.length > 0 && c !== parent).map((c) => c.name)
    const deeper = spec.subcommands.length > 0 ? [`not __fish_seen_subcommand_from ${names(spec)}`] : []
    const notOthers = path.length === 1 && others.length > 0
      ? [`not __fish_seen_subcommand_from ${others.join(" ")}`]
      : []
    return [...seen, ...notOthers, ...deeper].join("; and ")
  }
  for (const spec of all(root)) {
    const when = quote(condition(spec))
    for (const child of spec.subcommands) {
      lines.push(`complete -c ${root.name} -n ${when} -a ${child.name} -d ${quote(child.about.summary)}`)
    }
    for (const option of optionsOf(spec)) {
      const longs = [option.long, ...option.aliases].map((n) => `-l ${n.slice(2)}`)
      const shorts = option.short.map((n) => `-s ${n.slice(1)}`)
      const value = option.value === undefined
        ? []
        : option.values.length > 0
        ? ["-x", "-a", quote(option.values.join(" "))]
        : isFile(option)
        ? ["-r", "-F"]
        : ["-x"]
      const description = option.description.split(/(?<=\.)\s/)[0] ?? ""
      lines.push(
        [`complete -c ${root.name} -n ${when}`, ...shorts, ...longs, ...value, "-d", quote(description)].join(" ")
      )
    }
    if (takesFiles(spec)) lines.push(`complete -c ${root.name} -n ${when} -F`)
  }
  return lines.join("\n") + "\n"
}

/** The completion script of a shell for the command tree `root`. */
export const script = (shell: Shell, root: Spec.CommandSpec): string =>
  shell === "bash" ? bash(root) : shell === "zsh" ? zsh(root) : fish(root)
