/**
 * The program behind the `batchfx` executable (`bin.ts` starts it, bundled or not): the command
 * line on the process's own streams and terminal, ended cleanly (temporary files removed) by
 * SIGINT, SIGTERM or SIGHUP with exit code 128 + the signal's number, and by a stdout or stderr
 * that can no longer be written.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { layerNode, run } from "./Cli.js"
import { ExitCode, fromExit, type Signal } from "./internal/exitCode.js"
import { writeFailure } from "./internal/output.js"
import { silenceDependencyWarnings } from "./internal/warnings.js"

// pg's deprecation notice under the cluster of `jobs run` (see warnings.ts); every other warning is printed.
silenceDependencyWarnings()

/** What ended the run from outside, first come: a signal, or a stream that failed (its exit code). */
let ended: { readonly signal: Signal } | { readonly code: number } | undefined

let stop: (why: NonNullable<typeof ended>) => void = (why) => void (ended ??= why)

// `runMain` interrupts the run on SIGINT and SIGTERM; these listeners (called first) only note
// which one came. SIGHUP, which `runMain` leaves to Node's default (an exit without cleanup), ends
// the run the same way. `once`: a second signal finds no listener and kills at once, as users expect.
process.once("SIGINT", () => void (ended ??= { signal: "SIGINT" }))
process.once("SIGTERM", () => void (ended ??= { signal: "SIGTERM" }))
process.once("SIGHUP", () => stop({ signal: "SIGHUP" }))

// A reader that went away (`batchfx list | head`) ends the run quietly with exit code 0, as other
// tools do; any other failure to write (ENOSPC on `> /dev/full`) is one sentence and exit code 1.
for (const [name, stream] of [["stdout", process.stdout], ["stderr", process.stderr]] as const) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (ended !== undefined) return
    if (error.code === "EPIPE") return stop({ code: ExitCode.ok })
    if (name === "stdout" && process.stderr.writable) process.stderr.write(`batchfx: ${writeFailure(name, error)}\n`)
    stop({ code: ExitCode.failure })
  })
}

Effect.gen(function*() {
  const fiber = yield* Effect.fork(Effect.provide(run(process.argv), layerNode))
  stop = (why) => {
    ended ??= why
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  if (ended !== undefined) stop(ended)
  return yield* Fiber.join(fiber)
}).pipe(
  NodeRuntime.runMain({
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      const code = ended === undefined
        ? fromExit(exit)
        : "signal" in ended
        ? fromExit(exit, ended.signal)
        : ended.code
      // Ended from outside: exit now rather than wait for idle sockets to close.
      if (ended !== undefined) process.exit(code)
      onExit(code)
    }
  })
)
