/**
 * The errors of the command line itself and the exit codes it uses.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as internal from "./internal/exitCode.js"

/**
 * Exit codes: 0 ok, 1 an API or runtime error (or a batch that did not complete), 2 a usage
 * error, 3 a wait that reached its `--timeout`, 129 SIGHUP, 130 interrupted (Ctrl-C), 143 SIGTERM.
 *
 * @since 0.1.0
 * @category constants
 */
export const ExitCode = internal.ExitCode

/**
 * The command line was wrong in a way the parser cannot see (two options that exclude each other,
 * a malformed `k=v`, a refusal to act without `--yes`). Exit code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Schema.TaggedError<UsageError>("@batchfx/cli/UsageError")("UsageError", {
  /** One sentence. */
  description: Schema.String,
  /** The command to point `--help` at, e.g. `cancel`. */
  command: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.description
  }
}

/**
 * `OPENAI_API_KEY` is not set (or empty) and the command talks to the API. Exit code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingApiKey
  extends Schema.TaggedError<MissingApiKey>("@batchfx/cli/MissingApiKey")("MissingApiKey", {})
{
  override get message(): string {
    return "OPENAI_API_KEY is not set: create a key at https://platform.openai.com/api-keys and run " +
      "`export OPENAI_API_KEY=sk-...` (or point --base-url at an emulator and set its key); " +
      "`batchfx demo` and `batchfx fake-server` need no key."
  }
}

/**
 * `OPENAI_API_KEY` holds a character an HTTP header cannot carry (a trailing CR/LF is dropped
 * before this check). The sentence names the position, never the key. Exit code 2.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidApiKey extends Schema.TaggedError<InvalidApiKey>("@batchfx/cli/InvalidApiKey")("InvalidApiKey", {
  /** What is wrong, e.g. `has a control character at position 12 of 40, which an HTTP header cannot carry`. */
  problem: Schema.String
}) {
  override get message(): string {
    return `OPENAI_API_KEY ${this.problem}: set it again (a key is letters, digits, '-' and '_').`
  }
}

/**
 * The command ran and did not succeed for a reason that is not an API error: a batch that ended
 * other than `completed`, a wait that timed out, some ids of a bulk operation failing (each was
 * reported already). Exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Schema.TaggedError<CommandFailed>("@batchfx/cli/CommandFailed")("CommandFailed", {
  /** One sentence; empty when everything was said already. */
  description: Schema.String
}) {
  override get message(): string {
    return this.description
  }
}

/**
 * `wait --timeout` (or `submit --wait --timeout`) passed before the batch ended; the batch keeps
 * running. Exit code 3, so that a script can tell "not yet" from "did not complete" (1).
 *
 * @since 0.1.0
 * @category errors
 */
export class WaitTimedOut extends Schema.TaggedError<WaitTimedOut>("@batchfx/cli/WaitTimedOut")("WaitTimedOut", {
  /** One sentence: the batch, its last status and the timeout. */
  description: Schema.String
}) {
  /** The exit code of a run that ends with this error. */
  readonly exitCode: number = internal.ExitCode.timedOut
  override get message(): string {
    return this.description
  }
}

/**
 * A local file could not be read or written. Exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class FileError extends Schema.TaggedError<FileError>("@batchfx/cli/FileError")("FileError", {
  path: Schema.String,
  description: Schema.String
}) {
  override get message(): string {
    return `${this.path}: ${this.description}`
  }
}
