/**
 * The adapter between the commands and the client: the one place that decides which client
 * function serves each operation. Its implementation, which loads the HTTP stack, is in
 * `apiLive.ts` and imported only when a command talks to the API.
 */
import type * as BatchClient from "@batchfx/client/BatchClient"
import type { BatchClientError } from "@batchfx/client/BatchClientError"
import type * as Files from "@batchfx/client/Files"
import type * as Watch from "@batchfx/client/Watch"
import type * as Batch from "@batchfx/core/Batch"
import type * as File from "@batchfx/core/File"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"

/** What happened to one id of a bulk operation. */
export type Outcome =
  | { readonly _tag: "Succeeded"; readonly id: string; readonly batch: Batch.Batch }
  | { readonly _tag: "Failed"; readonly id: string; readonly error: BatchClientError }

/** The operations the commands use. */
export interface Service {
  /** Calls at once for bulk operations. */
  readonly concurrency: number
  readonly list: (
    params: BatchClient.ListParams,
    options?: { readonly maxPages?: number | undefined }
  ) => Stream.Stream<Batch.Batch, BatchClientError>
  readonly retrieve: (id: string) => Effect.Effect<Batch.Batch, BatchClientError>
  readonly create: (params: BatchClient.CreateParams) => Effect.Effect<Batch.Batch, BatchClientError>
  readonly cancel: (id: string) => Effect.Effect<Batch.Batch, BatchClientError>
  /** One outcome per id, in input order; one failure does not stop the others. */
  readonly retrieveMany: (ids: Stream.Stream<string, BatchClientError>) => Stream.Stream<Outcome, BatchClientError>
  readonly cancelMany: (ids: Stream.Stream<string, BatchClientError>) => Stream.Stream<Outcome, BatchClientError>
  /** Checks a JSONL file line by line (nothing is sent if a line is bad), then uploads it. */
  readonly upload: (
    path: string,
    endpoint: string
  ) => Effect.Effect<File.OpenAiFile, BatchClientError | Files.InputError, FileSystem.FileSystem>
  /**
   * A file's bytes, resuming a broken body; `expectedLines` (a batch's request counts) also resumes
   * a body cut exactly at the end of a line.
   */
  readonly content: (
    fileId: string,
    options?: { readonly expectedLines?: number | undefined }
  ) => Stream.Stream<Uint8Array, BatchClientError>
  /** The batch now and after every change, polled every `interval`, ending at a terminal status. */
  readonly watch: (
    id: string,
    interval: Duration.DurationInput
  ) => Stream.Stream<Batch.Batch, BatchClientError | Watch.WatchTimeout>
}

/** The adapter service. */
export class Api extends Context.Tag("@batchfx/cli/Api")<Api, Service>() {}

/** Default calls at once for bulk operations. */
export const defaultConcurrency = 8

/** Time between polls when nothing says otherwise. */
export const defaultInterval: Duration.Duration = Duration.seconds(2)
