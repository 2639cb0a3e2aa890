/**
 * A job as a durable workflow: split → per shard count its tokens, reserve them in the
 * enqueued-token budget, upload, create, await (a batch refused with `token_limit_exceeded` is
 * followed by a new one), download → finish. Each
 * step is an activity whose result the engine keeps, so a restarted worker replays finished steps
 * from the store and runs only the one a crash cut short, which looks for its own earlier work
 * before doing it again.
 *
 * @since 0.1.0
 */
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Steps from "./internal/steps.js"
import { workerId } from "./internal/workerId.js"
import { StepFailed } from "./JobsError.js"
import * as JobStore from "./JobStore.js"

/**
 * The workflow of one job; its execution is keyed by the job id, so starting it twice runs it once.
 *
 * @since 0.1.0
 * @category workflows
 */
export const JobWorkflow = Workflow.make({
  name: "batchfx/Job",
  payload: { jobId: Schema.String },
  success: JobStore.JobStatus,
  idempotencyKey: ({ jobId }) => jobId
})

const PlannedShard = Schema.Struct({
  shard: Schema.Number,
  firstLine: Schema.Number,
  lines: Schema.Number,
  bytes: Schema.Number
})

const OptionalId = Schema.OptionFromNullOr(Schema.String)

/** A defect's own sentence. */
const describe = (defect: unknown): string => {
  if (defect instanceof Error) return defect.message
  if (typeof defect === "string") return defect
  try {
    return JSON.stringify(defect) ?? String(defect)
  } catch {
    return String(defect)
  }
}

/**
 * A step as an activity, named `<step>/<shard>[/<round>]`: after an outage it pauses and fails,
 * and is run again as a new attempt (each attempt is recorded, so a restart continues the count).
 * A defect (a bug, a file that is not what the API promised) fails the step like a refusal: its
 * shard ends failed with the sentence, where the engine would otherwise record the workflow as
 * dead and leave the job `running` for ever.
 */
const step = <A, I>(
  jobId: string,
  name: string,
  shard: number,
  success: Schema.Schema<A, I>,
  execute: Effect.Effect<A, StepFailed, Steps.Requirements>
) =>
  Activity.make({
    name,
    success,
    error: StepFailed,
    execute: recordWorker(jobId).pipe(
      Effect.zipRight(execute),
      Effect.catchAllDefect((defect) =>
        Effect.fail(
          new StepFailed({ step: name.split("/")[0]!, shard, reason: `unexpected error: ${describe(defect)}` })
        )
      ),
      Effect.tapError(Steps.pauseAfterOutage)
    )
  }).pipe(Activity.retry({ times: Steps.stepAttempts - 1, while: (e: StepFailed) => e.transient }))

/** The jobs whose worker this process has recorded: once per job, not once per step. */
const recorded = new Set<string>()

/** Records this process as the job's worker, the first time it runs a step of the job. */
const recordWorker = (jobId: string) =>
  Effect.suspend(() =>
    recorded.has(jobId) ?
      Effect.void :
      Effect.flatMap(JobStore.JobStore, (store) =>
        store.setWorker(jobId, workerId()).pipe(
          Effect.tap(() => Effect.sync(() => recorded.add(jobId))),
          // who holds a job is for `status` to show: a failed write of it never stops the step
          Effect.catchAll((e) => Effect.logDebug(`could not record the worker of ${jobId}: ${e.message}`))
        ))
  )

const Tokens = Schema.Struct({ model: Schema.String, tokens: Schema.Number })

/**
 * The steps of one shard. Step names of a shard's first batch are those of the jobs stored before
 * the budget (`create/1`, `await/1/0`), so that their histories replay; a later batch's carry its
 * try (`create/1/2`).
 */
const runShard = (jobId: string, shard: number) =>
  Effect.gen(function*() {
    const { model, tokens } = yield* step(jobId, `count/${shard}`, shard, Tokens, Steps.count(jobId, shard))
    const reserve = (name: string) =>
      step(jobId, name, shard, Schema.Boolean, Steps.reserve(jobId, shard, model, tokens))
    const release = step(jobId, `release/${shard}`, shard, Schema.Void, Steps.release(jobId, shard))
    if (!(yield* reserve(`reserve/${shard}`))) return
    const fileId = yield* step(jobId, `upload/${shard}`, shard, OptionalId, Steps.upload(jobId, shard))
    if (Option.isNone(fileId)) return yield* release
    let batchTry = 1
    while (true) {
      const suffix = batchTry === 1 ? "" : `/${batchTry}`
      const batchId = yield* step(
        jobId,
        `create/${shard}${suffix}`,
        shard,
        OptionalId,
        Steps.create(jobId, shard, fileId.value)
      )
      if (Option.isNone(batchId)) return yield* release
      // one activity per round, so a restart resumes polling at once and the history stays short
      let round = 0
      let seen: typeof Steps.Round.Type
      while (true) {
        seen = yield* step(
          jobId,
          `await/${shard}${suffix}/${round}`,
          shard,
          Steps.Round,
          Steps.awaitRound(jobId, shard, batchId.value)
        )
        if (seen.terminal) break
        round++
      }
      if (seen.refused !== true) break
      yield* step(
        jobId,
        `refused/${shard}/${batchTry}`,
        shard,
        Schema.Void,
        Steps.refused(jobId, shard, batchId.value, model, seen.refusedLimit, batchTry)
      )
      batchTry++
      if (!(yield* reserve(`reserve/${shard}/${batchTry}`))) return
    }
    yield* step(jobId, `download/${shard}`, shard, Schema.Void, Steps.download(jobId, shard))
  }).pipe(
    // a failed shard gives its tokens back at once, not when the job's other shards end
    Effect.tapErrorTag(
      "StepFailed",
      () => step(jobId, `release/${shard}`, shard, Schema.Void, Steps.release(jobId, shard)).pipe(Effect.ignore)
    )
  )

/**
 * The workflow's implementation, over the client (`BatchClient`, `Files`), the store and the step
 * settings in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = JobWorkflow.toLayer(({ jobId }) =>
  Effect.gen(function*() {
    const settings = yield* Steps.StepSettings
    const planned = yield* Activity.make({
      name: "split",
      success: Schema.Array(PlannedShard),
      execute: Effect.flatMap(JobStore.JobStore, (store) => store.split(jobId, settings.limits)).pipe(
        Steps.retryStore,
        Effect.orDie,
        Steps.spanOf("split", jobId)
      )
    })
    // A failed shard does not stop the others: their batches run to the end and their results
    // are kept; the job ends `failed` with the first sentence.
    const errors = yield* Effect.forEach(
      planned,
      (p) =>
        runShard(jobId, p.shard).pipe(
          Effect.as(undefined),
          Effect.catchTag("StepFailed", (e) => Effect.succeed(e.message))
        ),
      { concurrency: settings.shardConcurrency }
    )
    const stepError = errors.find((e) => e !== undefined)
    return yield* Activity.make({
      name: "finish",
      success: JobStore.JobStatus,
      execute: Steps.finish(jobId, stepError)
    })
  }).pipe(
    // a defect outside the steps (the split, the finish, a bug here) ends the job `failed` with
    // its sentence rather than leaving it `running`; interruptions (a suspension, a shutdown) pass
    Effect.catchAllDefect((defect) =>
      Activity.make({
        name: "fail",
        success: JobStore.JobStatus,
        execute: Steps.finish(jobId, `the job failed unexpectedly: ${describe(defect)}`)
      })
    )
  )
)
