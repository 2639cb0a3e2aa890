/**
 * A runner's `host:port`, apart from the socket runners themselves so that checking an address
 * loads neither `@effect/platform-node` nor the cluster's socket layer.
 */
import * as RunnerAddress from "@effect/cluster/RunnerAddress"

/** `host:port` taken apart, or why it cannot be. */
export const parseAddress = (text: string): RunnerAddress.RunnerAddress | string => {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const port = match === null ? NaN : Number(match[3])
  if (match === null || !(port >= 1 && port <= 65535)) {
    return `'${text}' is not a runner address: write host:port, e.g. 10.0.0.5:34431 (or [::1]:34431)`
  }
  return RunnerAddress.make(match[1] ?? match[2]!, port)
}
