import * as dagCbor from '@ipld/dag-cbor'
import type { Bytes } from '../core/bytes.js'
import type { CertificateState } from '../core/types.js'
import type { StatusChange } from './store.js'

/**
 * A certificate entry as the CERT bucket stores it, a list without field names: [seq, height,
 * index of the issuance in its block, time, state (0 active, 1 revoked, 2 suspended), type,
 * issuer, docHash, validFrom, validUntil, holder or null, {change, earlier} or absent]. The
 * issuance's transaction id and key (64 bytes nobody can compress) are stored once per
 * transaction, not per certificate.
 */
export type StoredEntry = [
  number,
  number,
  number,
  number,
  number,
  string,
  string,
  Bytes,
  number,
  number,
  Bytes | null,
  { change?: StatusChange; earlier?: readonly (StatusChange & { readonly state: CertificateState })[] }?,
]

/** Raised inside the reader for anything it does not handle; the generic decoder takes over. */
class Unusual extends Error {}
// One instance, made once: throwing it captures no stack.
const UNUSUAL = new Unusual('not the usual CERT layout')

/**
 * Decodes a CERT value: the same result as the generic DAG-CBOR decoder, read directly for the
 * layout this store writes (unsigned integers, short strings, byte strings, null). Every lookup
 * decodes one entry per id, and the generic decoder's token machinery was most of a status
 * batch's decoding time. Anything else (negative or float numbers, a status history past the
 * eleventh field is handed over as it stands) goes to the generic decoder.
 */
export function decodeStoredEntry(bytes: Bytes): StoredEntry {
  const head = bytes[0]
  if (head !== 0x8b && head !== 0x8c) return dagCbor.decode<StoredEntry>(bytes)
  try {
    return readFields(bytes, head === 0x8c)
  } catch (err) {
    if (err !== UNUSUAL) throw err
    return dagCbor.decode<StoredEntry>(bytes)
  }
}

function readFields(bytes: Bytes, withHistory: boolean): StoredEntry {
  let pos = 1
  const length = (major: number): number => {
    const b = bytes[pos++]
    if (b === undefined || b >> 5 !== major) throw UNUSUAL
    const info = b & 0x1f
    if (info < 24) return info
    let n: number
    if (info === 24) n = bytes[pos]!
    else if (info === 25) n = (bytes[pos]! << 8) | bytes[pos + 1]!
    else if (info === 26) n = ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0
    else if (info === 27) {
      const high = ((bytes[pos]! << 24) | (bytes[pos + 1]! << 16) | (bytes[pos + 2]! << 8) | bytes[pos + 3]!) >>> 0
      const low = ((bytes[pos + 4]! << 24) | (bytes[pos + 5]! << 16) | (bytes[pos + 6]! << 8) | bytes[pos + 7]!) >>> 0
      // Beyond 2^53 a number loses precision; the generic decoder refuses it.
      if (high >= 0x200000) throw UNUSUAL
      n = high * 0x100000000 + low
    } else throw UNUSUAL
    pos += 1 << (info - 24)
    if (pos > bytes.length) throw UNUSUAL
    return n
  }
  const uint = () => length(0)
  const text = (): string => {
    const n = length(3)
    const end = pos + n
    if (end > bytes.length) throw UNUSUAL
    let s = ''
    for (let i = pos; i < end; i++) {
      const c = bytes[i]!
      // Ids and type names are ASCII; anything else is decoded as UTF-8 by the generic decoder.
      if (c >= 0x80) throw UNUSUAL
      s += String.fromCharCode(c)
    }
    pos = end
    return s
  }
  const byteString = (): Bytes => {
    const n = length(2)
    if (pos + n > bytes.length) throw UNUSUAL
    // A copy in a plain Uint8Array, as the generic decoder gives (a Buffer's slice would share memory).
    const out = new Uint8Array(bytes.buffer, bytes.byteOffset + pos, n).slice()
    pos += n
    return out
  }
  const entry: StoredEntry = [uint(), uint(), uint(), uint(), uint(), text(), text(), byteString(), uint(), uint(), bytes[pos] === 0xf6 ? (pos++, null) : byteString()]
  if (withHistory) {
    if (pos >= bytes.length) throw UNUSUAL
    // The history is the last item: the generic decoder reads it as a document of its own.
    entry.push(dagCbor.decode(bytes.subarray(pos)))
  } else if (pos !== bytes.length) throw UNUSUAL
  return entry
}
