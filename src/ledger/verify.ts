import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { documentHash, fileChecks, type CertificateFile } from '../core/certificate.js'
import { verify } from '../core/crypto.js'
import { sha256 } from '../core/hash.js'
import type { Millis } from '../core/types.js'
import type { LightCheckName } from '../light/verify.js'
import type { Ledger } from './ledger.js'
import { certificateStatus, type CertificateStatus } from './status.js'
import { isCurrentKey } from './registry.js'
import type { CertificateEntry } from './store.js'

export interface VerificationCheck {
  /** The light verifier's checks but `commit` and `freshness`: a node trusts its own chain. */
  readonly name: Exclude<LightCheckName, 'commit' | 'freshness'>
  readonly ok: boolean
  readonly detail: string
}

export interface VerificationResult {
  readonly verdict: 'valid' | 'invalid'
  readonly certificateId: string
  readonly status: CertificateStatus | 'unknown' | 'not_yet_issued'
  readonly checks: readonly VerificationCheck[]
  readonly entry?: CertificateEntry
}

/** A past point of the chain: the state after block `height`, judged at `time` (validity period). */
export interface PointInTime {
  readonly height: number
  readonly time: Millis
}

/** What the verifier holds besides the certificate file: the document, or SHA-256(salt || document). */
export type DocumentEvidence = { readonly document: Bytes } | { readonly documentHash: Bytes }

/**
 * Answers "is this certificate genuine, issued by an agency allowed to issue that kind, and still
 * valid?" from the holder's file, the document and this node's copy of the chain. Every check is
 * reported, so a clerk sees why a certificate fails, not only that it does.
 */
export async function verifyCertificate(
  ledger: Ledger,
  file: CertificateFile,
  evidence: DocumentEvidence,
  now: Millis,
  at?: PointInTime,
): Promise<VerificationResult> {
  const checks: VerificationCheck[] = []
  const check = (name: VerificationCheck['name'], ok: boolean, detail: string): void => void checks.push({ name, ok, detail })

  check('chain', file.chainId === ledger.chainId, `file is for chain "${file.chainId}", this node follows "${ledger.chainId}"`)

  const hash = 'document' in evidence ? documentHash(file.salt, evidence.document) : evidence.documentHash
  const { offline, checks: ownChecks } = fileChecks({ sha256, verify }, file, hash)
  checks.push(...ownChecks)

  // As of a past point the status history decides; otherwise the current entry.
  const past = at ? await ledger.certificateAsOf(file.certificateId, at.height) : undefined
  const entry = at ? (past?.issued ? past.entry : undefined) : (await ledger.getCertificates([file.certificateId]))[0]
  const when = at?.time ?? now
  const onChain = entry !== undefined && offline.idMatches && offline.txId !== null && bytesEqual(entry.txId, offline.txId)
  check(
    'on_chain',
    onChain,
    past?.issued === false
      ? `not yet issued as of height ${at?.height} (${new Date(when).toISOString()})`
      : entry === undefined
      ? 'no such certificate on this chain'
      : onChain
        ? `issued at height ${entry.height} (${new Date(entry.time).toISOString()})`
        : 'the chain records this certificate under a different issuance',
  )

  if (entry !== undefined) {
    // As of issuance: the registry after the block before the certificate's block is what that
    // block was checked against. Later changes (new types, a deactivated issuer, a retired key)
    // do not undo an issuance that was legitimate when it happened.
    const asOf = entry.height - 1
    const registry = await ledger.registryAt(asOf)
    const issuer = registry.issuer(entry.record.issuer)
    const key = registry.issuerKey(entry.record.issuer, entry.key)
    const authorized =
      issuer !== undefined &&
      issuer.active &&
      issuer.types.includes(entry.record.type) &&
      key !== undefined &&
      isCurrentKey(key) &&
      bytesEqual(entry.key, file.issuance.key)
    check(
      'issuer_authorized',
      authorized,
      authorized
        ? `"${issuer.name}" was authorized for "${entry.record.type}" with this key as of height ${asOf} (issued at height ${entry.height})`
        : `issuer "${entry.record.issuer}" was not authorized for "${entry.record.type}" with this key as of height ${asOf}`,
    )
    const status = certificateStatus(entry, when)
    const stateOk = entry.state === 'active'
    const change = entry.change
    check(
      'status',
      stateOk,
      stateOk ? 'not revoked or suspended' : `${entry.state} at height ${change?.height} by "${change?.by}" (${change?.reason ?? 'no reason'})`,
    )
    const inPeriod = when >= entry.record.validFrom && when < entry.record.validUntil
    check(
      'validity_period',
      inPeriod,
      `valid from ${new Date(entry.record.validFrom).toISOString()} until ${new Date(entry.record.validUntil).toISOString()}`,
    )
    const verdict = checks.every((c) => c.ok) ? 'valid' : 'invalid'
    return { verdict, certificateId: toHex(file.certificateId), status, checks, entry }
  }
  return { verdict: 'invalid', certificateId: toHex(file.certificateId), status: past?.issued === false ? 'not_yet_issued' : 'unknown', checks }
}
