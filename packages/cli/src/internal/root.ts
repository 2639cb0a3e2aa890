/** The root command, the global options and how a command gets its client. */
import * as Command from "@effect/cli/Command"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { globalOptions, type Globals, mergeGlobals, pickGlobals } from "./options.js"

/** `batchfx` itself: the global options given before the command. */
export const root = Command.make(
  "batchfx",
  globalOptions,
  () =>
    Effect.flatMap(Effect.promise(() => import("../CliError.js")), ({ UsageError }) =>
      new UsageError({
        description:
          "a command is required: list, get, create, cancel, wait, results, submit, jobs, fake-server or demo"
      }))
)

/**
 * A command handler loaded when the command runs, so that parsing, `--help` and `--version` never
 * load (nor compile) the handlers and what they import: `load` is `() => import("./handlers/X.js")`.
 */
export const lazy = <A, E, R>(
  load: () => Promise<{ readonly handler: (config: A) => Effect.Effect<void, E, R> }>
) =>
(config: A): Effect.Effect<void, E, R> => Effect.flatMap(Effect.promise(load), ({ handler }) => handler(config))

/** Whether `--verbose` was given: errors then carry their stack trace. */
export const verbose: FiberRef.FiberRef<boolean> = FiberRef.unsafeMake(false)

/** The global options given before and after the command, merged. */
export const globalsOf = (config: Globals): Effect.Effect<Globals, never, Command.Command.Context<"batchfx">> =>
  Effect.map(root, (before) => mergeGlobals(before, pickGlobals(config)))

const setup = (config: { readonly verbose: boolean }) =>
  Effect.flatMap(root, (before) =>
    before.verbose || config.verbose
      ? Effect.zipRight(FiberRef.set(verbose, true), FiberRef.set(FiberRef.currentMinimumLogLevel, LogLevel.Debug))
      : Effect.void)

/** Applies `--verbose` (debug logs, stack traces) before the command and its layers run. */
export const withSetup = <Name extends string, R, E, A extends { readonly verbose: boolean }>(
  command: Command.Command<Name, R, E, A>
) => Command.transformHandler(command, (effect, config: A) => Effect.zipRight(setup(config), effect))

/**
 * Gives a command the API adapter, built from the global options and the environment when the
 * command runs (so `--help` never needs a key). `ownTimeout`: the command's `--timeout` is its own
 * (the request timeout can then only be given before the command).
 */
export const withApi = <Name extends string, R, E, A extends Globals>(
  command: Command.Command<Name, R, E, A>,
  options: { readonly ownTimeout?: boolean } = {}
) =>
  withSetup(Command.provide(command, (config: A) =>
    Layer.unwrapEffect(
      Effect.zipWith(
        globalsOf(options.ownTimeout === true ? { ...pickGlobals(config), timeout: Option.none() } : config),
        Effect.promise(() => import("./apiLive.js")),
        (globals, live) => live.layerGlobals(globals)
      )
    )))
