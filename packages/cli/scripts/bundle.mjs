// Bundles the compiled CLI (dist/main.js and everything it imports) into dist/bundle/ so that
// `batchfx` starts from a few files instead of hundreds of modules. Code loaded on demand (the
// HTTP client, the emulator) lands in chunks of its own and is read only by the commands that use
// it. dist/bin.js runs the bundle while it is newer than the last build, else the compiled
// modules; the published package runs dist/bundle/batchfx.js, which always runs the bundle. Run after `tsc -b`: `pnpm --filter @batchfx/cli bundle` or `node packages/cli/scripts/bundle.mjs`
// (`--analyze` also prints what every start loads, by package).
import { build } from "esbuild"
import { rmSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

// @effect/cli can read option values from YAML, TOML and INI files (Options.fileParse); batchfx
// never does, so those parsers are left out of the bundle, where every start would compile them.
const unusedParsers = {
  name: "unused-config-parsers",
  setup(build) {
    build.onResolve({ filter: /^(yaml|toml|ini)$/ }, (args) => ({ path: args.path, namespace: "unused-parser" }))
    build.onLoad({ filter: /.*/, namespace: "unused-parser" }, (args) => ({
      contents: `export const parse = () => { throw new Error("batchfx does not read ${args.path} files") }`,
      loader: "js"
    }))
  }
}

const dist = fileURLToPath(new URL("../dist/", import.meta.url))
rmSync(`${dist}bundle`, { recursive: true, force: true })
const analyze = process.argv.includes("--analyze")
const result = await build({
  // quickHelp.js answers `--help` from tree.json (written below) without loading the command line.
  entryPoints: { main: `${dist}main.js`, quickHelp: `${dist}internal/quickHelp.js` },
  outdir: `${dist}bundle`,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minify: true,
  keepNames: false,
  legalComments: "none",
  // Some dependencies (undici, ws) are CommonJS and call require().
  banner: {
    js:
      "import { createRequire as __batchfxRequire } from 'node:module'; const require = __batchfxRequire(import.meta.url);"
  },
  plugins: [unusedParsers],
  // libSQL (the jobs store) loads a native binary of the platform by a computed name: it cannot be
  // bundled, so it stays an import, installed as the CLI's one runtime dependency.
  external: ["libsql"],
  metafile: analyze,
  logLevel: "warning"
})

// The command tree as data, for `--help` before the command line loads (see src/internal/quickHelp.ts).
const { commandTree } = await import(new URL("../dist/Cli.js", import.meta.url).href)
writeFileSync(`${dist}bundle/tree.json`, JSON.stringify(commandTree()))

// The executable of the published package (its `publishConfig.bin`): always the bundle, with
// `batchfx --version` and `--help` answered before the command line loads, as dist/bin.js does in
// the repository.
const { versionOutput } = await import(new URL("../dist/internal/version.js", import.meta.url).href)
writeFileSync(
  `${dist}bundle/batchfx.js`,
  `#!/usr/bin/env node
const args = process.argv.slice(2)
const help = async () => {
  if (!args.includes("--help") && !args.includes("-h")) return undefined
  const [{ answer }, { readFileSync }] = await Promise.all([import("./quickHelp.js"), import("node:fs")])
  const tree = JSON.parse(readFileSync(new URL("./tree.json", import.meta.url), "utf8"))
  return answer(tree, args, process.stdout.isTTY ? process.stdout.columns ?? 0 : 0)
}
if (args.length === 1 && args[0] === "--version") process.stdout.write(${JSON.stringify(versionOutput)})
else {
  const text = await help()
  if (text !== undefined) process.stdout.write(text)
  else await import("./main.js")
}
`,
  { mode: 0o755 }
)

// `--analyze`: what every start compiles (main.js and the chunks it imports statically), by
// package, and the metafile in dist/bundle-meta.json (for esbuild's analyzer).
if (analyze) {
  /* eslint-disable no-console -- a report asked for on the command line */
  const { outputs } = result.metafile
  writeFileSync(`${dist}bundle-meta.json`, JSON.stringify(result.metafile))
  const start = new Set()
  const visit = (file) => {
    if (start.has(file)) return
    start.add(file)
    for (const i of outputs[file].imports) if (i.kind === "import-statement" && i.path in outputs) visit(i.path)
  }
  visit(Object.keys(outputs).find((file) => file.endsWith("bundle/main.js")))
  const byPackage = new Map()
  for (const file of start) {
    for (const [input, { bytesInOutput }] of Object.entries(outputs[file].inputs)) {
      const name = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ??
        input.split("/").slice(0, 3).join("/")
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput)
    }
  }
  const kb = (n) => `${(n / 1024).toFixed(1)} kB`
  console.log(`start path: ${[...start].map((f) => `${f} (${kb(outputs[f].bytes)})`).join(", ")}`)
  for (const [name, bytes] of [...byPackage].sort((a, b) => b[1] - a[1])) {
    console.log(`  ${kb(bytes).padStart(9)} ${name}`)
  }
}
