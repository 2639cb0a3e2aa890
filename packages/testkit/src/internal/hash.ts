/** Deterministic hashing: ids, shuffles and fault draws are pure functions of a seed and a counter. */

/** A 32-bit mix (splitmix32 finaliser) of two integers. */
export const mix = (a: number, b: number): number => {
  let h = (Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)) >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d) >>> 0
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/** A 32-bit hash of a string (FNV-1a). */
export const hashString = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

/** A float in [0, 1) drawn from a seed and a counter. */
export const unit = (seed: number, n: number): number => mix(seed, n) / 0x1_0000_0000

/** `digits` lower-case hex digits drawn from a seed and a counter. */
export const hex = (seed: number, n: number, digits: number): string => {
  let out = ""
  let i = 0
  while (out.length < digits) {
    out += mix(mix(seed, n), i++).toString(16).padStart(8, "0")
  }
  return out.slice(0, digits)
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/** `length` alphanumerics drawn from a seed and a counter. */
export const alnum = (seed: number, n: number, length: number): string => {
  let out = ""
  for (let i = 0; i < length; i++) out += alphabet[mix(mix(seed, n), i + 1000) % alphabet.length]
  return out
}

/** A permutation of 0..n-1 (Fisher-Yates driven by the seed). */
export const permutation = (n: number, seed: number): Array<number> => {
  const order = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = mix(seed, i) % (i + 1)
    const t = order[i]!
    order[i] = order[j]!
    order[j] = t
  }
  return order
}
