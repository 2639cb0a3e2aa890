/** Builds the CLI before the tests when `dist/bin.js` is missing or older than a source file. */
import { execFileSync } from "node:child_process"
import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const pkg = fileURLToPath(new URL("..", import.meta.url))
const root = join(pkg, "..", "..")

const newest = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name)
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)

export default function setup(): void {
  const bin = join(pkg, "dist", "bin.js")
  let built = 0
  try {
    built = statSync(bin).mtimeMs
  } catch {
    built = 0
  }
  const sources = Math.max(...["core", "client", "testkit", "cli"].map((p) => newest(join(root, "packages", p, "src"))))
  if (built < sources) {
    execFileSync(join(root, "node_modules", ".bin", "tsc"), ["-b", "packages/cli/tsconfig.src.json"], {
      cwd: root,
      stdio: "inherit"
    })
  }
}
