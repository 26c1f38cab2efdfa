import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arrayItemSpans, isPlainCanonical, itemEnd, mapValueStart } from '../../../src/core/cbor-scan.js'
import { bytesEqual, fromHex } from '../../../src/core/bytes.js'
import { decodeCanonical, encode } from '../../../src/core/encoding.js'

/** What the full check says: decodes, and encodes back to exactly these bytes. */
function reencodes(bytes: Uint8Array): boolean {
  try {
    return bytesEqual(dagCbor.encode(dagCbor.decode(bytes)), bytes)
  } catch {
    return false
  }
}

const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 12 })
const safeInt = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.maxSafeInteger(), fc.maxSafeNat().map((n) => -n), fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, -24, -25, -257))

/** Values inside the subset the scan proves canonical (ASCII text and keys, safe integers, no floats or CIDs). */
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    safeInt,
    ascii,
    fc.uint8Array({ maxLength: 40 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(ascii.filter((k) => k !== '__proto__'), tie('value'), { maxKeys: 5 }),
  ),
})).value

/** Encoded plain values with bytes flipped, inserted or removed: mostly invalid, sometimes another valid item. */
const mutated = fc.tuple(plain, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'delete')), { minLength: 1, maxLength: 3 })).map(([value, edits]) => {
  const bytes = [...encode(value)]
  for (const [at, byte, op] of edits) {
    const i = at % (bytes.length + 1)
    if (op === 'insert') bytes.splice(i, 0, byte)
    else if (op === 'delete') bytes.splice(i, 1)
    else if (i < bytes.length) bytes[i] = byte
  }
  return Uint8Array.from(bytes)
})

const hex = (h: string) => fromHex(h.replace(/\s+/g, ''))

describe('isPlainCanonical', () => {
  it('proves every canonical encoding of a plain value', () => {
    fc.assert(fc.property(plain, (value) => isPlainCanonical(encode(value))), { numRuns: 2000 })
  })

  it('is sound: whenever it says canonical, the value encodes back to the same bytes', () => {
    fc.assert(
      fc.property(mutated, (bytes) => {
        if (isPlainCanonical(bytes)) expect(reencodes(bytes)).toBe(true)
      }),
      { numRuns: 20_000 },
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => {
        if (isPlainCanonical(bytes)) expect(reencodes(bytes)).toBe(true)
      }),
      { numRuns: 20_000 },
    )
  })

  it.each([
    ['an integer in more bytes than needed', '18 05'],
    ['a length in more bytes than needed', '58 01 00'],
    ['a 16-bit integer that fits 8 bits', '19 00 ff'],
    ['a 32-bit integer that fits 16 bits', '1a 00 00 ff ff'],
    ['a 64-bit integer that fits 32 bits', '1b 00 00 00 00 ff ff ff ff'],
    ['an integer above 2^53 - 1 (a BigInt when decoded)', '1b 00 20 00 00 00 00 00 00'],
    ['keys out of order', 'a2 61 62 01 61 61 02'],
    ['a longer key before a shorter one', 'a2 62 61 61 01 61 62 02'],
    ['a repeated key', 'a2 61 61 01 61 61 02'],
    ['a non-string key', 'a1 01 02'],
    ['undefined (decoded as null)', 'f7'],
    ['a float', 'fb 3f f0 00 00 00 00 00 00'],
    ['a half float', 'f9 3c 00'],
    ['a tag', 'd8 2a 45 00 01 02 03 04'],
    ['an indefinite-length array', '9f 01 ff'],
    ['trailing bytes', '01 01'],
    ['a cut-short string', '63 61 62'],
    ['an array count beyond the input', '9a 00 01 00 00 01'],
    ['non-ASCII text (left to the re-encode)', '62 c3 a9'],
    ['"__proto__" as a key (left to the re-encode)', 'a1 69 5f 5f 70 72 6f 74 6f 5f 5f 01'],
    ['nothing at all', ''],
  ])('does not prove %s', (_what, bytes) => {
    expect(isPlainCanonical(hex(bytes))).toBe(false)
  })

  it('leaves the verdict of decodeCanonical unchanged on what it does not prove', () => {
    expect(decodeCanonical(hex('62 c3 a9'), 100)).toBe('é')
    expect(() => decodeCanonical(hex('a2 61 62 01 61 61 02'), 100)).toThrow(expect.objectContaining({ code: 'NON_CANONICAL_ENCODING' }))
    expect(() => decodeCanonical(hex('fb 3f f0 00 00 00 00 00 00'), 100)).toThrow(expect.objectContaining({ code: 'NON_CANONICAL_ENCODING' }))
    expect(() => decodeCanonical(hex('f7'), 100)).toThrow(expect.objectContaining({ code: 'NON_CANONICAL_ENCODING' }))
  })

  it('agrees with the full re-encode on canonical and non-canonical inputs alike (decodeCanonical)', () => {
    fc.assert(
      fc.property(mutated, (bytes) => {
        let fast: string
        try {
          decodeCanonical(bytes, 1 << 20)
          fast = 'ok'
        } catch (err) {
          fast = (err as { code: string }).code
        }
        let full: string
        try {
          dagCbor.decode(bytes)
          full = reencodes(bytes) ? 'ok' : 'NON_CANONICAL_ENCODING'
        } catch {
          full = 'MALFORMED_ENCODING'
        }
        expect(fast).toBe(full)
      }),
      { numRuns: 10_000 },
    )
  })
})

describe('spans', () => {
  it('finds each item where it was encoded', () => {
    fc.assert(
      fc.property(fc.array(plain, { maxLength: 6 }), plain, (items, other) => {
        const bytes = encode({ body: { records: items, expiresAt: 1 }, kind: other })
        const body = mapValueStart(bytes, 0, 'body')!
        const records = mapValueStart(bytes, body, 'records')!
        expect(itemEnd(bytes, 0)).toBe(bytes.length)
        const spans = arrayItemSpans(bytes, records)!
        expect(spans.map(([s, e]) => [...bytes.subarray(s, e)])).toEqual(items.map((i) => [...encode(i)]))
        expect(mapValueStart(bytes, 0, 'missing')).toBeUndefined()
        expect(mapValueStart(bytes, 0, 'kind')).toBe(bytes.length - encode(other).length)
      }),
      { numRuns: 500 },
    )
  })

  it('gives up on what it cannot walk', () => {
    expect(mapValueStart(hex('01'), 0, 'a')).toBeUndefined()
    expect(mapValueStart(hex('a1 61 61'), 0, 'a')).toBeUndefined()
    expect(arrayItemSpans(hex('a0'), 0)).toBeUndefined()
    expect(itemEnd(hex('fb 3f f0 00 00 00 00 00 00'), 0)).toBeUndefined()
    expect(itemEnd(hex('82 01'), 0)).toBeUndefined()
  })
})
