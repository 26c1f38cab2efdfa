import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { encode, pruneUndefined } from '../core/encoding.js'
import { CertchainError, reject, type ErrorCode } from '../core/errors.js'
import type { CertificateType } from '../core/genesis.js'
import type { GovAction } from '../core/governance.js'
import { sha256 } from '../core/hash.js'
import type { Millis } from '../core/types.js'
import type { Vote } from '../core/vote.js'
import {
  Registry,
  isCurrentKey,
  sortedById,
  type ActiveValidator,
  type IssuerKey,
  type IssuerRecord,
  type RegistryState,
  type ValidatorRecord,
} from './registry.js'

export type ProposalStatus = 'open' | 'passed' | 'rejected' | 'expired' | 'failed'

export interface ProposalVote {
  readonly validator: string
  readonly approve: boolean
  readonly height: number
}

export interface ProposalRecord {
  /** Sequence number, assigned when the proposal is committed. */
  readonly id: number
  readonly action: GovAction
  readonly note?: string
  readonly proposer: string
  readonly txId: Bytes
  readonly height: number
  /** Last height at which a vote may still complete it. */
  readonly deadline: number
  readonly status: ProposalStatus
  readonly votes: readonly ProposalVote[]
  readonly closedHeight?: number
  /** Why a passed proposal could not be executed (the state changed since it was made). */
  readonly failure?: { readonly code: ErrorCode; readonly message: string }
}

/** Open proposals and the next number: the part of the state votes change. */
export interface ProposalsState {
  readonly next: number
  readonly open: readonly ProposalRecord[]
}

export const EMPTY_PROPOSALS: ProposalsState = Object.freeze({ next: 1, open: [] })

const proposalsHashes = new WeakMap<ProposalsState, Bytes>()

/** Hash of the open proposals (part of the state root); states are immutable, so it is computed once each. */
export function proposalsHash(state: ProposalsState): Bytes {
  let hash = proposalsHashes.get(state)
  if (!hash) proposalsHashes.set(state, (hash = sha256(encode(pruneUndefined({ next: state.next, open: state.open })))))
  return hash
}

/** Something governance did in a block: logged, counted and returned to whoever waits on it. */
export type GovEvent =
  | { readonly kind: 'proposed' | 'passed' | 'rejected' | 'expired' | 'failed'; readonly proposal: ProposalRecord }
  | { readonly kind: 'voted'; readonly proposal: ProposalRecord; readonly validator: string; readonly approve: boolean }
  | { readonly kind: 'issuer_keys'; readonly issuer: string; readonly added: number; readonly retired: number; readonly compromised: number }
  | { readonly kind: 'jailed'; readonly validator: string; readonly height: number; readonly round: number }

/** Open proposals at once, in all and per proposing validator: bounds what every block re-reads. */
export const MAX_OPEN_PROPOSALS = 256
export const MAX_OPEN_PROPOSALS_PER_VALIDATOR = 16
/** Keys an issuer may ever hold (retired ones stay: they verify what they signed). */
export const MAX_ISSUER_KEYS = 64

/** More than two thirds of `n` equal votes. */
export function passes(yes: number, n: number): boolean {
  return yes * 3 > n * 2
}

/**
 * Tally of a proposal's votes among the validators voting now. Votes of removed validators no
 * longer count, nor those cast under an id before its current registration (another operator).
 */
export function tally(proposal: ProposalRecord, voters: readonly ActiveValidator[]): { yes: number; no: number; of: number } {
  const since = new Map(voters.map((v) => [v.id, v.addedHeight]))
  let yes = 0
  let no = 0
  for (const v of proposal.votes) {
    const addedHeight = since.get(v.validator)
    if (addedHeight === undefined || v.height < addedHeight) continue
    if (v.approve) yes++
    else no++
  }
  return { yes, no, of: voters.length }
}

// ---- actions ----------------------------------------------------------------------------------

function replaceById<T extends { id: string }>(list: readonly T[], item: T): T[] {
  return list.map((x) => (x.id === item.id ? item : x))
}

function knownTypes(state: RegistryState, types: readonly string[]): void {
  for (const t of types) if (!state.types.some((x) => x.id === t)) reject('UNKNOWN_CERT_TYPE', `unknown certificate type "${t}"`)
}

function knownIssuers(state: RegistryState, ids: readonly string[]): void {
  for (const id of ids) if (!state.issuers.some((i) => i.id === id)) reject('UNKNOWN_ISSUER', `issuer "${id}" is not registered`)
}

function keyFree(state: RegistryState, key: Bytes): void {
  const owner = state.issuers.find((i) => i.keys.some((k) => bytesEqual(k.publicKey, key)))
  if (owner) reject('KEY_TAKEN', `key ${toHex(key).slice(0, 16)}… is already a key of issuer "${owner.id}"`)
}

function nodeFree(state: RegistryState, id: string, peerId: string): void {
  if (state.validators.some((v) => v.id === id) || state.members.some((m) => m.id === id)) {
    reject('ID_TAKEN', `"${id}" is already a validator or member id`)
  }
  if (state.validators.some((v) => v.peerId === peerId) || state.members.some((m) => m.peerId === peerId)) {
    reject('PEER_ID_TAKEN', `peer id ${peerId} is already registered`)
  }
}

function validatorOf(state: RegistryState, id: string): ValidatorRecord {
  return state.validators.find((v) => v.id === id) ?? reject('UNKNOWN_VALIDATOR', `"${id}" is not a validator`)
}

function issuerOf(state: RegistryState, id: string): IssuerRecord {
  return state.issuers.find((i) => i.id === id) ?? reject('UNKNOWN_ISSUER', `issuer "${id}" is not registered`)
}

function typeOf(state: RegistryState, id: string): CertificateType {
  return state.types.find((t) => t.id === id) ?? reject('UNKNOWN_CERT_TYPE', `unknown certificate type "${id}"`)
}

function activeCount(validators: readonly ValidatorRecord[]): number {
  return validators.filter((v) => v.jailedHeight === undefined).length
}

function withKey(issuer: IssuerRecord, publicKey: Bytes, height: number): IssuerRecord {
  if (issuer.keys.length >= MAX_ISSUER_KEYS) reject('TOO_MANY_KEYS', `issuer "${issuer.id}" already has ${MAX_ISSUER_KEYS} keys`)
  return { ...issuer, keys: [...issuer.keys, { publicKey, addedHeight: height }] }
}

function compromiseKey(issuer: IssuerRecord, key: Bytes, since: Millis, height: number): IssuerRecord {
  const entry = issuer.keys.find((k) => bytesEqual(k.publicKey, key))
  if (!entry) reject('UNKNOWN_KEY', `key ${toHex(key).slice(0, 16)}… is not a key of issuer "${issuer.id}"`)
  if (entry.compromisedSince !== undefined) reject('KEY_ALREADY_COMPROMISED', `key ${toHex(key).slice(0, 16)}… is already declared compromised`)
  const updated: IssuerKey = { ...entry, retiredHeight: entry.retiredHeight ?? height, compromisedSince: since, compromisedHeight: height }
  return { ...issuer, keys: issuer.keys.map((k) => (k === entry ? updated : k)) }
}

/**
 * The registry after `action`, or a CertchainError saying why it cannot apply. Each kind touches
 * only the fields it names; every id it refers to must exist and every id it adds must be free.
 */
export function applyAction(state: RegistryState, action: GovAction, height: number): RegistryState {
  switch (action.type) {
    case 'addValidator': {
      nodeFree(state, action.id, action.peerId)
      if (state.validators.some((v) => bytesEqual(v.publicKey, action.publicKey))) reject('KEY_TAKEN', 'this public key is already a validator key')
      const { id, name, publicKey, peerId } = action
      return { ...state, validators: sortedById([...state.validators, { id, name, publicKey, peerId, addedHeight: height }]) }
    }
    case 'removeValidator': {
      validatorOf(state, action.id)
      const validators = state.validators.filter((v) => v.id !== action.id)
      if (activeCount(validators) === 0) reject('LAST_VALIDATOR', 'the chain needs at least one validator that is not jailed')
      return { ...state, validators }
    }
    case 'unjailValidator': {
      const v = validatorOf(state, action.id)
      if (v.jailedHeight === undefined) reject('NOT_JAILED', `validator "${action.id}" is not jailed`)
      const { jailedHeight: _, ...free } = v
      return { ...state, validators: replaceById(state.validators, free) }
    }
    case 'addMember': {
      nodeFree(state, action.id, action.peerId)
      const { id, name, peerId } = action
      return { ...state, members: sortedById([...state.members, { id, name, peerId }]) }
    }
    case 'removeMember': {
      if (!state.members.some((m) => m.id === action.id)) reject('UNKNOWN_MEMBER', `"${action.id}" is not a member`)
      return { ...state, members: state.members.filter((m) => m.id !== action.id) }
    }
    case 'addIssuer': {
      if (state.issuers.some((i) => i.id === action.id)) reject('ID_TAKEN', `issuer "${action.id}" already exists`)
      knownTypes(state, action.types)
      keyFree(state, action.publicKey)
      const issuer: IssuerRecord = {
        id: action.id,
        name: action.name,
        types: [...action.types].sort(),
        active: true,
        keys: [{ publicKey: action.publicKey, addedHeight: height }],
        addedHeight: height,
      }
      return { ...state, issuers: sortedById([...state.issuers, issuer]) }
    }
    case 'updateIssuer': {
      const issuer = issuerOf(state, action.id)
      if (!issuer.active) reject('ISSUER_INACTIVE', `issuer "${action.id}" is deactivated`)
      if (action.types) knownTypes(state, action.types)
      if (action.publicKey) keyFree(state, action.publicKey)
      const updated: IssuerRecord = {
        ...(action.publicKey === undefined ? issuer : withKey(issuer, action.publicKey, height)),
        ...(action.name === undefined ? {} : { name: action.name }),
        ...(action.types === undefined ? {} : { types: [...action.types].sort() }),
      }
      return { ...state, issuers: replaceById(state.issuers, updated) }
    }
    case 'deactivateIssuer': {
      const issuer = issuerOf(state, action.id)
      if (!issuer.active) reject('ISSUER_INACTIVE', `issuer "${action.id}" is already deactivated`)
      return { ...state, issuers: replaceById(state.issuers, { ...issuer, active: false, deactivatedHeight: height }) }
    }
    case 'compromiseIssuerKey': {
      const issuer = issuerOf(state, action.id)
      return { ...state, issuers: replaceById(state.issuers, compromiseKey(issuer, action.key, action.since, height)) }
    }
    case 'addType': {
      if (state.types.some((t) => t.id === action.id)) reject('ID_TAKEN', `certificate type "${action.id}" already exists`)
      knownIssuers(state, action.authorities)
      const { id, nameKo, nameEn, validityDays, authorities } = action
      return { ...state, types: sortedById([...state.types, { id, nameKo, nameEn, validityDays, authorities: [...authorities].sort() }]) }
    }
    case 'updateType': {
      const type = typeOf(state, action.id)
      if (action.authorities) knownIssuers(state, action.authorities)
      const updated: CertificateType = {
        ...type,
        ...(action.nameKo === undefined ? {} : { nameKo: action.nameKo }),
        ...(action.nameEn === undefined ? {} : { nameEn: action.nameEn }),
        ...(action.validityDays === undefined ? {} : { validityDays: action.validityDays }),
        ...(action.authorities === undefined ? {} : { authorities: [...action.authorities].sort() }),
      }
      return { ...state, types: replaceById(state.types, updated) }
    }
    case 'setParams':
      return { ...state, params: { ...state.params, ...action.params } }
  }
}

/**
 * An issuer's own key changes (UpdateIssuerKeys), signed with `signingKey`. The signer can only
 * ever touch its own record: there is no issuer field to point elsewhere.
 */
export function applyKeyUpdate(
  state: RegistryState,
  issuerId: string,
  signingKey: Bytes,
  update: { add?: readonly Bytes[]; retire?: readonly Bytes[]; compromised?: readonly { key: Bytes; since: Millis }[] },
  height: number,
): RegistryState {
  let issuer = issuerOf(state, issuerId)
  // Deactivated earlier in this block: it signs nothing more, key changes included.
  if (!issuer.active) reject('ISSUER_INACTIVE', `issuer "${issuerId}" is deactivated`)
  const own = (key: Bytes): IssuerKey =>
    issuer.keys.find((k) => bytesEqual(k.publicKey, key)) ?? reject('UNKNOWN_KEY', `key ${toHex(key).slice(0, 16)}… is not a key of issuer "${issuerId}"`)
  const signer = own(signingKey)
  if (!isCurrentKey(signer)) reject('ISSUER_KEY_RETIRED', 'the signing key was retired earlier in this block')
  const all = [...(update.add ?? []), ...(update.retire ?? []), ...(update.compromised ?? []).map((c) => c.key)]
  if (new Set(all.map(toHex)).size !== all.length) reject('MALFORMED_TX', 'a key appears more than once in one key update')
  for (const key of update.add ?? []) {
    keyFree(state, key)
    issuer = withKey(issuer, key, height)
  }
  for (const key of update.retire ?? []) {
    const entry = own(key)
    if (!isCurrentKey(entry)) reject('KEY_RETIRED', `key ${toHex(key).slice(0, 16)}… is already retired`)
    issuer = { ...issuer, keys: issuer.keys.map((k) => (k === entry ? { ...k, retiredHeight: height } : k)) }
  }
  for (const { key, since } of update.compromised ?? []) {
    if (bytesEqual(key, signingKey)) reject('COMPROMISED_KEY_SIGNED', 'a key cannot declare itself compromised: sign with another key of the issuer')
    issuer = compromiseKey(issuer, key, since, height)
  }
  if (!issuer.keys.some(isCurrentKey)) reject('LAST_ISSUER_KEY', `issuer "${issuerId}" would have no current key left`)
  return { ...state, issuers: replaceById(state.issuers, issuer) }
}

/**
 * Governance changes of one block being executed, on top of the registry and proposals committed
 * before it. Copy on write: a block without governance transactions allocates nothing.
 */
export class GovDraft {
  private state: RegistryState
  private view: Registry
  private readonly open: Map<number, ProposalRecord>
  private next: number
  private registryChanged = false
  readonly proposalsChanged = new Map<number, ProposalRecord>()
  readonly events: GovEvent[] = []

  constructor(
    base: Registry,
    proposals: ProposalsState,
    readonly height: number,
    /** Validators voting at this height (consensus's set): they propose, vote and report evidence. */
    readonly voters: readonly ActiveValidator[],
  ) {
    this.state = base.state
    this.view = base
    this.open = new Map(proposals.open.map((p) => [p.id, p]))
    this.next = proposals.next
  }

  /** The registry as changed so far in this block. */
  get registry(): Registry {
    return this.view
  }

  get changed(): boolean {
    return this.registryChanged || this.proposalsChanged.size > 0
  }

  /**
   * First thing in a block: proposals whose deadline passed close as expired, and the others are
   * decided again with this height's voters. A smaller set (a validator removed or jailed) can
   * make approvals already given enough, with nobody left to cast the deciding vote.
   */
  openBlock(): void {
    for (const p of [...this.open.values()]) {
      if (p.deadline < this.height) this.close(p, 'expired')
      else this.decide(p)
    }
  }

  propose(txId: Bytes, proposer: string, action: GovAction, note: string | undefined): ProposalRecord {
    if (this.open.size >= MAX_OPEN_PROPOSALS) reject('TOO_MANY_PROPOSALS', `${MAX_OPEN_PROPOSALS} proposals are open; vote on them first`)
    const own = [...this.open.values()].filter((p) => p.proposer === proposer).length
    if (own >= MAX_OPEN_PROPOSALS_PER_VALIDATOR) {
      reject('TOO_MANY_PROPOSALS', `"${proposer}" already has ${MAX_OPEN_PROPOSALS_PER_VALIDATOR} open proposals`)
    }
    // Checked now against the current registry, so a proposal that could never apply is refused
    // with its reason; checked again when it passes.
    applyAction(this.state, action, this.height)
    const proposal: ProposalRecord = {
      id: this.next++,
      action,
      ...(note === undefined ? {} : { note }),
      proposer,
      txId,
      height: this.height,
      deadline: this.height + this.state.params.proposalTtlBlocks,
      status: 'open',
      votes: [{ validator: proposer, approve: true, height: this.height }],
    }
    this.save(proposal)
    this.events.push({ kind: 'proposed', proposal })
    this.decide(proposal)
    return proposal
  }

  vote(proposalId: number, validator: string, approve: boolean): void {
    const proposal = this.open.get(proposalId)
    if (!proposal) {
      // Numbers are given out in order from 1: any lower than the next one existed and is closed.
      if (proposalId >= 1 && proposalId < this.next) reject('PROPOSAL_CLOSED', `proposal ${proposalId} is no longer open`)
      reject('UNKNOWN_PROPOSAL', `there is no proposal ${proposalId}`)
    }
    if (proposal.votes.some((v) => v.validator === validator)) reject('ALREADY_VOTED', `"${validator}" already voted on proposal ${proposalId}`)
    const updated = { ...proposal, votes: [...proposal.votes, { validator, approve, height: this.height }] }
    this.save(updated)
    this.events.push({ kind: 'voted', proposal: updated, validator, approve })
    this.decide(updated)
  }

  updateIssuerKeys(issuer: string, signingKey: Bytes, update: Parameters<typeof applyKeyUpdate>[3]): void {
    this.setState(applyKeyUpdate(this.state, issuer, signingKey, update, this.height))
    this.events.push({
      kind: 'issuer_keys',
      issuer,
      added: update.add?.length ?? 0,
      retired: update.retire?.length ?? 0,
      compromised: update.compromised?.length ?? 0,
    })
  }

  /**
   * Records evidence and jails its validator (out of the set from two heights later). One jailing
   * punishes everything the validator did up to this block: older evidence is refused afterwards,
   * so a reinstated validator is not jailed again for the same past, and the list stays short.
   */
  jail(first: Vote): void {
    const { validator, height, round, type } = first
    const record =
      this.state.validators.find((v) => v.id === validator) ?? reject('INVALID_EVIDENCE', `"${validator}" is no longer a registered validator`)
    // An id removed and registered again names another operator (another key): not the offender.
    if (record.addedHeight >= height) reject('INVALID_EVIDENCE', `the votes predate the registration of "${validator}" at height ${record.addedHeight}`)
    if (record.jailedHeight !== undefined) reject('EVIDENCE_ALREADY_COMMITTED', `validator "${validator}" is already jailed`)
    if (record.evidenceFloor !== undefined && height <= record.evidenceFloor) {
      reject('EVIDENCE_ALREADY_COMMITTED', `misbehaviour of "${validator}" up to height ${record.evidenceFloor} is already punished`)
    }
    const evidence = [...this.state.evidence, { validator, height, round, type, committedHeight: this.height }]
    // Jailing the last active validator would halt the chain for good: the evidence is kept, the
    // validator stays (governance can still remove it).
    const jail = activeCount(this.state.validators) > 1
    const punished: ValidatorRecord = { ...record, evidenceFloor: this.height, ...(jail ? { jailedHeight: this.height } : {}) }
    this.setState({ ...this.state, evidence, validators: replaceById(this.state.validators, punished) })
    if (jail) this.events.push({ kind: 'jailed', validator, height, round })
  }

  /** What to store and the new state, or undefined when the block changed no governance state. */
  result(): { registry?: Registry; proposals?: ProposalsState; records: ProposalRecord[]; events: GovEvent[] } | undefined {
    if (!this.changed) return undefined
    return {
      ...(this.registryChanged ? { registry: this.view } : {}),
      ...(this.proposalsChanged.size > 0 ? { proposals: { next: this.next, open: [...this.open.values()].sort((a, b) => a.id - b.id) } } : {}),
      records: [...this.proposalsChanged.values()],
      events: this.events,
    }
  }

  private decide(proposal: ProposalRecord): void {
    const { yes, no, of } = tally(proposal, this.voters)
    if (passes(yes, of)) {
      try {
        this.setState(applyAction(this.state, proposal.action, this.height))
        this.close(proposal, 'passed')
      } catch (err) {
        if (!(err instanceof CertchainError)) throw err
        this.close(proposal, 'failed', { code: err.code, message: err.message })
      }
    } else if (!passes(of - no, of)) {
      this.close(proposal, 'rejected')
    }
  }

  private close(proposal: ProposalRecord, status: Exclude<ProposalStatus, 'open'>, failure?: ProposalRecord['failure']): void {
    const closed: ProposalRecord = { ...proposal, status, closedHeight: this.height, ...(failure ? { failure } : {}) }
    this.open.delete(proposal.id)
    this.proposalsChanged.set(proposal.id, closed)
    this.events.push({ kind: status, proposal: closed })
  }

  private save(proposal: ProposalRecord): void {
    this.open.set(proposal.id, proposal)
    this.proposalsChanged.set(proposal.id, proposal)
  }

  private setState(state: RegistryState): void {
    this.state = state
    this.view = new Registry(this.view.chainId, state)
    this.registryChanged = true
  }
}
