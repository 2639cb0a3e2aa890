import { ApiError, Batch, BatchPage, FastDecode, File, Metadata, ResultLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc, type ParseResult, Schema } from "effect"
import { isDeepStrictEqual } from "node:util"
import { vi } from "vitest"
import { type Check, compile, compileClosures, unsure } from "../src/internal/fastCheck.js"
import * as fixtures from "./fixtures.js"

// The wire schemas the client decodes on its hot paths; each must compile to a fast check.
const wire = {
  Batch: Batch.Batch,
  BatchPage: BatchPage.BatchPage,
  Metadata: Metadata.Metadata,
  OpenAiFile: File.OpenAiFile,
  FileDeleted: File.FileDeleted,
  FileList: File.FileList,
  ApiErrorBody: ApiError.ApiErrorBody,
  BatchResultLine: ResultLine.BatchResultLine
} as const

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

// Every place in a JSON value where a mutation can land: the path and whether it is an object key.
const pathsOf = (value: Json, prefix: ReadonlyArray<string | number> = []): Array<ReadonlyArray<string | number>> => {
  const here = [prefix]
  if (Array.isArray(value)) return here.concat(...value.map((item, i) => pathsOf(item, [...prefix, i])))
  if (value !== null && typeof value === "object") {
    return here.concat(...Object.entries(value).map(([key, item]) => pathsOf(item as Json, [...prefix, key])))
  }
  return here
}

type Mutation =
  | { readonly kind: "replace"; readonly at: number; readonly value: Json }
  | { readonly kind: "delete"; readonly at: number }
  | { readonly kind: "extra"; readonly at: number; readonly key: string; readonly value: Json }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("replace" as const),
    at: fc.nat(),
    value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("extra" as const),
    at: fc.nat(),
    key: fc.string({ maxLength: 12 }),
    value: fc.jsonValue({ maxDepth: 1 }) as fc.Arbitrary<Json>
  })
)

const mutate = (value: Json, m: Mutation): unknown => {
  const copy = JSON.parse(JSON.stringify(value))
  const paths = pathsOf(copy)
  const path = paths[m.at % paths.length]
  if (path.length === 0) return m.kind === "replace" ? m.value : copy
  let parent = copy
  for (const step of path.slice(0, -1)) parent = parent[step]
  const last = path[path.length - 1]
  if (m.kind === "replace") parent[last] = m.value
  else if (m.kind === "delete") {
    if (Array.isArray(parent)) parent.splice(last as number, 1)
    else delete parent[last]
  } else {
    const target = parent[last]
    // An own key, as `JSON.parse` makes one, even for `__proto__` (which `=` would make the prototype).
    if (target !== null && typeof target === "object" && !Array.isArray(target)) {
      Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true, configurable: true })
    }
  }
  return copy
}

const agree = <A, I>(schema: Schema.Schema<A, I>, input: unknown): void => {
  agreeWith(schema, input, FastDecode.decodeUnknownEither(schema)(input))
  // The closures used where `new Function` is forbidden, in both modes, held to the same.
  agreeWith(schema, input, judge(schema, compileClosures(schema.ast, "copy"))(input))
  // The owned decoders may return parts of their input: each gets its own copy, and is compared
  // with the schema's decoding of a copy (`structuredClone` makes any object a plain one).
  const owned = structuredClone(input)
  agreeWith(schema, owned, FastDecode.decodeOwnedEither(schema)(structuredClone(owned)))
  agreeWith(schema, owned, judge(schema, compileClosures(schema.ast, "reuse"))(structuredClone(owned)))
}

// A decoder from a check, as `FastDecode` makes one.
const judge = <A, I>(schema: Schema.Schema<A, I>, check: Check | null) => (input: unknown) => {
  const value = check === null ? unsure : check(input)
  return value === unsure ? Schema.decodeUnknownEither(schema)(input) : Either.right(value as A)
}

// A decoded value as data, its prototypes included: the schema's copy of a record with an own
// `__proto__` key has that key's value as its prototype, a new object at each decoding.
const shape = (value: unknown): unknown => {
  if (value === null || typeof value !== "object") return value
  const proto = Object.getPrototypeOf(value)
  return {
    proto: proto === null || proto === Object.prototype || proto === Array.prototype ? proto : shape(proto),
    own: Array.isArray(value) ? value.map(shape) : Object.entries(value).map(([key, item]) => [key, shape(item)])
  }
}

const agreeWith = <A, I>(
  schema: Schema.Schema<A, I>,
  input: unknown,
  actual: Either.Either<A, ParseResult.ParseError>
): void => {
  const expected = Schema.decodeUnknownEither(schema)(input)
  assert.strictEqual(actual._tag, expected._tag, `fast and schema disagree on ${JSON.stringify(input)}`)
  if (Either.isRight(actual) && Either.isRight(expected)) {
    assert.isTrue(
      isDeepStrictEqual(shape(actual.right), shape(expected.right)),
      `different values for ${JSON.stringify(input)}`
    )
    // Same keys in the same order, so that printing a decoded value gives the same text.
    assert.strictEqual(JSON.stringify(actual.right), JSON.stringify(expected.right))
  }
}

describe("FastDecode", () => {
  for (const [name, schema] of Object.entries(wire)) {
    const s = schema as unknown as Schema.Schema<unknown, Json>
    const encode = Schema.encodeSync(s)
    const valid = Arbitrary.make(s).map((v) => JSON.parse(JSON.stringify(encode(v))) as Json)

    it(`${name} compiles to a fast check`, () => {
      assert.isTrue(FastDecode.isCompiled(s))
    })

    it(`${name}: every valid wire value passes the fast check and decodes as the schema decodes it`, () => {
      const checks = [
        compile(s.ast)!,
        compile(s.ast, "reuse")!,
        compileClosures(s.ast)!,
        compileClosures(s.ast, "reuse")!
      ]
      fc.assert(
        fc.property(valid, (value) => {
          for (const check of checks) {
            assert.notStrictEqual(check(value), unsure, `the fast check fell back on ${JSON.stringify(value)}`)
          }
          agree(s, value)
        }),
        { numRuns: 200 }
      )
    })

    it(`${name}: a mutated value decodes to what the schema says, success or failure`, () => {
      fc.assert(fc.property(valid, mutation, (value, m) => agree(s, mutate(value, m))), { numRuns: 500 })
    })
  }

  it("decodes the API's documented batches and keeps the schema's failure messages", () => {
    for (const batch of [fixtures.createdBatch, fixtures.completedBatch, fixtures.failedBatch, fixtures.minimalBatch]) {
      agree(Batch.Batch, batch)
      assert.notStrictEqual(compile(Batch.Batch.ast)!(batch), unsure)
    }
    agree(BatchPage.BatchPage, fixtures.listPage)
    const broken = { ...fixtures.completedBatch, created_at: 1.5 }
    const fast = FastDecode.decodeUnknownEither(Batch.Batch)(broken)
    const slow = Schema.decodeUnknownEither(Batch.Batch)(broken)
    assert.isTrue(Either.isLeft(fast) && Either.isLeft(slow))
    if (Either.isLeft(fast) && Either.isLeft(slow)) assert.strictEqual(fast.left.message, slow.left.message)
  })

  it("the owned decoder keeps objects already in shape and copies the others", () => {
    const page = structuredClone(fixtures.listPage)
    const decoded = FastDecode.decodeOwnedEither(BatchPage.BatchPage)(page)
    assert.isTrue(Either.isRight(decoded) && decoded.right === page)
    const extra = structuredClone({ ...fixtures.completedBatch, surprise: 1 })
    const copied = FastDecode.decodeOwnedEither(Batch.Batch)(extra)
    assert.isTrue(Either.isRight(copied) && copied.right !== extra && !("surprise" in copied.right))
    if (Either.isRight(copied)) assert.strictEqual(copied.right.usage, extra.usage)
  })

  it("leaves schemas with transformations, and strict excess-key options, to the interpreter", () => {
    assert.isFalse(FastDecode.isCompiled(Schema.Struct({ n: Schema.NumberFromString })))
    // Two object members: the interpreter may try them in another order than declared.
    const A = Schema.Struct({ x: Schema.Number })
    const B = Schema.Struct({ kind: Schema.Literal("b"), x: Schema.Number })
    assert.isFalse(FastDecode.isCompiled(Schema.Union(A, B)))
    agree(Schema.Union(A, B), { kind: "b", x: 1 })
    assert.isTrue(FastDecode.isCompiled(Schema.Union(Schema.Literal("a"), Schema.String, Schema.Null, A)))
    const strict = FastDecode.decodeUnknownEither(Batch.Batch, { onExcessProperty: "error" })
    assert.isTrue(Either.isLeft(strict({ ...fixtures.completedBatch, surprise: 1 })))
  })

  // Nodes the wire schemas do not all exercise: open enums and other unions of leaves, refinements
  // of `Int` and of other filters, records of structs, arrays of leaves, a struct too wide for the
  // reuse check, fields named like `Object.prototype`'s members, a required `Unknown` field.
  const Inner = Schema.Struct({ a: Schema.Int, b: Schema.optionalWith(Schema.NullOr(Schema.String), { exact: true }) })
  const wide = Object.fromEntries(
    Array.from({ length: 33 }, (_, i) => [`k${i}`, Schema.optionalWith(Schema.Number, { exact: true })])
  )
  const more = {
    OpenUnion: Schema.Union(
      Schema.Literal("a", "b", 1, true),
      Schema.String.pipe(Schema.minLength(2)),
      Schema.String.pipe(Schema.brand("Open")),
      Schema.Null
    ),
    Numbers: Schema.Struct({
      int: Schema.Int.pipe(Schema.brand("Id")),
      between: Schema.Int.pipe(Schema.between(1, 5)),
      positive: Schema.Number.pipe(Schema.positive()),
      either: Schema.Union(Schema.Literal(0), Schema.Int, Schema.Boolean)
    }),
    RecordOfStructs: Schema.Record({ key: Schema.String, value: Schema.NullOr(Inner) }),
    Leaves: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
    Wide: Schema.Struct(wide),
    Prototype: Schema.Struct({
      constructor: Schema.optionalWith(Schema.Unknown, { exact: true }),
      toString: Schema.optional(Schema.String),
      any: Schema.Unknown,
      inner: Schema.optionalWith(Inner, { exact: true })
    }),
    Filtered: Schema.Struct({ inner: Inner }).pipe(Schema.filter((v) => v.inner.a !== 3))
  } as const

  for (const [name, schema] of Object.entries(more)) {
    const s = schema as unknown as Schema.Schema<unknown, Json>
    const encode = Schema.encodeSync(s)
    const valid = Arbitrary.make(s).map((v) => JSON.parse(JSON.stringify(encode(v))) as Json)

    it(`${name}: compiles, and decodes valid and mutated values as the schema decodes them`, () => {
      assert.isTrue(FastDecode.isCompiled(s))
      fc.assert(fc.property(valid, (value) => agree(s, value)), { numRuns: 100 })
      fc.assert(fc.property(valid, mutation, (value, m) => agree(s, mutate(value, m))), { numRuns: 300 })
      fc.assert(fc.property(fc.jsonValue({ maxDepth: 2 }), (value) => agree(s, value)), { numRuns: 100 })
    })
  }

  it("objects that are not their own copy are copied, in both compilers", () => {
    const reused = [compile(Inner.ast, "reuse")!, compileClosures(Inner.ast, "reuse")!]
    const inOrder = { a: 1, b: null }
    const outOfOrder = { b: null, a: 1 }
    const inherited = Object.assign(Object.create({ b: "x" }), { a: 1 })
    const hidden = Object.defineProperty({ a: 1 }, "b", { value: "x", enumerable: false })
    // The copy is a plain object: one with another prototype is not its own copy.
    const bare = Object.assign(Object.create(null), { a: 1, b: null })
    const arrayLike = Object.setPrototypeOf({ a: 1, b: null }, [])
    for (const check of reused) {
      assert.strictEqual(check(inOrder), inOrder)
      for (const input of [outOfOrder, inherited, hidden, { a: 1, b: null, c: 2 }, bare, arrayLike]) {
        const output = check(input)
        assert.notStrictEqual(output, input)
        assert.deepStrictEqual(output, Either.getOrThrow(Schema.decodeUnknownEither(Inner)(input)))
      }
    }
  })

  it("records copy only plain objects, and leave an own `__proto__` key to the schema", () => {
    const Table = Schema.Record({ key: Schema.String, value: Schema.NullOr(Inner) })
    const decoders = [
      FastDecode.decodeUnknownEither(Table),
      FastDecode.decodeOwnedEither(Table),
      judge(Table, compileClosures(Table.ast, "copy")),
      judge(Table, compileClosures(Table.ast, "reuse"))
    ]
    const plain = { x: null, y: { a: 1, b: "z" } }
    assert.strictEqual(Either.getOrThrow(decoders[1](plain)), plain)
    // Each input made twice, for the decoder and for the schema, as an owned decoder may keep it.
    const inputs = [
      () => Object.assign(Object.create(null), plain),
      // `JSON.parse` makes `__proto__` an own key; the schema's copy assigns it, setting the
      // copy's prototype, and the fast checks must decode as the schema does.
      () => JSON.parse(`{"x":null,"__proto__":{"a":1,"b":null}}`),
      () => JSON.parse(`{"__proto__":"not an object","x":null}`),
      () => JSON.parse(`{"__proto__":{"a":"not a number","b":null}}`)
    ]
    for (const make of inputs) {
      for (const decode of decoders) {
        const input = make()
        const actual = decode(input)
        const expected = Schema.decodeUnknownEither(Table)(make())
        assert.strictEqual(actual._tag, expected._tag)
        if (Either.isRight(actual) && Either.isRight(expected)) {
          assert.notStrictEqual(actual.right, input)
          assert.isTrue(isDeepStrictEqual(shape(actual.right), shape(expected.right)))
          assert.deepStrictEqual(Object.keys(actual.right), Object.keys(expected.right))
        }
      }
    }
  })

  it("falls back to closures where `new Function` throws, as under a CSP", () => {
    const calls: Array<unknown> = []
    vi.stubGlobal("Function", function(...args: Array<unknown>) {
      calls.push(args)
      throw new EvalError("Code generation from strings disallowed for this context")
    })
    try {
      // A new AST, so that nothing compiled before is reused.
      const schema = Schema.Struct(Batch.Batch.fields)
      const check = compile(schema.ast, "reuse")
      assert.isNotNull(check)
      assert.isAbove(calls.length, 0)
      for (const batch of [fixtures.createdBatch, fixtures.completedBatch, fixtures.failedBatch]) {
        const input = structuredClone(batch)
        assert.strictEqual(check!(input), input)
      }
      assert.strictEqual(check!({ ...fixtures.completedBatch, created_at: 1.5 }), unsure)
    } finally {
      vi.unstubAllGlobals()
    }
  })
})
