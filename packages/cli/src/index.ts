/**
 * `@batchfx/cli`: the `batchfx` command line.
 *
 * @since 0.1.0
 */

/**
 * The command tree and its entry point.
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"

/**
 * The errors of the command line and its exit codes.
 *
 * @since 0.1.0
 */
export * as CliError from "./CliError.js"
