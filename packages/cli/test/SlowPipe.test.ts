/**
 * Writing to a slow reader (`batchfx list | slow-reader`): every full pipe waits for `drain` (or
 * `close`), and the listeners of that wait are taken off when it ends, so that many drains leave
 * none behind and Node prints no MaxListenersExceededWarning.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { Writable } from "node:stream"
import * as Output from "../src/internal/output.js"

it.effect("a slow reader drained 40 times: no listener left behind, no MaxListenersExceededWarning", () =>
  Effect.gen(function*() {
    let received = 0
    // A reader that takes each chunk on the next turn of the event loop, with room for 16 bytes.
    const slow = new Writable({
      highWaterMark: 16,
      write: (chunk: Buffer, _encoding, done) => {
        received += chunk.length
        setImmediate(done)
      }
    })
    let drains = 0
    slow.on("drain", () => void drains++)
    const warnings: Array<string> = []
    const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`)
    process.on("warning", onWarning)
    const start = { drain: slow.listenerCount("drain"), close: slow.listenerCount("close") }
    const target = Output.nodeTarget(slow, false)
    const chunk = "x".repeat(64)
    for (let i = 0; i < 40; i++) yield* target.write(chunk)
    // Warnings are emitted on a later tick.
    yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
    process.off("warning", onWarning)
    assert.isAtLeast(drains, 40)
    assert.strictEqual(received, 40 * 64)
    assert.deepStrictEqual({ drain: slow.listenerCount("drain"), close: slow.listenerCount("close") }, start)
    assert.deepStrictEqual(warnings.filter((w) => w.includes("MaxListenersExceeded")), [])
  }))

it.effect("a reader that goes away ends the wait and leaves no listener", () =>
  Effect.gen(function*() {
    // A reader that never takes anything: the first write fills it, and waits.
    const stuck = new Writable({ highWaterMark: 4, write: () => {} })
    const target = Output.nodeTarget(stuck, false)
    const waiting = yield* Effect.fork(target.write("more than four bytes"))
    yield* Effect.yieldNow()
    assert.strictEqual(stuck.listenerCount("close"), 1)
    stuck.destroy()
    yield* waiting.await
    assert.strictEqual(stuck.listenerCount("drain"), 0)
    assert.strictEqual(stuck.listenerCount("close"), 0)
  }))
