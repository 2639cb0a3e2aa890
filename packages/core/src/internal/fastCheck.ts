/**
 * The compiler behind `FastDecode`: one closure per schema node that checks and copies a value the
 * way `effect/ParseResult` decodes it, or answers `unsure` and leaves the value to the
 * interpreter.
 */
import * as Option from "effect/Option"
import * as AST from "effect/SchemaAST"

/** The result of a compiled check when the value is not plainly valid: ask the schema. */
export const unsure: unique symbol = Symbol.for("@batchfx/core/FastDecode/unsure")

export type Check = (input: unknown) => unknown

const hasOwn = Object.prototype.hasOwnProperty

const isRecord = (input: unknown): input is { readonly [key: string]: unknown } =>
  typeof input === "object" && input !== null && !Array.isArray(input)

/**
 * How a check treats a valid value: `copy` builds new objects and arrays as the interpreter does;
 * `reuse` returns the input itself wherever it already equals that copy (the same keys in the
 * schema's order, nothing dropped), for values nobody else holds, such as fresh `JSON.parse`
 * output. A copy doubles the allocations of decoding a page.
 */
export type Mode = "copy" | "reuse"

// Compiled checks per mode and AST node; `null` marks a node that cannot be compiled.
const compiled = { copy: new WeakMap<AST.AST, Check | null>(), reuse: new WeakMap<AST.AST, Check | null>() }

export const compile = (ast: AST.AST, mode: Mode = "copy"): Check | null => {
  const cache = compiled[mode]
  const known = cache.get(ast)
  if (known !== undefined) return known
  const check = build(ast, mode)
  cache.set(ast, check)
  return check
}

const build = (ast: AST.AST, mode: Mode): Check | null => {
  switch (ast._tag) {
    case "StringKeyword":
      return (input) => typeof input === "string" ? input : unsure
    case "NumberKeyword":
      return (input) => typeof input === "number" ? input : unsure
    case "BooleanKeyword":
      return (input) => typeof input === "boolean" ? input : unsure
    case "UndefinedKeyword":
      return (input) => input === undefined ? input : unsure
    case "UnknownKeyword":
    case "AnyKeyword":
      return (input) => input
    case "Literal": {
      const literal = ast.literal
      return (input) => input === literal ? input : unsure
    }
    case "Refinement": {
      const from = compile(ast.from, mode)
      if (from === null) return null
      return (input) => {
        const value = from(input)
        if (value === unsure) return unsure
        return Option.isNone(ast.filter(value, AST.defaultParseOption, ast)) ? value : unsure
      }
    }
    case "Union": {
      // The interpreter tries members keyed by a literal field first, so with two object members
      // its order can differ from the declaration's. With at most one member that takes objects
      // or arrays, and none that takes anything, every member that accepts a value returns the
      // value itself, and the order does not matter.
      if (ast.types.filter(isContainer).length > 1 || ast.types.some(isAnything)) return null
      const members = ast.types.map((member) => compile(member, mode))
      if (members.some((member) => member === null)) return null
      const checks = members as ReadonlyArray<Check>
      return (input) => {
        for (let i = 0; i < checks.length; i++) {
          const value = checks[i](input)
          if (value !== unsure) return value
        }
        return unsure
      }
    }
    case "TupleType":
      return buildArray(ast, mode)
    case "TypeLiteral":
      return buildStruct(ast, mode)
    default:
      // Transformations, declarations, suspensions and the rest: the interpreter's job.
      return null
  }
}

const unrefined = (ast: AST.AST): AST.AST => ast._tag === "Refinement" ? unrefined(ast.from) : ast

const isContainer = (ast: AST.AST): boolean => {
  const tag = unrefined(ast)._tag
  return tag === "TypeLiteral" || tag === "TupleType"
}

const isAnything = (ast: AST.AST): boolean => {
  const tag = unrefined(ast)._tag
  return tag === "UnknownKeyword" || tag === "AnyKeyword"
}

// `Array(X)` only (no fixed elements): what the wire schemas use.
const buildArray = (ast: AST.TupleType, mode: Mode): Check | null => {
  if (ast.elements.length !== 0 || ast.rest.length !== 1) return null
  const item = compile(ast.rest[0].type, mode)
  if (item === null) return null
  return (input) => {
    if (!Array.isArray(input)) return unsure
    if (mode === "reuse") {
      let same = true
      for (let i = 0; i < input.length; i++) {
        const value = item(input[i])
        if (value === unsure) return unsure
        if (value !== input[i]) same = false
      }
      if (same) return input
    }
    const out = new Array(input.length)
    for (let i = 0; i < input.length; i++) {
      const value = item(input[i])
      if (value === unsure) return unsure
      out[i] = value
    }
    return out
  }
}

// A struct of property signatures with string names, or a record with string keys; not both.
const buildStruct = (ast: AST.TypeLiteral, mode: Mode): Check | null => {
  const { indexSignatures, propertySignatures } = ast
  if (propertySignatures.length === 0 && indexSignatures.length === 0) return null
  if (propertySignatures.length > 0 && indexSignatures.length > 0) return null
  if (indexSignatures.length > 0) {
    if (indexSignatures.length !== 1 || indexSignatures[0].parameter._tag !== "StringKeyword") return null
    const value = compile(indexSignatures[0].type, mode)
    if (value === null) return null
    return (input) => {
      if (!isRecord(input)) return unsure
      if (mode === "reuse") {
        let same = true
        for (const key of Object.keys(input)) {
          const decoded = value(input[key])
          if (decoded === unsure) return unsure
          if (decoded !== input[key]) same = false
        }
        if (same) return input
      }
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(input)) {
        const decoded = value(input[key])
        if (decoded === unsure) return unsure
        out[key] = decoded
      }
      return out
    }
  }
  const names: Array<string> = []
  const optional: Array<boolean> = []
  const checks: Array<Check> = []
  for (const ps of propertySignatures) {
    if (typeof ps.name !== "string") return null
    const check = compile(ps.type, mode)
    if (check === null) return null
    names.push(ps.name)
    optional.push(ps.isOptional)
    checks.push(check)
  }
  const count = names.length
  // Whether the input already is the copy: every value kept as it is, every key present once a
  // name and in the schema's order, no key the copy would drop, no required key missing.
  const isOwnCopy = (input: { readonly [key: string]: unknown }): boolean | typeof unsure => {
    for (let i = 0; i < count; i++) {
      const name = names[i]
      const present = hasOwn.call(input, name)
      if (!present && optional[i]) continue
      const value = checks[i](input[name])
      if (value === unsure) return unsure
      if (!present || value !== input[name]) return false
    }
    let next = 0
    for (const key in input) {
      while (next < count && names[next] !== key) next++
      if (next === count) return false
      next++
    }
    return true
  }
  return (input) => {
    if (!isRecord(input)) return unsure
    if (mode === "reuse") {
      const own = isOwnCopy(input)
      if (own === unsure) return unsure
      if (own) return input
    }
    // Keys are written in the schema's order, as the interpreter writes them; extra keys dropped.
    const out: Record<string, unknown> = {}
    for (let i = 0; i < count; i++) {
      const name = names[i]
      if (!hasOwn.call(input, name) && optional[i]) continue
      // A missing required key is checked as `undefined` (an `Unknown` field accepts it).
      const value = checks[i](input[name])
      if (value === unsure) return unsure
      out[name] = value
    }
    return out
  }
}
