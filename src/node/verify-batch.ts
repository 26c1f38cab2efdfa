import { verify, type SignatureCheck } from '../core/crypto.js'

/**
 * The message a batch of signature checks travels in to a verification thread: one ArrayBuffer
 * (transferred, not copied again) holding a count, three lengths per check (key, message,
 * signature), then every check's bytes back to back. Lengths are kept as given: a malformed key or
 * signature reaches {@link verify} unchanged and gets its verdict there.
 */
export function packChecks(checks: readonly SignatureCheck[]): ArrayBuffer {
  const head = 4 * (1 + 3 * checks.length)
  let size = head
  for (const c of checks) size += c.publicKey.length + c.message.length + c.signature.length
  const buffer = new ArrayBuffer(size)
  const lengths = new Uint32Array(buffer, 0, 1 + 3 * checks.length)
  const bytes = new Uint8Array(buffer)
  lengths[0] = checks.length
  let at = head
  checks.forEach((c, i) => {
    for (const [k, part] of [c.publicKey, c.message, c.signature].entries()) {
      lengths[1 + 3 * i + k] = part.length
      bytes.set(part, at)
      at += part.length
    }
  })
  return buffer
}

/** {@link verify} of every check in a {@link packChecks} buffer: one byte per check, 1 when it verifies. */
export function verifyPacked(buffer: ArrayBuffer): Uint8Array<ArrayBuffer> {
  const count = new Uint32Array(buffer, 0, 1)[0]!
  const lengths = new Uint32Array(buffer, 4, 3 * count)
  const bytes = new Uint8Array(buffer)
  const verdicts = new Uint8Array(count)
  let at = 4 * (1 + 3 * count)
  const next = (length: number): Uint8Array => {
    const view = bytes.subarray(at, at + length)
    at += length
    return view
  }
  for (let i = 0; i < count; i++) {
    const publicKey = next(lengths[3 * i]!)
    const message = next(lengths[3 * i + 1]!)
    const signature = next(lengths[3 * i + 2]!)
    verdicts[i] = verify(publicKey, message, signature) ? 1 : 0
  }
  return verdicts
}
