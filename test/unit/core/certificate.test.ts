import { describe, expect, it } from 'vitest'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import {
  CERTIFICATE_FILE_FORMAT,
  certificateFileFromJson,
  certificateFileToJson,
  certificateId,
  checkCertificateFile,
  documentHash,
  MIN_SALT_LENGTH,
  newSalt,
  type CertificateFile,
  type CertificateFileJson,
} from '../../../src/core/certificate.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { sha256 } from '../../../src/core/hash.js'
import { certificateFiles, decode, issueTx, makeTestChain, thrownCode } from '../../helpers/fixtures.js'

const chain = makeTestChain()

function flip(b: Bytes, at = 0): Bytes {
  const out = Uint8Array.from(b)
  out[at]! ^= 1
  return out
}

/** A batch of 5 kr.residence certificates from kr.seoul.jongno; one with a holder binding. */
function batch(): CertificateFile[] {
  const issued = issueTx(chain, 'kr.seoul.jongno', [{}, {}, { holder: sha256(generateKeyPair().publicKey) }, {}, {}])
  return certificateFiles(chain, issued, 7)
}

function messageOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    return (err as Error).message
  }
  return ''
}

describe('checkCertificateFile', () => {
  const files = batch()

  it('every member of a batch of 5 is valid offline', () => {
    expect(files).toHaveLength(5)
    const txId = toHex(files[0]!.issuance.txId)
    files.forEach((file, i) => {
      const checks = checkCertificateFile(file)
      expect(checks, `member ${i}`).toEqual({ idMatches: true, signatureValid: true, txId: file.issuance.txId })
      expect(toHex(checks.txId!)).toBe(txId)
    })
  })

  it('the recomputed transaction id is the id of the issuance transaction', () => {
    const issued = issueTx(chain, 'kr.mois', 3)
    const [file] = certificateFiles(chain, issued, 1)
    expect(toHex(checkCertificateFile(file!).txId!)).toBe(toHex(decode(chain, issued).id))
  })

  it('a batch of one has an empty proof and is valid', () => {
    const [file] = certificateFiles(chain, issueTx(chain, 'kr.land.seoul', 1), 1)
    expect(file!.issuance.proof).toEqual([])
    expect(checkCertificateFile(file!)).toMatchObject({ idMatches: true, signatureValid: true })
  })

  it('a tampered record fails the id check and the signature check', () => {
    const file = files[1]!
    for (const record of [
      { ...file.record, validUntil: file.record.validUntil + 1 },
      { ...file.record, docHash: flip(file.record.docHash) },
      { ...file.record, type: 'kr.family' },
    ]) {
      expect(checkCertificateFile({ ...file, record })).toMatchObject({ idMatches: false, signatureValid: false })
    }
  })

  it('a tampered record with a matching recomputed id still fails the signature check', () => {
    const file = files[1]!
    const record = { ...file.record, validUntil: file.record.validUntil + 1000 }
    expect(checkCertificateFile({ ...file, record, certificateId: certificateId(record) })).toMatchObject({
      idMatches: true,
      signatureValid: false,
    })
  })

  it('a removed holder binding fails', () => {
    const file = files[2]!
    expect(file.record.holder).toBeDefined()
    const { holder: _holder, ...unbound } = file.record
    expect(checkCertificateFile({ ...file, record: unbound, certificateId: certificateId(unbound) }).signatureValid).toBe(false)
  })

  it('a tampered proof fails', () => {
    const file = files[3]!
    expect(file.issuance.proof.length).toBeGreaterThan(0)
    const proof = file.issuance.proof.map((p, i) => (i === 0 ? flip(p) : p))
    expect(checkCertificateFile({ ...file, issuance: { ...file.issuance, proof } }).signatureValid).toBe(false)
    // a proof of another member
    expect(checkCertificateFile({ ...file, issuance: { ...file.issuance, proof: files[0]!.issuance.proof } }).signatureValid).toBe(false)
    // a proof of the wrong length does not fit at all
    const short = { ...file, issuance: { ...file.issuance, proof: file.issuance.proof.slice(1) } }
    expect(checkCertificateFile(short)).toMatchObject({ signatureValid: false, txId: null })
  })

  it('a tampered index, count or expiry fails', () => {
    const file = files[3]!
    const variants = [
      { ...file.issuance, index: 2 },
      { ...file.issuance, index: 5 },
      { ...file.issuance, count: 6 },
      { ...file.issuance, count: 4 },
      { ...file.issuance, expiresAt: file.issuance.expiresAt + 1 },
    ]
    for (const issuance of variants) expect(checkCertificateFile({ ...file, issuance }).signatureValid, JSON.stringify({ index: issuance.index, count: issuance.count })).toBe(false)
  })

  it('a tampered signature fails', () => {
    const file = files[0]!
    for (const at of [0, 32, 63]) {
      const issuance = { ...file.issuance, signature: flip(file.issuance.signature, at) }
      expect(checkCertificateFile({ ...file, issuance }).signatureValid).toBe(false)
    }
  })

  it('a tampered transaction id fails', () => {
    const file = files[0]!
    expect(checkCertificateFile({ ...file, issuance: { ...file.issuance, txId: flip(file.issuance.txId) } }).signatureValid).toBe(false)
  })

  it('another signer fails: a signer that is not the record issuer, or another key', () => {
    const file = files[4]!
    expect(checkCertificateFile({ ...file, issuance: { ...file.issuance, signer: 'kr.mois' } }).signatureValid).toBe(false)
    const key = chain.keys['kr.mois'].publicKey
    expect(checkCertificateFile({ ...file, issuance: { ...file.issuance, key } }).signatureValid).toBe(false)
  })

  it('a file for another chain id fails (the chain id is in the sign bytes)', () => {
    const file = files[0]!
    expect(checkCertificateFile({ ...file, chainId: 'certchain-other' }).signatureValid).toBe(false)
  })
})

describe('certificate file JSON', () => {
  const files = batch()

  it('round trips through JSON text, with and without a holder', () => {
    for (const file of files) {
      const text = JSON.stringify(certificateFileToJson(file))
      const back = certificateFileFromJson(JSON.parse(text))
      expect(back).toEqual(file)
      expect(checkCertificateFile(back)).toMatchObject({ idMatches: true, signatureValid: true })
    }
  })

  it('writes hex for bytes, the format tag, and no holder key when there is none', () => {
    const json = certificateFileToJson(files[0]!)
    expect(json.format).toBe(CERTIFICATE_FILE_FORMAT)
    expect(json.certificateId).toBe(toHex(files[0]!.certificateId))
    expect(json.record.docHash).toMatch(/^[0-9a-f]{64}$/)
    expect(json.issuance.signature).toMatch(/^[0-9a-f]{128}$/)
    expect('holder' in json.record).toBe(false)
    expect(certificateFileToJson(files[2]!).record.holder).toMatch(/^[0-9a-f]{64}$/)
  })

  const fresh = (): CertificateFileJson => certificateFileToJson(files[2]!)

  const cases: [string, (j: CertificateFileJson) => void, string][] = [
    ['format', (j) => ((j as { format: string }).format = 'certchain/certificate@2'), 'format'],
    ['chainId', (j) => ((j as { chainId: unknown }).chainId = 5), 'chainId'],
    ['certificateId length', (j) => (j.certificateId = j.certificateId.slice(2)), 'certificateId'],
    ['certificateId hex', (j) => (j.certificateId = 'zz' + j.certificateId.slice(2)), 'certificateId'],
    ['record missing', (j) => delete (j as Partial<CertificateFileJson>).record, 'record'],
    ['record.type', (j) => ((j.record as { type: unknown }).type = ''), 'record.type'],
    ['record.issuer', (j) => delete (j.record as { issuer?: string }).issuer, 'record.issuer'],
    ['record.docHash', (j) => (j.record.docHash = 'abc'), 'record.docHash'],
    ['record.holder', (j) => (j.record.holder = '00'), 'record.holder'],
    ['record.validFrom', (j) => ((j.record as { validFrom: unknown }).validFrom = '2024-01-01'), 'record.validFrom'],
    ['record.validUntil', (j) => (j.record.validUntil = -1), 'record.validUntil'],
    ['salt', (j) => (j.salt = 'not hex'), 'salt'],
    ['short salt', (j) => (j.salt = '00'.repeat(MIN_SALT_LENGTH - 1)), 'salt'],
    ['issuance missing', (j) => delete (j as Partial<CertificateFileJson>).issuance, 'issuance'],
    ['issuance.txId', (j) => (j.issuance.txId = ''), 'issuance.txId'],
    ['issuance.signer', (j) => ((j.issuance as { signer: unknown }).signer = null), 'issuance.signer'],
    ['issuance.key', (j) => (j.issuance.key = j.issuance.key + '00'), 'issuance.key'],
    ['issuance.signature', (j) => (j.issuance.signature = j.issuance.signature.slice(0, 126)), 'issuance.signature'],
    ['issuance.expiresAt', (j) => (j.issuance.expiresAt = 1.5), 'issuance.expiresAt'],
    ['issuance.count', (j) => delete (j.issuance as { count?: number }).count, 'issuance.count'],
    ['issuance.index', (j) => (j.issuance.index = -1), 'issuance.index'],
    ['issuance.proof', (j) => ((j.issuance as { proof: unknown }).proof = 'abc'), 'issuance.proof'],
    ['issuance.proof[1]', (j) => (j.issuance.proof[1] = '1234'), 'issuance.proof[1]'],
    ['height', (j) => ((j as { height: unknown }).height = '7'), 'height'],
  ]
  for (const [name, edit, field] of cases) {
    it(`INVALID_CERTIFICATE_FILE names the bad field: ${name}`, () => {
      const json = fresh()
      edit(json)
      expect(thrownCode(() => certificateFileFromJson(json))).toBe('INVALID_CERTIFICATE_FILE')
      expect(messageOf(() => certificateFileFromJson(json))).toContain(field)
    })
  }

  it('INVALID_CERTIFICATE_FILE for something that is not an object', () => {
    for (const v of [null, [], 'file', 42]) expect(thrownCode(() => certificateFileFromJson(v))).toBe('INVALID_CERTIFICATE_FILE')
  })

  it('the untouched JSON parses (control for the cases above)', () => {
    expect(certificateFileFromJson(fresh())).toEqual(files[2])
  })
})

describe('documentHash and salts', () => {
  const doc = new TextEncoder().encode('주민등록표 등본 PDF bytes')

  it('is SHA-256(salt || document)', () => {
    const salt = newSalt()
    expect(documentHash(salt, doc)).toEqual(sha256(Uint8Array.of(...salt, ...doc)))
  })

  it('refuses salts shorter than MIN_SALT_LENGTH (16) bytes', () => {
    expect(MIN_SALT_LENGTH).toBe(16)
    expect(thrownCode(() => documentHash(new Uint8Array(15), doc))).toBe('INVALID_REQUEST')
    expect(thrownCode(() => documentHash(new Uint8Array(0), doc))).toBe('INVALID_REQUEST')
    expect(thrownCode(() => documentHash(new Uint8Array(16), doc))).toBeUndefined()
  })

  it('newSalt gives fresh salts of at least the minimum length', () => {
    const a = newSalt()
    const b = newSalt()
    expect(a.length).toBeGreaterThanOrEqual(MIN_SALT_LENGTH)
    expect(toHex(a)).not.toBe(toHex(b))
  })

  it('the same document under two salts gives unrelated hashes', () => {
    expect(toHex(documentHash(newSalt(), doc))).not.toBe(toHex(documentHash(newSalt(), doc)))
  })
})
