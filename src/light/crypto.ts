import { ed25519 } from '@noble/curves/ed25519.js'
import { sha256 as nobleSha256, sha512 } from '@noble/hashes/sha2.js'
import type { Bytes } from '../core/bytes.js'
import type { Sha256 } from '../core/merkle-path.js'

// The light verifier's primitives, pure JavaScript so they run in a browser. They must judge
// exactly as the node's node:crypto (OpenSSL) does; test/unit/light/parity.test.ts pins that on
// every vector we hold.

export const sha256: Sha256 = (...parts) => {
  if (parts.length === 1) return nobleSha256(parts[0]!)
  const h = nobleSha256.create()
  for (const p of parts) h.update(p)
  return h.digest()
}

const Point = ed25519.Point
const L = Point.Fn.ORDER

function scalarLE(bytes: Bytes): bigint {
  let n = 0n
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!)
  return n
}

/**
 * Ed25519 verification with OpenSSL's rules (RFC 8032 as OpenSSL implements it): canonical
 * encodings of A and R, S < L, neither A nor R of small order, and the cofactorless equation
 * [S]B = R + [k]A with k = SHA-512(R ‖ A ‖ M) mod L. noble's own `verify` is cofactored and
 * accepts small-order points, so it would accept signatures every node refuses. Never throws.
 */
export function verifyEd25519(publicKey: Bytes, message: Bytes, signature: Bytes): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false
  try {
    const rBytes = signature.subarray(0, 32)
    const s = scalarLE(signature.subarray(32))
    if (s >= L) return false
    const A = Point.fromBytes(publicKey, false)
    const R = Point.fromBytes(rBytes, false)
    if (A.isSmallOrder() || R.isSmallOrder()) return false
    const k = scalarLE(sha512.create().update(rBytes).update(publicKey).update(message).digest()) % L
    // The base point has precomputed tables (multiply); it needs a scalar from 1, and [0]B is the identity.
    const left = s === 0n ? Point.ZERO : Point.BASE.multiply(s)
    const right = R.add(A.multiplyUnsafe(k))
    return left.equals(right)
  } catch {
    return false
  }
}
