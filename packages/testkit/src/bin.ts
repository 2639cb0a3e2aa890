#!/usr/bin/env node
/**
 * `batchfx-fake-server`: serves the emulator until interrupted (or until standard input ends, with
 * `--exit-on-stdin-close`). The first line on stdout is its base URL, printed once it listens.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as FakeOpenAi from "./FakeOpenAi.js"
import * as Flags from "./internal/flags.js"

const parsed = Flags.parse(process.argv.slice(2))

const exit = (code: number) =>
  Effect.sync(() => {
    process.exitCode = code
  })

/** A failure to listen as one sentence: the address and what the system said. */
const listenError = (options: FakeOpenAi.ServerOptions, cause: unknown) =>
  `batchfx-fake-server: cannot listen on ${options.host ?? "127.0.0.1"}:${options.port ?? 0}: ${
    FakeOpenAi.listenFailureReason(cause)
  }.`

const program = Either.match(parsed, {
  onLeft: (message) => Effect.zipRight(Console.error(`${message}\n\n${Flags.usage}`), exit(2)),
  onRight: ({ exitOnStdinClose, help, options, scripted, seedBatches }) => {
    if (help) return Console.log(Flags.usage)
    const serve = Layer.launch(
      Layer.effectDiscard(Effect.gen(function*() {
        const fake = yield* FakeOpenAi.FakeOpenAi
        if (seedBatches > 0) yield* fake.seedBatches(seedBatches)
        for (const { fault, nth, route } of scripted) yield* fake.scriptFault(route, nth, fault)
        yield* Console.log(fake.baseUrl)
        yield* Console.error(
          `${options.apiKey === undefined ? "Any API key works" : `API key: ${fake.apiKey}`} (Ctrl-C to stop)`
        )
      })).pipe(Layer.provide(FakeOpenAi.layer(options)))
    ).pipe(
      Effect.catchTag("ServeError", (e) => Effect.zipRight(Console.error(listenError(options, e.cause)), exit(1)))
    )
    return exitOnStdinClose ? Effect.raceFirst(serve, FakeOpenAi.stdinClosed) : serve
  }
})

NodeRuntime.runMain(program)
