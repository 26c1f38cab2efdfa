import canonicalize from 'canonicalize'
import { base58btc } from 'multiformats/bases/base58'
import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { holderCommitment, type CertificateFile } from '../core/certificate.js'
import { PUBLIC_KEY_LENGTH, sign, type KeyPair } from '../core/crypto.js'
import { CertchainError } from '../core/errors.js'
import { sha256 } from '../core/hash.js'
import type { Millis } from '../core/types.js'

// A certificate as a W3C Verifiable Credential 2.0, secured with a Data Integrity proof of the
// eddsa-jcs-2022 cryptosuite, so VC wallets and verifiers that know nothing of certchain can hold
// and check it. The credential restates the certificate file; the chain stays the authority on
// its status (credentialStatus names the certificate id to ask about).

export const VC_V2_CONTEXT = 'https://www.w3.org/ns/credentials/v2'

/** Namespace of certchain's terms: identifiers, never fetched. */
export const CERTCHAIN_VOCAB = 'https://w3id.org/certchain/vocab#'

/**
 * URL naming certchain's context. Verifiers never fetch it: the document is
 * {@link CERTCHAIN_CONTEXT}, shipped with certchain, for their document loader (as VC verifiers
 * keep the VC 2.0 context itself).
 */
export const CERTCHAIN_CONTEXT_URL = 'https://w3id.org/certchain/v1'

/** credentialStatus type: ask a certchain node (`GET /v1/certificates/:id`) of chain `chainId`. */
export const CERTCHAIN_STATUS_TYPE = 'CertchainStatus2026'
export const CERTCHAIN_CREDENTIAL_TYPE = 'CertchainCertificate'

/**
 * The context document of {@link CERTCHAIN_CONTEXT_URL}, defining certchain's terms: the VC 2.0
 * context no longer maps undefined terms through `@vocab` (removed before it became a
 * Recommendation), so a Linked Data verifier needs each term defined. Named by URL rather than
 * given inline: eddsa-jcs-2022 verifiers compare the proof's and the credential's `@context`
 * entries, and an inline object parsed twice is not the same entry to every implementation.
 * Protected, like the VC 2.0 context, so a later context cannot redefine a term.
 */
export const CERTCHAIN_CONTEXT = Object.freeze({
  '@context': Object.freeze({
    '@protected': true,
    [CERTCHAIN_CREDENTIAL_TYPE]: `${CERTCHAIN_VOCAB}${CERTCHAIN_CREDENTIAL_TYPE}`,
    [CERTCHAIN_STATUS_TYPE]: `${CERTCHAIN_VOCAB}${CERTCHAIN_STATUS_TYPE}`,
    certificateId: `${CERTCHAIN_VOCAB}certificateId`,
    certificateType: `${CERTCHAIN_VOCAB}certificateType`,
    certchainIssuer: `${CERTCHAIN_VOCAB}certchainIssuer`,
    documentHash: `${CERTCHAIN_VOCAB}documentHash`,
    documentSalt: `${CERTCHAIN_VOCAB}documentSalt`,
    chainId: `${CERTCHAIN_VOCAB}chainId`,
  }),
})

export const DATA_INTEGRITY_CRYPTOSUITE = 'eddsa-jcs-2022'

/** Multicodec prefix of an Ed25519 public key (varint 0xed). */
const ED25519_PUB_MULTICODEC = Uint8Array.of(0xed, 0x01)

export interface CredentialSubject {
  /** The holder's did:key, present when the certificate is bound to a holder key. */
  id?: string
  certificateId: string
  certificateType: string
  certchainIssuer: string
  documentHash: string
  documentSalt: string
}

export interface CertchainStatus {
  id: string
  type: typeof CERTCHAIN_STATUS_TYPE
  certificateId: string
  chainId: string
}

export interface Credential {
  '@context': [typeof VC_V2_CONTEXT, typeof CERTCHAIN_CONTEXT_URL]
  type: ['VerifiableCredential', typeof CERTCHAIN_CREDENTIAL_TYPE]
  issuer: string
  validFrom: string
  validUntil: string
  credentialSubject: CredentialSubject
  credentialStatus: CertchainStatus
}

export interface DataIntegrityProof {
  '@context': Credential['@context']
  type: 'DataIntegrityProof'
  cryptosuite: typeof DATA_INTEGRITY_CRYPTOSUITE
  created: string
  verificationMethod: string
  proofPurpose: 'assertionMethod'
  proofValue: string
}

export interface VerifiableCredential extends Credential {
  proof: DataIntegrityProof
}

function requireKey(publicKey: Bytes, what: string): void {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) {
    throw new CertchainError('INVALID_REQUEST', `${what} must be a ${PUBLIC_KEY_LENGTH}-byte Ed25519 public key`)
  }
}

/** The Ed25519 public key as a Multikey: base58btc multibase of 0xed01 ‖ key (`z6Mk…`). */
export function ed25519Multikey(publicKey: Bytes): string {
  requireKey(publicKey, 'public key')
  const prefixed = new Uint8Array(ED25519_PUB_MULTICODEC.length + publicKey.length)
  prefixed.set(ED25519_PUB_MULTICODEC)
  prefixed.set(publicKey, ED25519_PUB_MULTICODEC.length)
  return base58btc.encode(prefixed)
}

/** `did:key` of an Ed25519 public key. */
export function didKey(publicKey: Bytes): string {
  return `did:key:${ed25519Multikey(publicKey)}`
}

/** The verification method of a did:key: the DID with its one key as the fragment. */
export function didKeyVerificationMethod(publicKey: Bytes): string {
  return `${didKey(publicKey)}#${ed25519Multikey(publicKey)}`
}

function isoTime(ms: Millis): string {
  return new Date(ms).toISOString()
}

export interface CredentialOptions {
  /** The holder's raw Ed25519 public key; names the subject (its did:key) of a holder-bound certificate. */
  readonly holderPublicKey?: Bytes
}

/**
 * The unsigned VC 2.0 credential restating a certificate file. The issuer is the did:key of the
 * key that signed the issuance. A holder key is refused for a certificate that is not
 * holder-bound: the credential would name a subject the chain does not bind.
 */
export function credentialFor(file: CertificateFile, options: CredentialOptions = {}): Credential {
  const { record } = file
  const certificateId = toHex(file.certificateId)
  const subject: CredentialSubject = {
    certificateId,
    certificateType: record.type,
    certchainIssuer: record.issuer,
    documentHash: toHex(record.docHash),
    documentSalt: toHex(file.salt),
  }
  if (options.holderPublicKey !== undefined) {
    requireKey(options.holderPublicKey, 'holder public key')
    if (record.holder === undefined || file.holderSalt === undefined) {
      throw new CertchainError('INVALID_REQUEST', `certificate ${certificateId} is not bound to a holder; a holder key cannot be its subject`)
    }
    if (!bytesEqual(holderCommitment(sha256, file.holderSalt, options.holderPublicKey), record.holder)) {
      throw new CertchainError('INVALID_REQUEST', `certificate ${certificateId} is bound to another holder key`)
    }
    subject.id = didKey(options.holderPublicKey)
  }
  return {
    '@context': [VC_V2_CONTEXT, CERTCHAIN_CONTEXT_URL],
    type: ['VerifiableCredential', CERTCHAIN_CREDENTIAL_TYPE],
    issuer: didKey(file.issuance.key),
    validFrom: isoTime(record.validFrom),
    validUntil: isoTime(record.validUntil),
    credentialSubject: subject,
    credentialStatus: {
      id: `urn:certchain:${encodeURIComponent(file.chainId)}:certificate:${certificateId}`,
      type: CERTCHAIN_STATUS_TYPE,
      certificateId,
      chainId: file.chainId,
    },
  }
}

function jcs(value: unknown): Bytes {
  const text = canonicalize(value)
  if (text === undefined) throw new CertchainError('INVALID_REQUEST', 'credential is not JSON')
  return new TextEncoder().encode(text)
}

export interface SignCredentialOptions {
  /** The proof's creation time (default: now); whole seconds are kept. */
  readonly created?: Millis
}

/**
 * Secures a credential with a Data Integrity proof, cryptosuite eddsa-jcs-2022: the signature is
 * Ed25519 over SHA-256(JCS(proof options)) ‖ SHA-256(JCS(credential)), the proof options carrying
 * the credential's `@context` as that cryptosuite requires. Only the issuer's own key may sign.
 */
export function signCredential(credential: Credential, key: KeyPair, options: SignCredentialOptions = {}): VerifiableCredential {
  // A credential that already carries a proof is signed afresh, never under a second proof.
  const unsigned: Credential & { proof?: unknown } = { ...credential }
  delete unsigned.proof
  if (credential.issuer !== didKey(key.publicKey)) {
    throw new CertchainError('INVALID_REQUEST', `the signing key is not the credential's issuer ${credential.issuer}`)
  }
  const created = isoTime(Math.floor((options.created ?? Date.now()) / 1000) * 1000).replace('.000Z', 'Z')
  const proofOptions: Omit<DataIntegrityProof, 'proofValue'> = {
    '@context': credential['@context'],
    type: 'DataIntegrityProof',
    cryptosuite: DATA_INTEGRITY_CRYPTOSUITE,
    created,
    verificationMethod: didKeyVerificationMethod(key.publicKey),
    proofPurpose: 'assertionMethod',
  }
  const hashData = new Uint8Array(64)
  hashData.set(sha256(jcs(proofOptions)))
  hashData.set(sha256(jcs(unsigned)), 32)
  const signature = sign(key.secretKey, hashData)
  return { ...unsigned, proof: { ...proofOptions, proofValue: base58btc.encode(signature) } }
}
