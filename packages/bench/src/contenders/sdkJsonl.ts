/**
 * Scenario 9's reference: what a user writes with the official `openai` SDK (6.49.0) to dump every
 * batch as JSON lines, `node dist/contenders/sdkJsonl.js <baseUrl> <key>`: `for await` over
 * `batches.list` with pages of 100 and one `JSON.stringify` and one `process.stdout.write` per batch.
 * It waits for `drain` when stdout is full, as a script that must not hold 100 MB in memory does.
 */
import OpenAI from "openai"
import { pageSize } from "../measure.js"

const [baseURL, apiKey] = process.argv.slice(2)
const openai = new OpenAI({ apiKey, baseURL })
for await (const batch of openai.batches.list({ limit: pageSize })) {
  if (!process.stdout.write(JSON.stringify(batch) + "\n")) {
    await new Promise((resolve) => process.stdout.once("drain", resolve))
  }
}
