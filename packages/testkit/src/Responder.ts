/**
 * What the emulator answers to each request inside a batch. The default responders are
 * deterministic: the same line always gets the same answer.
 *
 * @since 0.1.0
 */
import * as Bodies from "./internal/bodies.js"

/**
 * One request of a batch as the responder sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestInfo {
  /** The batch the request belongs to. */
  readonly batchId: string
  /** The batch's `created_at`, in Unix seconds. */
  readonly createdAt: number
  /** The batch endpoint, equal to the line's `url`. */
  readonly endpoint: string
  /** 1-based line of the input file. */
  readonly line: number
  readonly customId: string
  readonly body: { readonly [key: string]: unknown }
}

/**
 * The HTTP answer of one request: its status and JSON body. A status outside 2xx makes it a failed
 * request (its line goes to the error file with `response` set).
 *
 * @since 0.1.0
 * @category models
 */
export interface Reply {
  readonly status_code: number
  readonly body: unknown
}

/**
 * Answers one request. It must be pure and deterministic.
 *
 * @since 0.1.0
 * @category models
 */
export type Responder = (request: RequestInfo) => Reply

/**
 * Picks the lines that fail: `true` gives a 400 `invalid_request_error` answer, a `Reply` is used as
 * it is, `false` lets the responder answer.
 *
 * @since 0.1.0
 * @category models
 */
export type FailLine = (request: RequestInfo) => boolean | Reply

const ok = (body: unknown): Reply => ({ status_code: 200, body })

/**
 * The default `/v1/chat/completions` answer: the assistant echoes the last message.
 *
 * @since 0.1.0
 * @category constants
 */
export const chatCompletions: Responder = (request) => ok(Bodies.chatCompletion(request))

/**
 * The default `/v1/completions` answer.
 *
 * @since 0.1.0
 * @category constants
 */
export const completions: Responder = (request) => ok(Bodies.completion(request))

/**
 * The default `/v1/embeddings` answer: one deterministic vector (8 dimensions unless `dimensions`
 * says otherwise) per input.
 *
 * @since 0.1.0
 * @category constants
 */
export const embeddings: Responder = (request) => ok(Bodies.embedding(request))

/**
 * The default `/v1/responses` answer: one assistant message echoing the input.
 *
 * @since 0.1.0
 * @category constants
 */
export const responses: Responder = (request) => ok(Bodies.response(request))

/**
 * The default `/v1/moderations` answer: nothing flagged.
 *
 * @since 0.1.0
 * @category constants
 */
export const moderations: Responder = (request) => ok(Bodies.moderation(request))

/**
 * The default `/v1/images/generations` answer: one tiny deterministic PNG per image asked for (`n`).
 *
 * @since 0.1.0
 * @category constants
 */
export const imagesGenerations: Responder = (request) => ok(Bodies.images(request))

/**
 * The default `/v1/images/edits` answer, shaped as generations are.
 *
 * @since 0.1.0
 * @category constants
 */
export const imagesEdits: Responder = (request) => ok(Bodies.images(request))

/**
 * The default `/v1/videos` answer: the video job as `POST /v1/videos` creates it (`queued`).
 *
 * @since 0.1.0
 * @category constants
 */
export const videos: Responder = (request) => ok(Bodies.video(request))

/**
 * The answer for endpoints without a dedicated responder: the request body echoed back.
 *
 * @since 0.1.0
 * @category constants
 */
export const echo: Responder = (request) => ({
  status_code: 200,
  body: { object: "batchfx.echo", endpoint: request.endpoint, body: request.body }
})

/**
 * The default responder of each endpoint.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaults: { readonly [endpoint: string]: Responder } = {
  "/v1/chat/completions": chatCompletions,
  "/v1/completions": completions,
  "/v1/embeddings": embeddings,
  "/v1/responses": responses,
  "/v1/moderations": moderations,
  "/v1/images/generations": imagesGenerations,
  "/v1/images/edits": imagesEdits,
  "/v1/videos": videos
}

/**
 * A `FailLine` that fails every line whose `custom_id` matches the pattern.
 *
 * @since 0.1.0
 * @category constructors
 */
export const failCustomIds = (pattern: RegExp): FailLine => (request) => pattern.test(request.customId)
