import * as dagCbor from '@ipld/dag-cbor'
import { bytesEqual, type Bytes } from './bytes.js'
import { isPlainCanonical } from './cbor-scan.js'
import { CertchainError, type ErrorCode } from './errors.js'

/** The one canonical encoding of everything hashed or signed (DAG-CBOR: sorted keys, minimal ints). */
export function encode(value: unknown): Bytes {
  return dagCbor.encode(value)
}

/**
 * Decodes bytes that must be the canonical encoding of their value. Oversize input is refused
 * before any parsing; anything that would re-encode differently (non-minimal ints, unsorted or
 * duplicate keys, indefinite lengths, trailing bytes) is refused, so one value has exactly one id.
 */
export function decodeCanonical(bytes: Bytes, maxBytes: number, tooLarge: ErrorCode = 'TX_TOO_LARGE'): unknown {
  if (bytes.length > maxBytes) {
    throw new CertchainError(tooLarge, `encoded size ${bytes.length} exceeds the limit of ${maxBytes} bytes`)
  }
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: ${(err as Error).message}`, { cause: err })
  }
  // Most inputs are provably canonical from their bytes alone; the rest are encoded again.
  if (isPlainCanonical(bytes)) return value
  let again: Bytes
  try {
    again = dagCbor.encode(value)
  } catch (err) {
    throw new CertchainError('MALFORMED_ENCODING', `value cannot be re-encoded: ${(err as Error).message}`, { cause: err })
  }
  if (!bytesEqual(again, bytes)) {
    throw new CertchainError('NON_CANONICAL_ENCODING', 'bytes are not the canonical DAG-CBOR encoding of their value')
  }
  return value
}

/**
 * Copy of a value without `undefined` fields: DAG-CBOR has no undefined, and an absent optional
 * field must encode as a missing key, never as null.
 */
export function pruneUndefined<T>(value: T): T {
  if (Array.isArray(value)) return value.map(pruneUndefined) as T
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = pruneUndefined(v)
  return out as T
}
