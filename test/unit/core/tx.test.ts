import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { certificateId } from '../../../src/core/certificate.js'
import { createSigner, generateKeyPair } from '../../../src/core/crypto.js'
import { decodeCanonical, encode, pruneUndefined } from '../../../src/core/encoding.js'
import { sha256 } from '../../../src/core/hash.js'
import { merkleRoot } from '../../../src/core/merkle.js'
import {
  decodeTx,
  encodeTx,
  signTx,
  signedContent,
  TX_DOMAIN,
  txSignBytes,
  verifyTxSignature,
  type TxLimits,
} from '../../../src/core/tx.js'
import { MAX_TIME_MS, type CertificateRecord, type SignedTx, type UnsignedTx } from '../../../src/core/types.js'
import {
  decode,
  issueTx,
  makeTestChain,
  reinstateTx,
  revokeTx,
  signEncode,
  suspendTx,
  thrownCode,
  type BuiltTx,
  type IssuerId,
} from '../../helpers/fixtures.js'

const chain = makeTestChain()
const CHAIN_ID = chain.genesis.chainId
const limits: TxLimits = chain.genesis.params
const someId = (): Bytes => new Uint8Array(randomBytes(32))

function decodeCode(bytes: Bytes, l: TxLimits = limits): string | undefined {
  return thrownCode(() => decodeTx(CHAIN_ID, bytes, l))
}

/** Encodes an arbitrary (possibly invalid) transaction value canonically. */
function encodeRaw(value: unknown): Bytes {
  return encode(pruneUndefined(value))
}

/** A valid issuance as a plain, editable object. */
type Editable = Record<string, unknown> & { body: { records: Record<string, unknown>[] } & Record<string, unknown> }

function issuanceValue(): Editable {
  const { tx } = issueTx(chain, 'kr.mois', 2)
  return structuredClone(tx) as unknown as Editable
}

function allKinds(): [string, BuiltTx][] {
  const id = someId()
  return [
    ['IssueCertificates', issueTx(chain, 'kr.mois', 3)],
    ['IssueCertificates with a holder', issueTx(chain, 'kr.court.seoul', [{ holder: someId() }, {}])],
    ['RevokeCertificates', revokeTx(chain, 'kr.mois', [someId(), someId()], { reason: 'superseded', note: '재발급' })],
    ['SuspendCertificate', suspendTx(chain, 'kr.mois', id, { reason: 'court_order', note: '법원 명령' })],
    ['ReinstateCertificate', reinstateTx(chain, 'kr.mois', id)],
  ]
}

describe('sign → encode → decodeTx → verifyTxSignature', () => {
  for (const [name, built] of allKinds()) {
    it(`round trips and verifies: ${name}`, () => {
      const d = decodeTx(CHAIN_ID, built.bytes, limits)
      expect(d.tx).toEqual(built.tx)
      expect(d.bytes).toBe(built.bytes)
      expect(() => verifyTxSignature(d)).not.toThrow()
      expect(toHex(encodeTx(d.tx))).toBe(toHex(built.bytes))
    })
  }

  it('sign bytes are encode([domain, chainId, kind, signer, content])', () => {
    const built = suspendTx(chain, 'kr.mois', someId())
    const d = decode(chain, built)
    expect(decodeCanonical(d.signBytes, 1 << 20)).toEqual([TX_DOMAIN, CHAIN_ID, 'SuspendCertificate', 'kr.mois', built.tx.body])
    expect(TX_DOMAIN).toBe('certchain/tx@1')
  })

  it('an issuance signs {count, expiresAt, recordsRoot} over the certificate ids, not the records', () => {
    const built = issueTx(chain, 'kr.mois', 4)
    const d = decode(chain, built)
    const ids = built.records.map(certificateId)
    expect(d.certificateIds).toEqual(ids)
    const content = { count: 4, expiresAt: built.tx.body.expiresAt, recordsRoot: merkleRoot(ids) }
    expect(signedContent(built.tx)).toEqual(content)
    expect(decodeCanonical(d.signBytes, 1 << 20)).toEqual([TX_DOMAIN, CHAIN_ID, 'IssueCertificates', 'kr.mois', content])
  })

  it('non-issuance kinds have no certificate ids', () => {
    expect(decode(chain, revokeTx(chain, 'kr.mois', [someId()])).certificateIds).toEqual([])
  })
})

describe('BAD_SIGNATURE: a signature is bound to chain id, kind, signer and content', () => {
  it('a transaction signed for chain A does not verify on chain B', () => {
    const built = issueTx(chain, 'kr.mois', 1, { chainId: 'certchain-other' })
    // it is a perfectly good transaction on the other chain
    expect(() => verifyTxSignature(decodeTx('certchain-other', built.bytes, limits))).not.toThrow()
    expect(thrownCode(() => verifyTxSignature(decodeTx(CHAIN_ID, built.bytes, limits)))).toBe('BAD_SIGNATURE')
  })

  it('sign bytes made for chain A, attached to the same transaction, fail on chain B (every kind)', () => {
    for (const [name, built] of allKinds()) {
      const tx = built.tx
      const signer = createSigner(chain.keys[tx.signer as IssuerId].secretKey)
      const sigA = signer.sign(txSignBytes('certchain-a', tx.kind, tx.signer, signedContent(tx)))
      const bytes = encodeTx({ ...tx, sig: sigA })
      expect(() => verifyTxSignature(decodeTx('certchain-a', bytes, limits)), name).not.toThrow()
      expect(thrownCode(() => verifyTxSignature(decodeTx('certchain-b', bytes, limits))), name).toBe('BAD_SIGNATURE')
    }
  })

  it('a signature over a body as one kind does not verify as another kind with the same body', () => {
    const kp = chain.keys['kr.mois']
    const signer = createSigner(kp.secretKey)
    const body = { id: someId(), expiresAt: Date.now() + 60_000 }
    const reinstate = { kind: 'ReinstateCertificate', signer: 'kr.mois', key: kp.publicKey, body } as const
    // control: signed as ReinstateCertificate it verifies
    const good = signTx(CHAIN_ID, reinstate, (m) => signer.sign(m))
    expect(() => verifyTxSignature(decode(chain, encodeTx(good)))).not.toThrow()
    // the same body signed as SuspendCertificate (or any other kind) does not
    for (const kind of ['SuspendCertificate', 'RevokeCertificates', 'IssueCertificates'] as const) {
      const sig = signer.sign(txSignBytes(CHAIN_ID, kind, 'kr.mois', body))
      const bytes = encodeTx({ ...reinstate, sig })
      expect(thrownCode(() => verifyTxSignature(decode(chain, bytes))), kind).toBe('BAD_SIGNATURE')
    }
  })

  it('a revocation body signed as a suspension with the same fields does not verify', () => {
    const kp = chain.keys['kr.mois']
    const signer = createSigner(kp.secretKey)
    const revoke = revokeTx(chain, 'kr.mois', [someId()], { reason: 'other' })
    const sig = signer.sign(txSignBytes(CHAIN_ID, 'SuspendCertificate', 'kr.mois', revoke.tx.body))
    expect(thrownCode(() => verifyTxSignature(decode(chain, encodeTx({ ...revoke.tx, sig }))))).toBe('BAD_SIGNATURE')
  })

  it('a signature by one issuer id does not verify under another issuer id with the same key', () => {
    const built = suspendTx(chain, 'kr.mois', someId())
    const renamed = encodeTx({ ...built.tx, signer: 'kr.seoul.jongno' })
    expect(thrownCode(() => verifyTxSignature(decode(chain, renamed)))).toBe('BAD_SIGNATURE')
  })

  it('the issuance signature covers every record', () => {
    const built = issueTx(chain, 'kr.mois', 3)
    const records = built.tx.body.records.map((r, i) => (i === 2 ? { ...r, validUntil: r.validUntil + 1 } : r))
    const tampered = encodeTx({ ...built.tx, body: { ...built.tx.body, records } })
    expect(thrownCode(() => verifyTxSignature(decode(chain, tampered)))).toBe('BAD_SIGNATURE')
  })

  it('the signature covers expiresAt, reason and note', () => {
    const built = revokeTx(chain, 'kr.mois', [someId()], { reason: 'fraud', note: 'a' })
    const variants: SignedTx[] = [
      { ...built.tx, body: { ...built.tx.body, expiresAt: built.tx.body.expiresAt + 1 } } as SignedTx,
      { ...built.tx, body: { ...built.tx.body, reason: 'other' } } as SignedTx,
      { ...built.tx, body: { ...built.tx.body, note: 'b' } } as SignedTx,
    ]
    for (const v of variants) expect(thrownCode(() => verifyTxSignature(decode(chain, encodeTx(v))))).toBe('BAD_SIGNATURE')
  })

  it('a signature by another key under the registered key fails', () => {
    const built = issueTx(chain, 'kr.mois', 1, { signWith: generateKeyPair(), key: chain.keys['kr.mois'].publicKey })
    expect(thrownCode(() => verifyTxSignature(decode(chain, built)))).toBe('BAD_SIGNATURE')
  })
})

describe('transaction id', () => {
  it('is SHA-256 of the sign bytes', () => {
    const d = decode(chain, issueTx(chain, 'kr.mois', 2))
    expect(d.id).toEqual(new Uint8Array(createHash('sha256').update(d.signBytes).digest()))
  })

  it('is stable under re-encoding', () => {
    for (const [name, built] of allKinds()) {
      const d1 = decode(chain, built)
      const again = encodeTx(d1.tx)
      expect(toHex(again), name).toBe(toHex(built.bytes))
      expect(toHex(decode(chain, again).id), name).toBe(toHex(d1.id))
    }
  })

  it('does not depend on the signature bytes', () => {
    const built = issueTx(chain, 'kr.mois', 2)
    const d1 = decode(chain, built)
    const d2 = decode(chain, encodeTx({ ...built.tx, sig: new Uint8Array(64).fill(7) }))
    expect(toHex(d2.id)).toBe(toHex(d1.id))
    expect(thrownCode(() => verifyTxSignature(d2))).toBe('BAD_SIGNATURE')
  })

  it('depends on the chain id', () => {
    const built = issueTx(chain, 'kr.mois', 1)
    expect(toHex(decodeTx('certchain-a', built.bytes, limits).id)).not.toBe(toHex(decodeTx('certchain-b', built.bytes, limits).id))
  })

  it('differs between transactions that differ only in expiresAt', () => {
    const id = someId()
    const a = decode(chain, suspendTx(chain, 'kr.mois', id, { expiresAt: 1_000_000 }))
    const b = decode(chain, suspendTx(chain, 'kr.mois', id, { expiresAt: 1_000_001 }))
    expect(toHex(a.id)).not.toBe(toHex(b.id))
  })
})

describe('certificate id', () => {
  it('is SHA-256 of the canonical encoding of the record (pinned byte layout)', () => {
    const record: CertificateRecord = {
      type: 'kr.residence',
      issuer: 'kr.mois',
      docHash: new Uint8Array(32).fill(0x11),
      validFrom: 1_700_000_000_000,
      validUntil: 1_707_776_000_000,
    }
    const text = (s: string): string => (0x60 + s.length).toString(16) + Buffer.from(s).toString('hex')
    // map(5), keys length-first: type, issuer, docHash, validFrom, validUntil
    const hex =
      'a5' +
      text('type') + text('kr.residence') +
      text('issuer') + text('kr.mois') +
      text('docHash') + '5820' + '11'.repeat(32) +
      text('validFrom') + '1b' + (1_700_000_000_000).toString(16).padStart(16, '0') +
      text('validUntil') + '1b' + (1_707_776_000_000).toString(16).padStart(16, '0')
    expect(toHex(encode(record))).toBe(hex)
    const expected = createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex')
    expect(toHex(certificateId(record))).toBe(expected)
    expect(toHex(certificateId({ ...record }))).toBe(expected)
  })

  it('the holder field sorts before issuer and changes the id', () => {
    const base: CertificateRecord = { type: 't', issuer: 'i', docHash: new Uint8Array(32), validFrom: 1, validUntil: 2 }
    const withHolder = { ...base, holder: new Uint8Array(32).fill(1) }
    expect(Object.keys(decodeCanonical(encode(withHolder), 1000) as object)).toEqual(['type', 'holder', 'issuer', 'docHash', 'validFrom', 'validUntil'])
    expect(toHex(certificateId(withHolder))).not.toBe(toHex(certificateId(base)))
  })

  it('decodeTx computes certificateIds = sha256(encode(record)) in record order', () => {
    const built = issueTx(chain, 'kr.land.seoul', 5)
    const d = decode(chain, built)
    expect(d.certificateIds.map(toHex)).toEqual(built.records.map((r) => toHex(sha256(encode(r)))))
  })

  it('ids hashed from the record spans equal certificateId, with or without holder and with non-ASCII text', () => {
    const value = issuanceValue()
    const [first, second] = value.body.records as [Record<string, unknown>, Record<string, unknown>]
    first.holder = new Uint8Array(32).fill(7)
    second.type = 'kr.주민등록'
    const records = value.body.records as unknown as CertificateRecord[]
    const d = decodeTx(CHAIN_ID, encodeRaw(value), limits)
    expect(d.certificateIds.map(toHex)).toEqual(records.map((r) => toHex(certificateId(r))))
  })
})

describe('decodeTx rejections', () => {
  it('TX_TOO_LARGE: over maxTxBytes, checked before decoding', () => {
    const built = issueTx(chain, 'kr.mois', 3)
    expect(decodeCode(built.bytes, { ...limits, maxTxBytes: built.bytes.length })).toBeUndefined()
    expect(decodeCode(built.bytes, { ...limits, maxTxBytes: built.bytes.length - 1 })).toBe('TX_TOO_LARGE')
    expect(decodeCode(new Uint8Array(limits.maxTxBytes + 1).fill(0xff))).toBe('TX_TOO_LARGE')
  })

  it('MALFORMED_ENCODING / NON_CANONICAL_ENCODING pass through from the decoder', () => {
    expect(decodeCode(Uint8Array.of(0xff))).toBe('MALFORMED_ENCODING')
    const built = issueTx(chain, 'kr.mois', 1)
    expect(decodeCode(Uint8Array.of(...built.bytes, 0))).toBe('MALFORMED_ENCODING')
    expect(decodeCode(built.bytes.subarray(0, built.bytes.length - 1))).toBe('MALFORMED_ENCODING')
  })

  it('MALFORMED_TX: not a map', () => {
    for (const v of [[1, 2], 'tx', 5, null, new Uint8Array(4)]) expect(decodeCode(encode(v))).toBe('MALFORMED_TX')
  })

  it('control: the editable issuance value decodes and verifies untouched', () => {
    const d = decodeTx(CHAIN_ID, encodeRaw(issuanceValue()), limits)
    expect(() => verifyTxSignature(d)).not.toThrow()
  })

  it('MALFORMED_TX: unknown field (transaction, body, record)', () => {
    const a = issuanceValue()
    expect(decodeCode(encodeRaw({ ...a, extra: 1 }))).toBe('MALFORMED_TX')
    const b = issuanceValue()
    expect(decodeCode(encodeRaw({ ...b, body: { ...b.body, extra: 1 } }))).toBe('MALFORMED_TX')
    const c = issuanceValue()
    c.body.records[1] = { ...c.body.records[1], color: 'red' }
    expect(decodeCode(encodeRaw(c))).toBe('MALFORMED_TX')
    // note is not a field of an issuance
    const d = issuanceValue()
    expect(decodeCode(encodeRaw({ ...d, body: { ...d.body, note: 'x' } }))).toBe('MALFORMED_TX')
    // reason is not a field of a reinstatement
    const r = reinstateTx(chain, 'kr.mois', someId()).tx
    expect(decodeCode(encodeRaw({ ...r, body: { ...r.body, reason: 'other' } }))).toBe('MALFORMED_TX')
  })

  it('MALFORMED_TX: a time past what a Date holds (every view formats times as ISO dates)', () => {
    const late = MAX_TIME_MS + 1
    for (const field of ['validFrom', 'validUntil']) {
      const v = issuanceValue()
      v.body.records[0]![field] = late
      if (field === 'validFrom') v.body.records[0]!.validUntil = late + 1
      expect(decodeCode(encodeRaw(v)), field).toBe('MALFORMED_TX')
    }
    const e = issuanceValue()
    e.body.expiresAt = late
    expect(decodeCode(encodeRaw(e)), 'expiresAt').toBe('MALFORMED_TX')
    // The bound itself is a time.
    const ok = issuanceValue()
    ok.body.records[0]!.validUntil = MAX_TIME_MS
    expect(() => decodeTx(CHAIN_ID, encodeRaw(ok), limits)).not.toThrow()
  })

  it('MALFORMED_TX: missing field', () => {
    for (const field of ['kind', 'signer', 'key', 'body', 'sig']) {
      const v = issuanceValue()
      delete v[field]
      expect(decodeCode(encodeRaw(v)), field).toBe('MALFORMED_TX')
    }
    for (const field of ['records', 'expiresAt']) {
      const v = issuanceValue()
      delete v.body[field]
      expect(decodeCode(encodeRaw(v)), `body.${field}`).toBe('MALFORMED_TX')
    }
    for (const field of ['type', 'issuer', 'docHash', 'validFrom', 'validUntil']) {
      const v = issuanceValue()
      delete v.body.records[0]![field]
      expect(decodeCode(encodeRaw(v)), `records[0].${field}`).toBe('MALFORMED_TX')
    }
    const s = suspendTx(chain, 'kr.mois', someId()).tx
    for (const field of ['id', 'reason', 'expiresAt']) {
      const body: Record<string, unknown> = { ...s.body }
      delete body[field]
      expect(decodeCode(encodeRaw({ ...s, body })), `suspend body.${field}`).toBe('MALFORMED_TX')
    }
  })

  it('MALFORMED_TX: wrong types', () => {
    const cases: [string, (v: Editable) => void][] = [
      ['signer is a number', (v) => (v.signer = 5)],
      ['signer is empty', (v) => (v.signer = '')],
      ['signer is longer than maxIdLength', (v) => (v.signer = 'x'.repeat(limits.maxIdLength + 1))],
      ['key is 31 bytes', (v) => (v.key = new Uint8Array(31))],
      ['key is a string', (v) => (v.key = 'aa'.repeat(32))],
      ['sig is 63 bytes', (v) => (v.sig = new Uint8Array(63))],
      ['sig is 65 bytes', (v) => (v.sig = new Uint8Array(65))],
      ['body is a list', (v) => (v.body = [] as unknown as typeof v.body)],
      ['records is a map', (v) => (v.body.records = { 0: {} } as unknown as typeof v.body.records)],
      ['expiresAt is negative', (v) => (v.body.expiresAt = -1)],
      ['expiresAt is a float', (v) => (v.body.expiresAt = 1.5)],
      ['expiresAt is a string', (v) => (v.body.expiresAt = '2030-01-01')],
      ['expiresAt is beyond 2^53', (v) => (v.body.expiresAt = 2n ** 60n)],
      ['record is a list', (v) => (v.body.records[0] = [] as unknown as Record<string, unknown>)],
      ['docHash is 31 bytes', (v) => (v.body.records[0]!.docHash = new Uint8Array(31))],
      ['docHash is hex text', (v) => (v.body.records[0]!.docHash = '00'.repeat(32))],
      ['holder is 33 bytes', (v) => (v.body.records[0]!.holder = new Uint8Array(33))],
      ['type is empty', (v) => (v.body.records[0]!.type = '')],
      ['type is too long', (v) => (v.body.records[0]!.type = 'k'.repeat(limits.maxIdLength + 1))],
      ['issuer is a number', (v) => (v.body.records[0]!.issuer = 7)],
      ['validFrom is a string', (v) => (v.body.records[0]!.validFrom = '1')],
      ['validUntil is negative', (v) => (v.body.records[0]!.validUntil = -5)],
    ]
    for (const [name, edit] of cases) {
      const v = issuanceValue()
      edit(v)
      expect(decodeCode(encodeRaw(v)), name).toBe('MALFORMED_TX')
    }
    const r = revokeTx(chain, 'kr.mois', [someId()]).tx
    expect(decodeCode(encodeRaw({ ...r, body: { ...r.body, ids: someId() } })), 'ids not a list').toBe('MALFORMED_TX')
    expect(decodeCode(encodeRaw({ ...r, body: { ...r.body, ids: [new Uint8Array(31)] } })), 'id of 31 bytes').toBe('MALFORMED_TX')
    expect(decodeCode(encodeRaw({ ...r, body: { ...r.body, note: 5 } })), 'note is a number').toBe('MALFORMED_TX')
    const s = suspendTx(chain, 'kr.mois', someId()).tx
    expect(decodeCode(encodeRaw({ ...s, body: { ...s.body, id: [someId()] } })), 'suspend id is a list').toBe('MALFORMED_TX')
  })

  it('MALFORMED_TX: bad kind', () => {
    for (const kind of ['MintCertificates', 'issueCertificates', '', 1, null]) {
      const v = issuanceValue()
      v.kind = kind
      expect(decodeCode(encodeRaw(v)), String(kind)).toBe('MALFORMED_TX')
    }
  })

  it('EMPTY_BATCH: an issuance without records, a revocation without ids', () => {
    const issue = signEncode(
      chain,
      { kind: 'IssueCertificates', signer: 'kr.mois', key: chain.keys['kr.mois'].publicKey, body: { records: [], expiresAt: Date.now() } },
      chain.keys['kr.mois'],
    )
    expect(decodeCode(issue.bytes)).toBe('EMPTY_BATCH')
    expect(decodeCode(revokeTx(chain, 'kr.mois', []).bytes)).toBe('EMPTY_BATCH')
  })

  it('TOO_MANY_RECORDS: more records or ids than maxRecordsPerTx', () => {
    const small = { ...limits, maxRecordsPerTx: 2 }
    expect(decodeCode(issueTx(chain, 'kr.mois', 2).bytes, small)).toBeUndefined()
    expect(decodeCode(issueTx(chain, 'kr.mois', 3).bytes, small)).toBe('TOO_MANY_RECORDS')
    expect(decodeCode(revokeTx(chain, 'kr.mois', [someId(), someId()]).bytes, small)).toBeUndefined()
    expect(decodeCode(revokeTx(chain, 'kr.mois', [someId(), someId(), someId()]).bytes, small)).toBe('TOO_MANY_RECORDS')
  })

  it('INVALID_VALIDITY: validUntil not after validFrom', () => {
    expect(decodeCode(issueTx(chain, 'kr.mois', [{ validFrom: 1000, validUntil: 1000 }]).bytes)).toBe('INVALID_VALIDITY')
    expect(decodeCode(issueTx(chain, 'kr.mois', [{}, { validFrom: 1000, validUntil: 999 }]).bytes)).toBe('INVALID_VALIDITY')
    expect(decodeCode(issueTx(chain, 'kr.mois', [{ validFrom: 1000, validUntil: 1001 }]).bytes)).toBeUndefined()
    expect(decodeCode(issueTx(chain, 'kr.mois', [{ validFrom: 0, validUntil: 1 }]).bytes)).toBeUndefined()
  })

  it('NOTE_TOO_LONG: a note longer than maxNoteLength, for every kind that has one', () => {
    const max = limits.maxNoteLength
    const id = someId()
    expect(decodeCode(revokeTx(chain, 'kr.mois', [id], { note: '가'.repeat(max) }).bytes)).toBeUndefined()
    expect(decodeCode(revokeTx(chain, 'kr.mois', [id], { note: '가'.repeat(max + 1) }).bytes)).toBe('NOTE_TOO_LONG')
    expect(decodeCode(suspendTx(chain, 'kr.mois', id, { note: 'x'.repeat(max + 1) }).bytes)).toBe('NOTE_TOO_LONG')
    expect(decodeCode(reinstateTx(chain, 'kr.mois', id, { note: 'x'.repeat(max + 1) }).bytes)).toBe('NOTE_TOO_LONG')
    expect(decodeCode(reinstateTx(chain, 'kr.mois', id, { note: '' }).bytes)).toBeUndefined()
  })

  it('INVALID_REASON: a reason outside the list of its kind', () => {
    const r = revokeTx(chain, 'kr.mois', [someId()]).tx
    expect(decodeCode(encodeRaw({ ...r, body: { ...r.body, reason: 'because' } }))).toBe('INVALID_REASON')
    expect(decodeCode(encodeRaw({ ...r, body: { ...r.body, reason: 3 } }))).toBe('INVALID_REASON')
    // a suspension reason that is only a revocation reason
    const s = suspendTx(chain, 'kr.mois', someId()).tx
    expect(decodeCode(encodeRaw({ ...s, body: { ...s.body, reason: 'superseded' } }))).toBe('INVALID_REASON')
    expect(decodeCode(encodeRaw({ ...s, body: { ...s.body, reason: 'UNDER_INVESTIGATION' } }))).toBe('INVALID_REASON')
    // every listed reason is accepted
    for (const reason of ['superseded', 'issued_in_error', 'holder_request', 'holder_deceased', 'court_order', 'fraud', 'key_compromised', 'other'] as const) {
      expect(decodeCode(revokeTx(chain, 'kr.mois', [someId()], { reason }).bytes), reason).toBeUndefined()
    }
    for (const reason of ['under_investigation', 'holder_request', 'court_order', 'other'] as const) {
      expect(decodeCode(suspendTx(chain, 'kr.mois', someId(), { reason }).bytes), reason).toBeUndefined()
    }
  })

  it('a decoded transaction carries no fields beyond the schema', () => {
    const unsigned: UnsignedTx = {
      kind: 'ReinstateCertificate',
      signer: 'kr.mois',
      key: chain.keys['kr.mois'].publicKey,
      body: { id: someId(), expiresAt: 5 },
    }
    const d = decode(chain, signEncode(chain, unsigned, chain.keys['kr.mois']))
    expect(Object.keys(d.tx).sort()).toEqual(['body', 'key', 'kind', 'sig', 'signer'])
    expect(Object.keys(d.tx.body).sort()).toEqual(['expiresAt', 'id'])
  })
})
