// Why `Stream.runForEach` keeps every chunk it consumes until a full GC (bench README, scenario 1
// under "Scenarios and targets"): V8 allocates a function literal assigned to a property
// (`op.get = () => value`) in old space, and a young collection keeps whatever such a closure refers
// to, even when the closure is garbage. Bound to a constant first, the same closure is young.
//
//   node packages/bench/scripts/pretenure.mjs direct   # old space peaks tens of MB up
//   node packages/bench/scripts/pretenure.mjs bound    # old space stays flat
import { getHeapSpaceStatistics } from "node:v8"

const oldSpaceMB = () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space").space_used_size / 1048576
const page = () => ({ data: Array.from({ length: 100 }, (_, i) => ({ id: `batch_${i}`, n: i, tags: ["a", "b"] })) })
const direct = (value) => {
  const op = {}
  op.get = () => value
  return op
}
const bound = (value) => {
  const op = {}
  const get = () => value
  op.get = get
  return op
}
const variant = process.argv[2] === "bound" ? "bound" : "direct"
const make = variant === "bound" ? bound : direct
const before = oldSpaceMB()
let items = 0
let peak = before
for (let i = 0; i < 20_000; i++) {
  items += make(page()).get().data.length
  if (i % 500 === 0) peak = Math.max(peak, oldSpaceMB())
}
console.log(`${variant}: ${items} items, old space peaked ${(peak - before).toFixed(1)} MB above its start`)
