/**
 * What `batchfx jobs …` does once parsed (loaded when such a command runs, so that no other
 * command loads the jobs library, libSQL or the workflow engine; the options are in
 * `commands/Jobs.ts`). The store comes from `--store`, else `BATCHFX_STORE`, else the default
 * file; the client, for the commands that reach the API, from the global options and the
 * environment as for every other command.
 */
import * as ClientConfig from "@batchfx/client/ClientConfig"
import { Jobs, JobsError, JobStore, Postgres } from "@batchfx/jobs"
import * as NodeStream from "@effect/platform-node/NodeStream"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { CommandFailed, InvalidApiKey, MissingApiKey, UsageError } from "../../CliError.js"
import type {
  CancelConfig,
  ListConfig,
  ResultsConfig,
  RunConfig,
  StatusConfig,
  SubmitConfig
} from "../../commands/Jobs.js"
import { layerHttp } from "../apiLive.js"
import { writeAtomically } from "../atomic.js"
import type { Globals } from "../options.js"
import * as Output from "../output.js"
import * as Render from "../render.js"
import { globalsOf } from "../root.js"

/**
 * `--store`, else `BATCHFX_STORE`, else `file:.batchfx/jobs.db`; a URL that names no kind of store
 * is a usage error (the library's rule, checked before anything is opened).
 */
const storeUrl = (store: Option.Option<string>) =>
  Effect.flatMap(
    Option.match(store, {
      onSome: (url) => Effect.succeed({ url, from: "--store" }),
      onNone: () =>
        Jobs.storeConfig.pipe(
          Effect.orElseSucceed(() => Jobs.defaultStore),
          Effect.map((url) => ({ url, from: "BATCHFX_STORE" }))
        )
    }),
    ({ from, url }) => {
      const problem = Jobs.storeUrlProblem(url)
      return problem === undefined
        ? Effect.succeed(url)
        : Effect.fail(new UsageError({ description: `${from} ${problem}`, command: "jobs" }))
    }
  )

const layerStore = (store: Option.Option<string>) => Layer.unwrapEffect(Effect.map(storeUrl(store), Jobs.layerStore))

/** A store failure as one sentence (the library's, which never shows a URL's credentials or token). */
const sayStoreFailure = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(
    effect,
    (error) => error instanceof JobsError.StoreError ? new CommandFailed({ description: error.message }) : error
  )

const optionalEnv = (name: string) =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((s) => s.trim() !== "")),
    Effect.orElseSucceed(() => Option.none<string>())
  )

/**
 * The client's options from the global options and the environment, checked as `apiLive` checks
 * them for the other commands (the jobs library builds its own client from options).
 */
const clientOptions = (config: Globals) =>
  Effect.gen(function*() {
    const globals = yield* globalsOf(config)
    const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY")).pipe(
      Effect.orElseSucceed(() => Option.none<Redacted.Redacted>()),
      Effect.map(Option.map(ClientConfig.normalizeApiKey)),
      Effect.map(Option.filter((key) => Redacted.value(key).trim() !== ""))
    )
    if (Option.isNone(apiKey)) return yield* new MissingApiKey()
    const problem = ClientConfig.apiKeyProblem(Redacted.value(apiKey.value))
    if (problem !== undefined) return yield* new InvalidApiKey({ problem })
    const baseUrl = Option.isSome(globals.baseUrl) ? globals.baseUrl : yield* optionalEnv("OPENAI_BASE_URL")
    if (Option.isSome(baseUrl)) {
      const from = Option.isSome(globals.baseUrl) ? "--base-url" : "OPENAI_BASE_URL"
      const parsed = URL.canParse(baseUrl.value) ? new URL(baseUrl.value) : undefined
      if (parsed === undefined || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
        return yield* new UsageError({ description: `${from} must be an http or https URL` })
      }
      if (parsed.username !== "" || parsed.password !== "") {
        return yield* new UsageError({
          description: `${from} must not carry a user name or password: the API key is the credential`
        })
      }
    }
    const organization = Option.isSome(globals.organization)
      ? globals.organization
      : yield* optionalEnv("OPENAI_ORG_ID")
    const project = Option.isSome(globals.project) ? globals.project : yield* optionalEnv("OPENAI_PROJECT_ID")
    const options: ClientConfig.Options = {
      apiKey: apiKey.value,
      baseUrl: Option.getOrUndefined(baseUrl),
      organization: Option.getOrUndefined(organization),
      project: Option.getOrUndefined(project),
      maxRetries: Option.getOrUndefined(globals.maxRetries),
      timeout: Option.getOrUndefined(globals.timeout),
      governor: {
        ...(Option.isSome(globals.concurrency) ? { maxInFlight: globals.concurrency.value } : {}),
        ...(Option.isSome(globals.rpm) ? { requestsPerMinute: globals.rpm.value } : {})
      }
    }
    return options
  })

/**
 * The enqueued-token limits of a worker: `BATCHFX_TOKEN_LIMITS`, with each `--token-limit MODEL=N`
 * over it; a bad value is a usage error that names where it came from.
 */
const tokenLimits = (flags: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const fromEnv = yield* optionalEnv("BATCHFX_TOKEN_LIMITS")
    const limits: Record<string, number> = {}
    const add = (from: string, text: string) => {
      const parsed = Jobs.parseTokenLimits(text)
      if ("problem" in parsed) {
        return Effect.fail(new UsageError({ description: `${from} ${parsed.problem}`, command: "jobs" }))
      }
      Object.assign(limits, parsed.limits)
      return Effect.void
    }
    if (Option.isSome(fromEnv)) yield* add("BATCHFX_TOKEN_LIMITS", fromEnv.value)
    for (const flag of flags) {
      if (!flag.includes("=")) {
        return yield* new UsageError({ description: `--token-limit needs MODEL=N, got '${flag}'`, command: "jobs" })
      }
      yield* add("--token-limit", flag)
    }
    return limits
  })

/** A runner address from its flag, else from the environment, with where it came from. */
const runnerAddressOf = (flag: string, value: Option.Option<string>, env: string) =>
  Effect.map(
    optionalEnv(env),
    (fromEnv) =>
      Option.isSome(value)
        ? { from: flag, text: value.value }
        : Option.map(fromEnv, (text) => ({ from: env, text })).pipe(Option.getOrUndefined)
  )

/** The worker's runner addresses; a bad one, or a pair that cannot serve, is a usage error naming its source. */
const runnerAddresses = (config: RunConfig) =>
  Effect.gen(function*() {
    const advertised = yield* runnerAddressOf("--runner-address", config.runnerAddress, "BATCHFX_RUNNER_ADDRESS")
    const listen = yield* runnerAddressOf("--listen", config.listen, "BATCHFX_RUNNER_LISTEN")
    const wrong = Jobs.runnerAddressesProblem({ runnerAddress: advertised?.text, listenAddress: listen?.text })
    if (wrong !== undefined) {
      const source = wrong.option === "listenAddress" || advertised === undefined ? listen : advertised
      return yield* new UsageError({ description: `${source?.from}: ${wrong.problem}`, command: "jobs" })
    }
    return { runnerAddress: advertised?.text, listenAddress: listen?.text }
  })

/** The store and the client, for the commands that reach the API. */
const layerStoreAndClient = (config: Globals & { readonly store: Option.Option<string> }) =>
  Layer.unwrapEffect(
    Effect.map(clientOptions(config), (options) =>
      Layer.merge(layerStore(config.store), Layer.provide(Jobs.layerClient(options), layerHttp)))
  )

// ---- rendering -----------------------------------------------------------------------------------

const iso = (millis: number | undefined) => millis === undefined ? null : new Date(Number(millis)).toISOString()

const jobJson = (job: JobStore.Job) => ({
  id: job.id,
  name: job.name ?? null,
  endpoint: job.endpoint,
  status: job.status,
  created_at: iso(job.createdAt),
  finished_at: iso(job.finishedAt),
  lines: Number(job.lines),
  bytes: Number(job.bytes),
  shards: Number(job.shards),
  cancel_requested: job.cancelRequested,
  error: job.error ?? null,
  retry_of: job.retryOf ?? null
})

const shardJson = (s: JobStore.Shard) => ({
  shard: Number(s.shard),
  first_line: Number(s.firstLine),
  lines: Number(s.lines),
  bytes: Number(s.bytes),
  file_id: s.fileId ?? null,
  batch_id: s.batchId ?? null,
  batch_status: s.batchStatus ?? null,
  total: Number(s.total),
  completed: Number(s.completed),
  failed: Number(s.failed),
  output_file_id: s.outputFileId ?? null,
  error_file_id: s.errorFileId ?? null,
  downloaded: s.downloaded,
  model: s.model ?? null,
  input_tokens: s.inputTokens ?? null,
  refused_batches: s.refusedBatches
})

const usageJson = (u: Jobs.JobReport["tokens"][number]) => ({
  model: u.model,
  tokens: u.tokens,
  limit: u.limit ?? null,
  configured: u.configured ?? null,
  learned: u.learned ?? null
})

const reportJson = (report: Jobs.JobReport) => ({
  ...jobJson(report.job),
  worker: report.worker ?? null,
  tokens: report.tokens.map(usageJson),
  shards: report.shards.map(shardJson),
  total: Number(report.total),
  completed: Number(report.completed),
  failed: Number(report.failed),
  results: Number(report.results)
})

const cell = (text: string, width: number) => Output.escapeControl(text).padEnd(width)

const listHeader = `${cell("ID", 30)}  ${cell("STATUS", 10)}  ${cell("ENDPOINT", 22)}  ${cell("CREATED", 16)}  ${
  cell("LINES", 8)
}  ${cell("SHARDS", 6)}  NAME`

const listRow = (job: JobStore.Job) =>
  `${cell(job.id, 30)}  ${cell(job.status, 10)}  ${cell(job.endpoint, 22)}  ${
    cell(iso(job.createdAt)!.slice(0, 16).replace("T", " "), 16)
  }  ${cell(String(job.lines), 8)}  ${cell(String(job.shards), 6)}  ${Output.escapeControl(job.name ?? "")}`.trimEnd()

const statusText = (report: Jobs.JobReport): string => {
  const job = report.job
  const lines = [
    `${Output.bold(job.id)}${job.name === undefined ? "" : ` (${job.name})`}: ${job.status}`,
    `  endpoint ${job.endpoint}, ${job.lines} lines in ${job.shards} shard(s)`,
    `  requests ${report.completed}/${report.total} done, ${report.failed} failed; ${report.results} result lines stored`
  ]
  if (job.error !== undefined) lines.push(`  error: ${job.error}`)
  lines.push(`  worker ${report.worker ?? "(none yet)"}`)
  for (const u of report.tokens) {
    const limit = u.limit === undefined
      ? "no limit known"
      : `limit ${thousands(u.limit)}${u.learned === u.limit ? " (learned)" : ""}`
    lines.push(`  tokens queued for ${u.model}: ${thousands(u.tokens)}, ${limit}`)
  }
  for (const s of report.shards) {
    const tokens = s.inputTokens === undefined ? "" : `, ${thousands(s.inputTokens)} tokens`
    const refused = s.refusedBatches.length === 0
      ? ""
      : ` (refused over the token limit: ${s.refusedBatches.join(", ")})`
    lines.push(
      `  shard ${s.shard}: ${s.lines} lines${tokens}, file ${s.fileId ?? "-"}, batch ${s.batchId ?? "-"} ${
        s.batchStatus ?? "not created"
      } ${s.completed}/${s.total}${s.failed > 0 ? ` (${s.failed} failed)` : ""}${
        s.downloaded ? ", downloaded" : ""
      }${refused}`
    )
  }
  return lines.map(Output.escapeControl).join("\n")
}

const thousands = (n: number) => n.toLocaleString("en-US")

/** Fails with one sentence unless the job completed. */
const endedWell = (job: JobStore.Job) =>
  job.status === "completed"
    ? Effect.void
    : Effect.fail(
      new CommandFailed({
        description: `job ${job.id} ended ${job.status}${job.error === undefined ? "" : `: ${job.error}`}`
      })
    )

// ---- handlers ------------------------------------------------------------------------------------

/** `jobs submit`: stores the job, prints its id, and with `--wait` runs the worker until it ends. */
export const submit = (config: SubmitConfig) =>
  Effect.gen(function*() {
    const options = { endpoint: config.endpoint, name: Option.getOrUndefined(config.name) }
    if (!config.wait && config.tokenLimit.length > 0) {
      return yield* new UsageError({
        description: "--token-limit is for the worker: add --wait, or give it to 'batchfx jobs run'",
        command: "jobs"
      })
    }
    const limits = yield* tokenLimits(config.tokenLimit)
    const submitted = config.file === "-"
      ? Jobs.submitJsonl(NodeStream.stdin, { ...options, path: "standard input" })
      : Jobs.submitPath(config.file, options)
    if (!config.wait) {
      const id = yield* Effect.provide(submitted, layerStore(config.store)).pipe(sayStoreFailure)
      return yield* Output.outLine(id)
    }
    return yield* Effect.gen(function*() {
      const id = yield* submitted
      yield* Output.outLine(id)
      yield* Output.errLine(
        `batchfx: running job ${id} here until it ends (Ctrl-C stops; 'batchfx jobs run' resumes it)`
      )
      const job = yield* Jobs.runUntilDone(id, { tokenLimits: limits })
      yield* Output.errLine(`batchfx: job ${id} ${job.status}`)
      yield* endedWell(job)
    }).pipe(Effect.provide(layerStoreAndClient(config)), sayStoreFailure)
  })

/** What `jobs run` says when it is stopped (Ctrl-C): where its jobs go on. */
const stoppedSentence = (url: string) =>
  `batchfx: worker ${Jobs.workerId()} stopped; its jobs go on ${
    Postgres.isPostgresUrl(url)
      ? "at the other workers of the store, or at the next 'batchfx jobs run'"
      : "at the next 'batchfx jobs run'"
  }, from the step they had reached`

/** `jobs run`: a worker on every unfinished job of the store until interrupted. */
export const run = (config: RunConfig) =>
  Effect.gen(function*() {
    // every flag is checked before the store is opened
    const url = yield* storeUrl(config.store)
    const limits = yield* tokenLimits(config.tokenLimit)
    const { listenAddress, runnerAddress } = yield* runnerAddresses(config)
    if (!Postgres.isPostgresUrl(url) && (Option.isSome(config.runnerAddress) || Option.isSome(config.listen))) {
      return yield* new UsageError({
        description:
          "--runner-address and --listen are for a Postgres store (postgres://…): a SQLite store has one worker",
        command: "jobs"
      })
    }
    // announced once the worker has started, so that a worker that cannot start never says it works
    const announce = Output.errLine(
      `batchfx: working on the jobs of ${
        Jobs.redactStoreUrl(url)
      } as worker ${Jobs.workerId()} (Ctrl-C stops; jobs resume on the next run)`
    )
    return yield* Jobs.layerWorker({ tokenLimits: limits, runnerAddress, listenAddress }).pipe(
      Layer.tap(() => announce),
      Layer.launch,
      // Ctrl-C (or SIGTERM): say what becomes of the jobs, rather than end without a word
      Effect.onInterrupt(() => Output.errLine(stoppedSentence(url)).pipe(Effect.ignore)),
      Effect.provide(layerStoreAndClient(config)),
      sayStoreFailure
    )
  })

/** `jobs list`: every job of the store, newest first. */
export const list = (config: ListConfig) =>
  Effect.gen(function*() {
    const jobs = yield* Jobs.list
    const format = yield* Render.resolveFormat(config.format)
    switch (format) {
      case "json":
        return yield* Output.outLine(JSON.stringify(jobs.map(jobJson), null, 2))
      case "jsonl":
        return yield* Effect.forEach(jobs, (job) => Output.outLine(JSON.stringify(jobJson(job))), { discard: true })
      case "table":
        if (jobs.length === 0) return yield* Output.errLine("No job in the store.")
        yield* Output.outLine(Output.bold(listHeader))
        return yield* Effect.forEach(jobs, (job) => Output.outLine(listRow(job)), { discard: true })
    }
  }).pipe(Effect.provide(layerStore(config.store)), sayStoreFailure)

/** `jobs status JOB`: the job, its shards and batches, counts and progress. */
export const status = (config: StatusConfig) =>
  Effect.gen(function*() {
    const report = yield* Jobs.status(config.jobId)
    const format = yield* Render.resolveFormat(config.format)
    switch (format) {
      case "json":
        return yield* Output.outLine(JSON.stringify(reportJson(report), null, 2))
      case "jsonl":
        return yield* Output.outLine(JSON.stringify(reportJson(report)))
      case "table":
        return yield* Output.outLine(statusText(report))
    }
  }).pipe(Effect.provide(layerStore(config.store)), sayStoreFailure)

const linesOf = <E, R>(lines: Stream.Stream<string, E, R>) => {
  let count = 0
  const encoder = new TextEncoder()
  return {
    bytes: Stream.map(lines, (line) => {
      count++
      return encoder.encode(line + "\n")
    }),
    count: () => count
  }
}

/**
 * `jobs results JOB --output FILE|- [--errors FILE|-]`: the stored result lines, as the API wrote
 * them; a count of each on stderr.
 */
export const results = (config: ResultsConfig) =>
  Effect.gen(function*() {
    const report = yield* Jobs.status(config.jobId)
    if (!JobStore.isFinished(report.job.status)) {
      yield* Output.errLine(
        `batchfx: warning: job ${config.jobId} is ${report.job.status}: only the results stored so far are written`
      )
    }
    // `-` is stdout: the lines are its data, and the sentence on stderr says stdout, not a file `-`.
    const output = linesOf(Jobs.resultLines(config.jobId, "output"))
    const outputWhere = yield* writeAtomically(config.output, output.bytes)
    yield* Output.errLine(`batchfx: ${output.count()} output lines written to ${outputWhere}`)
    if (Option.isSome(config.errors)) {
      const errors = linesOf(Jobs.resultLines(config.jobId, "error"))
      const errorsWhere = yield* writeAtomically(config.errors.value, errors.bytes)
      yield* Output.errLine(`batchfx: ${errors.count()} error lines written to ${errorsWhere}`)
    }
  }).pipe(Effect.provide(layerStore(config.store)), sayStoreFailure)

/** `jobs cancel JOB`: no more batches for it, its running batches cancelled. */
export const cancel = (config: CancelConfig) =>
  Effect.gen(function*() {
    const report = yield* Jobs.cancel(config.jobId)
    yield* Output.errLine(
      `batchfx: job ${config.jobId} ${
        report.job.status === "cancelled" ? "cancelled" : `is ${report.job.status} (cancel requested)`
      }`
    )
  }).pipe(Effect.provide(layerStoreAndClient(config)), sayStoreFailure)
