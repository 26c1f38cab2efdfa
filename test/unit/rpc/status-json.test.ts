import { describe, expect, it } from 'vitest'
import { certificateStatus, type CertificateEntry, type Registry } from '../../../src/ledger/index.js'
import { certificateStatusesJson, certificateView, certificateViewJson } from '../../../src/rpc/views.js'

// The status batch answer is written as a string; it must parse to what the route answered when
// it built objects: one result per id in order, lowercase ids, the status at `now`, type and issuer.
const NOW = 1_750_000_000_000
const entry = (state: CertificateEntry['state'], validFrom: number, validUntil: number, type = 'kr.residence', issuer = 'kr.mois'): CertificateEntry => ({
  record: { type, issuer, docHash: new Uint8Array(32), validFrom, validUntil },
  seq: 0,
  txId: new Uint8Array(32),
  key: new Uint8Array(32),
  height: 1,
  time: validFrom,
  state,
})

describe('certificateStatusesJson', () => {
  it('parses to the batch answer: every status, unknown ids, ids lowercased, in request order', () => {
    const ids = ['AB'.repeat(32), 'cd'.repeat(32), 'Ef'.repeat(32), '01'.repeat(32), '23'.repeat(32), '45'.repeat(32)]
    const entries = [
      entry('active', NOW - 1000, NOW + 1000),
      entry('revoked', NOW - 1000, NOW + 1000),
      undefined,
      entry('suspended', NOW - 1000, NOW + 1000, 'kr.seoul.jongno', 'kr.seoul-jongno'),
      entry('active', NOW + 1, NOW + 1000),
      entry('active', NOW - 1000, NOW),
    ]
    const expected = {
      height: 42,
      results: ids.map((id, i) => {
        const e = entries[i]
        const lower = id.toLowerCase()
        return e ? { id: lower, status: certificateStatus(e, NOW), type: e.record.type, issuer: e.record.issuer } : { id: lower, status: 'unknown' }
      }),
    }
    const json = certificateStatusesJson(42, ids, entries, NOW)
    expect(JSON.parse(json)).toEqual(expected)
    expect(expected.results.map((r) => r.status)).toEqual(['valid', 'revoked', 'unknown', 'suspended', 'not_yet_valid', 'expired'])
    expect(json).toBe(JSON.stringify(expected))
  })

  it('escapes type and issuer names as JSON strings', () => {
    const odd = entry('active', NOW - 1, NOW + 1, 'a"b\\c', 'line\nbreak')
    const parsed = JSON.parse(certificateStatusesJson(1, ['00'.repeat(32)], [odd], NOW)) as { results: { type: string; issuer: string }[] }
    expect(parsed.results[0]).toMatchObject({ type: 'a"b\\c', issuer: 'line\nbreak' })
  })
})

describe('certificateViewJson', () => {
  const registry = (typeName: string | undefined, issuerName: string | undefined) =>
    ({ type: () => (typeName === undefined ? undefined : { nameEn: typeName }), issuer: () => (issuerName === undefined ? undefined : { name: issuerName }) }) as unknown as Registry
  const changed: CertificateEntry = {
    ...entry('suspended', NOW - 1000, NOW + 1000),
    record: { type: 'kr.residence', issuer: 'kr.mois', docHash: new Uint8Array(32).fill(3), holder: new Uint8Array(32).fill(4), validFrom: NOW - 1000, validUntil: NOW + 1000 },
    change: { height: 5, time: NOW - 10, by: 'kr.mois', key: new Uint8Array(32).fill(5), reason: 'court_order', note: 'a "quoted" note\n' },
  }

  it('is JSON.stringify of the view, for every status as time passes, from a view built once', () => {
    const id = 'ab'.repeat(32)
    const r = registry('Residence', 'Ministry "of" the Interior')
    const e = entry('active', NOW, NOW + 1000)
    for (const now of [NOW - 1, NOW, NOW + 999, NOW + 1000, NOW - 1]) {
      expect(certificateViewJson(id, e, r, now)).toBe(JSON.stringify(certificateView(id, e, r, now)))
    }
    expect(certificateViewJson(id, changed, r, NOW)).toBe(JSON.stringify(certificateView(id, changed, r, NOW)))
    expect(JSON.parse(certificateViewJson(id, changed, r, NOW))).toMatchObject({ status: 'suspended', statusChange: { note: 'a "quoted" note\n' } })
  })

  it('answers a new registry (names) and another id with their own view, not a kept one', () => {
    const e = entry('active', NOW - 1, NOW + 1000)
    const before = registry('Residence', 'MOIS')
    const after = registry(undefined, 'Ministry of the Interior and Safety')
    expect(JSON.parse(certificateViewJson('cd'.repeat(32), e, before, NOW))).toMatchObject({ typeName: 'Residence', issuerName: 'MOIS' })
    expect(JSON.parse(certificateViewJson('cd'.repeat(32), e, after, NOW))).toMatchObject({ typeName: null, issuerName: 'Ministry of the Interior and Safety' })
    expect(JSON.parse(certificateViewJson('ef'.repeat(32), e, after, NOW))).toMatchObject({ id: 'ef'.repeat(32) })
  })
})
