/**
 * `batchfx jobs submit|run|list|status|results|cancel`: durable batch jobs kept in a store
 * (`--store URL`, default `$BATCHFX_STORE`, else `file:.batchfx/jobs.db`) and run by a worker
 * that survives restarts. The jobs library is loaded only when one of these commands runs.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Effect from "effect/Effect"
import * as Opts from "../internal/options.js"
import { lazy, withSetup } from "../internal/root.js"
import * as Spec from "../internal/spec.js"
import { endpoint } from "./Create.js"

const store = Options.text("store").pipe(
  Options.withPseudoName("URL"),
  Options.withDescription(
    "The job store: a SQLite file (file:PATH), a libSQL server URL, or a Postgres database (postgres://…) that several workers share (default $BATCHFX_STORE, else file:.batchfx/jobs.db)."
  ),
  Options.optional
)

const tokenLimit = Options.text("token-limit").pipe(
  Options.withPseudoName("MODEL=N"),
  Options.withDescription(
    "The enqueued-token limit of a model's batches in flight (repeatable; default $BATCHFX_TOKEN_LIMITS, MODEL=N,…): shards wait for room instead of failing. Without one, the limit is learned from the first token_limit_exceeded."
  ),
  Options.repeated
)

const jobId = Args.text({ name: "JOB" }).pipe(Args.withDescription("The job id (job_…), as submit printed it."))

const submitOptions = {
  ...Opts.globalOptions,
  store,
  endpoint,
  name: Options.text("name").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("A name to recognise the job by in lists."),
    Options.optional
  ),
  wait: Options.boolean("wait").pipe(
    Options.withAlias("w"),
    Options.withDescription("Run the worker in this process until the job ends (exit code 0 only if it completed).")
  ),
  tokenLimit,
  file: Args.text({ name: "FILE.jsonl" }).pipe(
    Args.withDescription("The requests, one JSON object per line; - (after the options) reads standard input.")
  )
}

const storeOnly = { ...Opts.globalOptions, store }

const runOptions = {
  ...storeOnly,
  tokenLimit,
  runnerAddress: Options.text("runner-address").pipe(
    Options.withPseudoName("HOST:PORT"),
    Options.withDescription(
      "On a Postgres store, where the other workers reach this one (default $BATCHFX_RUNNER_ADDRESS, else 127.0.0.1 and a free port: workers on one machine)."
    ),
    Options.optional
  ),
  listen: Options.text("listen").pipe(
    Options.withPseudoName("HOST:PORT"),
    Options.withDescription(
      "On a Postgres store, the address to listen on for the other workers, e.g. 0.0.0.0:34431 with --runner-address (default $BATCHFX_RUNNER_LISTEN, else the runner address)."
    ),
    Options.optional
  )
}

const resultsOptions = {
  ...Opts.globalOptions,
  store,
  output: Options.file("output").pipe(
    Options.withAlias("o"),
    Options.withDescription(
      "Where the output lines go (the lines as the API wrote them, across every shard); - is stdout."
    )
  ),
  errors: Options.file("errors").pipe(
    Options.withDescription("Where the error lines go; - is stdout."),
    Options.optional
  ),
  jobId
}

/**
 * The parsed options of each `jobs` command.
 *
 * @since 0.1.0
 * @category models
 */
export type SubmitConfig = Command.Command.ParseConfig<typeof submitOptions>
/** @since 0.1.0 @category models */
export type RunConfig = Command.Command.ParseConfig<typeof runOptions>
/** @since 0.1.0 @category models */
export type ListConfig = Command.Command.ParseConfig<typeof storeOnly & { format: typeof Opts.format }>
/** @since 0.1.0 @category models */
export type StatusConfig = Command.Command.ParseConfig<
  typeof storeOnly & { format: typeof Opts.format; jobId: typeof jobId }
>
/** @since 0.1.0 @category models */
export type ResultsConfig = Command.Command.ParseConfig<typeof resultsOptions>
/** @since 0.1.0 @category models */
export type CancelConfig = Command.Command.ParseConfig<typeof storeOnly & { jobId: typeof jobId }>

const handlers = () => import("../internal/handlers/Jobs.js")

const submit = Command.make(
  "submit",
  submitOptions,
  lazy(() => handlers().then((m) => ({ handler: m.submit })))
).pipe(
  Command.withDescription(
    "Check a JSONL file line by line and store it as a job (nothing is stored if a line is bad); prints the job id. " +
      "With --wait, run the worker here until the job ends."
  ),
  withSetup
)

const run = Command.make("run", runOptions, lazy(() => handlers().then((m) => ({ handler: m.run })))).pipe(
  Command.withDescription(
    "Work on every unfinished job of the store until interrupted (Ctrl-C); a restart resumes them."
  ),
  withSetup
)

const list = Command.make(
  "list",
  { ...storeOnly, format: Opts.format },
  lazy(() => handlers().then((m) => ({ handler: m.list })))
).pipe(Command.withDescription("List the jobs of the store, newest first."), withSetup)

const status = Command.make(
  "status",
  { ...storeOnly, format: Opts.format, jobId },
  lazy(() => handlers().then((m) => ({ handler: m.status })))
).pipe(
  Command.withDescription(
    "A job's status (pending, running, completed, failed, cancelled), its shards, batches, counts and progress, the worker that holds it and the tokens queued per model."
  ),
  withSetup
)

const results = Command.make(
  "results",
  resultsOptions,
  lazy(() => handlers().then((m) => ({ handler: m.results })))
).pipe(
  Command.withDescription(
    "Write a job's result lines, custom_id intact, across every shard (--errors: its error lines)."
  ),
  withSetup
)

const cancel = Command.make(
  "cancel",
  { ...storeOnly, jobId },
  lazy(() => handlers().then((m) => ({ handler: m.cancel })))
).pipe(
  Command.withDescription("Cancel a job: no more batches are created and its running batches are cancelled."),
  withSetup
)

/**
 * The `jobs` command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make(
  "jobs",
  {},
  () =>
    Effect.flatMap(
      Effect.promise(() => import("../CliError.js")),
      ({ UsageError }) =>
        new UsageError({
          description: "a jobs command is required: submit, run, list, status, results or cancel",
          command: "jobs"
        })
    )
).pipe(
  Command.withDescription(
    "Durable batch jobs: submitted to a store, run by a worker that survives restarts, results joined across shards."
  ),
  Command.withSubcommands([submit, run, list, status, results, cancel])
)

// What `batchfx jobs ... --help` says besides the options.
Spec.aboutAll(command, {
  "": {
    summary: "Durable jobs: batches run by a worker that survives restarts.",
    details: ["A job is split into batches (shards) as the API's limits need; its results are joined across them."],
    examples: [
      ["batchfx jobs submit requests.jsonl -e /v1/chat/completions --wait", "Run a job to its end here"],
      ["batchfx jobs status job_abc123", "How far a job is"]
    ]
  },
  submit: {
    summary: "Check a JSONL file and store it as a job; prints the job id.",
    details: ["Nothing is stored if a line is bad. With --wait, run the worker here until the job ends."],
    examples: [
      ["batchfx jobs submit requests.jsonl -e /v1/chat/completions", "Store a job for a worker to run"],
      ["generate.sh | batchfx jobs submit -e /v1/embeddings --name nightly -", "A job from standard input"]
    ]
  },
  run: {
    summary: "Work on every unfinished job of the store until interrupted.",
    details: [
      "Ctrl-C stops it; a restart resumes the jobs where they were. On a Postgres store several workers share the jobs; a worker that stops answering hands its jobs to the others within about 20 s."
    ],
    examples: [
      ["batchfx jobs run --store file:jobs.db", "Run the jobs of a store"],
      [
        "batchfx jobs run --store postgres://batchfx@db/jobs --token-limit gpt-4o-mini=2000000",
        "One of several workers on this machine sharing a queue, under a token limit"
      ],
      [
        "batchfx jobs run --store postgres://batchfx@db/jobs --runner-address 10.0.0.5:34431",
        "A worker on another machine, reached by the others at 10.0.0.5"
      ]
    ]
  },
  list: {
    summary: "List the jobs of the store, newest first.",
    examples: [["batchfx jobs list -f json", "Every job as one JSON document"]]
  },
  status: {
    summary: "A job's status, shards, batches, counts and progress; its worker and the tokens queued.",
    examples: [["batchfx jobs status job_abc123", "How far a job is"]]
  },
  results: {
    summary: "Write a job's result lines across every shard.",
    details: ["The lines keep their custom_id; --errors writes the error lines."],
    examples: [["batchfx jobs results job_abc123 -o out.jsonl --errors errors.jsonl", "Both files of a job"]]
  },
  cancel: {
    summary: "Cancel a job: no more batches, its running ones cancelled.",
    examples: [["batchfx jobs cancel job_abc123", "Cancel a job"]]
  }
})
