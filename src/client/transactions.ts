import type { Bytes } from '../core/bytes.js'
import { createSigner, type KeyPair } from '../core/crypto.js'
import {
  certificateId,
  documentHash,
  newSalt,
  type CertificateFile,
} from '../core/certificate.js'
import { merkleProofs } from '../core/merkle.js'
import { encodeTx, signTx, txSignBytes, signedContent } from '../core/tx.js'
import { sha256 } from '../core/hash.js'
import type {
  CertificateRecord,
  Millis,
  RevocationReason,
  SignedTx,
  SuspensionReason,
  UnsignedTx,
} from '../core/types.js'

/** Default lifetime of a transaction before it can no longer be included (well under the chain's limit). */
export const DEFAULT_TX_TTL_MS = 10 * 60 * 1000

export interface IssuerIdentity {
  readonly issuer: string
  readonly key: KeyPair
}

export interface SignedTransaction {
  readonly tx: SignedTx
  /** Canonical bytes to submit (`POST /v1/txs`). */
  readonly bytes: Bytes
  /** Transaction id (hex in the RPC). */
  readonly id: Bytes
}

// Deriving the public key and importing the key cost more than a signature: once per key pair.
const signers = new WeakMap<KeyPair, ReturnType<typeof createSigner>>()

function signerFor(key: KeyPair): ReturnType<typeof createSigner> {
  let signer = signers.get(key)
  if (!signer) signers.set(key, (signer = createSigner(key.secretKey)))
  return signer
}

function sign(chainId: string, identity: IssuerIdentity, unsigned: UnsignedTx): SignedTransaction {
  const signer = signerFor(identity.key)
  const tx = signTx(chainId, unsigned, (message) => signer.sign(message))
  const id = sha256(txSignBytes(chainId, tx.kind, tx.signer, signedContent(tx)))
  return { tx, bytes: encodeTx(tx), id }
}

export interface NewCertificate {
  readonly type: string
  /** The document's bytes; only its salted hash leaves this machine. */
  readonly document: Bytes
  /** SHA-256 of the holder's wallet public key, to bind the certificate to a wallet. */
  readonly holder?: Bytes
  readonly validFrom: Millis
  readonly validUntil: Millis
}

export interface PreparedIssuance extends SignedTransaction {
  readonly records: readonly CertificateRecord[]
  readonly salts: readonly Bytes[]
  readonly certificateIds: readonly Bytes[]
}

/** Hashes each document with a fresh salt and signs one IssueCertificates for the whole batch. */
export function prepareIssuance(
  chainId: string,
  identity: IssuerIdentity,
  certificates: readonly NewCertificate[],
  options: { expiresAt?: Millis } = {},
): PreparedIssuance {
  const salts = certificates.map(() => newSalt())
  const records: CertificateRecord[] = certificates.map((c, i) => ({
    type: c.type,
    issuer: identity.issuer,
    docHash: documentHash(salts[i]!, c.document),
    ...(c.holder ? { holder: c.holder } : {}),
    validFrom: c.validFrom,
    validUntil: c.validUntil,
  }))
  const signed = sign(chainId, identity, {
    kind: 'IssueCertificates',
    signer: identity.issuer,
    key: identity.key.publicKey,
    body: { records, expiresAt: options.expiresAt ?? Date.now() + DEFAULT_TX_TTL_MS },
  })
  return { ...signed, records, salts, certificateIds: records.map(certificateId) }
}

/** The holders' certificate files for a committed issuance, one per record. */
export function certificateFiles(chainId: string, issuance: PreparedIssuance, height: number): CertificateFile[] {
  const proofs = merkleProofs(issuance.certificateIds)
  const { tx } = issuance
  if (tx.kind !== 'IssueCertificates') throw new TypeError('not an issuance')
  return issuance.records.map((record, index) => ({
    chainId,
    certificateId: issuance.certificateIds[index]!,
    record,
    salt: issuance.salts[index]!,
    issuance: {
      txId: issuance.id,
      signer: tx.signer,
      key: tx.key,
      signature: tx.sig,
      expiresAt: tx.body.expiresAt,
      count: issuance.records.length,
      index,
      proof: proofs[index]!,
    },
    height,
  }))
}

export interface StatusChangeOptions {
  readonly note?: string
  readonly expiresAt?: Millis
}

/** Expiry (from the clock unless given) and the optional note of a status change. */
function statusFields(options: StatusChangeOptions): { expiresAt: Millis; note?: string } {
  return { expiresAt: options.expiresAt ?? Date.now() + DEFAULT_TX_TTL_MS, ...(options.note ? { note: options.note } : {}) }
}

export function prepareRevocation(
  chainId: string,
  identity: IssuerIdentity,
  ids: readonly Bytes[],
  reason: RevocationReason,
  options: StatusChangeOptions = {},
): SignedTransaction {
  const body = { ids, reason, ...statusFields(options) }
  return sign(chainId, identity, { kind: 'RevokeCertificates', signer: identity.issuer, key: identity.key.publicKey, body })
}

export function prepareSuspension(
  chainId: string,
  identity: IssuerIdentity,
  id: Bytes,
  reason: SuspensionReason,
  options: StatusChangeOptions = {},
): SignedTransaction {
  const body = { id, reason, ...statusFields(options) }
  return sign(chainId, identity, { kind: 'SuspendCertificate', signer: identity.issuer, key: identity.key.publicKey, body })
}

export function prepareReinstatement(chainId: string, identity: IssuerIdentity, id: Bytes, options: StatusChangeOptions = {}): SignedTransaction {
  const body = { id, ...statusFields(options) }
  return sign(chainId, identity, { kind: 'ReinstateCertificate', signer: identity.issuer, key: identity.key.publicKey, body })
}
