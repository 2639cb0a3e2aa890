#!/usr/bin/env node
/**
 * `batchfx-fake-server`: serves the emulator until interrupted and prints its base URL.
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

const program = Either.match(parsed, {
  onLeft: (message) =>
    Effect.zipRight(
      Console.error(`${message}\n\n${Flags.usage}`),
      Effect.sync(() => {
        process.exitCode = 2
      })
    ),
  onRight: ({ help, options, scripted, seedBatches }) =>
    help
      ? Console.log(Flags.usage)
      : Layer.launch(
        Layer.effectDiscard(Effect.gen(function*() {
          const fake = yield* FakeOpenAi.FakeOpenAi
          if (seedBatches > 0) yield* fake.seedBatches(seedBatches)
          for (const { fault, nth, route } of scripted) yield* fake.scriptFault(route, nth, fault)
          yield* Console.log(fake.baseUrl)
          yield* Console.error(
            `${options.apiKey === undefined ? "Any API key works" : `API key: ${fake.apiKey}`} (Ctrl-C to stop)`
          )
        })).pipe(Layer.provide(FakeOpenAi.layer(options)))
      )
})

NodeRuntime.runMain(program)
