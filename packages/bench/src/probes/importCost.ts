/**
 * The cost of loading a library, in a fresh process: `node dist/probes/importCost.js <which>` times
 * the dynamic imports of `which` (the modules a user's first line pulls in) and prints one report
 * line. `items` is the number of modules imported; `ms` the wall time of the imports.
 *
 *   client   `@batchfx/client` (its index, every public module)
 *   effect   `effect` plus `@effect/platform/HttpClient`: what any Effect program over HTTP loads
 *   sdk      the official `openai` SDK, for scale
 */
import { begin, finish, report } from "../measure.js"

const imports: Record<string, () => Promise<ReadonlyArray<unknown>>> = {
  client: () => Promise.all([import("@batchfx/client")]),
  effect: () => Promise.all([import("effect"), import("@effect/platform/HttpClient")]),
  sdk: () => Promise.all([import("openai")])
}

const which = process.argv[2] ?? ""
const load = imports[which]
if (load === undefined) throw new Error(`usage: importCost ${Object.keys(imports).join("|")}`)
const started = begin()
const modules = await load()
report(finish(started, { items: modules.length }))
