import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { pruneUndefined } from '../../../src/core/encoding.js'
import { decodeStoredEntry, type StoredEntry } from '../../../src/ledger/stored-entry.js'

// decodeStoredEntry reads CERT values directly (every lookup decodes one per id); whatever it
// returns must be exactly what the generic DAG-CBOR decoder returns, and what it cannot read it
// hands to that decoder.
const uint = fc.oneof(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 70_000 }), fc.maxSafeNat(), fc.constantFrom(23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, Date.now()))
const id = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,63}$/)
const change = fc.record(
  {
    height: uint,
    time: uint,
    by: id,
    key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    reason: fc.constantFrom('issued_in_error', 'key_compromised'),
    note: fc.string({ unit: 'grapheme', maxLength: 40 }),
  },
  { requiredKeys: ['height', 'time', 'by'] },
)
const history = fc.record({ change, earlier: fc.array(fc.tuple(change, fc.constantFrom('revoked', 'suspended', 'active')).map(([c, state]) => ({ ...c, state })), { maxLength: 3 }) }, { requiredKeys: [] })
const entry = fc
  .tuple(uint, uint, uint, uint, fc.integer({ min: 0, max: 2 }), id, id, fc.uint8Array({ minLength: 32, maxLength: 32 }), uint, uint, fc.oneof(fc.constant(null), fc.uint8Array({ minLength: 32, maxLength: 32 })), fc.option(history, { nil: undefined }))
  .map(([seq, height, index, time, state, type, issuer, docHash, validFrom, validUntil, holder, more]) => {
    const out: StoredEntry = [seq, height, index, time, state, type, issuer, docHash, validFrom, validUntil, holder]
    if (more !== undefined) out.push(pruneUndefined(more))
    return out
  })

const encode = (e: unknown[]) => dagCbor.encode(e)

describe('stored certificate entries, read directly', () => {
  it('decode to exactly what the generic decoder gives, with and without holder and status history', () => {
    fc.assert(
      fc.property(entry, (e) => {
        const bytes = encode(e)
        const direct = decodeStoredEntry(bytes)
        expect(direct).toEqual(dagCbor.decode(bytes))
        // Byte strings are copies, as the generic decoder's are: nothing shares the read buffer.
        expect(direct[7].buffer).not.toBe(bytes.buffer)
        expect(direct[7]).toBeInstanceOf(Uint8Array)
        expect(Buffer.isBuffer(direct[7])).toBe(false)
      }),
      { numRuns: 2000 },
    )
  })

  it('reads values held in a Buffer at an offset (how LevelDB hands them over)', () => {
    const e: StoredEntry = [7, 3, 1, Date.now(), 1, 'kr.residence', 'kr.mois', new Uint8Array(32).fill(9), 1, 2 ** 40, null]
    const bytes = encode(e)
    const pool = Buffer.alloc(bytes.length + 17)
    pool.set(bytes, 17)
    expect(decodeStoredEntry(pool.subarray(17))).toEqual(e)
  })

  it('hands what it does not read (negative or fractional times, non-ASCII names, other shapes) to the generic decoder', () => {
    const base: StoredEntry = [1, 2, 0, 1_700_000_000_000, 0, 'kr.residence', 'kr.mois', new Uint8Array(32), 0, 10, null]
    const unusual: unknown[][] = [
      [1, 2, 0, 1_700_000_000_000, 0, 'kr.residence', 'kr.mois', new Uint8Array(32), -5, 10, null],
      [1, 2, 0, 1.5, 0, 'kr.residence', 'kr.mois', new Uint8Array(32), 0, 10, null],
      [1, 2, 0, 1, 0, '주민등록', 'kr.mois', new Uint8Array(32), 0, 10, null],
      [1, 2, 0, 1, 0, 'kr.residence', 'kr.mois', new Uint8Array(32), 0, 10, null, { change: { height: 3, time: 4, by: 'kr.mois' } }],
      [1, 2, 3],
      [...base.slice(0, 10), 'not bytes'],
    ]
    for (const value of unusual) {
      const bytes = encode(value)
      expect(decodeStoredEntry(bytes)).toEqual(dagCbor.decode(bytes))
    }
  })

  it('refuses what the generic decoder refuses: truncated values and trailing bytes', () => {
    const bytes = encode([1, 2, 0, 1_700_000_000_000, 0, 'kr.residence', 'kr.mois', new Uint8Array(32), 0, 10, null])
    for (const cut of [1, 5, 20, bytes.length - 1]) expect(() => decodeStoredEntry(bytes.subarray(0, cut))).toThrow()
    const longer = new Uint8Array(bytes.length + 1)
    longer.set(bytes)
    expect(() => decodeStoredEntry(longer)).toThrow()
  })
})
