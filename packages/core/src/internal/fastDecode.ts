/**
 * Decoding of values freshly parsed from JSON: a check compiled from the schema where the value
 * passes it, `Schema.decodeUnknownEither` (the schema is the judge) where it does not.
 *
 * A schema is first read into a plan (`Node`): leaves that accept a value and return it as it is
 * are `Test`s, the rest (structs, records, arrays, unions holding one of them, refinements of
 * them) are containers. The plan is then turned into JavaScript source, one function per
 * container with the tests written inline, and compiled once with `new Function`, so that V8 runs
 * straight-line code with monomorphic property reads even before it has optimized anything.
 * Where `new Function` is forbidden (a CSP, Cloudflare Workers) there is no check and the schema
 * decodes everything: slower, never wrong.
 *
 * A value that passes decodes to a structurally equal result; a value the check rejects, or a
 * schema node it does not know (such as a transformation), goes to the schema, so every failure is
 * worded by the schema. `test/FastDecode.test.ts` holds this against the schema on generated values.
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

/** The result of a compiled check when the value is not plainly valid: ask the schema. */
export const unsure: unique symbol = Symbol.for("@batchfx/core/fastDecode/unsure")

/** A compiled check: the decoded value, or `unsure`. */
export type Check = (input: unknown) => unknown

const hasOwn = Object.prototype.hasOwnProperty
const getPrototypeOf = Object.getPrototypeOf
const objectPrototype = Object.prototype

// ---------------------------------------------------------------------------------------------
// Plans

// A leaf that returns its input unchanged when it accepts it.
type Test =
  | { readonly _tag: "Typeof"; readonly type: "string" | "number" | "boolean" }
  | { readonly _tag: "Literal"; readonly literal: AST.LiteralValue }
  | { readonly _tag: "Undefined" }
  | { readonly _tag: "Anything" }
  | { readonly _tag: "Refine"; readonly from: Test; readonly ast: AST.Refinement; readonly int: boolean }
  | { readonly _tag: "Or"; readonly tests: ReadonlyArray<Test> }

interface Field {
  readonly name: string
  readonly optional: boolean
  readonly node: Node
}

type Node =
  | { readonly _tag: "Test"; readonly test: Test }
  | { readonly _tag: "Struct"; readonly fields: ReadonlyArray<Field> }
  | { readonly _tag: "Record"; readonly value: Node }
  | { readonly _tag: "Array"; readonly item: Node }
  // The test first: it takes only primitives, the container only objects or arrays.
  | { readonly _tag: "Union"; readonly test: Test | null; readonly container: Node }
  | { readonly _tag: "Refine"; readonly from: Node; readonly ast: AST.Refinement }

// `Schema.Int` and everything made from it by annotating or branding share this filter, which is
// `Number.isSafeInteger` and nothing else, so the check calls that directly.
const intFilter = (Schema.Int.ast as AST.Refinement).filter

const plans = new WeakMap<AST.AST, Node | null>()

const planOf = (ast: AST.AST): Node | null => {
  const known = plans.get(ast)
  if (known !== undefined) return known
  const node = plan(ast)
  plans.set(ast, node)
  return node
}

const test = (test: Test): Node => ({ _tag: "Test", test })

const plan = (ast: AST.AST): Node | null => {
  switch (ast._tag) {
    case "StringKeyword":
      return test({ _tag: "Typeof", type: "string" })
    case "NumberKeyword":
      return test({ _tag: "Typeof", type: "number" })
    case "BooleanKeyword":
      return test({ _tag: "Typeof", type: "boolean" })
    case "UndefinedKeyword":
      return test({ _tag: "Undefined" })
    case "UnknownKeyword":
    case "AnyKeyword":
      return test({ _tag: "Anything" })
    case "Literal":
      return test({ _tag: "Literal", literal: ast.literal })
    case "Refinement": {
      const from = planOf(ast.from)
      if (from === null) return null
      if (from._tag === "Test") {
        return test({ _tag: "Refine", from: from.test, ast, int: ast.filter === intFilter })
      }
      return { _tag: "Refine", from, ast }
    }
    case "Union":
      return planUnion(ast)
    case "TupleType": {
      // `Array(X)` only (no fixed elements): what the wire schemas use.
      if (ast.elements.length !== 0 || ast.rest.length !== 1) return null
      const item = planOf(ast.rest[0].type)
      return item === null ? null : { _tag: "Array", item }
    }
    case "TypeLiteral":
      return planStruct(ast)
    default:
      // Transformations, declarations, suspensions and the rest: the interpreter's job.
      return null
  }
}

const planUnion = (ast: AST.Union): Node | null => {
  // The interpreter tries members keyed by a literal field first, so with two object members
  // its order can differ from the declaration's. With at most one member that takes objects
  // or arrays, and none that takes anything, every member that accepts a value returns the
  // value itself, and the order does not matter.
  const tests: Array<Test> = []
  let container: Node | null = null
  for (const member of ast.types) {
    const node = planOf(member)
    if (node === null) return null
    if (node._tag === "Test") {
      if (takesAnything(node.test)) return null
      tests.push(node.test)
      continue
    }
    if (node._tag === "Union" && node.test !== null) tests.push(node.test)
    if (container !== null) return null
    container = node._tag === "Union" ? node.container : node
  }
  const merged = tests.length === 0 ? null : or(tests)
  return container === null ? test(merged!) : { _tag: "Union", test: merged, container }
}

const takesAnything = (test: Test): boolean =>
  test._tag === "Anything" || (test._tag === "Refine" && takesAnything(test.from))

// One test for a union's leaves. A `typeof` test makes every leaf that only takes values of that
// type redundant: an open enum (known literals or any branded string) is `typeof v === "string"`.
const or = (tests: ReadonlyArray<Test>): Test => {
  const flat = tests.flatMap((test) => test._tag === "Or" ? test.tests : [test])
  const types = new Set<string>(flat.flatMap((test) => test._tag === "Typeof" ? [test.type] : []))
  const kept = flat.filter((test) => {
    if (test._tag === "Typeof") return true
    const type = typeOf(test)
    return type === undefined || !types.has(type)
  })
  return kept.length === 1 ? kept[0] : { _tag: "Or", tests: kept }
}

// The one `typeof` of every value the test takes, if there is one.
const typeOf = (test: Test): string | undefined => {
  switch (test._tag) {
    case "Typeof":
      return test.type
    case "Literal":
      return test.literal === null ? undefined : typeof test.literal
    case "Refine":
      return typeOf(test.from)
    default:
      return undefined
  }
}

// A struct of property signatures with string names, or a record with string keys; not both.
const planStruct = (ast: AST.TypeLiteral): Node | null => {
  const { indexSignatures, propertySignatures } = ast
  if (propertySignatures.length === 0 && indexSignatures.length === 0) return null
  if (propertySignatures.length > 0 && indexSignatures.length > 0) return null
  if (indexSignatures.length > 0) {
    if (indexSignatures.length !== 1 || indexSignatures[0].parameter._tag !== "StringKeyword") return null
    const value = planOf(indexSignatures[0].type)
    return value === null ? null : { _tag: "Record", value }
  }
  const fields: Array<Field> = []
  for (const ps of propertySignatures) {
    if (typeof ps.name !== "string") return null
    const node = planOf(ps.type)
    if (node === null) return null
    fields.push({ name: ps.name, optional: ps.isOptional, node })
  }
  return { _tag: "Struct", fields }
}

// ---------------------------------------------------------------------------------------------
// Compiling

// Compiled checks per AST node; `null` marks a node that cannot be compiled.
const compiled = new WeakMap<AST.AST, Check | null>()

/**
 * The check for a schema's AST, or `null` if it has a node only the interpreter decodes or
 * `new Function` is forbidden here. A valid value is returned as it is wherever it already equals
 * what the schema would build (a plain object with its keys in the schema's order and none to
 * drop), else as a copy: the result may share objects with the input.
 */
export const compile = (ast: AST.AST): Check | null => {
  const known = compiled.get(ast)
  if (known !== undefined) return known
  const node = planOf(ast)
  let check: Check | null = null
  if (node !== null) {
    try {
      check = generate(node)
    } catch {
      check = null
    }
  }
  compiled.set(ast, check)
  return check
}

/**
 * A decoder for values nobody else holds, such as fresh `JSON.parse` output: the compiled check
 * where the value passes it, else `Schema.decodeUnknownEither` with `options`, which only word the
 * failure. The result may share objects with the input. Nothing is compiled before the first call.
 */
export const decodeOwned = <A, I>(
  schema: Schema.Schema<A, I, never>,
  options?: { readonly errors?: "first" | "all" }
): (input: unknown) => Either.Either<A, ParseResult.ParseError> => {
  let fast: Check | null | undefined
  let slow: ((input: unknown) => Either.Either<A, ParseResult.ParseError>) | undefined
  return (input) => {
    if (fast === undefined) fast = compile(schema.ast)
    if (fast !== null) {
      const value = fast(input)
      if (value !== unsure) return Either.right(value as A)
    }
    slow ??= Schema.decodeUnknownEither(schema, options)
    return slow(input)
  }
}

// ---------------------------------------------------------------------------------------------
// Generated code

const generate = (node: Node): Check => {
  // The values every generated function may use, by the names it uses them under.
  const builtins: ReadonlyArray<readonly [string, unknown]> = [
    ["unsure", unsure],
    ["isArray", Array.isArray],
    ["objectKeys", Object.keys],
    ["hasOwn", hasOwn],
    ["getPrototypeOf", getPrototypeOf],
    ["objectPrototype", objectPrototype],
    ["isNone", Option.isNone],
    ["parseOptions", AST.defaultParseOption]
  ]
  const constants: Array<unknown> = builtins.map(([, value]) => value)
  const preamble = builtins.map(([name], i) => `const ${name} = c[${i}];`)
  const constant = (value: unknown): string => {
    let i = constants.indexOf(value)
    if (i === -1) {
      i = constants.push(value) - 1
      preamble.push(`const k${i} = c[${i}];`)
    }
    return `k${i}`
  }
  const functions: Array<string> = []
  const names = new Map<Node, string>()

  // A JavaScript expression that is true when the test accepts `v` (an identifier).
  const testCode = (test: Test, v: string): string => {
    switch (test._tag) {
      case "Typeof":
        return `typeof ${v} === "${test.type}"`
      case "Literal": {
        const literal = test.literal
        const inline = typeof literal === "string" || typeof literal === "boolean" || literal === null ||
          (typeof literal === "number" && Number.isFinite(literal))
        return `${v} === ${inline ? JSON.stringify(literal) : constant(literal)}`
      }
      case "Undefined":
        return `${v} === undefined`
      case "Anything":
        return "true"
      case "Refine": {
        if (test.int) {
          const isInt = `Number.isSafeInteger(${v})`
          return test.from._tag === "Typeof" && test.from.type === "number" ?
            isInt :
            `(${testCode(test.from, v)} && ${isInt})`
        }
        const ast = constant(test.ast)
        return `(${testCode(test.from, v)} && isNone(${ast}.filter(${v}, parseOptions, ${ast})))`
      }
      case "Or":
        return `(${test.tests.map((t) => testCode(t, v)).join(" || ")})`
    }
  }

  // An expression for the decoded value of a container `v` (an identifier), or `unsure`.
  const callCode = (node: Node, v: string): string =>
    node._tag === "Union" && node.test !== null ?
      `(${testCode(node.test, v)} ? ${v} : ${callCode(node.container, v)})` :
      `${fn(node)}(${v})`

  // The name of the function of a container, written on first need.
  const fn = (node: Node): string => {
    const known = names.get(node)
    if (known !== undefined) return known
    const name = `f${names.size}`
    names.set(node, name)
    functions.push(`function ${name}(input) {\n${body(node)}\n}`)
    return name
  }

  const body = (node: Node): string => {
    switch (node._tag) {
      case "Test":
        return `return ${testCode(node.test, "input")} ? input : unsure;`
      case "Union":
        return `return ${callCode(node, "input")};`
      case "Refine": {
        const ast = constant(node.ast)
        return [
          `const value = ${callCode(node.from, "input")};`,
          `if (value === unsure) return unsure;`,
          `return isNone(${ast}.filter(value, parseOptions, ${ast})) ? value : unsure;`
        ].join("\n")
      }
      case "Array":
        return arrayBody(node.item)
      case "Record":
        return recordBody(node.value)
      case "Struct":
        return structBody(node.fields)
    }
  }

  // An array of leaves is its own copy; otherwise items are kept as they are up to the first one
  // copied, and from there on the array is a new one.
  const arrayBody = (item: Node): string => {
    const lines = ["if (!isArray(input)) return unsure;", "const n = input.length;"]
    if (item._tag === "Test") {
      lines.push(
        `for (let i = 0; i < n; i++) { const u = input[i]; if (!(${testCode(item.test, "u")})) return unsure; }`,
        "return input;"
      )
      return lines.join("\n")
    }
    lines.push(
      "let i = 0;",
      "for (; i < n; i++) {",
      "const u = input[i];",
      `const v = ${callCode(item, "u")};`,
      "if (v === unsure) return unsure;",
      "if (v !== u) break;",
      "}",
      "if (i === n) return input;",
      "const out = new Array(n);",
      "for (let j = 0; j < i; j++) out[j] = input[j];",
      "for (; i < n; i++) {",
      "const u = input[i];",
      `const v = ${callCode(item, "u")};`,
      "if (v === unsure) return unsure;",
      "out[i] = v;",
      "}",
      "return out;"
    )
    return lines.join("\n")
  }

  // The keys are first walked with `for...in`, which allocates nothing (`Object.keys` allocates an
  // array per object); a key that is not an own key (an enumerable one inherited) sends the object
  // to the copy, which walks `Object.keys` as the interpreter does. An own `__proto__` key (as
  // `JSON.parse` makes one) is left to the interpreter, whose `out[key] = value` sets the copy's
  // prototype instead of a key: a check that kept the key would not decode as the schema does.
  const recordBody = (value: Node): string => {
    const lines = [
      `if (typeof input !== "object" || input === null || isArray(input)) return unsure;`,
      "let same = getPrototypeOf(input) === objectPrototype;",
      "for (const key in input) {",
      "if (key === \"__proto__\") return unsure;",
      "if (!hasOwn.call(input, key)) { same = false; break; }",
      "const u = input[key];"
    ]
    if (value._tag === "Test") lines.push(`if (!(${testCode(value.test, "u")})) return unsure;`)
    else {
      lines.push(
        `const v = ${callCode(value, "u")};`,
        "if (v === unsure) return unsure;",
        "if (v !== u) { same = false; break; }"
      )
    }
    lines.push(
      "}",
      "if (same) return input;",
      "const keys = objectKeys(input);",
      "const n = keys.length;",
      "const out = {};",
      "for (let i = 0; i < n; i++) {",
      "if (keys[i] === \"__proto__\") return unsure;",
      "const u = input[keys[i]];"
    )
    if (value._tag === "Test") lines.push(`if (!(${testCode(value.test, "u")})) return unsure;`, "out[keys[i]] = u;")
    else lines.push(`const v = ${callCode(value, "u")};`, "if (v === unsure) return unsure;", "out[keys[i]] = v;")
    lines.push("}", "return out;")
    return lines.join("\n")
  }

  // The own keys are first matched, in one pass and without allocating, against the names in the
  // schema's order (`seen` has a bit per name met); the input is its own copy when it is a plain
  // object (the copy's prototype is `Object.prototype`), every key is an own key and the next name
  // it holds, every present field was met, and no value was copied. Above 31 fields (no wire
  // schema) the bits run out: such structs are always copied.
  const structBody = (fields: ReadonlyArray<Field>): string => {
    const reuse = fields.length <= 31
    const lines = [
      `if (typeof input !== "object" || input === null || isArray(input)) return unsure;`,
      `let same = ${reuse} && getPrototypeOf(input) === objectPrototype;`
    ]
    if (reuse) {
      const names = constant(fields.map((field) => field.name))
      lines.push(
        "let seen = 0;",
        "let j = 0;",
        "for (const key in input) {",
        "if (!hasOwn.call(input, key)) { same = false; break; }",
        `while (j < ${fields.length} && ${names}[j] !== key) j++;`,
        `if (j === ${fields.length}) { same = false; break; }`,
        "seen |= 1 << j;",
        "j++;",
        "}"
      )
    }
    fields.forEach((field, i) => {
      const key = JSON.stringify(field.name)
      const read = `input[${key}]`
      const v = `v${i}`
      const check = (u: string): Array<string> =>
        field.node._tag === "Test" ?
          [`if (!(${testCode(field.node.test, u)})) return unsure;`] :
          [
            `${v} = ${callCode(field.node, u)};`,
            `if (${v} === unsure) return unsure;`,
            `if (${v} !== ${u}) same = false;`
          ]
      const met = `(seen & ${1 << i}) !== 0`
      if (field.optional) {
        // Absent (not an own key) means skipped, as the interpreter skips it.
        lines.push(`let p${i} = false;`, `let ${v};`)
        if (reuse) {
          lines.push(`if (${met}) p${i} = true; else if (hasOwn.call(input, ${key})) { p${i} = true; same = false; }`)
        } else lines.push(`p${i} = hasOwn.call(input, ${key});`)
        lines.push(`if (p${i}) {`, `const u = ${read};`)
        if (field.node._tag === "Test") lines.push(`${v} = u;`)
        lines.push(...check("u"), "}")
      } else {
        // A missing required key is checked as what reading it gives (an `Unknown` field accepts it).
        lines.push(`let ${v} = ${read};`)
        if (field.node._tag !== "Test") lines.push(`const u${i} = ${v};`)
        lines.push(...check(field.node._tag === "Test" ? v : `u${i}`))
        if (reuse) lines.push(`if (!(${met})) same = false;`)
      }
    })
    // Otherwise keys are written in the schema's order, as the interpreter writes them, and extra
    // keys are dropped.
    lines.push("if (same) return input;", "const out = {};")
    fields.forEach((field, i) => {
      const write = `out[${JSON.stringify(field.name)}] = v${i};`
      lines.push(field.optional ? `if (p${i}) ${write}` : write)
    })
    lines.push("return out;")
    return lines.join("\n")
  }

  const root = fn(node)
  const source = [...preamble, ...functions, `return ${root};`].join("\n")
  // The source is built from the schema alone (names through JSON.stringify, other values passed
  // in as constants), never from input. Throws where a CSP forbids it: `compile` then gives none.
  return new Function("c", source)(constants) as Check
}
