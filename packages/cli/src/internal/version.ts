/**
 * The version of `batchfx` (the `version` of package.json; a test keeps them equal). In a module of
 * its own so that `bin.ts` can answer `batchfx --version` without loading the command line.
 */
export const version = "0.1.0"

/**
 * What `batchfx --version` prints: @effect/cli writes the version as a help paragraph (text and a
 * newline) with `console.log`, which adds one more.
 */
export const versionOutput = `${version}\n\n`
