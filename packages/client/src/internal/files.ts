/** The Files service over a client's transport: uploads checked before sending, reads that resume, lookups of lost uploads. */
import { File, Jsonl, RequestLine } from "@batchfx/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import type * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  type CallError,
  IncompleteDownload,
  InvalidParams,
  isAmbiguous,
  ResponseDecodeError,
  type ServerError,
  TimeoutError
} from "../BatchClientError.js"
import {
  defaultFindWithin,
  defaultMinBytesPerSecond,
  InputError,
  type Service,
  toStream,
  type UploadOptions
} from "../Files.js"
import * as Retry from "../Retry.js"
import * as InternalErrors from "./errors.js"
import * as InternalHeaders from "./headers.js"
import * as Ids from "./ids.js"
import * as InternalInput from "./input.js"
import * as Transport from "./transport.js"

/** The waits between looks for a lost upload: 1 s doubling to 8 s, jittered (about 10 looks in a minute). */
const lookSchedule = Schedule.exponential("1 second").pipe(
  Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(8))),
  Schedule.jitteredWith({ min: 0.8, max: 1 })
)

/** How many files a page of the files list asks for, unless told. */
const listPageSize = 100

/**
 * Whether an upload's answer was lost after the server may have stored the file: a timeout, a
 * connection broken after sending, an answer that could not be read, a gateway's timeout. A server
 * that answers 500 or 503 itself did not store it: that upload is sent again without a lookup.
 */
const answerLost = (error: CallError): boolean =>
  isAmbiguous(error) && (error._tag !== "ServerError" || error.status === 504 || error.status === 408)

/** A lookup for a lost upload that has not found it (yet). */
class NotYetListed {
  readonly _tag = "NotYetListed"
}

const decodeFileList = Schema.decodeUnknownEither(File.FileList)

const validateId = (id: string, operation: string) => Ids.validateId(id, operation, "file")

const parseContentRange = (
  header: string | undefined
): { readonly start: number; readonly total: number | undefined } | undefined => {
  const match = header === undefined ? null : /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/.exec(header.trim())
  if (match === null) return undefined
  return { start: Number(match[1]), total: match[3] === "*" ? undefined : Number(match[3]) }
}

/**
 * A download body guarded against stalls: silence for `idle` while the consumer waits, or fewer
 * than `minBytesPerSecond` bytes per second over `idle` of waiting. Waiting is measured from the
 * consumer's pull to the next chunk, so time the consumer spends on a chunk does not count. One
 * watchdog fiber per read aborts the request through `abortScope`, rather than a timer per chunk.
 */
const watchBody = <E, E2>(
  body: Stream.Stream<Uint8Array, E>,
  options: {
    readonly idle: Duration.Duration
    readonly minBytesPerSecond: number
    readonly stalled: () => E2
    readonly abortScope: Scope.CloseableScope
  }
): Stream.Stream<Uint8Array, E | E2> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const clock = yield* Effect.clock
    const idleMillis = Duration.toMillis(options.idle)
    // when the consumer began waiting for a chunk that has not come yet
    let waitingSince: number | undefined = undefined
    let stalled = false
    let waited = 0
    let bytes = 0
    yield* Effect.forkScoped(
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (waitingSince === undefined || now - waitingSince < idleMillis) return Effect.succeed(true)
        stalled = true
        return Effect.as(Scope.close(options.abortScope, Exit.void), false)
      }).pipe(Effect.repeat({
        schedule: Schedule.spaced(Duration.millis(Math.max(1, idleMillis / 4))),
        while: (watching) => watching
      }))
    )
    const loop: Channel.Channel<Chunk.Chunk<Uint8Array>, Chunk.Chunk<Uint8Array>, E | E2, E, unknown, unknown> = Channel
      .readWithCause({
        onInput: (chunk: Chunk.Chunk<Uint8Array>) => {
          const now = clock.unsafeCurrentTimeMillis()
          waited += now - (waitingSince ?? now)
          waitingSince = undefined
          for (const part of chunk) bytes += part.length
          if (options.minBytesPerSecond > 0 && waited >= idleMillis) {
            if (bytes * 1000 < options.minBytesPerSecond * waited) return Channel.fail(options.stalled())
            waited = 0
            bytes = 0
          }
          return Channel.zipRight(Channel.write(chunk), waitFor)
        },
        // The request aborted by the watchdog fails with the client's own error: a stall it is.
        onFailure: (cause: Cause.Cause<E>): Channel.Channel<never, unknown, E | E2, unknown, never, unknown> =>
          stalled ? Channel.fail(options.stalled()) : Channel.failCause(cause),
        onDone: () => Channel.void
      })
    // Runs when the consumer asks for the next chunk.
    const waitFor = Channel.suspend(() => {
      waitingSince = clock.unsafeCurrentTimeMillis()
      return loop
    })
    return Stream.pipeThroughChannelOrFail(body, waitFor)
  }))

const basename = (path: string): string => {
  const parts = path.split(/[\\/]/)
  return parts[parts.length - 1] || "input.jsonl"
}

/** Builds the Files service over a client's transport; `BatchClient.layer` provides it. */
export const make: Effect.Effect<Service, never, Transport.Transport> = Effect.gen(function*() {
  const transport = yield* Transport.Transport
  const settings = transport.settings

  // Files this client got from an upload or claimed from the list: a lookup never claims one twice,
  // so two uploads of the same bytes whose answers were both lost are not taken for one.
  const claimed = new Set<string>()

  const list: Service["list"] = (params = {}, options = {}) =>
    Stream.paginateEffect(undefined as string | undefined, (after) =>
      transport.json(
        HttpClientRequest.get("/files").pipe(
          HttpClientRequest.setUrlParams({
            order: "desc",
            limit: String(params.limit ?? listPageSize),
            ...(params.purpose === undefined ? {} : { purpose: params.purpose }),
            ...(after === undefined ? {} : { after })
          })
        ),
        decodeFileList,
        { operation: "files.list", retry: options.retry, timeout: options.timeout }
      ).pipe(Effect.map((page) => {
        const last = page.data[page.data.length - 1]
        return [
          page.data,
          last !== undefined && page.has_more !== false ? Option.some(last.id) : Option.none()
        ] as const
      }))).pipe(Stream.mapConcat((files) => files))

  // The newest upload with this name and size created at or after `sinceSeconds`, not yet claimed:
  // the list is read newest first, and no further once its files are older than that.
  const findUploaded = (
    filename: string,
    size: number,
    sinceSeconds: number
  ): Effect.Effect<Option.Option<File.OpenAiFile>, CallError> =>
    list({ purpose: "batch" }).pipe(
      Stream.takeWhile((f) => f.created_at >= sinceSeconds),
      Stream.filter((f) => f.filename === filename && f.bytes === size && !claimed.has(f.id)),
      Stream.runHead,
      Effect.tap((found) =>
        Effect.sync(() => {
          if (Option.isSome(found)) claimed.add(found.value.id)
        })
      )
    )

  const send = (
    body: Stream.Stream<Uint8Array, unknown>,
    size: number,
    filename: string,
    options: UploadOptions
  ): Effect.Effect<File.OpenAiFile, CallError> => {
    const idle = options.idleTimeout === undefined ? settings.timeout : Duration.decode(options.idleTimeout)
    const overall = options.timeout === undefined ? Duration.infinity : Duration.decode(options.timeout)
    const findWithin = options.findWithin === undefined ? defaultFindWithin : Duration.decode(options.findWithin)
    const decode = transport.decodeJson(File.decodeOpenAiFile)
    const url = `${settings.baseUrl}/files`

    const attempt = (n: number) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        // The time of the last byte the client took from the body (a pull means the one before
        // was accepted); unset until the request goes out, so a governor's hold does not count.
        let lastPull: number | undefined = undefined
        const tracked = Stream.tap(body, () =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            lastPull = now
          }))
        const request = HttpClientRequest.post("/files").pipe(
          HttpClientRequest.setBody(InternalInput.multipart(tracked, size, filename, "batch"))
        )
        const idleMillis = Duration.toMillis(idle)
        const watchdog: Effect.Effect<never, TimeoutError> = Effect.gen(function*() {
          while (true) {
            yield* Effect.sleep(Duration.millis(Math.max(10, idleMillis / 4)))
            const now = yield* Clock.currentTimeMillis
            if (lastPull !== undefined && now - lastPull >= idleMillis) {
              return yield* new TimeoutError({ method: "POST", url, attempt: n, timeout: idle })
            }
          }
        })
        const sent = Effect.raceFirst(
          transport.attempt(request, decode, { operation: "files.upload", attempt: n, timeout: overall }),
          watchdog
        )
        // The answer was lost, not necessarily the upload: look for it before sending it again.
        const lookFor = (error: CallError): Effect.Effect<Either.Either<File.OpenAiFile, CallError>, CallError> =>
          findUploaded(filename, size, Math.floor(started / 1000)).pipe(
            Effect.flatMap(Option.match({
              onNone: () => Effect.fail(new NotYetListed()),
              onSome: (found) => Effect.succeed(found)
            })),
            Effect.retry({
              schedule: lookSchedule.pipe(Schedule.upTo(findWithin)),
              while: (e) => e instanceof NotYetListed
            }),
            Effect.tap((found) =>
              Effect.logDebug(`an upload whose answer was lost was found in the files list as ${found.id}`)
            ),
            Effect.map((found) => Either.right(found)),
            // Not listed in time: sent again (if the schedule allows). A lookup that failed for good
            // leaves the outcome unknown, so the upload ends with its error and is not repeated.
            Effect.catchAll((lookup) =>
              lookup instanceof NotYetListed ? Effect.fail(error) : Effect.succeed(Either.left(error))
            )
          )
        return yield* sent.pipe(
          Effect.map((file): Either.Either<File.OpenAiFile, CallError> => Either.right(file)),
          Effect.catchIf((error) => answerLost(error) && Duration.toMillis(findWithin) > 0, lookFor)
        )
      })
    return transport.retrying(attempt, { retry: options.retry }).pipe(
      Effect.flatMap(Either.match({
        onLeft: (error) => Effect.fail(error),
        onRight: (file) => Effect.succeed(file)
      })),
      Effect.tap((file) => Effect.sync(() => claimed.add(file.id)))
    )
  }

  const inputError = (collected: InternalInput.Collected, path?: string) =>
    new InputError({ problems: collected.problems, count: collected.problemCount, path })

  const upload: Service["upload"] = (lines, options) =>
    Effect.gen(function*() {
      const collected = yield* InternalInput.collect(
        toStream(lines),
        {
          endpoint: options.endpoint,
          maxLines: options.limits?.maxLines ?? RequestLine.maxLines,
          maxBytes: options.limits?.maxBytes ?? RequestLine.maxBytes,
          split: false,
          maxProblems: options.maxProblems ?? 100
        }
      )
      if (collected.problemCount > 0) return yield* inputError(collected)
      const part = collected.parts[0]!
      return yield* send(
        Stream.fromIterable(part.chunks),
        part.bytes,
        options.filename ?? "batchfx-input.jsonl",
        options
      )
    }).pipe(Effect.withSpan("batchfx.files.upload"))

  const uploadPath: Service["uploadPath"] = (path, options) =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const readError = (error: unknown) =>
        new InvalidParams({
          operation: "upload",
          description: `could not read ${path}: ${error instanceof Error ? error.message : String(error)}`
        })
      const check = RequestLine.makeInputCheck(options.endpoint, options.limits ?? {})
      const maxProblems = options.maxProblems ?? 100
      const problems: Array<RequestLine.LineProblem> = []
      let count = 0
      const report = (line: number, found: ReadonlyArray<RequestLine.LineProblem>) => {
        for (const p of found) {
          count++
          if (problems.length < maxProblems) problems.push(p.line === null ? p : { ...p, line })
        }
      }
      const splitter = Jsonl.makeLineSplitter()
      yield* fs.stream(path).pipe(
        Stream.mapError(readError),
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            for (const raw of splitter.push(chunk)) report(raw.line, check.pushText(raw.text))
          })
        )
      )
      for (const raw of splitter.flush()) report(raw.line, check.pushText(raw.text))
      report(0, check.finish())
      if (count > 0) return yield* new InputError({ problems, count, path })
      const size = yield* Effect.mapError(fs.stat(path), readError)
      return yield* send(fs.stream(path), Number(size.size), options.filename ?? basename(path), options)
    }).pipe(Effect.withSpan("batchfx.files.uploadPath"))

  const retrieve: Service["retrieve"] = (id, options = {}) =>
    Effect.flatMap(
      validateId(id, "retrieve file"),
      (valid) =>
        transport.json(HttpClientRequest.get(`/files/${encodeURIComponent(valid)}`), File.decodeOpenAiFile, {
          operation: "files.retrieve",
          retry: options.retry,
          timeout: options.timeout
        })
    )

  const deleteFile: Service["delete"] = (id, options = {}) =>
    Effect.flatMap(validateId(id, "delete file"), (valid) => {
      const request = HttpClientRequest.del(`/files/${encodeURIComponent(valid)}`)
      const decode = transport.decodeJson(File.decodeFileDeleted)
      // An attempt whose answer was lost may have deleted the file: a NotFound after that is the
      // deletion that was asked for, not an error.
      let maybeDeleted = false
      return transport.retrying((attempt) =>
        transport.attempt(request, decode, { operation: "files.delete", attempt, timeout: options.timeout }).pipe(
          Effect.tapError((error) =>
            Effect.sync(() => {
              if (isAmbiguous(error)) maybeDeleted = true
            })
          ),
          Effect.catchIf(
            (error) => error._tag === "NotFound" && maybeDeleted,
            () => Effect.succeed<File.FileDeleted>({ id: valid, object: "file", deleted: true })
          )
        ), { retry: options.retry })
    })

  const content: Service["content"] = (id, options = {}) =>
    Stream.unwrap(Effect.gen(function*() {
      const valid = yield* validateId(id, "file content")
      const url = `/files/${encodeURIComponent(valid)}/content`
      const fullUrl = settings.baseUrl + url
      const idle = options.idleTimeout === undefined ? settings.timeout : Duration.decode(options.idleTimeout)
      const minBytesPerSecond = Math.max(0, options.minBytesPerSecond ?? defaultMinBytesPerSecond)
      const requireNewline = options.requireNewline ?? true
      // per read of the stream: bytes emitted so far, the file's size as the server stated it
      // (a Content-Range total or a 416), the last byte emitted, attempts made
      let delivered = Math.max(0, Math.floor(options.offset ?? 0))
      let confirmedTotal: number | undefined = undefined
      let lastByte: number | undefined = undefined
      let attempts = 0
      let lines = Math.max(0, options.linesBefore ?? 0)
      let requestId: string | undefined = undefined
      // short reads the server confirmed (its end is known): reading again cannot help
      const final = new WeakSet<IncompleteDownload>()
      // per attempt: the bytes its body announced (Content-Length) and brought
      let announced: number | undefined = undefined
      let received = 0

      const incomplete = (reason: string, expected?: number) =>
        new IncompleteDownload({ fileId: valid, received: delivered, expected, attempts, reason, requestId })

      const attemptRead: Stream.Stream<Uint8Array, CallError> = Stream.unwrapScoped(Effect.gen(function*() {
        const from = delivered
        announced = undefined
        received = 0
        if (confirmedTotal !== undefined && from >= confirmedTotal) return Stream.empty
        const attempt = ++attempts
        let request = HttpClientRequest.get(url).pipe(HttpClientRequest.setHeader("accept", "application/binary"))
        if (from > 0) request = HttpClientRequest.setHeader(request, "range", `bytes=${from}-`)
        // Closed with the read, or by the stall watchdog to abort the request mid-body.
        const abortScope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
        const response = yield* transport.attempt(
          request,
          (r) => Effect.succeed<HttpClientResponse.HttpClientResponse | undefined>(r),
          { operation: "files.content", attempt, timeout: options.timeout, abortScope }
        ).pipe(
          // Range not satisfiable: the server's word that nothing follows byte `from`.
          Effect.catchIf(
            (e): e is ServerError => e._tag === "ServerError" && e.status === 416 && from > 0,
            (e) =>
              Effect.sync(() => {
                confirmedTotal = from
                requestId = e.requestId
                return undefined
              })
          )
        )
        if (response === undefined) return Stream.empty
        requestId = response.headers["x-request-id"]
        const exchange = { method: "GET", url: fullUrl, attempt }
        let skip = from
        if (response.status === 206) {
          const range = parseContentRange(response.headers["content-range"])
          if (range === undefined || range.start > from) {
            return yield* new ResponseDecodeError({
              method: "GET",
              url: exchange.url,
              status: 206,
              attempt,
              requestId: response.headers["x-request-id"],
              reason: "UnexpectedShape",
              description: `asked for bytes from ${from}, got Content-Range ${
                response.headers["content-range"] ?? "(none)"
              }`,
              bodyPreview: ""
            })
          }
          skip = from - range.start
          if (range.total !== undefined) confirmedTotal = range.total
        }
        // A Content-Length is this body's promise only: a proxy that gives up may send a short one.
        const length = InternalHeaders.parseNumber(response.headers["content-length"])
        if (Option.isSome(length) && Number.isInteger(length.value)) announced = length.value
        if (from > 0) {
          yield* Effect.logDebug(`resuming ${url} at byte ${from} (HTTP ${response.status})`)
        }
        const stalled = () => new TimeoutError({ method: "GET", url: exchange.url, attempt, timeout: idle })
        return response.stream.pipe(
          Stream.mapError((error) => InternalErrors.fromHttpClientError(exchange, error, transport.scrub)),
          (body) => watchBody(body, { idle, minBytesPerSecond, stalled, abortScope }),
          Stream.mapChunks((chunk) => {
            let out = chunk
            for (const part of chunk) received += part.length
            if (skip > 0) {
              out = Chunk.filterMap(chunk, (part) => {
                if (skip >= part.length) {
                  skip -= part.length
                  return Option.none()
                }
                const kept = skip > 0 ? part.subarray(skip) : part
                skip = 0
                return Option.some(kept)
              })
            }
            for (const part of out) {
              if (part.length > 0) {
                delivered += part.length
                lastByte = part[part.length - 1]
                if (options.expectedLines !== undefined) {
                  for (let at = part.indexOf(10); at !== -1; at = part.indexOf(10, at + 1)) lines++
                }
              }
            }
            return out
          })
        )
      }))

      // A body that ended cleanly is checked before the read counts as whole; a short one is an
      // `IncompleteDownload`, which the loop below resumes like a broken body.
      const checkEnd = Effect.suspend((): Effect.Effect<void, IncompleteDownload> => {
        if (announced !== undefined && received < announced) {
          return Effect.fail(incomplete(
            `the body ended after ${received} of the ${announced} bytes its Content-Length announced`,
            announced
          ))
        }
        if (confirmedTotal !== undefined && delivered < confirmedTotal) {
          return Effect.fail(incomplete(`the body ended at byte ${delivered} of ${confirmedTotal}`, confirmedTotal))
        }
        if (requireNewline && lastByte !== undefined && lastByte !== 10 && confirmedTotal !== delivered) {
          return Effect.fail(incomplete(
            "the body ended without the newline that ends a JSONL file, and the server did not confirm that nothing follows"
          ))
        }
        const expectedLines = options.expectedLines
        const counted = lines + (lastByte !== undefined && lastByte !== 10 ? 1 : 0)
        if (expectedLines !== undefined && counted < expectedLines) {
          const error = new IncompleteDownload({
            fileId: valid,
            received: delivered,
            expected: confirmedTotal,
            lines: counted,
            expectedLines,
            attempts,
            reason: `the file has ${counted} line${counted === 1 ? "" : "s"} where ${expectedLines} were expected${
              confirmedTotal === delivered ? "" : ", and the server did not confirm that nothing follows"
            }`,
            requestId
          })
          if (confirmedTotal === delivered) final.add(error)
          return Effect.fail(error)
        }
        return Effect.void
      })
      const read: Stream.Stream<Uint8Array, CallError | IncompleteDownload> = Stream.concat(
        attemptRead,
        Stream.execute(checkEnd)
      )

      const policy = { serverWaitCap: settings.serverWaitCap }
      const schedule = Retry.withServerWait(transport.schedule(options.retry)).pipe(
        Schedule.whileInput((error: CallError | IncompleteDownload) =>
          error._tag === "IncompleteDownload" ? !final.has(error) : Retry.isRetryable(error, policy)
        )
      )
      // A stall that brought less than one window at the slowest rate is no progress: a trickle
      // must run out of retries, not renew them with every byte.
      const stallProgress = Math.ceil(minBytesPerSecond * Duration.toSeconds(idle))
      // Not `Stream.retry`: it starts the schedule over on any output, even a chunk emptied by
      // skipping bytes already delivered, so a server that ignores Range and breaks at the same
      // place would be retried forever. Only bytes past the furthest point delivered are progress.
      const resumed = Stream.unwrap(Effect.map(Schedule.driver(schedule), (driver) => {
        let mark = delivered
        const readWithRetries: Stream.Stream<Uint8Array, CallError | IncompleteDownload> = Stream.catchAll(
          read,
          (error) =>
            Stream.unwrap(Effect.gen(function*() {
              const progress = delivered - mark
              if (progress > 0 && (error._tag !== "TimeoutError" || progress >= stallProgress)) {
                mark = delivered
                yield* driver.reset
              }
              return yield* driver.next(error).pipe(
                Effect.as(readWithRetries),
                Effect.catchAll(() => Effect.fail(error))
              )
            }))
        )
        return readWithRetries
      }))
      if (options.deadline === undefined) return resumed
      const deadline = Duration.decode(options.deadline)
      return Stream.interruptWhen(
        resumed,
        Effect.zipRight(
          Effect.sleep(deadline),
          Effect.suspend(() =>
            Effect.fail(new TimeoutError({ method: "GET", url: fullUrl, attempt: attempts, timeout: deadline }))
          )
        )
      )
    }))

  return { upload, uploadPath, content, retrieve, delete: deleteFile, list }
})
