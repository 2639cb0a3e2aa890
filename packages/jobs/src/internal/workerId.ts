/**
 * The id of this worker process, recorded on a job when the worker runs a step of it, so that
 * `status` tells which machine and process holds the job: the host name, the process id and a few
 * random characters (a process id is reused after a restart; the random part tells them apart).
 */
import * as os from "node:os"

let id: string | undefined

/** This process's worker id, made on first use and the same for the life of the process. */
export const workerId = (): string => {
  id ??= `${os.hostname()}/${process.pid}/${globalThis.crypto.randomUUID().slice(0, 6)}`
  return id
}
