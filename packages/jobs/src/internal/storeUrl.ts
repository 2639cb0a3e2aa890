/**
 * Store URLs: which kinds of store a URL may name, and how a URL is shown (never with its
 * credentials or query string, which may carry a libSQL `authToken`).
 */

/** The kinds of store a URL can name. */
export type Kind = "file" | "memory" | "libsql" | "postgres"

/** The accepted schemes and the kind of store each names. */
const schemes: ReadonlyArray<readonly [scheme: string, kind: Kind]> = [
  ["file:", "file"],
  ["libsql:", "libsql"],
  ["http:", "libsql"],
  ["https:", "libsql"],
  ["ws:", "libsql"],
  ["wss:", "libsql"],
  ["postgres:", "postgres"],
  ["postgresql:", "postgres"]
]

/** The accepted forms, as a sentence lists them. */
export const accepted =
  "a path, a file: URL, a libsql:, http(s): or ws(s): URL of a libSQL server, or a postgres(ql): URL"

/** A URL scheme (two letters or more, so that `C:\…` stays a path). */
const schemeOf = (url: string): string | undefined => /^([a-z][a-z0-9+.-]+:)/i.exec(url)?.[1]?.toLowerCase()

/** A store URL taken apart: its kind and the URL libSQL is given (a bare path becomes `file:`). */
export interface Parsed {
  readonly kind: Kind
  readonly url: string
}

/** The store a URL names, or `undefined` when its scheme is not accepted (or it is empty). */
export const parse = (url: string): Parsed | undefined => {
  if (url.trim() === "") return undefined
  if (url === ":memory:") return { kind: "memory", url }
  const scheme = schemeOf(url)
  if (scheme === undefined) return { kind: "file", url: `file:${url}` }
  const known = schemes.find(([s]) => s === scheme)
  return known === undefined ? undefined : { kind: known[1], url }
}

/** Why a URL cannot name a store, as the end of a sentence; `undefined` when it can. */
export const problem = (url: string): string | undefined =>
  parse(url) !== undefined
    ? undefined
    : url.trim() === ""
    ? `is empty: it must be ${accepted}`
    : `must be ${accepted}, not ${schemeOf(url) ?? url}`

/**
 * A URL as it may be shown: without user name, password, query string or fragment (a libSQL URL
 * may carry its `authToken` in any of these).
 */
export const redact = (url: string): string => {
  const cut = url.replace(/[?#].*$/s, "")
  const scheme = schemeOf(cut)
  if (scheme === undefined) return cut
  // `scheme://user:password@host/…`: the user information goes, the host stays
  return cut.replace(/^([a-z][a-z0-9+.-]+:\/\/)[^/@]*@/i, "$1")
}

/** Text (an error's message) with every occurrence of `url` shown redacted, and any token masked. */
export const scrub = (text: string, url: string): string =>
  (url === "" ? text : text.split(url).join(redact(url))).replace(/(authToken=)[^&\s"']*/gi, "$1***")

/** Text with the user information of any `scheme://user:password@host` URL and any `authToken` masked. */
export const scrubAll = (text: string): string =>
  text.replace(/([a-z][a-z0-9+.-]+:\/\/)[^/@\s]*@/gi, "$1***@").replace(/(authToken=)[^&\s"']*/gi, "$1***")
