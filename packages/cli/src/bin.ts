#!/usr/bin/env node
/**
 * The `batchfx` executable. It runs the bundle in `dist/bundle/` (see `scripts/bundle.mjs`) when
 * the bundle is newer than the last build of this package and the packages it uses, and the
 * compiled modules (`main.js`) otherwise, so a stale bundle never runs. `batchfx --version` alone
 * is answered here, with the bytes @effect/cli would print, and `--help` from the bundle's saved
 * command tree, without loading the command line.
 *
 * @since 0.1.0
 */
import { readFileSync, statSync } from "node:fs"
import * as NodeModule from "node:module"
import type { CommandSpec } from "./internal/spec.js"
import { versionOutput } from "./internal/version.js"

// Node 22.1+ keeps compiled code between runs (a no-op on Node 20, where it does not exist).
const withCache = NodeModule as { readonly enableCompileCache?: () => unknown }
withCache.enableCompileCache?.()

// `batchfx --version` is what scripts and version checks run, often in a loop: print it without
// compiling the command line (a test checks the bytes against the @effect/cli answer).
if (process.argv.length === 3 && process.argv[2] === "--version") {
  process.stdout.write(versionOutput)
} else {
  const mtime = (url: URL): number => {
    try {
      return statSync(url).mtimeMs
    } catch {
      return -1
    }
  }

  const bundle = new URL("./bundle/main.js", import.meta.url)
  const args = process.argv.slice(2)
  // `--help` is answered from the command tree the bundle saved, loading two small modules
  // instead of the command line; anything else (or no saved tree) goes to the command line.
  const quickHelp = async (): Promise<string | undefined> => {
    if (!args.includes("--help") && !args.includes("-h")) return undefined
    try {
      const { answer } = await import("./internal/quickHelp.js")
      const tree = JSON.parse(readFileSync(new URL("./bundle/tree.json", import.meta.url), "utf8")) as CommandSpec
      return answer(tree, args, process.stdout.isTTY ? process.stdout.columns ?? 0 : 0)
    } catch {
      return undefined
    }
  }
  const builds = ["cli", "client", "core", "testkit"].map((name) =>
    new URL(`../../${name}/build/tsbuildinfo/src.tsbuildinfo`, import.meta.url)
  )
  const fresh = mtime(bundle) >= Math.max(mtime(new URL("./main.js", import.meta.url)), ...builds.map(mtime))
  const help = fresh ? await quickHelp() : undefined
  if (help !== undefined) process.stdout.write(help)
  else await import(fresh ? "./bundle/main.js" : "./main.js")
}
