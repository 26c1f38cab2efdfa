import { toHex } from '../core/bytes.js'
import { blockHash } from '../core/block.js'
import type { DecodedTx } from '../core/tx.js'
import type { FinalizedBlock, Millis } from '../core/types.js'
import type { GovAction } from '../core/governance.js'
import type { Vote } from '../core/vote.js'
import type { ValidatorInfo } from '../core/genesis.js'
import { quorum } from '../consensus/vote-set.js'
import {
  certificateStatus,
  isCurrentKey,
  tally,
  type ActiveValidator,
  type CertificateEntry,
  type IssuerRecord,
  type ProposalRecord,
  type Registry,
  type ValidatorRecord,
} from '../ledger/index.js'

const iso = (ms: number): string => new Date(ms).toISOString()

/** JSON view of a certificate as the chain knows it (no personal data exists to show). */
export function certificateView(id: string, entry: CertificateEntry, registry: Registry, now: number) {
  const { record, change } = entry
  return {
    id,
    status: certificateStatus(entry, now),
    type: record.type,
    typeName: registry.type(record.type)?.nameEn ?? null,
    issuer: record.issuer,
    issuerName: registry.issuer(record.issuer)?.name ?? null,
    documentHash: toHex(record.docHash),
    holder: record.holder ? toHex(record.holder) : null,
    validFrom: iso(record.validFrom),
    validUntil: iso(record.validUntil),
    issued: { height: entry.height, time: iso(entry.time), txId: toHex(entry.txId), key: toHex(entry.key) },
    statusChange: change
      ? {
          state: entry.state,
          height: change.height,
          time: iso(change.time),
          by: change.by,
          key: change.key ? toHex(change.key) : null,
          reason: change.reason ?? null,
          note: change.note ?? null,
        }
      : null,
  }
}

/** A view's JSON around its status, kept per entry object (the ledger's entry cache hands out the same one). */
const viewJson = new WeakMap<CertificateEntry, { readonly id: string; readonly registry: Registry; readonly head: string; readonly tail: string }>()

/**
 * `JSON.stringify(certificateView(...))`, built once per entry and registry: only the status
 * depends on `now`, and the hex, times and names were most of a single-id lookup's own work.
 * A changed status or a key compromise comes as another entry object, a governance change as
 * another registry, so neither is answered from an older view. `id` is 64 hex digits, lowercase.
 */
export function certificateViewJson(id: string, entry: CertificateEntry, registry: Registry, now: Millis): string {
  const status = certificateStatus(entry, now)
  let parts = viewJson.get(entry)
  if (parts?.id !== id || parts.registry !== registry) {
    const json = JSON.stringify(certificateView(id, entry, registry, now))
    // The view's first fields are the id and the status: {"id":"<id>","status":"<status>",...
    const head = `{"id":"${id}","status":"`
    parts = { id, registry, head, tail: json.slice(head.length + status.length) }
    viewJson.set(entry, parts)
  }
  return parts.head + status + parts.tail
}

/**
 * The JSON answer of `POST /v1/certificates/status` (schema CERTIFICATE_STATUSES), written as a
 * string: JSON.stringify of a thousand result objects was the largest part of the request.
 * `ids` are the request's ids as its schema checked them (64 hex digits), in order with `entries`.
 */
export function certificateStatusesJson(height: number, ids: readonly string[], entries: readonly (CertificateEntry | undefined)[], now: Millis): string {
  let out = `{"height":${height},"results":[`
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!.toLowerCase()
    const entry = entries[i]
    if (i > 0) out += ','
    out += entry
      ? `{"id":"${id}","status":"${certificateStatus(entry, now)}","type":${JSON.stringify(entry.record.type)},"issuer":${JSON.stringify(entry.record.issuer)}}`
      : `{"id":"${id}","status":"unknown"}`
  }
  return out + ']}'
}

export function txSummary(tx: DecodedTx) {
  const t = tx.tx
  const base = { id: toHex(tx.id), kind: t.kind, signer: t.signer, expiresAt: iso(t.body.expiresAt) }
  switch (t.kind) {
    case 'IssueCertificates':
      return { ...base, certificates: tx.certificateIds.map(toHex) }
    case 'RevokeCertificates':
      return { ...base, certificates: t.body.ids.map(toHex), reason: t.body.reason, note: t.body.note ?? null }
    case 'SuspendCertificate':
      return { ...base, certificates: [toHex(t.body.id)], reason: t.body.reason, note: t.body.note ?? null }
    case 'ReinstateCertificate':
      return { ...base, certificates: [toHex(t.body.id)], note: t.body.note ?? null }
    case 'UpdateIssuerKeys':
      return {
        ...base,
        addKeys: (t.body.add ?? []).map(toHex),
        retireKeys: (t.body.retire ?? []).map(toHex),
        compromisedKeys: (t.body.compromised ?? []).map((c) => ({ key: toHex(c.key), since: iso(c.since) })),
      }
    case 'Propose':
      return { ...base, action: actionView(t.body.action), note: t.body.note ?? null }
    case 'Vote':
      return { ...base, proposal: t.body.proposal, approve: t.body.approve }
    case 'ReportEquivocation':
      return { ...base, evidence: evidenceView(t.body) }
  }
}

/** JSON view of a governance action: keys in hex, times in ISO 8601, everything else as is. */
export function actionView(action: GovAction) {
  switch (action.type) {
    case 'addValidator':
    case 'addIssuer':
      return { ...action, publicKey: toHex(action.publicKey) }
    case 'compromiseIssuerKey':
      return { ...action, key: toHex(action.key), since: iso(action.since) }
    default:
      return action
  }
}

/** JSON view of an issuer with its key history: each key signs from after `addedHeight` until `retiredHeight`. */
export function issuerView(issuer: IssuerRecord) {
  return {
    id: issuer.id,
    name: issuer.name,
    types: issuer.types,
    active: issuer.active,
    addedHeight: issuer.addedHeight,
    deactivatedHeight: issuer.deactivatedHeight ?? null,
    keys: issuer.keys.map((k) => ({
      publicKey: toHex(k.publicKey),
      current: isCurrentKey(k),
      addedHeight: k.addedHeight,
      retiredHeight: k.retiredHeight ?? null,
      compromisedSince: k.compromisedSince === undefined ? null : iso(k.compromisedSince),
      compromisedHeight: k.compromisedHeight ?? null,
    })),
  }
}

export function validatorView(v: ValidatorInfo) {
  return { id: v.id, name: v.name, publicKey: toHex(v.publicKey), peerId: v.peerId }
}

/** A registered validator, voting or jailed: it votes from two heights after `addedHeight` until jailed or removed. */
export function registeredValidatorView(v: ValidatorRecord) {
  return { ...validatorView(v), addedHeight: v.addedHeight, jailedHeight: v.jailedHeight ?? null }
}

/**
 * JSON view of a proposal with its tally among `voters` (the validators voting now): `needed` is
 * the number of approvals that passes it, the same more-than-two-thirds rule as consensus.
 */
export function proposalView(p: ProposalRecord, voters: readonly ActiveValidator[]) {
  const { yes, no, of } = tally(p, voters)
  return {
    id: p.id,
    status: p.status,
    action: actionView(p.action),
    note: p.note ?? null,
    proposer: p.proposer,
    txId: toHex(p.txId),
    height: p.height,
    deadline: p.deadline,
    closedHeight: p.closedHeight ?? null,
    failure: p.failure ?? null,
    votes: p.votes.map((v) => ({ validator: v.validator, approve: v.approve, height: v.height })),
    tally: { yes, no, of, needed: quorum(of) },
  }
}

export function blockView({ block, commit }: FinalizedBlock, decode: (bytes: Uint8Array) => DecodedTx) {
  const h = block.header
  return {
    height: h.height,
    hash: toHex(blockHash(h)),
    header: {
      version: h.version,
      chainId: h.chainId,
      height: h.height,
      time: iso(h.time),
      prevHash: toHex(h.prevHash),
      txRoot: toHex(h.txRoot),
      txCount: h.txCount,
      stateRoot: toHex(h.stateRoot),
      proposer: h.proposer,
      validatorsHash: toHex(h.validatorsHash),
      nextValidatorsHash: toHex(h.nextValidatorsHash),
    },
    commit: {
      round: commit.round,
      signatures: commit.signatures.map((s) => ({ validator: s.validator, sig: toHex(s.sig) })),
    },
    txs: block.txs.map((bytes) => txSummary(decode(bytes))),
  }
}

/** JSON view of equivocation evidence: two signed votes of one validator at one (height, round, type). */
export function evidenceView(evidence: { first: Vote; second: Vote }) {
  const vote = (v: Vote) => ({ blockHash: v.blockHash ? toHex(v.blockHash) : null, sig: toHex(v.sig) })
  const { first, second } = evidence
  return { kind: 'duplicate_vote', validator: first.validator, height: first.height, round: first.round, type: first.type, first: vote(first), second: vote(second) }
}
