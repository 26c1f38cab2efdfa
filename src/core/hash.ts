import { hash as nodeHash } from 'node:crypto'
import type { Bytes } from './bytes.js'

/** SHA-256 of the concatenated parts, as a plain Uint8Array (not a pooled Buffer). */
export function sha256(...parts: Bytes[]): Bytes {
  const input = parts.length === 1 ? parts[0]! : Buffer.concat(parts)
  const digest = nodeHash('sha256', input, 'buffer')
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.length)
}
