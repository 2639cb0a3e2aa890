/**
 * A minimal `node:http` server for the bench, serving from memory the wire shapes of the Batch and
 * Files API that the scenarios need: `GET /v1/batches` (synthetic batches computed per request),
 * `GET /v1/batches/{id}` under an optional request-rate limit (fixed window, 429 with
 * `retry-after`/`retry-after-ms` and no `x-ratelimit-*` headers, as the real batch endpoints
 * answer), and `GET /v1/files/{id}` and `/content` for one pre-built output file (with `Range`).
 *
 * It runs in the bench's own process, on 127.0.0.1 and port 0; every contender runs in a child
 * process and reaches it over a real socket, so the server costs every contender the same.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Wire from "./wire.js"

/** What the server does; `configure` changes it between runs. */
export interface Knobs {
  /** Batches that exist, listed newest first. */
  readonly total: number
  /** A delay before every answer, in milliseconds. */
  readonly latencyMs: number
  /**
   * At most `requests` retrieves per `windowMs`; undefined for no limit. `mode` is how they are
   * counted: a fixed window (the default), the window's limit also enforced per second
   * (`quantized`, as the API documents for per-minute limits), or a token bucket refilled at that
   * rate holding one second's worth. `headers` adds `x-ratelimit-*` stating the limit per minute.
   */
  readonly rateLimit: {
    readonly requests: number
    readonly windowMs: number
    readonly mode?: "fixed-window" | "quantized" | "token-bucket"
    readonly headers?: boolean
  } | undefined
  /** The size of the output file, in bytes (built on first use, kept until it changes). */
  readonly fileBytes: number
}

/** Answers counted since the last reset. */
export interface Stats {
  readonly requests: number
  readonly byStatus: Readonly<Record<string, number>>
}

/** The running server. */
export interface BenchServer {
  readonly baseUrl: string
  readonly configure: (patch: Partial<Knobs>) => void
  readonly stats: () => Stats
  readonly resetStats: () => void
  /** Builds the output file now, so that building it is never timed. */
  readonly prepareFile: () => { readonly bytes: number; readonly lines: number }
  readonly close: () => Promise<void>
}

const json = (
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: Record<string, string> = {}
) => {
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers
  })
  res.end(body)
}

/** Starts the server on 127.0.0.1, port 0. */
export const start = (initial: Partial<Knobs> = {}): Promise<BenchServer> => {
  let knobs: Knobs = { total: 0, latencyMs: 0, rateLimit: undefined, fileBytes: 0, ...initial }
  let file: { readonly data: Buffer; readonly lines: number } | undefined
  let requests = 0
  let byStatus: Record<string, number> = {}
  let sequence = 0
  let window = { start: 0, used: 0 }
  let second = { start: 0, used: 0 }
  let bucket = { tokens: 0, at: 0 }
  // Pages of up to `cacheLimit` batches are rendered once per `total` and served as bytes, so that
  // the server spends next to nothing per page; larger listings are rendered per request.
  const cacheLimit = 200_000
  let pages = new Map<string, Buffer>()
  let pagesTotal = -1

  const page = (after: string | undefined, limit: number): Buffer | string => {
    if (knobs.total > cacheLimit) return Wire.pageJson(knobs.total, after, limit)
    if (pagesTotal !== knobs.total) {
      pages = new Map()
      pagesTotal = knobs.total
    }
    const key = `${after ?? ""}:${limit}`
    let body = pages.get(key)
    if (body === undefined) {
      body = Buffer.from(Wire.pageJson(knobs.total, after, limit))
      pages.set(key, body)
    }
    return body
  }

  /** Renders every page of 100 now, so that rendering is never timed. */
  const warm = () => {
    if (knobs.total > cacheLimit) return
    for (let start = 0; start < knobs.total; start += 100) page(start === 0 ? undefined : Wire.batchId(start - 1), 100)
  }

  const prepareFile = () => {
    if (file === undefined || file.data.length < knobs.fileBytes) file = Wire.outputFile(knobs.fileBytes)
    return { bytes: file.data.length, lines: file.lines }
  }

  const count = (status: number) => {
    requests++
    byStatus[status] = (byStatus[status] ?? 0) + 1
  }

  // The limiter of `rateLimit.mode`: the wait a refused request is asked for, or undefined, and
  // the rate-limit headers of the answer when the limit has them.
  const admit = (): { readonly wait: number | undefined; readonly headers: Record<string, string> } => {
    const limit = knobs.rateLimit
    if (limit === undefined) return { wait: undefined, headers: {} }
    const now = Date.now()
    const headersOf = (remaining: number, resetMs: number): Record<string, string> =>
      limit.headers === true
        ? {
          "x-ratelimit-limit-requests": String(Math.round((limit.requests * 60_000) / limit.windowMs)),
          "x-ratelimit-remaining-requests": String(Math.max(0, Math.floor(remaining))),
          "x-ratelimit-reset-requests": `${Math.max(0, Math.round(resetMs))}ms`
        }
        : {}
    if (limit.mode === "token-bucket") {
      const rate = limit.requests / limit.windowMs
      const capacity = Math.max(1, rate * 1000)
      const tokens = Math.min(capacity, bucket.at === 0 ? capacity : bucket.tokens + (now - bucket.at) * rate)
      if (tokens < 1) {
        bucket = { tokens, at: now }
        return { wait: Math.max(1, Math.ceil((1 - tokens) / rate)), headers: headersOf(0, (capacity - tokens) / rate) }
      }
      bucket = { tokens: tokens - 1, at: now }
      return { wait: undefined, headers: headersOf(tokens - 1, (capacity - tokens + 1) / rate) }
    }
    if (now >= window.start + limit.windowMs) window = { start: now, used: 0 }
    const reset = window.start + limit.windowMs - now
    if (window.used >= limit.requests) return { wait: Math.max(1, reset), headers: headersOf(0, reset) }
    if (limit.mode === "quantized") {
      const quantum = Math.max(1, Math.floor((limit.requests * 1000) / limit.windowMs))
      if (now >= second.start + 1000) second = { start: now, used: 0 }
      if (second.used >= quantum) {
        return { wait: Math.max(1, second.start + 1000 - now), headers: headersOf(limit.requests - window.used, reset) }
      }
      second.used++
    }
    window.used++
    return { wait: undefined, headers: headersOf(limit.requests - window.used, reset) }
  }

  const sendFile = (req: IncomingMessage, res: ServerResponse, headers: Record<string, string>) => {
    prepareFile()
    const data = file!.data
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "")
    const from = range === null ? 0 : Math.min(Number(range[1]), data.length)
    const status = range === null ? 200 : 206
    res.writeHead(status, {
      "content-type": "application/octet-stream",
      "content-length": data.length - from,
      "accept-ranges": "bytes",
      ...(range === null ? {} : { "content-range": `bytes ${from}-${data.length - 1}/${data.length}` }),
      ...headers
    })
    count(status)
    const chunk = 1 << 20
    let at = from
    const pump = () => {
      while (at < data.length) {
        const next = Math.min(data.length, at + chunk)
        const ok = res.write(data.subarray(at, next))
        at = next
        if (!ok) {
          res.once("drain", pump)
          return
        }
      }
      res.end()
    }
    pump()
  }

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const headers = {
      "x-request-id": `req_${(++sequence).toString(16).padStart(32, "0")}`,
      "openai-version": "2020-10-01"
    }
    if (req.headers.authorization !== `Bearer ${Wire.apiKey}`) {
      count(401)
      return json(res, 401, Wire.unauthorizedBody, headers)
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const path = url.pathname
    if (req.method === "GET" && path === "/v1/batches") {
      const limit = Math.max(1, Math.min(100, Number(url.searchParams.get("limit") ?? "20") || 20))
      count(200)
      return json(res, 200, page(url.searchParams.get("after") ?? undefined, limit), headers)
    }
    if (req.method === "GET" && path.startsWith("/v1/batches/")) {
      const id = decodeURIComponent(path.slice("/v1/batches/".length))
      const { headers: limitHeaders, wait } = admit()
      if (wait !== undefined) {
        count(429)
        const limit = knobs.rateLimit!
        return json(res, 429, Wire.rateLimitBody(limit.requests, limit.windowMs, wait), {
          ...headers,
          ...limitHeaders,
          "retry-after": String(Math.ceil(wait / 1000)),
          "retry-after-ms": String(wait)
        })
      }
      const index = Wire.batchIndex(id)
      if (index === undefined || index >= knobs.total) {
        count(404)
        return json(res, 404, Wire.notFoundBody("batch", id), headers)
      }
      count(200)
      return json(res, 200, Wire.batchJson(index), { ...headers, ...limitHeaders })
    }
    if (req.method === "GET" && path === `/v1/files/${Wire.outputFileId}`) {
      const info = prepareFile()
      count(200)
      return json(
        res,
        200,
        JSON.stringify({
          id: Wire.outputFileId,
          object: "file",
          bytes: info.bytes,
          created_at: 1_780_000_000,
          expires_at: null,
          filename: "batch_output.jsonl",
          purpose: "batch_output",
          status: "processed",
          status_details: null
        }),
        headers
      )
    }
    if (req.method === "GET" && path === `/v1/files/${Wire.outputFileId}/content`) {
      return sendFile(req, res, headers)
    }
    count(404)
    return json(
      res,
      404,
      JSON.stringify({
        error: {
          message: `Unknown request URL: ${req.method} ${path}`,
          type: "invalid_request_error",
          param: null,
          code: null
        }
      }),
      headers
    )
  }

  const server = createServer((req, res) => {
    // Drain any request body before answering (none of these routes reads one).
    req.resume()
    if (knobs.latencyMs > 0) setTimeout(() => handle(req, res), knobs.latencyMs)
    else handle(req, res)
  })
  server.keepAliveTimeout = 60_000
  server.headersTimeout = 65_000

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as AddressInfo
      resolve({
        baseUrl: `http://127.0.0.1:${address.port}/v1`,
        configure: (patch) => {
          knobs = { ...knobs, ...patch }
          window = { start: 0, used: 0 }
          second = { start: 0, used: 0 }
          bucket = { tokens: 0, at: 0 }
          warm()
        },
        stats: () => ({ requests, byStatus: { ...byStatus } }),
        resetStats: () => {
          requests = 0
          byStatus = {}
        },
        prepareFile,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
}
