import type { Bytes } from '../core/bytes.js'
import { createSigner, PUBLIC_KEY_LENGTH, type KeyPair } from '../core/crypto.js'
import { CertchainError } from '../core/errors.js'
import {
  certificateId,
  documentHash,
  holderCommitment,
  newSalt,
  type CertificateFile,
} from '../core/certificate.js'
import { merkleProofs } from '../core/merkle.js'
import { encodeTx, txSignBytes, signedContent } from '../core/tx.js'
import { sha256 } from '../core/hash.js'
import type { GovAction } from '../core/governance.js'
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

/**
 * When a transaction stops being valid: `expiresAt` when given, else `ttlMs` (default
 * {@link DEFAULT_TX_TTL_MS}) after `now` (default the clock).
 */
export interface TxTimingOptions {
  readonly expiresAt?: Millis
  readonly ttlMs?: Millis
  readonly now?: Millis
}

function expiresAt(options: TxTimingOptions): Millis {
  return options.expiresAt ?? (options.now ?? Date.now()) + (options.ttlMs ?? DEFAULT_TX_TTL_MS)
}

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

/** Signs once and derives the id from the same sign bytes; an issuance passes the ids it already has. */
function sign(chainId: string, key: KeyPair, unsigned: UnsignedTx, certificateIds?: readonly Bytes[]): SignedTransaction {
  const signBytes = txSignBytes(chainId, unsigned.kind, unsigned.signer, signedContent(unsigned, certificateIds))
  const tx = { ...unsigned, sig: signerFor(key).sign(signBytes) } as SignedTx
  return { tx, bytes: encodeTx(tx), id: sha256(signBytes) }
}

export interface NewCertificate {
  readonly type: string
  /** The document's bytes; only its salted hash leaves this machine. */
  readonly document: Bytes
  /**
   * The holder's wallet public key, to bind the certificate to that wallet: the record holds only
   * a salted commitment to it (README, "The certificate record").
   */
  readonly holderKey?: Bytes
  readonly validFrom: Millis
  readonly validUntil: Millis
}

export interface PreparedIssuance extends SignedTransaction {
  readonly records: readonly CertificateRecord[]
  readonly salts: readonly Bytes[]
  /** Per record: the salt of its holder commitment, when bound to a wallet. */
  readonly holderSalts: readonly (Bytes | undefined)[]
  readonly certificateIds: readonly Bytes[]
}

/** Hashes each document with a fresh salt and signs one IssueCertificates for the whole batch. */
export function prepareIssuance(
  chainId: string,
  identity: IssuerIdentity,
  certificates: readonly NewCertificate[],
  options: TxTimingOptions = {},
): PreparedIssuance {
  const salts = certificates.map(() => newSalt())
  const holderSalts = certificates.map((c) => {
    if (c.holderKey === undefined) return undefined
    if (c.holderKey.length !== PUBLIC_KEY_LENGTH) throw new CertchainError('INVALID_REQUEST', `a holder key is ${PUBLIC_KEY_LENGTH} bytes`)
    return newSalt()
  })
  const records: CertificateRecord[] = certificates.map((c, i) => ({
    type: c.type,
    issuer: identity.issuer,
    docHash: documentHash(salts[i]!, c.document),
    ...(c.holderKey ? { holder: holderCommitment(sha256, holderSalts[i]!, c.holderKey) } : {}),
    validFrom: c.validFrom,
    validUntil: c.validUntil,
  }))
  const certificateIds = records.map(certificateId)
  const signed = sign(
    chainId,
    identity.key,
    { kind: 'IssueCertificates', signer: identity.issuer, key: identity.key.publicKey, body: { records, expiresAt: expiresAt(options) } },
    certificateIds,
  )
  return { ...signed, records, salts, holderSalts, certificateIds }
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
    ...(issuance.holderSalts[index] ? { holderSalt: issuance.holderSalts[index] } : {}),
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

/** A short public note (no personal data) and the expiry, for status changes and proposals. */
export interface StatusChangeOptions extends TxTimingOptions {
  readonly note?: string
}

function noteAndExpiry(options: StatusChangeOptions): { expiresAt: Millis; note?: string } {
  return { expiresAt: expiresAt(options), ...(options.note ? { note: options.note } : {}) }
}

export function prepareRevocation(
  chainId: string,
  identity: IssuerIdentity,
  ids: readonly Bytes[],
  reason: RevocationReason,
  options: StatusChangeOptions = {},
): SignedTransaction {
  const body = { ids, reason, ...noteAndExpiry(options) }
  return sign(chainId, identity.key, { kind: 'RevokeCertificates', signer: identity.issuer, key: identity.key.publicKey, body })
}

export function prepareSuspension(
  chainId: string,
  identity: IssuerIdentity,
  id: Bytes,
  reason: SuspensionReason,
  options: StatusChangeOptions = {},
): SignedTransaction {
  const body = { id, reason, ...noteAndExpiry(options) }
  return sign(chainId, identity.key, { kind: 'SuspendCertificate', signer: identity.issuer, key: identity.key.publicKey, body })
}

export function prepareReinstatement(chainId: string, identity: IssuerIdentity, id: Bytes, options: StatusChangeOptions = {}): SignedTransaction {
  const body = { id, ...noteAndExpiry(options) }
  return sign(chainId, identity.key, { kind: 'ReinstateCertificate', signer: identity.issuer, key: identity.key.publicKey, body })
}

/**
 * A validator signing governance transactions: its id in the registry and its consensus key (the
 * node's validator_key.json). Governance is the validators' business, not the issuers'.
 */
export interface ValidatorIdentity {
  readonly id: string
  readonly key: KeyPair
}

/** A governance proposal; the chain counts the proposing validator's approval with it. */
export function prepareProposal(
  chainId: string,
  validator: ValidatorIdentity,
  action: GovAction,
  options: StatusChangeOptions = {},
): SignedTransaction {
  const body = { action, ...noteAndExpiry(options) }
  return sign(chainId, validator.key, { kind: 'Propose', signer: validator.id, key: validator.key.publicKey, body })
}

/** A validator's vote on a committed proposal, by its number. */
export function prepareVote(
  chainId: string,
  validator: ValidatorIdentity,
  proposal: number,
  approve: boolean,
  options: TxTimingOptions = {},
): SignedTransaction {
  const body = { proposal, approve, expiresAt: expiresAt(options) }
  return sign(chainId, validator.key, { kind: 'Vote', signer: validator.id, key: validator.key.publicKey, body })
}

export interface IssuerKeyChanges {
  /** New keys: they sign from the block after the one that adds them. */
  readonly add?: readonly Bytes[]
  /** Keys to retire: what they signed stays valid, they sign nothing new. */
  readonly retire?: readonly Bytes[]
  /** Keys to declare compromised: what they signed at or after `since` reads as revoked (key_compromised). */
  readonly compromised?: readonly { readonly key: Bytes; readonly since: Millis }[]
}

/** An issuer's own key rotation or compromise declaration, signed with one of its current keys (not a compromised one). */
export function prepareIssuerKeyUpdate(
  chainId: string,
  identity: IssuerIdentity,
  changes: IssuerKeyChanges,
  options: TxTimingOptions = {},
): SignedTransaction {
  // Empty lists are malformed on chain: leave out what does not change.
  const body = {
    ...(changes.add?.length ? { add: changes.add } : {}),
    ...(changes.retire?.length ? { retire: changes.retire } : {}),
    ...(changes.compromised?.length ? { compromised: changes.compromised } : {}),
    expiresAt: expiresAt(options),
  }
  return sign(chainId, identity.key, { kind: 'UpdateIssuerKeys', signer: identity.issuer, key: identity.key.publicKey, body })
}
