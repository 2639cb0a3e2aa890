// Bundles the compiled CLI (dist/main.js and everything it imports) into dist/bundle/ so that
// `batchfx` starts from a few files instead of hundreds of modules. Code loaded on demand (the
// HTTP client, the emulator) lands in chunks of its own and is read only by the commands that use
// it. dist/bin.js runs the bundle while it is newer than the last build, else the compiled
// modules. Run after `tsc -b`: `pnpm --filter @batchfx/cli bundle` or `node packages/cli/scripts/bundle.mjs`.
import { build } from "esbuild"
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"

// @effect/cli can read option values from YAML, TOML and INI files (Options.fileParse); batchfx
// never does, so those parsers (a sixth of the start-up code) are left out of the bundle.
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
await build({
  entryPoints: [`${dist}main.js`],
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
  logLevel: "warning"
})
