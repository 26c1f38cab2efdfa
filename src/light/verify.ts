import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { fileChecks, MIN_SALT_LENGTH, type CertificateFile } from '../core/certificate-file.js'
import { commitProblem, headerBytes, validatorSetBytes } from '../core/header.js'
import { auditPathRoot, leafHash, sparsePathRoot, sparseZeros, type SparsePath } from '../core/merkle-path.js'
import { heightRecordBytes, REGISTRY_SECTIONS, registrySectionBytes, registryValueBytes, stateRootBytes, statusLeafBytes, type RegistrySection, type StateRoots } from '../core/state.js'
import { CHAIN_FORMAT_VERSION, MAX_TIME_MS, type BlockHeader, type Commit, type Millis } from '../core/types.js'
import { sha256, verifyEd25519 } from './crypto.js'
import type { EntryProof, ProofBundle, SetMember } from './proof.js'

/**
 * What a light verifier trusts: the validator set that signs the height after `height` (for the
 * genesis: height 0 and the genesis validators), and, for a checkpoint, the hash of the header at
 * `height`. Everything else in a proof is checked against it.
 */
export interface Trust {
  readonly chainId: string
  readonly height: number
  readonly headerHash?: Bytes
  readonly validators: readonly SetMember[]
}

export type LightCheckName =
  | 'chain'
  | 'commit'
  | 'freshness'
  | 'certificate_id'
  | 'document_hash'
  | 'issuer_signature'
  | 'on_chain'
  | 'issuer_authorized'
  | 'status'
  | 'validity_period'

export interface LightCheck {
  readonly name: LightCheckName
  readonly ok: boolean
  readonly detail: string
}

export type LightStatus = 'valid' | 'revoked' | 'suspended' | 'expired' | 'not_yet_valid' | 'unknown'

export interface LightResult {
  readonly verdict: 'valid' | 'invalid'
  readonly certificateId: string
  readonly status: LightStatus
  readonly checks: readonly LightCheck[]
  /** Height and time of the proof's header: the moment the status is proven for. */
  readonly provenAt?: { readonly height: number; readonly time: Millis }
}

export interface VerifyProofOptions {
  readonly trust: Trust
  readonly now: Millis
  /** A proof whose header is older than this is stale, so not valid. */
  readonly maxAgeMs: number
  readonly document?: Bytes
  readonly documentHash?: Bytes
}

/** A header may be at most this far ahead of the verifier's clock (clock skew between machines). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000

const ZEROS = sparseZeros(sha256)

/** A time for a detail line; a bundle's times are outside input and may be beyond what Date holds. */
const iso = (ms: number): string => (Math.abs(ms) <= MAX_TIME_MS ? new Date(ms).toISOString() : `${ms} ms since 1970`)

function compareBytes(a: Bytes, b: Bytes): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** A validator set in proposer order (by public key), as headers hash it. */
function ordered(set: readonly SetMember[]): SetMember[] {
  return [...set].sort((a, b) => compareBytes(a.publicKey, b.publicKey))
}

function setHash(set: readonly SetMember[]): Bytes {
  return sha256(validatorSetBytes(set))
}

export function headerHash(header: BlockHeader): Bytes {
  return sha256(headerBytes(header))
}

/** Why `header` with `commit` is not proven final by more than 2/3 of `set`, or undefined. */
function signedProblem(chainId: string, header: BlockHeader, commit: Commit, set: readonly SetMember[]): string | undefined {
  if ((header.version as number) !== CHAIN_FORMAT_VERSION) return `header version ${String(header.version)} is not ${CHAIN_FORMAT_VERSION}`
  if (header.chainId !== chainId) return `header of chain "${header.chainId}"`
  if (!bytesEqual(header.validatorsHash, setHash(set))) return 'its validator set is not the trusted one (a set change is missing or forged)'
  return commitProblem(chainId, set, headerHash(header), header.height, commit, verifyEd25519)
}

/**
 * Follows the trust anchor to the proof's header through the validator-set changes: each change
 * header must be signed by more than 2/3 of the set trusted so far, and then its next set is
 * trusted; the final header must be signed by more than 2/3 of the set trusted last. Undefined
 * when it is proven; what is wrong otherwise. State sync verifies its snapshot's header with it.
 */
export function followSets(trust: Trust, proof: Pick<ProofBundle, 'header' | 'commit' | 'validatorChanges'>): string | undefined {
  let set = ordered(trust.validators)
  let height = trust.height
  let previous = -1
  for (const change of proof.validatorChanges) {
    const h = change.header.height
    // One list, strictly ascending: a bundle has exactly one form.
    if (h <= previous) return `set changes must be in strictly ascending height order (${h} after ${previous})`
    previous = h
    // A change at or before the anchor is already part of what the anchor trusts.
    if (h <= height) continue
    if (h >= proof.header.height) return `the set change at height ${h} is not before the proof's header (${proof.header.height})`
    const problem = signedProblem(trust.chainId, change.header, change.commit, set)
    if (problem) return `set change at height ${h}: ${problem}`
    const next = ordered(change.nextValidators)
    if (!bytesEqual(setHash(next), change.header.nextValidatorsHash)) return `set change at height ${h}: the next validators do not hash to its nextValidatorsHash`
    set = next
    height = h
  }
  if (proof.header.height < trust.height) return `the proof's header (${proof.header.height}) is older than the trusted height ${trust.height}`
  if (proof.header.height === trust.height) {
    return trust.headerHash && bytesEqual(headerHash(proof.header), trust.headerHash) ? undefined : `header ${trust.height} is not the trusted one`
  }
  const problem = signedProblem(trust.chainId, proof.header, proof.commit, set)
  return problem ? `header ${proof.header.height}: ${problem}` : undefined
}

const stateHash = (state: StateRoots): Bytes => sha256(stateRootBytes(state))

function sparseProves(leafBytes: Bytes, path: SparsePath, root: Bytes): boolean {
  const computed = sparsePathRoot(sha256, ZEROS, leafHash(sha256, leafBytes), path)
  return computed !== null && bytesEqual(computed, root)
}

function entryProves(section: RegistrySection, proof: EntryProof<unknown>, registryRoot: Bytes): boolean {
  const entriesRoot = auditPathRoot(sha256, registryValueBytes(proof.entry), proof.index, proof.count, proof.path)
  if (entriesRoot === null) return false
  const sectionHash = sha256(registrySectionBytes(proof.count, entriesRoot))
  const root = auditPathRoot(sha256, sectionHash, REGISTRY_SECTIONS.indexOf(section), REGISTRY_SECTIONS.length, proof.sectionPath)
  return root !== null && bytesEqual(root, registryRoot)
}

/**
 * Verifies a certificate offline: its file, a proof bundle and the trust anchor, nothing else.
 * The same checks and verdict as a node's `POST /v1/verify`, plus `commit` (each header's commit
 * checked against its set) and `freshness` (the proof's header is at most `maxAgeMs` old). Pure
 * and browser-safe: no Node built-ins, no network.
 */
export function verifyProof(file: CertificateFile, proof: ProofBundle, options: VerifyProofOptions): LightResult {
  const { trust, now, maxAgeMs } = options
  const checks: LightCheck[] = []
  const check = (name: LightCheckName, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail })
    return ok
  }
  const { header } = proof

  const chainOk = [file.chainId, proof.chainId, header.chainId].every((c) => c === trust.chainId)
  check('chain', chainOk, `file is for chain "${file.chainId}", the proof for "${proof.chainId}", the trust anchor is "${trust.chainId}"`)

  const followProblem = followSets(trust, proof)
  const changes = proof.validatorChanges.filter((c) => c.header.height > trust.height).length
  const commitOk = check(
    'commit',
    followProblem === undefined,
    followProblem ??
      (header.height === trust.height
        ? `header ${header.height} is the trusted checkpoint`
        : `header ${header.height} signed by more than 2/3 of its validators, reached from height ${trust.height} through ${changes} set change(s)`),
  )

  const age = now - header.time
  check(
    'freshness',
    age <= maxAgeMs && age >= -MAX_FUTURE_SKEW_MS,
    `proof of height ${header.height} at ${iso(header.time)}: ${age >= 0 ? `${Math.round(age / 1000)} s old` : `${Math.round(-age / 1000)} s in the future`}, at most ${Math.round(maxAgeMs / 1000)} s allowed`,
  )

  const hash = options.documentHash ?? (options.document && file.salt.length >= MIN_SALT_LENGTH ? sha256(file.salt, options.document) : undefined)
  const { offline, checks: ownChecks } = fileChecks({ sha256, verify: verifyEd25519 }, file, hash)
  checks.push(...ownChecks)

  // Everything below is read from H's state: only as good as the commit over H.
  const { leaf, path } = proof.status
  const stateOk = commitOk && bytesEqual(stateHash(proof.state), header.stateRoot)
  const leafProven =
    stateOk &&
    bytesEqual(proof.certificateId, file.certificateId) &&
    bytesEqual(leaf.id, file.certificateId) &&
    path.index < proof.state.certificateCount &&
    sparseProves(statusLeafBytes(leaf), path, proof.state.certificates)
  const onChain = leafProven && offline.idMatches && offline.txId !== null && bytesEqual(leaf.tx, offline.txId)
  check(
    'on_chain',
    onChain,
    !leafProven
      ? 'the status leaf is not proven against the signed state root'
      : onChain
        ? `issued at height ${leaf.issuedHeight} (${iso(leaf.issuedTime)})`
        : 'the chain records this certificate under a different issuance',
  )
  if (!leafProven) return done(checks, file, 'unknown', header)

  // As of issuance: the state after the block before the issuing one, reached by H's height history.
  const { issuance } = proof
  const asOf = leaf.issuedHeight - 1
  const issuanceProven =
    issuance.record.height === asOf &&
    issuance.path.index === asOf &&
    sparseProves(heightRecordBytes(issuance.record), issuance.path, proof.state.history) &&
    bytesEqual(stateHash(issuance.state), issuance.record.stateRoot) &&
    entryProves('issuers', issuance.issuer, issuance.state.registry) &&
    entryProves('types', issuance.type, issuance.state.registry) &&
    issuance.issuer.entry.id === file.record.issuer &&
    issuance.type.entry.id === file.record.type
  const issuer = issuance.issuer.entry
  const key = issuer.keys.find((k) => bytesEqual(k.publicKey, leaf.key))
  const authorized =
    issuanceProven &&
    issuer.active &&
    issuer.types.includes(file.record.type) &&
    key !== undefined &&
    key.retiredHeight === undefined &&
    bytesEqual(leaf.key, file.issuance.key)
  check(
    'issuer_authorized',
    authorized,
    !issuanceProven
      ? `the registry as of height ${asOf} is not proven against the signed state`
      : authorized
        ? `"${issuer.name}" was authorized for "${file.record.type}" with this key as of height ${asOf} (issued at height ${leaf.issuedHeight})`
        : `issuer "${file.record.issuer}" was not authorized for "${file.record.type}" with this key as of height ${asOf}`,
  )

  // Key compromise is read from the issuer's entry as of H (the node reads its latest registry).
  const current = proof.issuer ?? (bytesEqual(proof.state.registry, issuance.state.registry) ? issuance.issuer : undefined)
  const currentProven = current !== undefined && current.entry.id === file.record.issuer && entryProves('issuers', current, proof.state.registry)
  const currentKey = current?.entry.keys.find((k) => bytesEqual(k.publicKey, leaf.key))
  const compromised = currentKey?.compromisedSince !== undefined && leaf.issuedTime >= currentKey.compromisedSince && leaf.state !== 'revoked'
  const state = compromised ? 'revoked' : leaf.state
  const stateActive = currentProven && state === 'active'
  check(
    'status',
    stateActive,
    !currentProven
      ? `the issuer's entry as of height ${header.height} is not proven against the signed state`
      : stateActive
        ? `not revoked or suspended as of height ${header.height} (${iso(header.time)})`
        : compromised
          ? `revoked at height ${currentKey.compromisedHeight ?? leaf.issuedHeight} (key_compromised): the signing key was declared compromised since ${iso(currentKey.compromisedSince)}`
          : `${state} at height ${leaf.since} (${leaf.reason ?? 'no reason'})`,
  )
  const { validFrom, validUntil } = file.record
  check('validity_period', now >= validFrom && now < validUntil, `valid from ${iso(validFrom)} until ${iso(validUntil)}`)

  const status: LightStatus = !currentProven
    ? 'unknown'
    : state !== 'active'
      ? state
      : now < validFrom
        ? 'not_yet_valid'
        : now >= validUntil
          ? 'expired'
          : 'valid'
  return done(checks, file, status, header)
}

function done(checks: LightCheck[], file: CertificateFile, status: LightStatus, header: BlockHeader): LightResult {
  return {
    verdict: checks.every((c) => c.ok) ? 'valid' : 'invalid',
    certificateId: toHex(file.certificateId),
    status,
    checks,
    provenAt: { height: header.height, time: header.time },
  }
}
