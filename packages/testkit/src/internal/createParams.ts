/** Checks a create request as the service does, with its error bodies. */
import type { CreateBatchParams } from "@batchfx/core"
import { Metadata } from "@batchfx/core"
import * as Either from "effect/Either"
import type { ApiFailure } from "./wire.js"
import { decodeCreate, invalid, outOfRange, quoteList } from "./wire.js"

/**
 * Checks the body of `POST /v1/batches`: required keys, an endpoint the emulator answers, the 24h
 * window, metadata limits and value types, then core's `CreateBatchParams` for the rest.
 */
export const checkCreate = (
  raw: unknown,
  supported: ReadonlyArray<string>
): Either.Either<CreateBatchParams.CreateBatchParams, ApiFailure> => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return Either.left(invalid("The request body must be a JSON object.", null))
  }
  const body = raw as Record<string, unknown>
  for (const key of ["input_file_id", "endpoint", "completion_window"] as const) {
    if (body[key] === undefined || body[key] === null) {
      return Either.left(invalid(`Missing required parameter: '${key}'.`, key, "missing_required_parameter"))
    }
    if (typeof body[key] !== "string") {
      return Either.left(invalid(
        `Invalid type for '${key}': expected a string, but got ${typeof body[key]} instead.`,
        key,
        "invalid_type"
      ))
    }
  }
  const endpoint = body.endpoint as string
  if (!supported.includes(endpoint)) {
    return Either.left(invalid(
      `Invalid value: '${endpoint}'. Supported values are: ${quoteList(supported)}.`,
      "endpoint",
      "invalid_value"
    ))
  }
  if (body.completion_window !== "24h") {
    return Either.left(invalid(
      `Invalid value: '${body.completion_window}'. Supported values are: '24h'.`,
      "completion_window",
      "invalid_value"
    ))
  }
  const metadata = body.metadata
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== "object" || Array.isArray(metadata)) {
      return Either.left(invalid(
        `Invalid type for 'metadata': expected an object, but got ${
          Array.isArray(metadata) ? "an array" : `a ${typeof metadata}`
        } instead.`,
        "metadata",
        "invalid_type"
      ))
    }
    const entries = Object.entries(metadata as Record<string, unknown>)
    for (const [key, value] of entries) {
      if (typeof value !== "string") {
        return Either.left(invalid(
          `Invalid type for 'metadata.${key}': expected a string, but got ${
            Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`
          } instead.`,
          `metadata.${key}`,
          "invalid_type"
        ))
      }
    }
    if (entries.length > Metadata.limits.maxPairs) {
      return Either.left(invalid(
        `Invalid 'metadata': too many properties. Expected an object with at most ${Metadata.limits.maxPairs} properties, but got an object with ${entries.length} properties instead.`,
        "metadata",
        "object_above_max_properties"
      ))
    }
    for (const [key, value] of entries) {
      if (key.length > Metadata.limits.maxKeyLength) {
        return Either.left(invalid(
          `Invalid 'metadata': key '${
            key.slice(0, 20)
          }…' is too long. Expected a key of at most ${Metadata.limits.maxKeyLength} characters, but got ${key.length} characters instead.`,
          "metadata",
          "string_above_max_length"
        ))
      }
      if ((value as string).length > Metadata.limits.maxValueLength) {
        return Either.left(invalid(
          `Invalid 'metadata.${key}': string too long. Expected a string with maximum length ${Metadata.limits.maxValueLength}, but got a string with length ${
            (value as string).length
          } instead.`,
          `metadata.${key}`,
          "string_above_max_length"
        ))
      }
    }
  }
  const expiry = checkOutputExpiresAfter(body.output_expires_after)
  if (expiry !== undefined) return Either.left(expiry)
  const params = decodeCreate(body)
  if (params._tag === "Left") {
    const oe = body.output_expires_after !== undefined
    return Either.left(invalid(
      `Invalid request: ${params.left.message}`,
      oe ? "output_expires_after.seconds" : null,
      "invalid_value"
    ))
  }
  return Either.right(params.right)
}

const typeName = (value: unknown) => Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`

/** `output_expires_after` checked key by key, with the API's sentences rather than a Schema report. */
const checkOutputExpiresAfter = (value: unknown): ApiFailure | undefined => {
  if (value === undefined || value === null) return undefined
  if (typeof value !== "object" || Array.isArray(value)) {
    return invalid(
      `Invalid type for 'output_expires_after': expected an object, but got ${typeName(value)} instead.`,
      "output_expires_after",
      "invalid_type"
    )
  }
  const { anchor, seconds } = value as Record<string, unknown>
  if (anchor === undefined) {
    return invalid(
      "Missing required parameter: 'output_expires_after.anchor'.",
      "output_expires_after.anchor",
      "missing_required_parameter"
    )
  }
  if (anchor !== "created_at") {
    return invalid(
      `Invalid value: '${String(anchor)}'. Supported values are: 'created_at'.`,
      "output_expires_after.anchor",
      "invalid_value"
    )
  }
  if (seconds === undefined) {
    return invalid(
      "Missing required parameter: 'output_expires_after.seconds'.",
      "output_expires_after.seconds",
      "missing_required_parameter"
    )
  }
  if (typeof seconds !== "number" || !Number.isInteger(seconds)) {
    return invalid(
      `Invalid type for 'output_expires_after.seconds': expected an integer, but got ${
        typeof seconds === "number" ? "a decimal number" : typeName(seconds)
      } instead.`,
      "output_expires_after.seconds",
      "invalid_type"
    )
  }
  const range = outOfRange("output_expires_after.seconds", seconds, 3600, 2_592_000)
  if (range !== undefined) return range
  return undefined
}
