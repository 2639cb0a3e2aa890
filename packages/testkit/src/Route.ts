/**
 * The routes the emulator serves, named as counters and scripted faults refer to them.
 *
 * @since 0.1.0
 */

/**
 * Every route of the emulator, as `METHOD /path` with `{id}` for the path parameter.
 *
 * @since 0.1.0
 * @category constants
 */
export const all = [
  "POST /v1/files",
  "GET /v1/files",
  "GET /v1/files/{id}",
  "GET /v1/files/{id}/content",
  "DELETE /v1/files/{id}",
  "POST /v1/batches",
  "GET /v1/batches",
  "GET /v1/batches/{id}",
  "POST /v1/batches/{id}/cancel"
] as const

/**
 * A route of the emulator; `"unmatched"` counts requests to any other path.
 *
 * @since 0.1.0
 * @category models
 */
export type Route = typeof all[number] | "unmatched"
