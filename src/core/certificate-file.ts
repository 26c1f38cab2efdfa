import { bytesEqual, fromHex, toHex, type Bytes } from './bytes.js'
import { encode } from './encoding.js'
import { CertchainError } from './errors.js'
import { auditPathRoot, type Sha256 } from './merkle-path.js'
import { txSignBytes } from './tx-sign.js'
import type { CertificateRecord, Millis } from './types.js'

// Pure (browser-safe) part of the certificate file: its format and the checks that need nothing
// but the file, as functions of the caller's SHA-256 and Ed25519 (the node's OpenSSL, or noble in
// the light verifier and the browser).

export const MIN_SALT_LENGTH = 16
export const CERTIFICATE_FILE_FORMAT = 'certchain/certificate@1'

/**
 * Proof that an issuer signed a record: the issuance transaction's signature and signed content,
 * with the Merkle path from this record's id to the batch root. This stands in for the whole
 * signed transaction so a file from a batch of 1,000 stays a few hundred bytes.
 */
export interface IssuanceProof {
  readonly txId: Bytes
  readonly signer: string
  readonly key: Bytes
  readonly signature: Bytes
  readonly expiresAt: Millis
  readonly count: number
  readonly index: number
  readonly proof: readonly Bytes[]
}

/** The holder's certificate file, in memory. */
export interface CertificateFile {
  readonly chainId: string
  readonly certificateId: Bytes
  readonly record: CertificateRecord
  readonly salt: Bytes
  /** When the certificate is bound to a wallet: the salt of `record.holder` = SHA-256(holderSalt ‖ holder public key). */
  readonly holderSalt?: Bytes
  readonly issuance: IssuanceProof
  readonly height: number
}

export interface CertificateFileJson {
  format: typeof CERTIFICATE_FILE_FORMAT
  chainId: string
  certificateId: string
  record: {
    type: string
    issuer: string
    docHash: string
    holder?: string
    validFrom: number
    validUntil: number
  }
  salt: string
  holderSalt?: string
  issuance: {
    txId: string
    signer: string
    key: string
    signature: string
    expiresAt: number
    count: number
    index: number
    proof: string[]
  }
  height: number
}

export function certificateFileToJson(file: CertificateFile): CertificateFileJson {
  const r = file.record
  return {
    format: CERTIFICATE_FILE_FORMAT,
    chainId: file.chainId,
    certificateId: toHex(file.certificateId),
    record: {
      type: r.type,
      issuer: r.issuer,
      docHash: toHex(r.docHash),
      ...(r.holder ? { holder: toHex(r.holder) } : {}),
      validFrom: r.validFrom,
      validUntil: r.validUntil,
    },
    salt: toHex(file.salt),
    ...(file.holderSalt ? { holderSalt: toHex(file.holderSalt) } : {}),
    issuance: {
      txId: toHex(file.issuance.txId),
      signer: file.issuance.signer,
      key: toHex(file.issuance.key),
      signature: toHex(file.issuance.signature),
      expiresAt: file.issuance.expiresAt,
      count: file.issuance.count,
      index: file.issuance.index,
      proof: file.issuance.proof.map(toHex),
    },
    height: file.height,
  }
}

function bad(message: string): CertchainError {
  return new CertchainError('INVALID_CERTIFICATE_FILE', `certificate file: ${message}`)
}

function field<T>(value: unknown, check: (v: unknown) => v is T, what: string): T {
  if (!check(value)) throw bad(`${what} is missing or has the wrong type`)
  return value
}
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function hexField(value: unknown, what: string, length?: number): Bytes {
  const text = field(value, isString, what)
  try {
    return fromHex(text, what, length)
  } catch (err) {
    throw bad((err as Error).message)
  }
}

/**
 * Parses a certificate file (already JSON-parsed) with a clear error naming the bad field.
 * `withoutSalt`: a verifier given the document's salted hash needs no salt, and a client that
 * hashed locally sends the file without it; its `salt` is then empty.
 */
export function certificateFileFromJson(json: unknown, options: { withoutSalt?: boolean } = {}): CertificateFile {
  if (!isObject(json)) throw bad('not a JSON object')
  if (json.format !== CERTIFICATE_FILE_FORMAT) throw bad(`format must be "${CERTIFICATE_FILE_FORMAT}"`)
  const r = field(json.record, isObject, 'record')
  const i = field(json.issuance, isObject, 'issuance')
  const record: CertificateRecord = {
    type: field(r.type, isString, 'record.type'),
    issuer: field(r.issuer, isString, 'record.issuer'),
    docHash: hexField(r.docHash, 'record.docHash', 32),
    ...(r.holder === undefined ? {} : { holder: hexField(r.holder, 'record.holder', 32) }),
    validFrom: field(r.validFrom, isInt, 'record.validFrom'),
    validUntil: field(r.validUntil, isInt, 'record.validUntil'),
  }
  const proof = field(i.proof, Array.isArray, 'issuance.proof') as unknown[]
  const salt = options.withoutSalt && json.salt === undefined ? new Uint8Array(0) : hexField(json.salt, 'salt')
  if (salt.length < MIN_SALT_LENGTH && !(options.withoutSalt && salt.length === 0)) throw bad(`salt must be at least ${MIN_SALT_LENGTH} bytes`)
  const holderSalt = json.holderSalt === undefined ? undefined : hexField(json.holderSalt, 'holderSalt')
  if (holderSalt !== undefined && holderSalt.length < MIN_SALT_LENGTH) throw bad(`holderSalt must be at least ${MIN_SALT_LENGTH} bytes`)
  if (holderSalt !== undefined && record.holder === undefined) throw bad('holderSalt without record.holder')
  return {
    chainId: field(json.chainId, isString, 'chainId'),
    certificateId: hexField(json.certificateId, 'certificateId', 32),
    record,
    salt,
    ...(holderSalt ? { holderSalt } : {}),
    issuance: {
      txId: hexField(i.txId, 'issuance.txId', 32),
      signer: field(i.signer, isString, 'issuance.signer'),
      key: hexField(i.key, 'issuance.key', 32),
      signature: hexField(i.signature, 'issuance.signature', 64),
      expiresAt: field(i.expiresAt, isInt, 'issuance.expiresAt'),
      count: field(i.count, isInt, 'issuance.count'),
      index: field(i.index, isInt, 'issuance.index'),
      proof: proof.map((p, n) => hexField(p, `issuance.proof[${n}]`, 32)),
    },
    height: field(json.height, isInt, 'height'),
  }
}

/** Result of the checks that need nothing but the file itself. */
export interface OfflineChecks {
  readonly idMatches: boolean
  /** The issuance signature verifies and covers this record; the signer is the record's issuer. */
  readonly signatureValid: boolean
  /** Transaction id recomputed from the signed content (null when the proof does not fit). */
  readonly txId: Bytes | null
}

/** The primitives the offline checks need, supplied by the caller. */
export interface CertificateCrypto {
  readonly sha256: Sha256
  readonly verify: (publicKey: Bytes, message: Bytes, signature: Bytes) => boolean
}

/** Recomputes the certificate id and checks the issuer's signature over it. */
export function checkCertificateFileWith(crypto: CertificateCrypto, file: CertificateFile): OfflineChecks {
  const id = crypto.sha256(encode(file.record))
  const idMatches = bytesEqual(id, file.certificateId)
  const { issuance } = file
  const root = auditPathRoot(crypto.sha256, id, issuance.index, issuance.count, issuance.proof)
  if (root === null) return { idMatches, signatureValid: false, txId: null }
  const signBytes = txSignBytes(file.chainId, 'IssueCertificates', issuance.signer, { count: issuance.count, expiresAt: issuance.expiresAt, recordsRoot: root })
  const txId = crypto.sha256(signBytes)
  const signatureValid =
    issuance.signer === file.record.issuer &&
    bytesEqual(txId, issuance.txId) &&
    crypto.verify(issuance.key, signBytes, issuance.signature)
  return { idMatches, signatureValid, txId }
}

/** One named check of a verification, as clerks read them. */
export interface FileCheck {
  readonly name: 'certificate_id' | 'document_hash' | 'issuer_signature'
  readonly ok: boolean
  readonly detail: string
}

/**
 * The checks a certificate file passes or fails on its own, with the document's salted hash (or
 * undefined when there is none to compare): the same three in a node's and in the light verdict.
 */
export function fileChecks(crypto: CertificateCrypto, file: CertificateFile, docHash: Bytes | undefined): { offline: OfflineChecks; checks: FileCheck[] } {
  const offline = checkCertificateFileWith(crypto, file)
  const docOk = docHash !== undefined && bytesEqual(docHash, file.record.docHash)
  return {
    offline,
    checks: [
      { name: 'certificate_id', ok: offline.idMatches, detail: offline.idMatches ? 'recomputed from the record' : 'the record does not hash to the stated id' },
      { name: 'document_hash', ok: docOk, detail: docOk ? 'SHA-256(salt || document) matches the record' : 'the document does not match the record' },
      {
        name: 'issuer_signature',
        ok: offline.signatureValid,
        detail: offline.signatureValid
          ? `signed by "${file.issuance.signer}" with key ${toHex(file.issuance.key).slice(0, 16)}…`
          : 'the issuance signature does not verify for this record',
      },
    ],
  }
}

/**
 * What a certificate record holds to bind it to a wallet: SHA-256(holderSalt ‖ holder public key),
 * with a fresh salt per certificate, so two certificates of one holder share nothing on chain.
 */
export function holderCommitment(sha256: Sha256, holderSalt: Bytes, holderPublicKey: Bytes): Bytes {
  return sha256(holderSalt, holderPublicKey)
}
