import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fromHex } from '../../../src/core/bytes.js'
import { createSigner, generateKeyPair, publicKeyFromSecret, sign, verify } from '../../../src/core/crypto.js'

// Shipped with the repository (test/vectors/, source noted inside the file): no test reads outside the project.
const VECTORS = resolve(import.meta.dirname, '../../vectors/ed25519-speccheck.json')

interface SpeccheckCase {
  index: number
  message: string
  pub_key: string
  signature: string
}

/**
 * Our verdict on each ed25519-speccheck case ("Taming the many EdDSAs", Chalkias, Garillot,
 * Nikolaenko 2020). Verification is OpenSSL's Ed25519 (node:crypto): cofactorless equation,
 * canonical S required, R compared by encoding, small-order A/R refused. Every node must give
 * exactly these verdicts; a change here is a consensus change.
 */
const EXPECTED: Record<number, { accept: boolean; what: string }> = {
  0: { accept: false, what: 'S = 0, small-order A, small-order R (passes both equations without small-order checks)' },
  1: { accept: false, what: '0 < S < L, small-order A, mixed-order R (passes both equations without small-order checks)' },
  2: { accept: false, what: '0 < S < L, mixed-order A, small-order R (passes both equations without small-order checks)' },
  3: { accept: true, what: '0 < S < L, mixed-order A and R: passes cofactored and cofactorless' },
  4: { accept: false, what: '0 < S < L, mixed-order A and R: passes cofactored only, fails cofactorless' },
  5: { accept: false, what: 'mixed-order A, R of order L: the "pre-reduced scalar" case, passes cofactored only' },
  6: { accept: false, what: 'non-canonical S: L <= S < 2^253 (top bits clear)' },
  7: { accept: false, what: 'non-canonical S: S >= 2^253 (S >> L)' },
  8: { accept: false, what: 'non-canonical R encoding (y = p, small order); hash over the reduced R' },
  9: { accept: false, what: 'non-canonical R encoding (y = p, small order); hash over R as given' },
}

describe('ed25519-speccheck verdicts (test/vectors)', () => {
  it('the vector file exists', () => {
    expect(existsSync(VECTORS), VECTORS).toBe(true)
  })

  const file = existsSync(VECTORS) ? (JSON.parse(readFileSync(VECTORS, 'utf8')) as { cases: SpeccheckCase[] }) : { cases: [] }

  it('holds exactly the 10 pinned cases', () => {
    expect(file.cases.map((c) => c.index)).toEqual(Object.keys(EXPECTED).map(Number))
  })

  for (const c of file.cases) {
    const expected = EXPECTED[c.index]!
    it(`case ${c.index} is ${expected.accept ? 'accepted' : 'rejected'}: ${expected.what}`, () => {
      const verdict = verify(fromHex(c.pub_key), fromHex(c.message), fromHex(c.signature))
      expect(verdict).toBe(expected.accept)
      // the cached key object gives the same verdict a second time
      expect(verify(fromHex(c.pub_key), fromHex(c.message), fromHex(c.signature))).toBe(expected.accept)
    })
  }
})

describe('sign / verify', () => {
  const message = new TextEncoder().encode('주민등록표 등본 발급')

  it('a signature verifies for its key and message', () => {
    const kp = generateKeyPair()
    const sig = sign(kp.secretKey, message)
    expect(sig.length).toBe(64)
    expect(verify(kp.publicKey, message, sig)).toBe(true)
  })

  it('signatures are deterministic and createSigner agrees with sign', () => {
    const kp = generateKeyPair()
    const signer = createSigner(kp.secretKey)
    expect(signer.publicKey).toEqual(kp.publicKey)
    expect(signer.sign(message)).toEqual(sign(kp.secretKey, message))
    expect(sign(kp.secretKey, message)).toEqual(sign(kp.secretKey, message))
  })

  it('publicKeyFromSecret derives the public key', () => {
    const kp = generateKeyPair()
    expect(publicKeyFromSecret(kp.secretKey)).toEqual(kp.publicKey)
  })

  it('RFC 8032 test 1 (empty message)', () => {
    const secret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')
    const pub = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
    const sig = fromHex(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    )
    expect(publicKeyFromSecret(secret)).toEqual(pub)
    expect(sign(secret, new Uint8Array(0))).toEqual(sig)
    expect(verify(pub, new Uint8Array(0), sig)).toBe(true)
  })

  it('a wrong message does not verify', () => {
    const kp = generateKeyPair()
    const sig = sign(kp.secretKey, message)
    const other = Uint8Array.from(message)
    other[0]! ^= 1
    expect(verify(kp.publicKey, other, sig)).toBe(false)
    expect(verify(kp.publicKey, new Uint8Array(0), sig)).toBe(false)
  })

  it('a wrong key does not verify', () => {
    const kp = generateKeyPair()
    const sig = sign(kp.secretKey, message)
    expect(verify(generateKeyPair().publicKey, message, sig)).toBe(false)
  })

  it('a flipped signature bit does not verify', () => {
    const kp = generateKeyPair()
    const sig = sign(kp.secretKey, message)
    for (const i of [0, 31, 32, 63]) {
      const bad = Uint8Array.from(sig)
      bad[i]! ^= 1
      expect(verify(kp.publicKey, message, bad), `byte ${i}`).toBe(false)
    }
  })

  it('malformed key or signature lengths return false and never throw', () => {
    const kp = generateKeyPair()
    const sig = sign(kp.secretKey, message)
    expect(verify(kp.publicKey.subarray(0, 31), message, sig)).toBe(false)
    expect(verify(new Uint8Array(33), message, sig)).toBe(false)
    expect(verify(new Uint8Array(0), message, sig)).toBe(false)
    expect(verify(kp.publicKey, message, sig.subarray(0, 63))).toBe(false)
    expect(verify(kp.publicKey, message, new Uint8Array(65))).toBe(false)
    expect(verify(kp.publicKey, message, new Uint8Array(0))).toBe(false)
  })

  it('a 32-byte value that is not a curve point returns false and never throws', () => {
    // y = 2 has no x on edwards25519
    const notAPoint = fromHex('0200000000000000000000000000000000000000000000000000000000000000')
    expect(() => verify(notAPoint, message, new Uint8Array(64))).not.toThrow()
    expect(verify(notAPoint, message, new Uint8Array(64))).toBe(false)
    expect(verify(new Uint8Array(32).fill(0xff), message, new Uint8Array(64).fill(0xff))).toBe(false)
  })
})
