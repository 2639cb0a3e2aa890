/**
 * `@batchfx/testkit`: an emulator of the OpenAI Batch and Files API for tests, examples and offline use.
 *
 * @since 0.1.0
 */

/**
 * The emulator: its service, its layers (socket and in memory) and its knobs.
 *
 * @since 0.1.0
 */
export * as FakeOpenAi from "./FakeOpenAi.js"

/**
 * Faults the emulator can inject.
 *
 * @since 0.1.0
 */
export * as Fault from "./Fault.js"

/**
 * What the emulator answers to each request of a batch.
 *
 * @since 0.1.0
 */
export * as Responder from "./Responder.js"

/**
 * The routes of the emulator.
 *
 * @since 0.1.0
 */
export * as Route from "./Route.js"
