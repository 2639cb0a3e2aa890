/** How `create` finds a batch it may have made although it failed: by the client token in its metadata. */
import * as Duration from "effect/Duration"
import * as Schedule from "effect/Schedule"

/** The metadata key of the client token (public as `BatchClient.clientTokenKey`). */
export const key = "batchfx_client_token"

/**
 * How many pages (newest first, 100 batches each) a look searches: a create's batch is among the
 * newest unless hundreds were created in the meantime.
 */
export const searchPages = 2

/** The looks within `window`: right away, then after 1 s, doubling up to 8 s between looks. */
export const lookupSchedule = (window: Duration.DurationInput): Schedule.Schedule<unknown> =>
  Schedule.exponential("1 second").pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, Duration.seconds(8))),
    Schedule.upTo(window)
  )

/** One sentence for error messages: find the batch by its token when it has one, else by its input file. */
export const howToFind = (inputFileId: string, clientToken: string | undefined): string =>
  clientToken === undefined
    ? `look for a batch with input_file_id ${inputFileId} (it has no client token: the metadata had no room for it), ` +
      "e.g. with `batchfx list --format json`, before creating it again"
    : `look for a batch with metadata ${key}=${clientToken} (input file ${inputFileId}), ` +
      "e.g. with `batchfx list --format json`, before creating it again"
