import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../../src/core/bytes.js'
import { decodeCanonical, encode, pruneUndefined } from '../../../src/core/encoding.js'
import { CertchainError } from '../../../src/core/errors.js'
import { thrownCode } from '../../helpers/fixtures.js'

const LIMIT = 1024

function decodeHex(hex: string, limit = LIMIT): unknown {
  return decodeCanonical(fromHex(hex), limit)
}

const codeOf = thrownCode

describe('encode / decodeCanonical round trip', () => {
  const values: [string, unknown][] = [
    ['integer', 1],
    ['large safe integer', Number.MAX_SAFE_INTEGER],
    ['negative integer', -24],
    ['string', '주민등록표 등본'],
    ['bytes', Uint8Array.of(0, 1, 2, 255)],
    ['list', [1, 'two', Uint8Array.of(3)]],
    ['nested map', { b: { d: [1, 2], c: null }, a: true, aa: false }],
    ['empty map', {}],
    ['empty list', []],
  ]
  for (const [name, value] of values) {
    it(`decodes the canonical encoding of a ${name} back to the same value`, () => {
      const bytes = encode(value)
      expect(decodeCanonical(bytes, LIMIT)).toEqual(value)
      // and re-encoding is byte-identical
      expect(toHex(encode(decodeCanonical(bytes, LIMIT)))).toBe(toHex(bytes))
    })
  }

  it('encodes map keys sorted length-first, then bytewise (DAG-CBOR canonical order)', () => {
    // {b: 2, aa: 1}: "b" (1 char) sorts before "aa" (2 chars)
    expect(toHex(encode({ aa: 1, b: 2 }))).toBe('a2' + '6162' + '02' + '626161' + '01')
    // key insertion order never matters
    expect(toHex(encode({ b: 2, aa: 1 }))).toBe(toHex(encode({ aa: 1, b: 2 })))
  })

  it('encodes integers minimally', () => {
    expect(toHex(encode(23))).toBe('17')
    expect(toHex(encode(24))).toBe('1818')
    expect(toHex(encode(256))).toBe('190100')
    expect(toHex(encode(1_700_000_000_000))).toBe('1b0000018bcfe56800')
  })

  it('pruneUndefined drops undefined fields so they encode as absent keys', () => {
    const pruned = pruneUndefined({ a: 1, b: undefined, c: [{ d: undefined, e: 2 }] })
    expect(pruned).toEqual({ a: 1, c: [{ e: 2 }] })
    expect(Object.keys(pruned)).toEqual(['a', 'c'])
    expect(toHex(encode(pruned))).toBe(toHex(encode({ a: 1, c: [{ e: 2 }] })))
  })
})

describe('decodeCanonical rejections', () => {
  it('TX_TOO_LARGE: refuses oversize input before decoding it', () => {
    // 0xff... is not even valid CBOR: the size check must come first.
    const garbage = new Uint8Array(LIMIT + 1).fill(0xff)
    expect(() => decodeCanonical(garbage, LIMIT)).toThrow(expect.objectContaining({ code: 'TX_TOO_LARGE' }))
  })

  it('accepts input of exactly the limit', () => {
    const bytes = encode('x'.repeat(100))
    expect(decodeCanonical(bytes, bytes.length)).toBe('x'.repeat(100))
    expect(codeOf(() => decodeCanonical(bytes, bytes.length - 1))).toBe('TX_TOO_LARGE')
  })

  it('uses the caller-supplied code for oversize input', () => {
    const bytes = encode('x'.repeat(100))
    expect(codeOf(() => decodeCanonical(bytes, 10, 'MALFORMED_BLOCK'))).toBe('MALFORMED_BLOCK')
  })

  it('MALFORMED_ENCODING: garbage bytes', () => {
    expect(codeOf(() => decodeHex('ff'))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => decodeHex('ffffffff'))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => decodeHex('1c'))).toBe('MALFORMED_ENCODING') // reserved additional info
  })

  it('MALFORMED_ENCODING: empty input', () => {
    expect(codeOf(() => decodeHex(''))).toBe('MALFORMED_ENCODING')
  })

  it('MALFORMED_ENCODING: truncated bytes', () => {
    // {a: 1, b: 2} cut short at every position
    const full = 'a2616101616202'
    for (let n = 2; n < full.length; n += 2) {
      expect(codeOf(() => decodeHex(full.slice(0, n))), `prefix ${full.slice(0, n)}`).toBe('MALFORMED_ENCODING')
    }
    // byte string announcing 32 bytes but carrying 3
    expect(codeOf(() => decodeHex('5820010203'))).toBe('MALFORMED_ENCODING')
  })

  it('NON_CANONICAL_ENCODING: unsorted map keys', () => {
    // {b: 2, a: 1} in insertion order; canonical is a2 6161 01 6162 02
    expect(decodeHex('a2616101616202')).toEqual({ a: 1, b: 2 })
    expect(codeOf(() => decodeHex('a2616202616101'))).toBe('NON_CANONICAL_ENCODING')
    // {aa: 1, b: 2} sorted bytewise but not length-first
    expect(codeOf(() => decodeHex('a262616101616202'))).toBe('NON_CANONICAL_ENCODING')
  })

  it('rejects duplicate map keys', () => {
    // {a: 1, a: 2}; dag-cbor refuses it while decoding
    expect(codeOf(() => decodeHex('a2616101616102'))).toBe('MALFORMED_ENCODING')
  })

  it('rejects non-minimal integer encodings (dag-cbor strict mode: MALFORMED_ENCODING)', () => {
    // 1 as uint8 (18 01), uint16 (19 0001), uint64; -1 as 38 00
    for (const hex of ['1801', '190001', '1b0000000000000001', '3800']) {
      expect(codeOf(() => decodeHex(hex)), hex).toBe('MALFORMED_ENCODING')
    }
    // inside a map value
    expect(codeOf(() => decodeHex('a161611801'))).toBe('MALFORMED_ENCODING')
    // non-minimal lengths of a string, a list and a map
    expect(codeOf(() => decodeHex('780161'))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => decodeHex('980101'))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => decodeHex('b801616101'))).toBe('MALFORMED_ENCODING')
  })

  it('rejects indefinite-length maps, lists and strings', () => {
    expect(codeOf(() => decodeHex('bf616101ff'))).toBe('MALFORMED_ENCODING') // {_ a: 1}
    expect(codeOf(() => decodeHex('9f01ff'))).toBe('MALFORMED_ENCODING') // [_ 1]
    expect(codeOf(() => decodeHex('7f6161ff'))).toBe('MALFORMED_ENCODING') // (_ "a")
    expect(codeOf(() => decodeHex('5f4101ff'))).toBe('MALFORMED_ENCODING') // (_ h'01')
  })

  it('rejects trailing bytes after a complete value', () => {
    expect(codeOf(() => decodeHex('0100'))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => decodeHex('a1616101' + '00'))).toBe('MALFORMED_ENCODING')
    expect(codeOf(() => decodeHex('a1616101' + 'a1616101'))).toBe('MALFORMED_ENCODING')
  })

  it('NON_CANONICAL_ENCODING: a float that DAG-CBOR would encode as an integer or a 64-bit float', () => {
    expect(codeOf(() => decodeHex('f93c00'))).toBe('NON_CANONICAL_ENCODING') // half-precision 1.0
    expect(codeOf(() => decodeHex('f93e00'))).toBe('NON_CANONICAL_ENCODING') // half-precision 1.5
    expect(decodeHex('fb3ff8000000000000')).toBe(1.5) // the canonical 64-bit form is fine
  })

  it('rejects tags other than CID (42)', () => {
    expect(codeOf(() => decodeHex('c16161'))).toBe('MALFORMED_ENCODING')
  })

  it('rejects undefined (f7): DAG-CBOR has no undefined', () => {
    expect(codeOf(() => decodeHex('f7'))).toBe('NON_CANONICAL_ENCODING')
  })

  it('every rejection is a CertchainError, never a raw decoder error', () => {
    for (const hex of ['', 'ff', '0100', 'a2616202616101', 'bf616101ff', '1801', 'c16161', 'f7', '5820']) {
      expect(() => decodeHex(hex), hex).toThrow(CertchainError)
    }
  })
})
