import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const src = fileURLToPath(new URL("../src", import.meta.url))
const modules = readdirSync(src).filter((name) => name.endsWith(".ts"))

/** Every top-level `export` of a public module, and whether a JSDoc comment ends right above it. */
const exportsOf = (file: string) => {
  const lines = readFileSync(join(src, file), "utf8").split("\n")
  return lines.flatMap((line, i) => {
    if (!/^export /.test(line)) return []
    let j = i - 1
    while (j >= 0 && lines[j]!.trim() === "") j--
    const documented = j >= 0 && lines[j]!.trim().endsWith("*/") && lines.slice(0, j + 1).some((l) => l.includes("/**"))
    return [{ line: i + 1, text: line.slice(0, 80), documented }]
  })
}

describe("public API docs", () => {
  it("every export of every public module has a JSDoc comment", () => {
    assert.isAbove(modules.length, 4)
    const missing = modules.flatMap((file) =>
      exportsOf(file).filter((e) => !e.documented).map((e) => `${file}:${e.line}: ${e.text}`)
    )
    assert.deepStrictEqual(missing, [])
  })

  it("every doc category is one of a short fixed set", () => {
    const categories = new Set([
      "constructors",
      "layers",
      "tags",
      "models",
      "errors",
      "accessors",
      "combinators",
      "constants",
      "utils"
    ])
    const others = modules.flatMap((file) =>
      [...readFileSync(join(src, file), "utf8").matchAll(/@category (\S+)/g)]
        .filter(([, category]) => !categories.has(category!))
        .map(([, category]) => `${file}: ${category}`)
    )
    assert.deepStrictEqual(others, [])
  })

  it("every public module starts with a module comment", () => {
    for (const file of modules) {
      assert.isTrue(readFileSync(join(src, file), "utf8").startsWith("/**"), file)
    }
  })
})
