/**
 * An Effect-native client of the OpenAI Batch API.
 *
 * @since 0.1.0
 */

/**
 * The Batch API service: lazy listing, retrieve, create, cancel.
 *
 * @since 0.1.0
 */
export * as BatchClient from "./BatchClient.js"

/**
 * The typed errors of the client and their union.
 *
 * @since 0.1.0
 */
export * as BatchClientError from "./BatchClientError.js"

/**
 * Client options and the environment variables they come from.
 *
 * @since 0.1.0
 */
export * as ClientConfig from "./ClientConfig.js"

/**
 * The rate-limit governor shared by the fibers of one client: its settings and what it is doing.
 *
 * @since 0.1.0
 */
export * as Governor from "./Governor.js"

/**
 * Retry schedules and the rules around them.
 *
 * @since 0.1.0
 */
export * as Retry from "./Retry.js"

/**
 * Files of the API: upload request lines, read content, retrieve, delete.
 *
 * @since 0.1.0
 */
export * as Files from "./Files.js"

/**
 * The results of a batch as a stream of decoded lines.
 *
 * @since 0.1.0
 */
export * as Results from "./Results.js"

/**
 * Watching a batch until it reaches a terminal status.
 *
 * @since 0.1.0
 */
export * as Watch from "./Watch.js"

/**
 * Bulk operations: one outcome per id, under the governor.
 *
 * @since 0.1.0
 */
export * as Bulk from "./Bulk.js"

/**
 * Requests to joined outcomes in one program: check, upload, create, watch, read; split when large.
 *
 * @since 0.1.0
 */
export * as Submit from "./Submit.js"

/**
 * JSONL files on streams: a `Sink` that writes values to a path, request lines read from a path.
 *
 * @since 0.1.0
 */
export * as JsonlFile from "./JsonlFile.js"
