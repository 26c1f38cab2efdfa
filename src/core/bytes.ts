import { fromString, toString } from 'uint8arrays'
import { CertchainError } from './errors.js'

export type Bytes = Uint8Array

const HEX = /^(?:[0-9a-f]{2})*$/
// Standard alphabet, padded; we also accept unpadded input but never URL-safe mixtures.
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

// In Node, its native hex (several times faster than a JS loop: ids become map keys many times
// per certificate); in a browser, uint8arrays'.
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer

export function toHex(bytes: Bytes): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
  return toString(bytes, 'base16')
}

/** Strict lowercase hex; `what` names the field in the error. */
export function fromHex(hex: string, what = 'hex value', expectedLength?: number): Bytes {
  const lower = hex.toLowerCase()
  if (!HEX.test(lower)) {
    throw new CertchainError('INVALID_REQUEST', `${what} is not valid hex`)
  }
  // Node's native hex after the check above (it would stop silently at a bad character); a status
  // batch converts a thousand ids per request.
  const bytes = NodeBuffer ? new Uint8Array(NodeBuffer.from(lower, 'hex')) : fromString(lower, 'base16')
  if (expectedLength !== undefined && bytes.length !== expectedLength) {
    throw new CertchainError('INVALID_REQUEST', `${what} must be ${expectedLength} bytes (${expectedLength * 2} hex characters)`)
  }
  return bytes
}

export function toBase64(bytes: Bytes): string {
  return toString(bytes, 'base64pad')
}

/** URL-safe base64 without padding (links and QR codes). */
export function toBase64Url(bytes: Bytes): string {
  return toString(bytes, 'base64url')
}

export function fromBase64(text: string, what = 'base64 value'): Bytes {
  if (text.length % 4 === 1 || !BASE64.test(text)) {
    throw new CertchainError('INVALID_BASE64', `${what} is not valid base64`)
  }
  const bytes = Buffer.from(text, 'base64')
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
}

export function bytesEqual(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

export function concatBytes(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

export function isBytes(value: unknown, length?: number): value is Bytes {
  return value instanceof Uint8Array && (length === undefined || value.length === length)
}
