import { describe, expect, it } from 'vitest'
import { bytesEqual, concatBytes, fromBase64, fromHex, isBytes, toBase64, toHex } from '../../../src/core/bytes.js'
import { sha256 } from '../../../src/core/hash.js'
import { thrownCode } from '../../helpers/fixtures.js'

function messageOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return (err as Error).message
  }
  return ''
}

describe('hex', () => {
  it('round trips, lowercase out, either case in', () => {
    const bytes = Uint8Array.of(0, 1, 0xab, 0xff)
    expect(toHex(bytes)).toBe('0001abff')
    expect(fromHex('0001abff')).toEqual(bytes)
    expect(fromHex('0001ABFF')).toEqual(bytes)
    expect(fromHex('')).toEqual(new Uint8Array(0))
  })

  it('reads only the viewed bytes of a subarray (ids are often views into a larger buffer)', () => {
    const whole = Uint8Array.of(9, 9, 0x12, 0x34, 9)
    expect(toHex(whole.subarray(2, 4))).toBe('1234')
    expect(toHex(whole.subarray(5))).toBe('')
  })

  it('INVALID_REQUEST for odd length or non-hex characters, naming the field', () => {
    expect(thrownCode(() => fromHex('abc', 'issuer key'))).toBe('INVALID_REQUEST')
    expect(thrownCode(() => fromHex('zz'))).toBe('INVALID_REQUEST')
    expect(thrownCode(() => fromHex('0x00'))).toBe('INVALID_REQUEST')
    expect(thrownCode(() => fromHex(' 00'))).toBe('INVALID_REQUEST')
    expect(messageOf(() => fromHex('xyz', 'issuer key'))).toContain('issuer key')
  })

  it('checks the expected length', () => {
    expect(fromHex('00'.repeat(32), 'id', 32)).toHaveLength(32)
    expect(thrownCode(() => fromHex('00'.repeat(31), 'id', 32))).toBe('INVALID_REQUEST')
    expect(messageOf(() => fromHex('00', 'certificate id', 32))).toContain('certificate id must be 32 bytes')
  })
})

describe('base64', () => {
  it('round trips with padding', () => {
    for (const n of [0, 1, 2, 3, 4, 31, 32, 33]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff)
      expect(fromBase64(toBase64(bytes))).toEqual(bytes)
    }
    expect(toBase64(Uint8Array.of(1, 2))).toBe('AQI=')
  })

  it('accepts unpadded input', () => {
    expect(fromBase64('AQI')).toEqual(Uint8Array.of(1, 2))
  })

  it('INVALID_BASE64 for URL-safe characters, stray padding, bad length or junk', () => {
    for (const text of ['-_-_', 'AQI=A', 'A', 'AAAAA', 'AQ I=', 'AQ==\n', '====']) {
      expect(thrownCode(() => fromBase64(text)), JSON.stringify(text)).toBe('INVALID_BASE64')
    }
  })

  it('returns a plain Uint8Array view', () => {
    const out = fromBase64('AQID')
    expect(out).toBeInstanceOf(Uint8Array)
    expect(Array.from(out)).toEqual([1, 2, 3])
  })
})

describe('helpers', () => {
  it('bytesEqual', () => {
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true)
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false)
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false)
    expect(bytesEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true)
  })

  it('concatBytes', () => {
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3))
    expect(concatBytes()).toEqual(new Uint8Array(0))
  })

  it('isBytes with and without a length', () => {
    expect(isBytes(new Uint8Array(32), 32)).toBe(true)
    expect(isBytes(new Uint8Array(31), 32)).toBe(false)
    expect(isBytes(Buffer.alloc(4))).toBe(true)
    expect(isBytes('00')).toBe(false)
    expect(isBytes([1, 2])).toBe(false)
  })

  it('sha256 of several parts is the hash of their concatenation, as a plain Uint8Array', () => {
    const a = Uint8Array.of(1, 2)
    const b = Uint8Array.of(3)
    expect(sha256(a, b)).toEqual(sha256(Uint8Array.of(1, 2, 3)))
    expect(toHex(sha256(new Uint8Array(0)))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    expect(Object.getPrototypeOf(sha256(a))).toBe(Uint8Array.prototype)
  })
})
