/**
 * A runner's `host:port`, apart from the socket runners themselves so that checking an address
 * loads neither `@effect/platform-node` nor the cluster's socket layer.
 */
import * as RunnerAddress from "@effect/cluster/RunnerAddress"

/**
 * `host:port` taken apart, or why it cannot be. The host is written as a URL parser writes it
 * (lower case, IPv4 dotted, IPv6 compressed): the cluster keys a runner by its address's text, so
 * `127.1`, `LOCALHOST` or `[0:0:0:0:0:0:0:1]` must come out as the address they name.
 */
export const parseAddress = (text: string): RunnerAddress.RunnerAddress | string => {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const port = match === null ? NaN : Number(match[3])
  const host = match === null ? undefined : canonicalHost(match[1] === undefined ? match[2]! : `[${match[1]}]`)
  if (host === undefined || !(port >= 1 && port <= 65535)) {
    return `'${text}' is not a runner address: write host:port, e.g. 10.0.0.5:34431 (or [::1]:34431)`
  }
  return RunnerAddress.make(host, port)
}

const canonicalHost = (host: string): string | undefined => {
  try {
    const hostname = new URL(`http://${host}/`).hostname
    return hostname.startsWith("[") ? hostname.slice(1, -1) : hostname
  } catch {
    return undefined
  }
}

/** An address as a person writes it: `host:port`, `[host]:port` for IPv6. */
export const show = (address: RunnerAddress.RunnerAddress): string =>
  `${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`

// Hosts that mean every interface of a machine (canonical, as `parseAddress` writes them): fine to
// listen on, but another worker connecting to one reaches its own machine.
const wildcards = new Set(["0.0.0.0", "::", "::ffff:0:0"])

/**
 * Why a worker's addresses cannot serve, or `undefined`: each must be `host:port`, and the address
 * other workers reach it at (given, else the one it listens on) must name this machine, not every
 * interface of it.
 */
export const addressesProblem = (
  addresses: { readonly runnerAddress?: string | undefined; readonly listenAddress?: string | undefined }
): { readonly option: "runnerAddress" | "listenAddress"; readonly problem: string } | undefined => {
  const listen = addresses.listenAddress === undefined ? undefined : parseAddress(addresses.listenAddress)
  if (typeof listen === "string") return { option: "listenAddress", problem: listen }
  const advertised = addresses.runnerAddress === undefined ? listen : parseAddress(addresses.runnerAddress)
  if (typeof advertised === "string") return { option: "runnerAddress", problem: advertised }
  if (advertised !== undefined && wildcards.has(advertised.host)) {
    const shown = show(advertised)
    return addresses.runnerAddress === undefined
      ? {
        option: "runnerAddress",
        problem:
          `listening on ${shown} needs a runner address too: ${advertised.host} means every interface of this machine, and another worker connecting to it reaches its own; give the address other workers reach this one at, e.g. 10.0.0.5:${advertised.port}`
      }
      : {
        option: "runnerAddress",
        problem:
          `'${addresses.runnerAddress}' cannot be reached by other workers: ${advertised.host} means every interface of this machine; give an address of this machine they can reach, e.g. 10.0.0.5:${advertised.port}`
      }
  }
  return undefined
}
