/** What `batchfx submit` does once parsed (loaded when it runs; the options are in `commands/Submit.ts`). */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Config } from "../../commands/Submit.js"
import { Api } from "../api.js"
import * as Output from "../output.js"
import * as Render from "../render.js"
import { checkBeforeUpload, createBatch, expiry, noTokenWarning } from "./Create.js"
import { download } from "./Results.js"
import { waitFor } from "./Wait.js"

/** Checks and uploads the file, creates the batch, then waits and downloads when asked to. */
export const handler = (config: Config) =>
  Effect.gen(function*() {
    const api = yield* Api
    const expires = yield* expiry(config.outputExpiresAfter, "submit")
    const metadata = Object.keys(config.metadata).length > 0 ? { metadata: config.metadata } : {}
    yield* checkBeforeUpload({ endpoint: config.endpoint, completion_window: "24h", ...metadata, ...expires })
    yield* Option.match(noTokenWarning(metadata.metadata), { onNone: () => Effect.void, onSome: Output.errLine })
    const file = yield* api.upload(config.file, config.endpoint)
    yield* Output.errLine(`Uploaded ${config.file} as ${file.id} (${file.bytes} bytes).`)
    const batch = yield* createBatch({
      input_file_id: file.id,
      endpoint: config.endpoint,
      completion_window: "24h",
      ...metadata,
      ...expires
    }, { uploaded: true, keepFile: config.keepFile })
    const wait = config.wait || Option.isSome(config.output) || Option.isSome(config.errors)
    if (!wait) {
      yield* Render.printOne(batch, yield* Render.resolveFormat(config.format))
      return
    }
    yield* Output.errLine(`Created ${batch.id}; waiting for it to end.`)
    const final = yield* waitFor(batch.id, { interval: config.interval, timeout: Option.none() }).pipe(
      Effect.tapError(() =>
        Option.isSome(config.output) || Option.isSome(config.errors)
          ? Effect.flatMap(api.retrieve(batch.id), (b) => download(b, { output: config.output, errors: config.errors }))
            .pipe(Effect.ignore)
          : Effect.void
      )
    )
    if (Option.isSome(config.output) || Option.isSome(config.errors)) {
      yield* download(final, { output: config.output, errors: config.errors })
    }
  })
