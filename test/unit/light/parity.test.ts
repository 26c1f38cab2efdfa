import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fromHex } from '../../../src/core/bytes.js'
import { generateKeyPair, sign, verify } from '../../../src/core/crypto.js'
import { sha256 as nodeSha256 } from '../../../src/core/hash.js'
import { sha256 as lightSha256, verifyEd25519 } from '../../../src/light/crypto.js'

// The light verifier (noble, browser-safe) must reach the node's verdict (node:crypto, OpenSSL)
// on every signature: otherwise a proof could verify in a browser and fail on every node, or the
// opposite. Vectors: ed25519-speccheck (Chalkias, Garillot, Nikolaenko 2020), copied into the project.
const VECTORS = resolve(import.meta.dirname, '../../vectors/ed25519-speccheck.json')
const { cases } = JSON.parse(readFileSync(VECTORS, 'utf8')) as { cases: { index: number; message: string; pub_key: string; signature: string }[] }

describe('Ed25519 parity: light verifier (noble) and node (node:crypto)', () => {
  it('holds the 10 speccheck vectors', () => expect(cases).toHaveLength(10))

  for (const c of cases) {
    it(`speccheck case ${c.index}: same verdict`, () => {
      const [pub, msg, sig] = [fromHex(c.pub_key), fromHex(c.message), fromHex(c.signature)]
      expect(verifyEd25519(pub, msg, sig)).toBe(verify(pub, msg, sig))
    })
  }

  it('agree on valid signatures and on every single-byte change of them', () => {
    let accepted = 0
    for (let n = 0; n < 8; n++) {
      const { secretKey, publicKey } = generateKeyPair()
      const message = new TextEncoder().encode(`certificate ${n}`)
      const sig = sign(secretKey, message)
      expect(verifyEd25519(publicKey, message, sig)).toBe(true)
      accepted++
      for (const [what, bytes] of [['key', publicKey], ['signature', sig]] as const) {
        for (let i = 0; i < bytes.length; i += 7) {
          const bad = Uint8Array.from(bytes)
          bad[i]! ^= 1 << (i % 8)
          const [k, s] = what === 'key' ? [bad, sig] : [publicKey, bad]
          expect(verifyEd25519(k, message, s), `${what} byte ${i}`).toBe(verify(k, message, s))
        }
      }
    }
    expect(accepted).toBe(8)
  })

  it('agree on wrong lengths (never throw)', () => {
    const { secretKey, publicKey } = generateKeyPair()
    const sig = sign(secretKey, new Uint8Array(3))
    for (const [k, s] of [[publicKey.subarray(1), sig], [publicKey, sig.subarray(1)], [new Uint8Array(0), new Uint8Array(0)]] as const) {
      expect(verifyEd25519(k, new Uint8Array(3), s)).toBe(false)
      expect(verify(k, new Uint8Array(3), s)).toBe(false)
    }
  })

  it('SHA-256 agrees with node:crypto, in one part and in several', () => {
    const parts = [new Uint8Array([0]), new TextEncoder().encode('abc'), new Uint8Array(1000).fill(7)]
    expect(lightSha256(...parts)).toEqual(nodeSha256(...parts))
    expect(lightSha256(parts[2]!)).toEqual(nodeSha256(parts[2]!))
  })
})
