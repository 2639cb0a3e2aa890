import { addEqualityTesters, it } from "@effect/vitest"

addEqualityTesters()

// `layer(L)("suite", (it) => …)` of @effect/vitest replaces the methods of the module's own `it`
// with ones that run on L (without TestClock when `excludeTestServices`). Our test processes keep
// modules across files, so each file starts from the methods as they were first loaded.
const key = Symbol.for("@batchfx/vitest/it")
const store = globalThis as { [key]?: Partial<typeof it> }
store[key] ??= { effect: it.effect, scoped: it.scoped, prop: it.prop, flakyTest: it.flakyTest, layer: it.layer }
Object.assign(it, store[key])
