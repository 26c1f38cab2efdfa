import { toHex, type Bytes } from '../core/bytes.js'
import { heightRecordBytes, stateRootBytes, statusLeafBytes, type HeightRecord, type StateRoots, type StatusLeafValue } from '../core/state.js'
import { reject } from '../core/errors.js'
import { sha256 } from '../core/hash.js'
import { merkleLeaf } from '../core/merkle.js'
import { touchedCertificateIds, verifyTxSignature, type DecodedTx } from '../core/tx.js'
import type { Millis, SignedTx } from '../core/types.js'
import type { ValidatorInfo } from '../core/genesis.js'
import { ISSUER_TX_KINDS } from '../core/types.js'
import { hashKey, voteSignBytes, type Vote } from '../core/vote.js'
import { verify } from '../core/crypto.js'
import { bytesEqual } from '../core/bytes.js'
import { GovDraft, proposalsHash, type ProposalsState } from './governance.js'
import { isCurrentKey, type ActiveValidator, type Registry } from './registry.js'
import type { StateTree, TreeChunkWrite } from './state-tree.js'
import type { CertificateEntry, GovernanceWrites, Head, LedgerStore } from './store.js'
import { Pacer } from './pace.js'

/** What execution reads: committed state plus the rules. */
export interface ExecutionContext {
  readonly chainId: string
  readonly store: LedgerStore
  readonly tree: StateTree
  /** The height history: leaf h is the state after block h. */
  readonly history: StateTree
  /** Transactions whose signature this process already verified (admission, Ledger.verifySignatures); not re-verified. */
  readonly verified: WeakSet<DecodedTx>
  /** Consensus validators of any past height (evidence is checked against the set of its height). */
  readonly validatorsAt: (height: number) => Promise<readonly ValidatorInfo[]>
}

/** The governance state a block starts from. */
export interface GovernanceBase {
  /** The registry after the previous block: every rule of this block reads it. */
  readonly registry: Registry
  readonly proposals: ProposalsState
  /** Validators of consensus at this height: they propose, vote and report evidence. */
  readonly voters: readonly ActiveValidator[]
}

/** State root: SHA-256 of the canonical encoding of the roots it commits to (README, "State root"). */
export function stateRoot(roots: StateRoots): Bytes {
  return sha256(stateRootBytes(roots))
}

/** The status-tree leaf value of one certificate: its issuance and current status. */
export function statusLeafValue(id: Bytes, entry: CertificateEntry): StatusLeafValue {
  const { change } = entry
  return {
    id,
    tx: entry.txId,
    key: entry.key,
    issuedHeight: entry.height,
    issuedTime: entry.time,
    state: entry.state,
    since: change?.height ?? entry.height,
    sinceTime: change?.time ?? entry.time,
    ...(change?.reason === undefined ? {} : { reason: change.reason }),
  }
}

/** Leaf of the status tree for one certificate. */
export function statusLeaf(id: Bytes, entry: CertificateEntry): Bytes {
  return merkleLeaf(statusLeafBytes(statusLeafValue(id, entry)))
}

/** Leaf of the height history for the state after one block (or genesis). */
export function heightLeaf(record: HeightRecord): Bytes {
  return merkleLeaf(heightRecordBytes(record))
}

/**
 * Executes transactions in order on top of the committed state, as one block at (height, time).
 * `apply` either applies a whole transaction or throws a CertchainError and changes nothing, so
 * the same code admits transactions (mempool), builds blocks (proposer) and checks them (replay).
 */
export class BlockExecution {
  private readonly txIds = new Set<string>()
  private readonly changed = new Map<string, { id: Bytes; entry: CertificateEntry }>()
  private nextSeq: number
  private committedTxs: Set<string> | undefined
  private storedEntries: Map<string, CertificateEntry | undefined> | undefined
  readonly applied: DecodedTx[] = []
  /** Slices this block's work (see {@link Pacer}); the ledger's loops over transactions pause on it too. */
  readonly pacer = new Pacer()

  private readonly registry: Registry
  private readonly base: Head
  private draft: GovDraft | undefined

  constructor(
    private readonly ctx: ExecutionContext,
    base: Head,
    readonly height: number,
    readonly time: Millis,
    private readonly governance: GovernanceBase,
  ) {
    this.base = base
    this.nextSeq = base.certificateCount
    this.registry = governance.registry
  }

  /**
   * The rules that need neither the records' hashes nor storage: expiry, and the signer with this
   * key. Admission runs them before an issuance's records are hashed.
   */
  checkSender(tx: SignedTx): void {
    this.checkExpiry(tx)
    this.checkSigner(tx)
  }

  /** {@link checkSender}, then the signature (once per decoded transaction). */
  authenticate(d: DecodedTx): void {
    this.checkSender(d.tx)
    this.checkSignature(d)
  }

  async apply(d: DecodedTx): Promise<void> {
    const { tx } = d
    const { registry } = this
    this.checkExpiry(tx)
    const idHex = toHex(d.id)
    if (this.txIds.has(idHex) || (await this.committedTx(d.id, idHex))) {
      reject('DUPLICATE_TX', `transaction ${idHex} is already on chain`)
    }
    this.checkSigner(tx)
    this.checkSignature(d)

    switch (tx.kind) {
      case 'IssueCertificates': {
        const issuer = registry.issuer(tx.signer)!
        const fresh = new Set<string>()
        tx.body.records.forEach((record, i) => {
          const type = registry.type(record.type) ?? reject('UNKNOWN_CERT_TYPE', `records[${i}]: unknown certificate type "${record.type}"`)
          if (record.issuer !== tx.signer) {
            reject('RECORD_ISSUER_MISMATCH', `records[${i}]: issuer "${record.issuer}" is not the signer "${tx.signer}"`)
          }
          if (!issuer.types.includes(type.id)) {
            reject('ISSUER_NOT_AUTHORIZED_FOR_TYPE', `issuer "${issuer.id}" may not issue "${type.id}"`)
          }
          const idHex = toHex(d.certificateIds[i]!)
          if (fresh.has(idHex) || this.changed.has(idHex)) reject('DUPLICATE_CERTIFICATE', `certificate ${idHex} appears twice`)
          fresh.add(idHex)
        })
        const existing = await this.storedCertificates(d.certificateIds)
        const dup = existing.findIndex((e) => e !== undefined)
        if (dup >= 0) reject('DUPLICATE_CERTIFICATE', `certificate ${toHex(d.certificateIds[dup]!)} is already on chain`)
        tx.body.records.forEach((record, i) => {
          const entry: CertificateEntry = {
            record,
            seq: this.nextSeq++,
            txId: d.id,
            key: tx.key,
            height: this.height,
            time: this.time,
            state: 'active',
          }
          this.put(d.certificateIds[i]!, entry)
        })
        break
      }
      case 'RevokeCertificates': {
        const entries = await this.load(tx.body.ids)
        const seen = new Set<string>()
        entries.forEach(({ id, entry }) => {
          const h = toHex(id)
          if (seen.has(h)) reject('MALFORMED_TX', `certificate ${h} is listed twice`)
          seen.add(h)
          this.authorize(tx.signer, entry, h)
          if (entry.state === 'revoked') reject('ALREADY_REVOKED', `certificate ${h} is already revoked`)
        })
        for (const { id, entry } of entries) this.change(id, entry, 'revoked', tx, tx.body.reason, tx.body.note)
        break
      }
      case 'SuspendCertificate': {
        const [{ id, entry }] = (await this.load([tx.body.id])) as [{ id: Bytes; entry: CertificateEntry }]
        const h = toHex(id)
        this.authorize(tx.signer, entry, h)
        if (entry.state === 'revoked') reject('ALREADY_REVOKED', `certificate ${h} is revoked`)
        if (entry.state === 'suspended') reject('ALREADY_SUSPENDED', `certificate ${h} is already suspended`)
        this.change(id, entry, 'suspended', tx, tx.body.reason, tx.body.note)
        break
      }
      case 'ReinstateCertificate': {
        const [{ id, entry }] = (await this.load([tx.body.id])) as [{ id: Bytes; entry: CertificateEntry }]
        const h = toHex(id)
        this.authorize(tx.signer, entry, h)
        if (entry.state === 'revoked') reject('ALREADY_REVOKED', `certificate ${h} is revoked and cannot be reinstated`)
        if (entry.state !== 'suspended') reject('NOT_SUSPENDED', `certificate ${h} is not suspended`)
        this.change(id, entry, 'active', tx, undefined, tx.body.note)
        break
      }
      case 'UpdateIssuerKeys':
        this.gov().updateIssuerKeys(tx.signer, tx.key, tx.body)
        break
      case 'Propose':
        this.gov().propose(d.id, tx.signer, tx.body.action, tx.body.note)
        break
      case 'Vote':
        this.gov().vote(tx.body.proposal, tx.signer, tx.body.approve)
        break
      case 'ReportEquivocation':
        await this.checkEvidence(tx.body.first, tx.body.second)
        this.gov().jail(tx.body.first)
        break
    }
    this.txIds.add(idHex)
    this.applied.push(d)
  }

  /** Status tree update and every write of the block, ready for {@link LedgerStore.commit}. */
  async finish(): Promise<{
    stateRoot: Bytes
    certificateCount: number
    treeNodes: TreeChunkWrite[]
    historyNodes: TreeChunkWrite[]
    roots: StateRoots
    certificates: ReadonlyMap<string, { id: Bytes; entry: CertificateEntry }>
    governance?: GovernanceWrites
  }> {
    // Leaves are derived here, once per block: admission (checkTx) never pays for hashing them.
    const leaves = new Map<number, Bytes>()
    for (const { id, entry } of this.changed.values()) {
      leaves.set(entry.seq, statusLeaf(id, entry))
      if (leaves.size % 256 === 0) await this.pacer.pause()
    }
    const { root, writes } = await this.ctx.tree.update(leaves, this.pacer)
    // The block before this one joins the height history (genesis at block 1): the state root of
    // block h commits to the states of every height below h.
    const { height, time, stateRoot: previousRoot } = this.base
    const history = await this.ctx.history.update(new Map([[height, heightLeaf({ height, time, stateRoot: previousRoot })]]))
    const governance = this.gov().result()
    const registry = governance?.registry ?? this.registry
    const proposals = governance?.proposals ?? this.governance.proposals
    const roots: StateRoots = {
      certificateCount: this.nextSeq,
      certificates: root,
      history: history.root,
      proposals: proposalsHash(proposals),
      registry: registry.hash,
    }
    return {
      stateRoot: stateRoot(roots),
      certificateCount: this.nextSeq,
      treeNodes: writes,
      historyNodes: history.writes,
      roots,
      certificates: this.changed,
      ...(governance ? { governance } : {}),
    }
  }

  /**
   * The block's governance changes, opened on first use: admitting an issuance (the hot path)
   * never touches governance state. Nothing else reads what opening changes (expiries, proposals
   * passed again with a smaller voter set), so opening late or early gives the same block.
   */
  private gov(): GovDraft {
    if (!this.draft) {
      const { registry, proposals, voters } = this.governance
      this.draft = new GovDraft(registry, proposals, this.height, voters)
      this.draft.openBlock()
    }
    return this.draft
  }

  /** An issuer transaction: registered, active issuer signing with one of its current keys. */
  private checkExpiry(tx: SignedTx): void {
    const params = this.registry.params
    if (tx.body.expiresAt <= this.time) reject('TX_EXPIRED', `transaction expired at ${new Date(tx.body.expiresAt).toISOString()}`)
    if (tx.body.expiresAt > this.time + params.txMaxTtlMs) {
      reject('TX_EXPIRY_TOO_FAR', `expiresAt may be at most ${params.txMaxTtlMs} ms after the block time`)
    }
  }

  private checkSigner(tx: SignedTx): void {
    if (ISSUER_TX_KINDS.includes(tx.kind)) this.checkIssuerSigner(tx.signer, tx.key)
    else this.checkValidatorSigner(tx.signer, tx.key)
  }

  private checkSignature(d: DecodedTx): void {
    if (this.ctx.verified.has(d)) return
    verifyTxSignature(d)
    this.ctx.verified.add(d)
  }

  private checkIssuerSigner(signer: string, key: Bytes): void {
    const issuer = this.registry.issuer(signer) ?? reject('UNKNOWN_ISSUER', `issuer "${signer}" is not registered`)
    if (!issuer.active) reject('ISSUER_INACTIVE', `issuer "${signer}" is not active`)
    const entry = this.registry.issuerKey(signer, key) ?? reject('ISSUER_KEY_MISMATCH', `the signing key is not a key of issuer "${signer}"`)
    if (!isCurrentKey(entry)) {
      reject('ISSUER_KEY_RETIRED', `the signing key of issuer "${signer}" was retired at height ${entry.retiredHeight}`)
    }
  }

  /** A governance or evidence transaction: a validator of this height signing with its validator key. */
  private checkValidatorSigner(signer: string, key: Bytes): void {
    const voter = this.governance.voters.find((v) => v.id === signer)
    if (!voter) {
      if (this.registry.validator(signer)?.jailedHeight !== undefined) reject('VALIDATOR_JAILED', `validator "${signer}" is jailed`)
      reject('NOT_A_VALIDATOR', `"${signer}" is not a validator at height ${this.height}`)
    }
    if (!bytesEqual(voter.publicKey, key)) reject('NOT_A_VALIDATOR', `the signing key is not the key of validator "${signer}"`)
  }

  /** Two votes of one validator at one (height, round, type) for different blocks, both signed by it. */
  private async checkEvidence(first: Vote, second: Vote): Promise<void> {
    const bad = (why: string): never => reject('INVALID_EVIDENCE', why)
    if (first.validator !== second.validator || first.height !== second.height || first.round !== second.round || first.type !== second.type) {
      bad('the two votes must be of one validator at one height, round and type')
    }
    if (hashKey(first.blockHash) === hashKey(second.blockHash)) bad('the two votes are for the same block: not conflicting')
    // Votes of the block's own height are fine: they were cast in an earlier round of it.
    if (first.height < 1 || first.height > this.height) bad(`votes of height ${first.height} cannot be reported at height ${this.height}`)
    // A stale offence is refused: the window bounds what a report may make every node read.
    const maxAge = this.registry.params.evidenceMaxAgeBlocks
    if (first.height < this.height - maxAge) bad(`votes of height ${first.height} are older than ${maxAge} blocks`)
    const validator =
      (await this.ctx.validatorsAt(first.height)).find((v) => v.id === first.validator) ??
      bad(`"${first.validator}" was not a validator at height ${first.height}`)
    for (const vote of [first, second]) {
      if (!verify(validator.publicKey, voteSignBytes(this.ctx.chainId, vote.type, vote.height, vote.round, vote.blockHash), vote.sig)) {
        bad('a vote signature does not verify')
      }
    }
  }

  /**
   * Reads, in one batched lookup, what applying `txs` will ask the store (committed transaction
   * ids, existing certificates), instead of two lookups per transaction. Only committed state is
   * read, so it stays true for the whole block; changes made by the block itself are in `changed`.
   */
  async prefetch(txs: readonly DecodedTx[]): Promise<void> {
    const ids = txs.map((t) => t.id)
    const certIds = txs.flatMap(touchedCertificateIds)
    const found = await this.ctx.store.lookup(ids, certIds)
    this.committedTxs = new Set(ids.filter((_, i) => found.txs[i]).map(toHex))
    this.storedEntries = new Map(certIds.map((id, i) => [toHex(id), found.certificates[i]]))
  }

  private async committedTx(id: Bytes, idHex: string): Promise<boolean> {
    if (this.committedTxs) return this.committedTxs.has(idHex)
    return (await this.ctx.store.hasTxs([id]))[0]!
  }

  private async storedCertificates(ids: readonly Bytes[]): Promise<(CertificateEntry | undefined)[]> {
    const known = this.storedEntries
    if (known && ids.every((id) => known.has(toHex(id)))) return ids.map((id) => known.get(toHex(id)))
    return this.ctx.store.getCertificates(ids)
  }

  private put(id: Bytes, entry: CertificateEntry): void {
    this.changed.set(toHex(id), { id, entry })
  }

  private async load(ids: readonly Bytes[]): Promise<{ id: Bytes; entry: CertificateEntry }[]> {
    const missing = ids.filter((id) => !this.changed.has(toHex(id)))
    const stored = await this.storedCertificates(missing)
    const fromStore = new Map(missing.map((id, i) => [toHex(id), stored[i]]))
    return ids.map((id) => {
      const h = toHex(id)
      const entry = this.changed.get(h)?.entry ?? fromStore.get(h) ?? reject('UNKNOWN_CERTIFICATE', `certificate ${h} is not on chain`)
      return { id, entry }
    })
  }

  private authorize(signer: string, entry: CertificateEntry, idHex: string): void {
    if (!this.registry.mayChangeStatus(signer, entry.record.issuer, entry.record.type)) {
      reject('NOT_AUTHORIZED', `"${signer}" may not change the status of certificate ${idHex} (issued by "${entry.record.issuer}")`)
    }
  }

  /** `by` signed the change: its id and key are recorded, so changes made with a key later declared compromised can be found. */
  private change(id: Bytes, entry: CertificateEntry, state: CertificateEntry['state'], by: { signer: string; key: Bytes }, reason?: string, note?: string): void {
    // The change it replaces moves to `earlier`: status as of any past height stays answerable.
    const earlier = entry.change ? [...(entry.earlier ?? []), { ...entry.change, state: entry.state }] : entry.earlier
    this.put(id, {
      ...entry,
      state,
      ...(earlier ? { earlier } : {}),
      change: {
        height: this.height,
        time: this.time,
        by: by.signer,
        key: by.key,
        ...(reason === undefined ? {} : { reason }),
        ...(note === undefined ? {} : { note }),
      },
    })
  }
}
