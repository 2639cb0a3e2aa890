/**
 * Builds the CLI before the tests: `tsc -b` when `dist/main.js` is missing or older than a source
 * file of the CLI or the packages it uses, then the bundle when it is older than the build (the
 * same rule `dist/bin.js` applies), so the tests run what a user runs.
 */
import { execFileSync } from "node:child_process"
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const pkg = fileURLToPath(new URL("..", import.meta.url))
const root = join(pkg, "..", "..")
const packages = ["cli", "client", "core", "testkit"]

const mtime = (path: string): number => {
  try {
    return statSync(path).mtimeMs
  } catch {
    return -1
  }
}

const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name)
    return Math.max(latest, entry.isDirectory() ? newest(path) : mtime(path))
  }, 0)

export default function setup(): void {
  const sources = Math.max(...packages.map((p) => newest(join(root, "packages", p, "src"))))
  if (mtime(join(pkg, "dist", "main.js")) < sources || mtime(join(pkg, "dist", "bin.js")) < sources) {
    execFileSync(process.execPath, [
      join(root, "node_modules", "typescript", "bin", "tsc"),
      "-b",
      "packages/cli/tsconfig.src.json"
    ], {
      cwd: root,
      stdio: "inherit"
    })
  }
  const built = Math.max(
    mtime(join(pkg, "dist", "main.js")),
    ...packages.map((p) => mtime(join(root, "packages", p, "build", "tsbuildinfo", "src.tsbuildinfo")))
  )
  if (mtime(join(pkg, "dist", "bundle", "main.js")) < built) {
    execFileSync(process.execPath, [join(pkg, "scripts", "bundle.mjs")], { cwd: root, stdio: "inherit" })
  }
}
