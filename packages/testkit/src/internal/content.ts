/**
 * A stored file's bytes as a list of blocks. An upload of unknown length (chunked, as the official
 * SDKs send a multipart form) is held as it arrives: joining it into one array would hold it twice,
 * and a doubling buffer holds up to twice its size at the moment it grows.
 */

/** The bytes of a file, in order. */
export type Content = ReadonlyArray<Uint8Array>

/** A file whose bytes are one array. */
export const of = (bytes: Uint8Array): Content => [bytes]

/** The number of bytes. */
export const size = (content: Content): number => content.reduce((n, block) => n + block.length, 0)

/** The bytes decoded as UTF-8 (a character split between two blocks is decoded whole). */
export const text = (content: Content): string => {
  const decoder = new TextDecoder()
  let out = ""
  for (const block of content) out += decoder.decode(block, { stream: true })
  return out + decoder.decode()
}

/** The bytes from `start` up to `end` (exclusive), as views of the blocks: nothing is copied. */
export const slice = (content: Content, start: number, end: number): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let offset = 0
  for (const block of content) {
    const from = Math.max(start, offset)
    const to = Math.min(end, offset + block.length)
    if (from < to) out.push(block.subarray(from - offset, to - offset))
    offset += block.length
    if (offset >= end) break
  }
  return out
}

// A piece that fills at least half of the memory behind it is kept as it is: copying it would
// touch as many fresh pages again, and on a busy machine the page faults cost far more than the
// copy. A smaller one (a view of a larger socket read, or one of a client's tiny pieces) is
// copied into a block of its own, so that it neither keeps that memory alive nor costs an array
// object per few bytes.
const blockSize = 64 * 1024

/** Collects the pieces of an upload; `push` answers false once `limit` bytes are passed. */
export interface Collector {
  /** Bytes collected so far. */
  readonly bytes: () => number
  readonly push: (piece: Uint8Array) => boolean
  /** The collected bytes; a partly filled block trimmed to its filled part. */
  readonly done: () => Content
}

export const collector = (limit: number): Collector => {
  const blocks: Array<Uint8Array> = []
  let current = new Uint8Array(0)
  let filled = 0
  let total = 0
  const flush = () => {
    if (filled > 0) blocks.push(filled === current.length ? current : current.slice(0, filled))
    current = new Uint8Array(0)
    filled = 0
  }
  return {
    bytes: () => total,
    push: (piece) => {
      total += piece.length
      if (total > limit) return false
      if (piece.length >= 4096 && piece.length * 2 >= piece.buffer.byteLength) {
        flush()
        blocks.push(piece)
        return true
      }
      let at = 0
      while (at < piece.length) {
        if (filled === current.length) {
          flush()
          current = new Uint8Array(blockSize)
        }
        const n = Math.min(piece.length - at, current.length - filled)
        current.set(piece.subarray(at, at + n), filled)
        filled += n
        at += n
      }
      return true
    },
    done: () => {
      flush()
      return blocks
    }
  }
}
