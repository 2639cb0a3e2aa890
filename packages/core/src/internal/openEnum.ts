import * as Schema from "effect/Schema"

/**
 * A string enum that stays readable when the server grows it: the known values keep their literal
 * types, any other string is kept as it came, branded so that it never widens the literal union.
 */
export const openEnum = <const Known extends ReadonlyArray<string>, const Name extends string>(
  name: Name,
  ...known: Known
) => {
  const Known = Schema.Literal(...known)
  const Unknown = Schema.String.pipe(Schema.brand(`Unknown${name}`))
  return Schema.Union(Known, Unknown).annotations({
    identifier: name,
    // One sentence instead of one line per known literal.
    message: (issue) => ({
      message: `Expected a string (${name}), actual ${describe(issue.actual)}`,
      override: true
    })
  })
}

const describe = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** The optional-and-nullable key the API sends: absent, `null` or a value are all accepted. */
export const optionalNullable = <S extends Schema.Schema.Any>(schema: S) =>
  Schema.optionalWith(Schema.NullOr(schema), { exact: true })
