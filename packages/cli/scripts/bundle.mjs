// Bundles the compiled CLI (dist/main.js and everything it imports) into dist/bundle/ so that
// `batchfx` starts from a few files instead of hundreds of modules. Code loaded on demand (the
// HTTP client, the emulator) lands in chunks of its own and is read only by the commands that use
// it. dist/bin.js runs the bundle while it is newer than the last build, else the compiled
// modules. Run after `tsc -b`: `pnpm --filter @batchfx/cli bundle` or `node packages/cli/scripts/bundle.mjs`.
import { build } from "esbuild"
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"

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
  logLevel: "warning"
})
