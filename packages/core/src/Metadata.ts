/**
 * Key-value metadata attached to a batch.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"

/**
 * The limits the server enforces on metadata sent in a request.
 *
 * @since 0.1.0
 * @category constants
 */
export const limits = { maxPairs: 16, maxKeyLength: 64, maxValueLength: 512 } as const

/**
 * Metadata as read from the server: string keys to string values. The limits are not checked on
 * read, so a server that allows more never makes a batch unreadable.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Metadata = Schema.Record({ key: Schema.String, value: Schema.String }).annotations({
  identifier: "Metadata"
})

/**
 * Metadata as decoded.
 *
 * @since 0.1.0
 * @category models
 */
export type Metadata = typeof Metadata.Type

/**
 * The first thing wrong with metadata about to be sent, as one sentence, or undefined.
 *
 * @since 0.1.0
 * @category utils
 */
export const problem = (metadata: { readonly [key: string]: unknown }): string | undefined => {
  const entries = Object.entries(metadata)
  if (entries.length > limits.maxPairs) {
    return `metadata has ${entries.length} pairs; at most ${limits.maxPairs} are allowed`
  }
  for (const [key, value] of entries) {
    if (key.length > limits.maxKeyLength) {
      return `metadata key "${
        key.slice(0, 20)
      }…" has ${key.length} characters; at most ${limits.maxKeyLength} are allowed`
    }
    if (typeof value !== "string") {
      return `metadata value of "${key}" must be a string, got ${value === null ? "null" : typeof value}`
    }
    if (value.length > limits.maxValueLength) {
      return `metadata value of "${key}" has ${value.length} characters; at most ${limits.maxValueLength} are allowed`
    }
  }
  return undefined
}

const withinLimits = Metadata.pipe(Schema.filter((metadata) => problem(metadata) ?? true))

// A record's decoding and encoding write each key with `out[key] = value`, which for an own
// `__proto__` key (as `JSON.parse` or `Object.fromEntries` make one) sets the prototype or does
// nothing: the pair would vanish from the request. Such a key is refused before that.
const protoKey = (input: unknown): boolean =>
  typeof input === "object" && input !== null && Object.prototype.hasOwnProperty.call(input, "__proto__")

const protoKeyProblem =
  `metadata key "__proto__" cannot be sent: JavaScript objects read it as their prototype, so the pair would be lost`

const unlessProtoKey = <A>(
  input: unknown,
  ast: AST.AST,
  run: () => Effect.Effect<A, ParseResult.ParseIssue>
): Effect.Effect<A, ParseResult.ParseIssue> =>
  protoKey(input) ? ParseResult.fail(new ParseResult.Type(ast, input, protoKeyProblem)) : run()

/**
 * Metadata for a request: at most 16 pairs, keys of at most 64 characters, string values of at
 * most 512 characters, and no `__proto__` key. Each violation fails with a sentence that names it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MetadataInput: Schema.Schema<Metadata, Metadata> = Schema.declare(
  [withinLimits],
  {
    decode: (metadata) => (input, options, ast) =>
      unlessProtoKey(input, ast, () => ParseResult.decodeUnknown(metadata)(input, options)),
    encode: (metadata) => (input, options, ast) =>
      unlessProtoKey(input, ast, () => ParseResult.encodeUnknown(metadata)(input, options))
  },
  {
    identifier: "MetadataInput",
    arbitrary: () => (fc) =>
      fc.dictionary(
        fc.string({ maxLength: limits.maxKeyLength }).filter((key) => key !== "__proto__"),
        fc.string({ maxLength: limits.maxValueLength }),
        { maxKeys: limits.maxPairs }
      )
  }
)
