import { ApiError, Batch, BatchPage, File, Metadata, ResultLine } from "@batchfx/core"
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc, ParseResult, Schema } from "effect"
import { isDeepStrictEqual } from "node:util"
import { vi } from "vitest"
import { compile, decodeOwned, unsure } from "../src/internal/fastDecode.js"
import * as fixtures from "./fixtures.js"

type Decode = (input: unknown) => Either.Either<unknown, ParseResult.ParseError>
type Options = { readonly errors?: "first" | "all" }

// The wire schemas the client decodes on its hot paths; each must compile to a fast check. Those
// with a public decoder hold it, and the options its failures are worded with, to the same laws.
const wire: {
  readonly [name: string]: {
    readonly schema: Schema.Schema.AnyNoContext
    readonly decode?: Decode
    readonly options?: Options
  }
} = {
  Batch: { schema: Batch.Batch, decode: Batch.decodeBatch },
  BatchPage: { schema: BatchPage.BatchPage, decode: BatchPage.decodeBatchPage },
  Metadata: { schema: Metadata.Metadata },
  OpenAiFile: { schema: File.OpenAiFile, decode: File.decodeOpenAiFile },
  FileDeleted: { schema: File.FileDeleted, decode: File.decodeFileDeleted },
  FileList: { schema: File.FileList },
  ApiErrorBody: { schema: ApiError.ApiErrorBody },
  BatchResultLine: {
    schema: ResultLine.BatchResultLine,
    decode: ResultLine.decodeBatchResultLine,
    options: { errors: "all" }
  }
}

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

// Each decoder (`decodeOwned` of the schema, and the public one if given) decodes its own copy of
// the input, as it may return parts of it, and is compared with the schema's decoding of another
// copy (`structuredClone` makes any object a plain one).
const agree = <A, I>(schema: Schema.Schema<A, I>, input: unknown, decode?: Decode, options?: Options): void => {
  const owned = structuredClone(input)
  const decoders: Array<Decode> = [decodeOwned(schema, options)]
  if (decode !== undefined) decoders.push(decode)
  for (const d of decoders) agreeWith(schema, owned, d(structuredClone(owned)), options)
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
  actual: Either.Either<unknown, ParseResult.ParseError>,
  options?: Options
): void => {
  const expected = Schema.decodeUnknownEither(schema, options)(input)
  assert.strictEqual(actual._tag, expected._tag, `fast and schema disagree on ${JSON.stringify(input)}`)
  if (Either.isRight(actual) && Either.isRight(expected)) {
    assert.isTrue(
      isDeepStrictEqual(shape(actual.right), shape(expected.right)),
      `different values for ${JSON.stringify(input)}`
    )
    // Same keys in the same order, so that printing a decoded value gives the same text.
    assert.strictEqual(JSON.stringify(actual.right), JSON.stringify(expected.right))
  }
  // Every failure is the schema's, worded as the schema words it.
  if (Either.isLeft(actual) && Either.isLeft(expected)) assert.strictEqual(actual.left.message, expected.left.message)
}

// Values near a result line: each key absent, of the right type, or of a wrong one.
const anyScalar = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.integer(),
  fc.double(),
  fc.constant(Number.MAX_SAFE_INTEGER + 1),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 2 })
)
const nearResponse = fc.oneof(
  fc.record({ status_code: anyScalar, request_id: anyScalar, body: fc.anything({ maxDepth: 1 }) }, {
    requiredKeys: []
  }),
  fc.record({ status_code: fc.integer(), request_id: fc.string(), body: fc.jsonValue({ maxDepth: 1 }) }),
  anyScalar
)
const nearError = fc.oneof(
  fc.record({ code: anyScalar, message: anyScalar }, { requiredKeys: [] }),
  fc.record({ code: fc.string(), message: fc.string() }),
  anyScalar
)
const nearLine = fc.oneof(
  fc.record({ id: anyScalar, custom_id: anyScalar, response: nearResponse, error: nearError, extra: anyScalar }, {
    requiredKeys: []
  }),
  fc.record({ id: fc.string(), custom_id: fc.string(), response: nearResponse, error: nearError }, {
    requiredKeys: ["id", "custom_id"]
  }),
  fc.anything({ maxDepth: 2 })
)

describe("fastDecode", () => {
  for (const [name, { decode, options, schema }] of Object.entries(wire)) {
    const s = schema as unknown as Schema.Schema<unknown, Json>
    const encode = Schema.encodeSync(s)
    const valid = Arbitrary.make(s).map((v) => JSON.parse(JSON.stringify(encode(v))) as Json)

    it(`${name} compiles to a fast check`, () => {
      assert.isNotNull(compile(s.ast))
    })

    it(`${name}: every valid wire value passes the fast check and decodes as the schema decodes it`, () => {
      const check = compile(s.ast)!
      fc.assert(
        fc.property(valid, (value) => {
          assert.notStrictEqual(check(value), unsure, `the fast check fell back on ${JSON.stringify(value)}`)
          agree(s, value, decode, options)
        }),
        { numRuns: 200 }
      )
    })

    it(`${name}: a mutated value decodes to what the schema says, success or failure`, () => {
      fc.assert(fc.property(valid, mutation, (value, m) => agree(s, mutate(value, m), decode, options)), {
        numRuns: 500
      })
    })
  }

  const line = ResultLine.BatchResultLine as unknown as Schema.Schema<unknown>
  const decodeLine = ResultLine.decodeBatchResultLine

  it("decodeBatchResultLine decodes what the schema generates, as the schema does", () => {
    // Not through JSON: a body may hold `undefined`, or be absent.
    fc.assert(fc.property(Arbitrary.make(ResultLine.BatchResultLine), (value) => {
      assert.isTrue(Either.isRight(decodeLine(structuredClone(value))))
      agree(line, value, decodeLine, { errors: "all" })
    }))
  })

  it("decodeBatchResultLine answers as the schema on values near and far from a line", () => {
    fc.assert(fc.property(nearLine, (value) => agree(line, value, decodeLine, { errors: "all" })), { numRuns: 2000 })
  })

  it("decodeBatchResultLine on lines read from JSON: nulls, an absent key, a missing body, excess keys", () => {
    const cases: ReadonlyArray<string> = [
      `{"id":"r1","custom_id":"a","response":{"status_code":200,"request_id":"q","body":{}},"error":null}`,
      `{"id":"r2","custom_id":"b","response":null,"error":{"code":"batch_expired","message":"m"}}`,
      `{"id":"r3","custom_id":"c"}`,
      `{"id":"r4","custom_id":"d","response":{"status_code":200,"request_id":"q"}}`,
      `{"id":"r5","custom_id":"e","response":{"status_code":200.5,"request_id":"q","body":1}}`,
      `[{"id":"r6","custom_id":"f"}]`,
      `{"id":"r7","custom_id":"g","response":null,"error":null,"extra":1}`
    ]
    for (const text of cases) agree(line, JSON.parse(text), decodeLine, { errors: "all" })
    // A line in shape is the parsed value itself; one with an excess key is a copy without it.
    const parsed = JSON.parse(JSON.stringify(fixtures.outputLine))
    assert.strictEqual(Either.getOrThrow(decodeLine(parsed)), parsed)
    const extra = JSON.parse(cases[6])
    const copied = Either.getOrThrow(decodeLine(extra))
    assert.isTrue(copied !== extra && !("extra" in copied))
  })

  it("decodeBatchResultLine's failure carries every issue of the line", () => {
    const bad = { id: 1, custom_id: 2, response: { status_code: "200", request_id: "q", body: null } }
    const decoded = decodeLine(bad)
    assert.isTrue(Either.isLeft(decoded))
    if (Either.isLeft(decoded)) {
      const paths = ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((issue) => issue.path.join("."))
      for (const path of ["id", "custom_id", "response.status_code"]) assert.include(paths, path)
    }
  })

  it("decodes the API's documented objects and keeps the schema's failure messages", () => {
    for (const batch of [fixtures.createdBatch, fixtures.completedBatch, fixtures.failedBatch, fixtures.minimalBatch]) {
      agree(Batch.Batch, batch, Batch.decodeBatch)
      assert.notStrictEqual(compile(Batch.Batch.ast)!(batch), unsure)
    }
    agree(BatchPage.BatchPage, fixtures.listPage, BatchPage.decodeBatchPage)
    agree(File.OpenAiFile, fixtures.file, File.decodeOpenAiFile)
    agree(File.FileDeleted, fixtures.fileDeleted, File.decodeFileDeleted)
    for (const result of [fixtures.outputLine, fixtures.httpErrorLine, fixtures.expiredLine]) {
      agree(line, result, decodeLine, { errors: "all" })
    }
    const broken = { ...fixtures.completedBatch, created_at: 1.5 }
    const fast = Batch.decodeBatch(broken)
    const slow = Schema.decodeUnknownEither(Batch.Batch)(broken)
    assert.isTrue(Either.isLeft(fast) && Either.isLeft(slow))
    if (Either.isLeft(fast) && Either.isLeft(slow)) assert.strictEqual(fast.left.message, slow.left.message)
  })

  it("keeps objects already in shape and copies the others", () => {
    const page = structuredClone(fixtures.listPage)
    const decoded = BatchPage.decodeBatchPage(page)
    assert.isTrue(Either.isRight(decoded) && decoded.right === page)
    const extra = structuredClone({ ...fixtures.completedBatch, surprise: 1 })
    const copied = Batch.decodeBatch(extra)
    assert.isTrue(Either.isRight(copied) && copied.right !== extra && !("surprise" in copied.right))
    if (Either.isRight(copied)) assert.strictEqual(copied.right.usage, extra.usage)
  })

  it("leaves schemas with transformations, or two object members in a union, to the interpreter", () => {
    assert.isNull(compile(Schema.Struct({ n: Schema.NumberFromString }).ast))
    agree(Schema.Struct({ n: Schema.NumberFromString }), { n: "1" })
    // Two object members: the interpreter may try them in another order than declared.
    const A = Schema.Struct({ x: Schema.Number })
    const B = Schema.Struct({ kind: Schema.Literal("b"), x: Schema.Number })
    assert.isNull(compile(Schema.Union(A, B).ast))
    agree(Schema.Union(A, B), { kind: "b", x: 1 })
    assert.isNotNull(compile(Schema.Union(Schema.Literal("a"), Schema.String, Schema.Null, A).ast))
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
      assert.isNotNull(compile(s.ast))
      fc.assert(fc.property(valid, (value) => agree(s, value)), { numRuns: 100 })
      fc.assert(fc.property(valid, mutation, (value, m) => agree(s, mutate(value, m))), { numRuns: 300 })
      fc.assert(fc.property(fc.jsonValue({ maxDepth: 2 }), (value) => agree(s, value)), { numRuns: 100 })
    })
  }

  it("objects that are not their own copy are copied", () => {
    const check = compile(Inner.ast)!
    const inOrder = { a: 1, b: null }
    const outOfOrder = { b: null, a: 1 }
    const inherited = Object.assign(Object.create({ b: "x" }), { a: 1 })
    const hidden = Object.defineProperty({ a: 1 }, "b", { value: "x", enumerable: false })
    // The copy is a plain object: one with another prototype is not its own copy.
    const bare = Object.assign(Object.create(null), { a: 1, b: null })
    const arrayLike = Object.setPrototypeOf({ a: 1, b: null }, [])
    assert.strictEqual(check(inOrder), inOrder)
    for (const input of [outOfOrder, inherited, hidden, { a: 1, b: null, c: 2 }, bare, arrayLike]) {
      const output = check(input)
      assert.notStrictEqual(output, input)
      assert.deepStrictEqual(output, Either.getOrThrow(Schema.decodeUnknownEither(Inner)(input)))
    }
  })

  it("records copy only plain objects, and leave an own `__proto__` key to the schema", () => {
    const Table = Schema.Record({ key: Schema.String, value: Schema.NullOr(Inner) })
    const decode = decodeOwned(Table)
    const plain = { x: null, y: { a: 1, b: "z" } }
    assert.strictEqual(Either.getOrThrow(decode(plain)), plain)
    // Each input made twice, for the decoder and for the schema, as the decoder may keep it.
    const inputs = [
      () => Object.assign(Object.create(null), plain),
      // `JSON.parse` makes `__proto__` an own key; the schema's copy assigns it, setting the
      // copy's prototype, and the fast check must decode as the schema does.
      () => JSON.parse(`{"x":null,"__proto__":{"a":1,"b":null}}`),
      () => JSON.parse(`{"__proto__":"not an object","x":null}`),
      () => JSON.parse(`{"__proto__":{"a":"not a number","b":null}}`)
    ]
    for (const make of inputs) {
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
  })

  it("where `new Function` throws, as under a CSP, the schema decodes everything", () => {
    const calls: Array<unknown> = []
    vi.stubGlobal("Function", function(...args: Array<unknown>) {
      calls.push(args)
      throw new EvalError("Code generation from strings disallowed for this context")
    })
    try {
      // A new AST, so that nothing compiled before is reused.
      const schema = Schema.Struct(Batch.Batch.fields)
      const decode = decodeOwned(schema)
      for (const batch of [fixtures.createdBatch, fixtures.completedBatch, fixtures.failedBatch]) {
        agreeWith(schema, batch, decode(structuredClone(batch)))
      }
      agreeWith(
        schema,
        { ...fixtures.completedBatch, created_at: 1.5 },
        decode({
          ...fixtures.completedBatch,
          created_at: 1.5
        })
      )
      assert.isAbove(calls.length, 0)
      assert.isNull(compile(schema.ast))
    } finally {
      vi.unstubAllGlobals()
    }
  })
})
