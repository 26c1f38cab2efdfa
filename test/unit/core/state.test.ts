import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { pruneUndefined } from '../../../src/core/encoding.js'
import { statusLeafBytes, type StatusLeafValue } from '../../../src/core/state.js'

// statusLeafBytes writes the usual leaf directly (it is hashed once per certificate in every
// block); its bytes must be exactly the generic DAG-CBOR encoder's, or state roots change.
const uint = fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 70_000 }), fc.maxSafeNat(), fc.constantFrom(23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Date.now()))
const leaf = fc.record(
  {
    id: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    tx: fc.uint8Array({ minLength: 0, maxLength: 40 }),
    key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    issuedHeight: uint,
    issuedTime: uint,
    state: fc.oneof(fc.constantFrom('active', 'revoked', 'suspended'), fc.string({ unit: 'grapheme', maxLength: 30 })),
    since: uint,
    sinceTime: uint,
    reason: fc.oneof(fc.constant(undefined), fc.constantFrom('key_compromised', 'court_order'), fc.string({ unit: 'grapheme', maxLength: 40 })),
  },
  { requiredKeys: ['id', 'tx', 'key', 'issuedHeight', 'issuedTime', 'state', 'since', 'sinceTime'] },
)

describe('status leaf bytes', () => {
  it('equal the generic DAG-CBOR encoding for any leaf', () => {
    fc.assert(
      fc.property(leaf, (value) => {
        const l = value as StatusLeafValue
        expect(toHex(statusLeafBytes(l))).toBe(toHex(dagCbor.encode(pruneUndefined(l))))
      }),
      { numRuns: 2000 },
    )
  })

  it('fall back to the generic encoder for what the direct path does not write (extra fields, unsafe numbers), and grow for long text', () => {
    const base: StatusLeafValue = { id: new Uint8Array(32), tx: new Uint8Array(32), key: new Uint8Array(32), issuedHeight: 1, issuedTime: 2, state: 'active', since: 1, sinceTime: 2 }
    for (const odd of [{ ...base, extra: 'x' }, { ...base, since: 2 ** 60 }, { ...base, reason: 'fraud', extra: 1 }, { ...base, reason: '가'.repeat(2000) }, base]) {
      expect(toHex(statusLeafBytes(odd))).toBe(toHex(dagCbor.encode(pruneUndefined(odd))))
    }
  })
})
