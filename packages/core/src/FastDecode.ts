/**
 * Decoding of wire objects at the speed of a hand-written check, with the schema as the judge.
 *
 * `Schema.decodeUnknownEither` runs a generic interpreter over the schema's AST: about 20 to 35 µs
 * for one `Batch`, several times `JSON.parse` of its text. Listing 100,000 batches spends most of
 * its CPU there. This module compiles the plain part of a schema (structs, records, arrays,
 * unions, literals, strings, numbers, booleans, refinements such as `Int` and brands) into one
 * JavaScript function per struct, array or record, made once with `new Function` (closures where
 * that is forbidden), that checks and copies a value the way the interpreter would. A value the
 * check accepts decodes to a structurally equal result; anything else (a value it rejects, a
 * schema node it does not know, such as a transformation) goes to `Schema.decodeUnknownEither`,
 * so every failure is worded by the schema and every edge case is the schema's. Properties
 * checked in `test/FastDecode.test.ts` hold this against the interpreter on generated values.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import { type Check, compile, unsure } from "./internal/fastCheck.js"

/**
 * A decoder for the schema: the compiled check where the value passes it, else
 * `Schema.decodeUnknownEither` with the options given. Excess keys are dropped, as the
 * interpreter does by default; with `onExcessProperty` other than `"ignore"`, or
 * `propertyOrder: "original"`, or `exact: true`, every value goes to the interpreter.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeUnknownEither = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: AST.ParseOptions
): (input: unknown) => Either.Either<A, ParseResult.ParseError> => {
  const plain = options === undefined ||
    ((options.onExcessProperty === undefined || options.onExcessProperty === "ignore") &&
      options.propertyOrder !== "original" && options.exact !== true)
  return judged(schema, plain ? compile(schema.ast) : null, options)
}

// The compiled check where the value passes it, the interpreter (made on first need: most values
// never reach it) for everything else.
const judged = <A, I>(
  schema: Schema.Schema<A, I, never>,
  fast: Check | null,
  options?: AST.ParseOptions
): (input: unknown) => Either.Either<A, ParseResult.ParseError> => {
  if (fast === null) return Schema.decodeUnknownEither(schema, options)
  let slow: ((input: unknown) => Either.Either<A, ParseResult.ParseError>) | undefined
  return (input) => {
    const value = fast(input)
    if (value !== unsure) return Either.right(value as A)
    slow ??= Schema.decodeUnknownEither(schema, options)
    return slow(input)
  }
}

/**
 * Whether the schema compiles to a fast check (else `decodeUnknownEither` is the interpreter).
 *
 * @since 0.1.0
 * @category decoding
 */
export const isCompiled = (schema: Schema.Schema.AnyNoContext): boolean => compile(schema.ast) !== null

/**
 * A decoder for values the caller owns, such as fresh `JSON.parse` output: like
 * `decodeUnknownEither` with default options, but an object or array that already equals what
 * the schema would build (its keys in the schema's order, no key to drop) is returned as it is
 * instead of copied. The result may therefore share objects with the input: use it only when
 * nothing else holds the input.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeOwnedEither = <A, I>(
  schema: Schema.Schema<A, I, never>
): (input: unknown) => Either.Either<A, ParseResult.ParseError> => judged(schema, compile(schema.ast, "reuse"))
