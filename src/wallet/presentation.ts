import { ed25519 } from '@noble/curves/ed25519.js'
import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { certificateFileFromJson, certificateFileToJson, holderCommitment, type CertificateFile } from '../core/certificate-file.js'
import { encode, pruneUndefined } from '../core/encoding.js'
import { CertchainError, type ErrorCode } from '../core/errors.js'
import { sha256, verifyEd25519 } from '../light/crypto.js'
import { parseJson, toJson, type Schema } from '../light/json.js'
import { proofFromJson, proofToJson, type ProofBundle } from '../light/proof.js'
import { verifyProof, type LightCheck, type LightResult, type Trust } from '../light/verify.js'

// Holder-bound presentations (README, "Presentations"): a verifier's single-use request, the
// holder's signature over it and one certificate with its proof, and their checks. Pure and
// browser-safe, like the light verifier it builds on: a wallet app and the verifier page run it.

export const REQUEST_FORMAT = 'certchain/presentation-request@1'
export const PRESENTATION_FORMAT = 'certchain/presentation@1'
const SIGN_DOMAIN = 'certchain/presentation@1'

/** A request lives at most this long: a clerk's counter, not a mailbox. */
export const MAX_REQUEST_TTL_SECONDS = 600
export const DEFAULT_REQUEST_TTL_SECONDS = 300
/** Nonces are 32 random bytes (the floor is 128 bits). */
export const NONCE_BYTES = 32

/** Who asks: the verifier's configured name and its node id. */
export interface Audience {
  readonly name: string
  readonly node: string
}

export interface PresentationRequest {
  readonly chainId: string
  readonly audience: Audience
  readonly nonce: Bytes
  readonly createdAt: number
  readonly expiresAt: number
  /** Certificate types accepted; absent: any. */
  readonly types?: readonly string[]
  readonly purpose?: string
}

export interface Presentation {
  /** The request as the holder signed it (the verifier compares it with the one it issued). */
  readonly request: PresentationRequest
  readonly certificate: CertificateFile
  readonly proof: ProofBundle
  readonly holderKey: Bytes
  readonly signature: Bytes
}

const AUDIENCE: Schema = { fields: { name: 'string', node: 'string' } }
const REQUEST: Schema = {
  fields: {
    format: { enum: [REQUEST_FORMAT] },
    chainId: 'string',
    audience: AUDIENCE,
    nonce: 'bytes32',
    createdAt: 'uint',
    expiresAt: 'uint',
    types: { list: 'string', max: 64 },
    purpose: 'string',
  },
  optional: ['types', 'purpose'],
}

export function requestFromJson(json: unknown): PresentationRequest {
  const { format: _format, ...request } = parseJson<PresentationRequest & { format: string }>(json, REQUEST, 'request', 'INVALID_PRESENTATION')
  return request
}

export function requestToJson(request: PresentationRequest): Record<string, unknown> {
  return { format: REQUEST_FORMAT, ...(toJson(request) as Record<string, unknown>) }
}

/** SHA-256 of the proof bundle's canonical encoding: what the holder's signature covers. */
export function proofHash(proof: ProofBundle): Bytes {
  return sha256(encode(pruneUndefined(proof)))
}

/** Domain-separated bytes the holder signs: (audience, nonce, expiry, certificate id, proof bundle hash) on one chain. */
export function presentationSignBytes(request: PresentationRequest, certificateId: Bytes, proof: ProofBundle): Bytes {
  const { chainId, audience, nonce, expiresAt } = request
  return encode([SIGN_DOMAIN, chainId, audience.name, audience.node, nonce, expiresAt, certificateId, proofHash(proof)])
}

/**
 * What a wallet does to answer a request: signs (audience, nonce, expiry, certificate id, proof
 * hash) with the holder's key. The document is not inside; it travels beside the presentation.
 */
export function preparePresentation(request: PresentationRequest, certificate: CertificateFile, proof: ProofBundle, holderSecretKey: Bytes): Presentation {
  const holderKey = ed25519.getPublicKey(holderSecretKey)
  if (certificate.record.holder === undefined || certificate.holderSalt === undefined) {
    throw new CertchainError('NOT_HOLDER_BOUND', 'this certificate is not bound to a wallet: it cannot be presented by a holder')
  }
  if (!bytesEqual(holderCommitment(sha256, certificate.holderSalt, holderKey), certificate.record.holder)) {
    throw new CertchainError('HOLDER_MISMATCH', 'this certificate is bound to another wallet key')
  }
  if (!bytesEqual(proof.certificateId, certificate.certificateId)) throw new CertchainError('INVALID_PROOF', 'the proof is for another certificate')
  const signature = ed25519.sign(presentationSignBytes(request, certificate.certificateId, proof), holderSecretKey)
  return { request, certificate, proof, holderKey, signature }
}

export function presentationToJson(p: Presentation): Record<string, unknown> {
  return {
    format: PRESENTATION_FORMAT,
    request: requestToJson(p.request),
    certificate: certificateFileToJson(p.certificate),
    proof: proofToJson(p.proof),
    holderKey: toHex(p.holderKey),
    signature: toHex(p.signature),
  }
}

const PRESENTATION: Schema = {
  fields: { format: { enum: [PRESENTATION_FORMAT] }, request: 'any', certificate: 'any', proof: 'any', holderKey: 'bytes32', signature: 'bytes64' },
}

/** Parses a presentation (already JSON-parsed): INVALID_PRESENTATION, INVALID_CERTIFICATE_FILE or INVALID_PROOF name the bad part. */
export function presentationFromJson(json: unknown): Presentation {
  const p = parseJson<{ request: unknown; certificate: unknown; proof: unknown; holderKey: Bytes; signature: Bytes }>(json, PRESENTATION, 'presentation', 'INVALID_PRESENTATION')
  return {
    request: requestFromJson(p.request),
    certificate: certificateFileFromJson(p.certificate),
    proof: proofFromJson(p.proof),
    holderKey: p.holderKey,
    signature: p.signature,
  }
}

/** Where a verifier keeps the requests it issued (the node: LevelDB; a verifier without a node: its own). */
export interface NonceStore {
  /** The request issued with this nonce and whether a valid presentation already used it. */
  lookup(nonce: Bytes): Promise<{ readonly request: PresentationRequest; readonly used: boolean } | undefined>
  /**
   * Marks the nonce used, durably, before the valid answer is given; false when it already was
   * (another answer to the same request won the race), atomically.
   */
  markUsed(nonce: Bytes): Promise<boolean>
}

export type PresentationCheckName = 'request' | 'type' | 'holder_binding' | 'holder_key' | 'holder_signature'

export interface PresentationCheck {
  readonly name: PresentationCheckName | LightCheck['name']
  readonly ok: boolean
  readonly detail: string
  /** Stable code of a failed presentation check. */
  readonly code?: ErrorCode
}

export interface PresentationResult {
  readonly verdict: 'valid' | 'invalid'
  readonly certificateId: string
  readonly status: LightResult['status']
  readonly checks: readonly PresentationCheck[]
}

export interface VerifyPresentationOptions {
  readonly trust: Trust
  readonly now: number
  readonly maxAgeMs: number
  readonly nonces: NonceStore
  readonly document?: Bytes
  readonly documentHash?: Bytes
  /** Accept a certificate that is not bound to a wallet (a bearer certificate). Default: refused. */
  readonly allowUnbound?: boolean
}

const sameRequest = (a: PresentationRequest, b: PresentationRequest): boolean =>
  a.chainId === b.chainId && a.audience.name === b.audience.name && a.audience.node === b.audience.node && a.expiresAt === b.expiresAt && bytesEqual(a.nonce, b.nonce)

/**
 * Checks a presentation: the request is one this verifier issued, still outstanding and not
 * expired; the certificate's type was asked for; it is bound to the presenting key; the holder
 * signed this request; then every check of the proof bundle and the document. A valid answer
 * marks the nonce used (durably, through the store) before it is returned, so it is valid once.
 */
export async function verifyPresentation(p: Presentation, options: VerifyPresentationOptions): Promise<PresentationResult> {
  const checks: PresentationCheck[] = []
  const check = (name: PresentationCheckName, ok: boolean, detail: string, code: ErrorCode): void => {
    checks.push(ok ? { name, ok, detail } : { name, ok, detail, code })
  }
  const { certificate: file, request } = p
  const issued = await options.nonces.lookup(request.nonce)
  const expired = issued !== undefined && options.now >= issued.request.expiresAt
  check(
    'request',
    issued !== undefined && !issued.used && !expired && sameRequest(issued.request, request),
    issued === undefined
      ? 'this verifier issued no request with this nonce'
      : issued.used
        ? 'this request was already answered: a presentation is valid once'
        : expired
          ? `the request expired at ${new Date(issued.request.expiresAt).toISOString()}`
          : sameRequest(issued.request, request)
            ? `issued by "${issued.request.audience.name}" and outstanding until ${new Date(issued.request.expiresAt).toISOString()}`
            : 'the presentation quotes the request differently than it was issued',
    issued === undefined ? 'NONCE_UNKNOWN' : issued.used ? 'NONCE_USED' : expired ? 'REQUEST_EXPIRED' : 'NONCE_UNKNOWN',
  )
  const asked = issued?.request.types ?? request.types
  const typeOk = asked === undefined || asked.includes(file.record.type)
  check('type', typeOk, typeOk ? `"${file.record.type}" was requested` : `"${file.record.type}" is not among the requested types (${asked?.join(', ')})`, 'TYPE_NOT_REQUESTED')
  const bound = file.record.holder !== undefined && file.holderSalt !== undefined
  check(
    'holder_binding',
    bound || options.allowUnbound === true,
    bound ? 'bound to a wallet key by a salted commitment' : 'not bound to a wallet: anyone holding the file could present it',
    'NOT_HOLDER_BOUND',
  )
  const keyOk = bound && bytesEqual(holderCommitment(sha256, file.holderSalt, p.holderKey), file.record.holder)
  check('holder_key', keyOk || (!bound && options.allowUnbound === true), keyOk ? 'the presenting key is the one the certificate is bound to' : 'the presenting key is not the one the certificate is bound to', 'HOLDER_MISMATCH')
  const sigOk = verifyEd25519(p.holderKey, presentationSignBytes(request, file.certificateId, p.proof), p.signature)
  check('holder_signature', sigOk, sigOk ? 'the holder signed this request, this certificate and this proof' : 'the holder signature does not verify', 'BAD_HOLDER_SIGNATURE')

  const light = verifyProof(file, p.proof, {
    trust: options.trust,
    now: options.now,
    maxAgeMs: options.maxAgeMs,
    ...(options.document ? { document: options.document } : {}),
    ...(options.documentHash ? { documentHash: options.documentHash } : {}),
  })
  let all = [...checks, ...light.checks]
  if (all.every((c) => c.ok) && !(await options.nonces.markUsed(request.nonce))) {
    all = all.map((c) => (c.name === 'request' ? { name: 'request', ok: false, detail: 'this request was already answered: a presentation is valid once', code: 'NONCE_USED' } : c))
  }
  const verdict = all.every((c) => c.ok) ? 'valid' : 'invalid'
  return { verdict, certificateId: light.certificateId, status: light.status, checks: all }
}
