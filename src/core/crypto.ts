import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto'
import { ed25519 } from '@noble/curves/ed25519.js'
import { toString } from 'uint8arrays'
import type { Bytes } from './bytes.js'

export const PUBLIC_KEY_LENGTH = 32
export const SIGNATURE_LENGTH = 64

export interface KeyPair {
  readonly secretKey: Bytes
  readonly publicKey: Bytes
}

export function generateKeyPair(): KeyPair {
  const secretKey = ed25519.utils.randomSecretKey()
  return { secretKey, publicKey: ed25519.getPublicKey(secretKey) }
}

export function publicKeyFromSecret(secretKey: Bytes): Bytes {
  return ed25519.getPublicKey(secretKey)
}

function b64url(bytes: Bytes): string {
  return toString(bytes, 'base64url')
}

// Importing a raw key into OpenSSL costs more than a verification; issuers and validators are
// few, so keep their KeyObjects. Bounded so a flood of random keys cannot grow memory.
const publicKeyCache = new Map<string, KeyObject | null>()
const PUBLIC_KEY_CACHE_LIMIT = 10_000

function publicKeyObject(publicKey: Bytes): KeyObject | null {
  const id = b64url(publicKey)
  let key = publicKeyCache.get(id)
  if (key === undefined) {
    try {
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: id }, format: 'jwk' })
    } catch {
      key = null
    }
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.clear()
    publicKeyCache.set(id, key)
  }
  return key
}

/** Ed25519 signature with OpenSSL (same result as any RFC 8032 signer: signatures are deterministic). */
export function sign(secretKey: Bytes, message: Bytes): Bytes {
  return createSigner(secretKey).sign(message)
}

/** A signer that imports the key once; use it for many signatures with one key. */
export function createSigner(secretKey: Bytes): { publicKey: Bytes; sign(message: Bytes): Bytes } {
  const publicKey = publicKeyFromSecret(secretKey)
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: b64url(secretKey), x: b64url(publicKey) },
    format: 'jwk',
  })
  return { publicKey, sign: (message) => new Uint8Array(nodeSign(null, message, key)) }
}

/**
 * The one verification rule of every node: OpenSSL's Ed25519 through node:crypto. Never throws;
 * malformed keys or signatures simply do not verify. The verdicts on the disputed edge cases are
 * pinned by test/unit/core/ed25519-speccheck.test.ts.
 */
export function verify(publicKey: Bytes, message: Bytes, signature: Bytes): boolean {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false
  const key = publicKeyObject(publicKey)
  if (key === null) return false
  try {
    return nodeVerify(null, message, key, signature)
  } catch {
    return false
  }
}

/** One signature to check: {@link verify}'s three arguments. */
export interface SignatureCheck {
  readonly publicKey: Bytes
  readonly message: Bytes
  readonly signature: Bytes
}

/**
 * Checks many signatures at once, with exactly {@link verify}'s verdict for each, in order. The
 * node's implementation spreads them over worker threads; the rule is the same everywhere.
 */
export interface SignatureBatchVerifier {
  verifyBatch(checks: readonly SignatureCheck[]): Promise<boolean[]>
}

/** {@link SignatureBatchVerifier} on the calling thread: the default where no pool is wired in. */
export const INLINE_VERIFIER: SignatureBatchVerifier = {
  verifyBatch: (checks) => Promise.resolve(verifyAll(checks)),
}

/** {@link verify} of each check, in order, on this thread. */
export function verifyAll(checks: readonly SignatureCheck[]): boolean[] {
  return checks.map((c) => verify(c.publicKey, c.message, c.signature))
}
