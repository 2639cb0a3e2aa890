/**
 * Key-value metadata attached to a batch.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

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
 * @category validation
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

/**
 * Metadata for a request: at most 16 pairs, keys of at most 64 characters, string values of at
 * most 512 characters. Each violation fails with a sentence that names it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const MetadataInput = Metadata.pipe(
  Schema.filter((metadata) => problem(metadata) ?? true)
).annotations({
  identifier: "MetadataInput",
  arbitrary: () => (fc) =>
    fc.dictionary(
      fc.string({ maxLength: limits.maxKeyLength }),
      fc.string({ maxLength: limits.maxValueLength }),
      { maxKeys: limits.maxPairs }
    )
})
