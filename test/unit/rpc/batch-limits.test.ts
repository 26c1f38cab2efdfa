/**
 * The two cheap checks in front of a batch: the count a CBOR body declares, read from its head
 * without decoding, and the rate budget a batch spends one token per transaction.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { describe, expect, it } from 'vitest'
import { isCertchainError } from '../../../src/core/index.js'
import { RateLimiter } from '../../../src/rpc/limits.js'
import { cborArrayLength } from '../../../src/rpc/tx-routes.js'

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn()
  } catch (err) {
    return isCertchainError(err) ? err.code : 'not a CertchainError'
  }
  return undefined
}

describe('cborArrayLength', () => {
  it('reads the count of every head width, as the encoder writes it', () => {
    for (const n of [0, 1, 23, 24, 255, 256, 65_535, 65_536]) {
      expect(cborArrayLength(dagCbor.encode(Array.from({ length: n }, () => new Uint8Array(0))))).toBe(n)
    }
    expect(cborArrayLength(Uint8Array.from([0x9a, 0xff, 0xff, 0xff, 0xff]))).toBe(2 ** 32 - 1)
    expect(cborArrayLength(Uint8Array.from([0x9b, 0, 0, 0, 1, 0, 0, 0, 0]))).toBe(2 ** 32)
  })

  it('refuses what is not an array head: INVALID_REQUEST for another type or nothing, MALFORMED_ENCODING for indefinite or cut heads', () => {
    expect(codeOf(() => cborArrayLength(new Uint8Array(0)))).toBe('INVALID_REQUEST')
    expect(codeOf(() => cborArrayLength(dagCbor.encode({ txs: [] })))).toBe('INVALID_REQUEST')
    expect(codeOf(() => cborArrayLength(dagCbor.encode(new Uint8Array(3))))).toBe('INVALID_REQUEST')
    expect(codeOf(() => cborArrayLength(Uint8Array.from([0x9f, 0xff])))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => cborArrayLength(Uint8Array.from([0x9a, 0xff])))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => cborArrayLength(Uint8Array.from([0x9c])))).toBe('MALFORMED_ENCODING')
  })
})

describe('RateLimiter.takeUpTo', () => {
  it('grants whole tokens up to what the bucket holds, refills at the rate, and never goes below empty', () => {
    let now = 0
    const limiter = new RateLimiter(10, 20, [], () => now)
    expect(limiter.takeUpTo('a', 8)).toBe(8)
    expect(limiter.takeUpTo('a', 50)).toBe(12)
    expect(limiter.takeUpTo('a', 5)).toBe(0)
    expect(limiter.take('a')).toBe(false)
    now += 250 // 2.5 tokens
    expect(limiter.takeUpTo('a', 5)).toBe(2)
    // Another client has its own bucket.
    expect(limiter.takeUpTo('b', 3)).toBe(3)
  })

  it('an exempt client and a limiter turned off (rate 0) are granted everything', () => {
    expect(new RateLimiter(10, 20, ['127.0.0.1']).takeUpTo('127.0.0.1', 1000)).toBe(1000)
    expect(new RateLimiter(0, 20, []).takeUpTo('a', 1000)).toBe(1000)
  })
})
