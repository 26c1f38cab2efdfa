import { isBytes, type Bytes } from './bytes.js'
import { verify, type SignatureCheck } from './crypto.js'
import { arrayItemSpans, mapValueStart } from './cbor-scan.js'
import { decodeCanonical, encode, pruneUndefined } from './encoding.js'
import { CertchainError } from './errors.js'
import { sha256 } from './hash.js'
import { merkleRoot } from './merkle.js'
import { certificateId } from './certificate.js'
import { txSignBytes } from './tx-sign.js'
import { parseGovAction } from './governance.js'
import { voteShapeProblem, type Vote } from './vote.js'
import {
  MAX_TIME_MS,
  REVOCATION_REASONS,
  SUSPENSION_REASONS,
  TX_KINDS,
  type CertificateRecord,
  type Millis,
  type SignedTx,
  type TxKind,
  type UnsignedTx,
} from './types.js'

export { TX_DOMAIN, txSignBytes } from './tx-sign.js'

/** A decoded, shape-checked transaction with everything derived from it computed once. */
export interface DecodedTx {
  readonly tx: SignedTx
  /** Canonical encoding of the signed transaction (what blocks carry). */
  readonly bytes: Bytes
  /** SHA-256 of the sign bytes: stable under signature malleation, so it is the replay key. */
  readonly id: Bytes
  readonly signBytes: Bytes
  /** Certificate ids of an issuance, in record order; empty for other kinds. */
  readonly certificateIds: readonly Bytes[]
}

/**
 * What the signature covers. For an issuance it is the Merkle root of the certificate ids (plus
 * their count), not the records themselves: one signature covers a batch of thousands and each
 * holder's certificate file proves its record with a short Merkle path.
 */
export function signedContent(tx: UnsignedTx, certificateIds?: readonly Bytes[]): unknown {
  if (tx.kind !== 'IssueCertificates') return tx.body
  const ids = certificateIds ?? tx.body.records.map(certificateId)
  return { count: ids.length, expiresAt: tx.body.expiresAt, recordsRoot: merkleRoot(ids) }
}


export function signTx(chainId: string, tx: UnsignedTx, signFn: (message: Bytes) => Bytes): SignedTx {
  const sig = signFn(txSignBytes(chainId, tx.kind, tx.signer, signedContent(tx)))
  return { ...tx, sig }
}

export function encodeTx(tx: SignedTx): Bytes {
  return encode(pruneUndefined(tx))
}

export interface TxLimits {
  readonly maxTxBytes: number
  readonly maxRecordsPerTx: number
  readonly maxNoteLength: number
  readonly maxIdLength: number
}

/**
 * Decodes a signed transaction: size limit, canonical encoding, exact shape (no unknown fields).
 * Signature and state rules are separate steps ({@link verifyTxSignature}, ledger rules).
 * `authorize` runs on the parsed transaction before its records are hashed (an issuance's sign
 * bytes need every certificate id), so a signer or key the chain does not know costs no hashing.
 */
export function decodeTx(chainId: string, bytes: Bytes, limits: TxLimits, authorize?: (tx: SignedTx) => void): DecodedTx {
  const value = decodeCanonical(bytes, limits.maxTxBytes)
  const tx = parseSignedTx(value, limits)
  authorize?.(tx)
  const certificateIds = tx.kind === 'IssueCertificates' ? recordIds(bytes, tx.body.records) : []
  const signBytes = txSignBytes(chainId, tx.kind, tx.signer, signedContent(tx, certificateIds))
  return { tx, bytes, id: sha256(signBytes), signBytes, certificateIds }
}

/**
 * The certificate ids of an issuance's records. The bytes are canonical (decodeTx proved it) and
 * canonical encoding is compositional, so each record's encoding is its span inside them: hashing
 * the span gives {@link certificateId} without encoding the record again.
 */
function recordIds(bytes: Bytes, records: readonly CertificateRecord[]): Bytes[] {
  const body = mapValueStart(bytes, 0, 'body')
  const list = body === undefined ? undefined : mapValueStart(bytes, body, 'records')
  const spans = list === undefined ? undefined : arrayItemSpans(bytes, list)
  if (spans?.length !== records.length) return records.map(certificateId)
  return spans.map(([start, end]) => sha256(bytes.subarray(start, end)))
}

/** The certificates a transaction issues or changes the status of. */
export function touchedCertificateIds(decoded: DecodedTx): readonly Bytes[] {
  const { tx } = decoded
  switch (tx.kind) {
    case 'IssueCertificates':
      return decoded.certificateIds
    case 'RevokeCertificates':
      return tx.body.ids
    case 'SuspendCertificate':
    case 'ReinstateCertificate':
      return [tx.body.id]
    default:
      return []
  }
}

/** What a transaction's signature check verifies: its key, its sign bytes, its signature. */
export function txSignatureCheck(decoded: DecodedTx): SignatureCheck {
  return { publicKey: decoded.tx.key, message: decoded.signBytes, signature: decoded.tx.sig }
}

/** The refusal of a transaction whose signature does not verify (one message wherever it was checked). */
export function badSignature(): CertchainError {
  return new CertchainError('BAD_SIGNATURE', 'transaction signature does not verify for this chain, kind and key')
}

export function verifyTxSignature(decoded: DecodedTx): void {
  if (!verify(decoded.tx.key, decoded.signBytes, decoded.tx.sig)) throw badSignature()
}

// ---- shape checks -------------------------------------------------------------------------

function malformed(message: string): CertchainError {
  return new CertchainError('MALFORMED_TX', message)
}

type Obj = Record<string, unknown>

function object(value: unknown, what: string, required: readonly string[], optional: readonly string[] = []): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw malformed(`${what} must be a map`)
  }
  const obj = value as Obj
  for (const key of Object.keys(obj)) {
    if (!required.includes(key) && !optional.includes(key)) throw malformed(`${what} has unknown field "${key}"`)
  }
  for (const key of required) if (!(key in obj)) throw malformed(`${what} is missing "${key}"`)
  return obj
}

function str(value: unknown, what: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) throw malformed(`${what} must be a non-empty string`)
  if (value.length > maxLength) throw malformed(`${what} is longer than ${maxLength} characters`)
  return value
}

function int(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`${what} must be a non-negative integer`)
  }
  return value
}

/** Milliseconds since 1970, at most {@link MAX_TIME_MS}. */
function time(value: unknown, what: string): Millis {
  const n = int(value, what)
  if (n > MAX_TIME_MS) throw malformed(`${what} must be a time in milliseconds, at most ${MAX_TIME_MS}`)
  return n
}

function bytes32(value: unknown, what: string): Bytes {
  if (!isBytes(value, 32)) throw malformed(`${what} must be 32 bytes`)
  return value
}

function note(value: unknown, limits: TxLimits): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw malformed('note must be a string')
  if (value.length > limits.maxNoteLength) {
    throw new CertchainError('NOTE_TOO_LONG', `note is longer than ${limits.maxNoteLength} characters`)
  }
  return value
}

function reason<T extends string>(value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new CertchainError('INVALID_REASON', `reason must be one of: ${allowed.join(', ')}`)
  }
  return value as T
}

function parseRecord(value: unknown, limits: TxLimits, index: number): CertificateRecord {
  const what = `records[${index}]`
  const o = object(value, what, ['type', 'issuer', 'docHash', 'validFrom', 'validUntil'], ['holder'])
  const record: CertificateRecord = {
    type: str(o.type, `${what}.type`, limits.maxIdLength),
    issuer: str(o.issuer, `${what}.issuer`, limits.maxIdLength),
    docHash: bytes32(o.docHash, `${what}.docHash`),
    validFrom: time(o.validFrom, `${what}.validFrom`),
    validUntil: time(o.validUntil, `${what}.validUntil`),
    ...(o.holder === undefined ? {} : { holder: bytes32(o.holder, `${what}.holder`) }),
  }
  if (record.validUntil <= record.validFrom) {
    throw new CertchainError('INVALID_VALIDITY', `${what}: validUntil must be after validFrom`)
  }
  return record
}

/** The fields every status change carries: expiry and an optional note. */
function statusCommon(b: Obj, limits: TxLimits): { expiresAt: number; note?: string } {
  const n = note(b.note, limits)
  return { expiresAt: time(b.expiresAt, 'body.expiresAt'), ...(n === undefined ? {} : { note: n }) }
}

function parseSignedTx(value: unknown, limits: TxLimits): SignedTx {
  const o = object(value, 'transaction', ['kind', 'signer', 'key', 'body', 'sig'])
  if (typeof o.kind !== 'string' || !(TX_KINDS as readonly string[]).includes(o.kind)) {
    throw malformed(`kind must be one of: ${TX_KINDS.join(', ')}`)
  }
  const kind = o.kind as TxKind
  const signer = str(o.signer, 'signer', limits.maxIdLength)
  const key = bytes32(o.key, 'key')
  if (!isBytes(o.sig, 64)) throw malformed('sig must be 64 bytes')
  const sig = o.sig
  switch (kind) {
    case 'IssueCertificates': {
      const b = object(o.body, 'body', ['records', 'expiresAt'])
      if (!Array.isArray(b.records)) throw malformed('body.records must be a list')
      if (b.records.length === 0) throw new CertchainError('EMPTY_BATCH', 'an issuance needs at least one record')
      if (b.records.length > limits.maxRecordsPerTx) {
        throw new CertchainError('TOO_MANY_RECORDS', `at most ${limits.maxRecordsPerTx} records per transaction`)
      }
      const records = b.records.map((r, i) => parseRecord(r, limits, i))
      return { kind, signer, key, sig, body: { records, expiresAt: time(b.expiresAt, 'body.expiresAt') } }
    }
    case 'RevokeCertificates': {
      const b = object(o.body, 'body', ['ids', 'reason', 'expiresAt'], ['note'])
      if (!Array.isArray(b.ids)) throw malformed('body.ids must be a list')
      if (b.ids.length === 0) throw new CertchainError('EMPTY_BATCH', 'a revocation needs at least one certificate id')
      if (b.ids.length > limits.maxRecordsPerTx) {
        throw new CertchainError('TOO_MANY_RECORDS', `at most ${limits.maxRecordsPerTx} ids per transaction`)
      }
      const ids = b.ids.map((id, i) => bytes32(id, `body.ids[${i}]`))
      return { kind, signer, key, sig, body: { ids, reason: reason(b.reason, REVOCATION_REASONS), ...statusCommon(b, limits) } }
    }
    case 'SuspendCertificate': {
      const b = object(o.body, 'body', ['id', 'reason', 'expiresAt'], ['note'])
      return { kind, signer, key, sig, body: { id: bytes32(b.id, 'body.id'), reason: reason(b.reason, SUSPENSION_REASONS), ...statusCommon(b, limits) } }
    }
    case 'ReinstateCertificate': {
      const b = object(o.body, 'body', ['id', 'expiresAt'], ['note'])
      return { kind, signer, key, sig, body: { id: bytes32(b.id, 'body.id'), ...statusCommon(b, limits) } }
    }
    case 'UpdateIssuerKeys': {
      const b = object(o.body, 'body', ['expiresAt'], ['add', 'retire', 'compromised'])
      const keys = (v: unknown, what: string): Bytes[] => {
        if (!Array.isArray(v) || v.length === 0 || v.length > MAX_KEY_CHANGES) throw malformed(`${what} must list 1 to ${MAX_KEY_CHANGES} keys`)
        return (v as unknown[]).map((k, i) => bytes32(k, `${what}[${i}]`))
      }
      const compromised = (v: unknown): { key: Bytes; since: number }[] => {
        if (!Array.isArray(v) || v.length === 0 || v.length > MAX_KEY_CHANGES) throw malformed(`body.compromised must list 1 to ${MAX_KEY_CHANGES} keys`)
        return (v as unknown[]).map((c, i) => {
          const e = object(c, `body.compromised[${i}]`, ['key', 'since'])
          return { key: bytes32(e.key, `body.compromised[${i}].key`), since: time(e.since, `body.compromised[${i}].since`) }
        })
      }
      if (b.add === undefined && b.retire === undefined && b.compromised === undefined) {
        throw malformed('body must add, retire or declare compromised at least one key')
      }
      const body = {
        ...(b.add === undefined ? {} : { add: keys(b.add, 'body.add') }),
        ...(b.retire === undefined ? {} : { retire: keys(b.retire, 'body.retire') }),
        ...(b.compromised === undefined ? {} : { compromised: compromised(b.compromised) }),
        expiresAt: time(b.expiresAt, 'body.expiresAt'),
      }
      return { kind, signer, key, sig, body }
    }
    case 'Propose': {
      const b = object(o.body, 'body', ['action', 'expiresAt'], ['note'])
      const n = note(b.note, limits)
      return { kind, signer, key, sig, body: { action: parseGovAction(b.action), expiresAt: time(b.expiresAt, 'body.expiresAt'), ...(n === undefined ? {} : { note: n }) } }
    }
    case 'Vote': {
      const b = object(o.body, 'body', ['proposal', 'approve', 'expiresAt'])
      if (typeof b.approve !== 'boolean') throw malformed('body.approve must be true or false')
      return { kind, signer, key, sig, body: { proposal: int(b.proposal, 'body.proposal'), approve: b.approve, expiresAt: time(b.expiresAt, 'body.expiresAt') } }
    }
    case 'ReportEquivocation': {
      const b = object(o.body, 'body', ['first', 'second', 'expiresAt'])
      return { kind, signer, key, sig, body: { first: parseVote(b.first, 'body.first', limits), second: parseVote(b.second, 'body.second', limits), expiresAt: time(b.expiresAt, 'body.expiresAt') } }
    }
  }
}

/** Keys one UpdateIssuerKeys may touch per list: an issuer has a handful of keys, not hundreds. */
const MAX_KEY_CHANGES = 16

function parseVote(value: unknown, what: string, limits: TxLimits): Vote {
  const v = object(value, what, ['type', 'height', 'round', 'blockHash', 'validator', 'sig'])
  const problem = voteShapeProblem(v)
  if (problem) throw malformed(`${what}: ${problem}`)
  str(v.validator, `${what}.validator`, limits.maxIdLength)
  return v as unknown as Vote
}
