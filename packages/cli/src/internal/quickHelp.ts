/**
 * `--help` answered from the command tree saved when the bundle is made (`scripts/bundle.mjs`
 * writes `dist/bundle/tree.json`), before the command line and its dependencies load: `bin.ts`
 * and the published `batchfx.js` call it first. The text is `help.ts`'s, from the same tree the
 * full command line reads, so the two cannot differ (test/QuickHelp.test.ts compares them).
 */
import { prepare } from "./argv.js"
import { render } from "./help.js"
import type { CommandSpec } from "./spec.js"

/** The help `args` ask for, for a terminal `columns` wide (0: unknown), or undefined if they ask for something else. */
export const answer = (tree: CommandSpec, args: ReadonlyArray<string>, columns: number): string | undefined => {
  const prepared = prepare(tree, args)
  return prepared._tag === "Help" ? render(prepared.command, tree, columns) : undefined
}
