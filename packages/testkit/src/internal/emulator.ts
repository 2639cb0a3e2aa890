/** Builds an emulator: its shared context, its app, and the controls a test uses between requests. */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Ref from "effect/Ref"
import type * as FakeOpenAi from "../FakeOpenAi.js"
import * as App from "./app.js"
import * as Context from "./context.js"
import * as Faults from "./faults.js"
import { millis, patchKnobs } from "./knobs.js"
import * as SeedBatch from "./seedBatch.js"

/** The service without its `baseUrl`, which depends on how the app is reached. */
export type Emulator = Omit<FakeOpenAi.Service, "baseUrl">

export const make = (options: FakeOpenAi.Options = {}): Effect.Effect<Emulator> =>
  Effect.map(Context.make(options), (ctx): Emulator => {
    const counters = Effect.map(
      Ref.get(ctx.counters),
      (m) =>
        Array.from(HashMap.values(m)).sort((a, b) =>
          a.route === b.route ?
            (a.method === b.method ? a.status - b.status : a.method < b.method ? -1 : 1) :
            a.route < b.route
            ? -1
            : 1
        )
    )
    return {
      app: App.make(ctx),
      apiKey: ctx.options.apiKey ?? "sk-fake-batchfx",
      knobs: Ref.get(ctx.knobs),
      configure: (patch) => Ref.update(ctx.knobs, (k) => patchKnobs(k, patch)),
      seedBatches: (n) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const window = Math.max(1, Math.round(millis((yield* Ref.get(ctx.knobs)).durations.completionWindow) / 1000))
          yield* Ref.update(ctx.state, (s) => ({
            ...s,
            seeded: Math.max(0, Math.floor(n)),
            seededAt: Math.floor(now / 1000),
            seededWindow: window
          }))
        }),
      seedBatch: (seeded) => SeedBatch.seedBatch(ctx, seeded),
      scriptFault: (route, nth, fault) => Faults.script(ctx, route, nth, fault),
      clearFaults: Ref.set(ctx.script, []),
      counters,
      requestCount: (route) =>
        Effect.map(
          counters,
          (all) => all.filter((c) => route === undefined || c.route === route).reduce((n, c) => n + c.count, 0)
        ),
      resetCounters: Ref.set(ctx.counters, HashMap.empty())
    }
  })
