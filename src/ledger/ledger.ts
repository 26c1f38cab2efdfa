import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { blockHash, txRootMatches } from '../core/block.js'
import { INLINE_VERIFIER, type SignatureBatchVerifier } from '../core/crypto.js'
import { CertchainError } from '../core/errors.js'
import type { Genesis } from '../core/genesis.js'
import { merkleRoot } from '../core/merkle.js'
import { decodeTx, txSignatureCheck, type DecodedTx } from '../core/tx.js'
import { CHAIN_FORMAT_VERSION, type Block, type BlockHeader, type Commit, type FinalizedBlock, type Millis, type SignedTx } from '../core/types.js'
import type { VoteType } from '../core/vote.js'
import { BlockExecution, stateRoot, statusLeafValue, type ExecutionContext } from './execute.js'
import type { StateRoots } from '../core/state.js'
import type { ProofBundle, ValidatorChange } from '../light/proof.js'
import { EMPTY_PROPOSALS, proposalsHash, type ProposalRecord, type ProposalsState } from './governance.js'
import { RegistryHistory } from './history.js'
import { Registry, registryStateFromGenesis, type ActiveValidator } from './registry.js'
import { EMPTY_TREE_ROOT, StateTree } from './state-tree.js'
import { SnapshotRestore, takeSnapshot, type SnapshotLimits, type SnapshotManifest } from './snapshot.js'
import { LedgerStore, type StateReader, type BlockWrites, type CertificateEntry, type Head, type TxLocation } from './store.js'

/** A snapshot being installed: apply its chunks in order, then `finish` with the verified headers to keep. */
export interface LedgerRestore {
  readonly restore: SnapshotRestore
  finish(headers: readonly { header: BlockHeader; commit: Commit }[]): Promise<void>
}

export interface LedgerOptions {
  /** Checks many transaction signatures at once (the node's worker pool); default: on this thread. */
  readonly verifier?: SignatureBatchVerifier
}

export interface RejectedTx {
  readonly tx: DecodedTx
  readonly error: CertchainError
}

/** A block built by this node as proposer, executed but not yet committed. */
export interface ProposedBlock {
  readonly writes: BlockWrites
  readonly included: readonly DecodedTx[]
  readonly rejected: readonly RejectedTx[]
}

/**
 * The ledger: deterministic execution of blocks over the store. Consensus (or the single-validator
 * producer) decides which block comes next; the ledger builds, checks and commits it.
 */
export class Ledger {
  private ctx: ExecutionContext
  private headSigned: { header: BlockHeader; commit: Commit } | undefined
  private readonly setChanges = new Map<number, ValidatorChange>()

  private constructor(
    readonly genesis: Genesis,
    private readonly store: LedgerStore,
    private history: RegistryHistory,
    private proposalsState: ProposalsState,
    /** Heights of set-change headers, ascending: read once at open, then kept as blocks commit. */
    private setChangeHeights: number[],
    private readonly verifier: SignatureBatchVerifier,
  ) {
    this.ctx = this.context()
  }

  private context(): ExecutionContext {
    return {
      chainId: this.genesis.chainId,
      store: this.store,
      tree: new StateTree(this.store.readTreeChunks),
      history: new StateTree(this.store.readHistoryChunks),
      verified: new WeakSet(),
      validatorsAt: (height) => this.history.validatorsAt(height),
    }
  }

  static async open(dataDir: string, genesis: Genesis, options: LedgerOptions = {}): Promise<Ledger> {
    const genesisRegistry = new Registry(genesis.chainId, registryStateFromGenesis(genesis))
    const store = await LedgerStore.open(dataDir, genesis.hash, genesis.genesisTime, genesisStateRoot(genesis))
    const history = await RegistryHistory.open(store, genesisRegistry)
    const proposals = (await store.getProposalsState()) ?? EMPTY_PROPOSALS
    return new Ledger(genesis, store, history, proposals, await store.setChangeHeights(), options.verifier ?? INLINE_VERIFIER)
  }

  get chainId(): string {
    return this.genesis.chainId
  }

  /** Who may do what after the last committed block: the rules the next block is checked against. */
  get registry(): Registry {
    return this.history.latest
  }

  /** The registry after block `height` (as of a certificate's issue: `height - 1` of its block). */
  registryAt(height: number): Promise<Registry> {
    return this.history.at(height)
  }

  /**
   * Validators of consensus at `height`, in proposer order: those registered after block
   * `height - 2`, without jailed ones. Synchronous for the heights consensus works on (up to two
   * past the last committed block); use {@link validatorsAt} for older ones.
   */
  validators(height: number): readonly ActiveValidator[] {
    this.assertKnownSet(height)
    return this.history.validators(height)
  }

  async validatorsAt(height: number): Promise<readonly ActiveValidator[]> {
    this.assertKnownSet(height)
    return await this.history.validatorsAt(height)
  }

  /**
   * The set of height h depends on block h - 2: beyond two past the head it is not known yet, and
   * answering with the newest set would be a guess (sync once verified commits with such guesses).
   */
  private assertKnownSet(height: number): void {
    if (height > this.head.height + 2) {
      throw new CertchainError('INTERNAL', `the validators of height ${height} depend on blocks after ${this.head.height}`)
    }
  }

  /**
   * Peer ids the network must admit now: every registered validator and member, and the
   * validators voting at the next two heights. A removed validator still votes until its removal
   * takes effect, and cutting it off earlier could leave those heights without a quorum.
   */
  peerIds(): Set<string> {
    const next = this.head.height + 1
    const peers = this.registry.peerIds()
    for (const v of [...this.validators(next), ...this.validators(next + 1)]) peers.add(v.peerId)
    return peers
  }

  /** Open proposals (committed state). */
  get proposals(): ProposalsState {
    return this.proposalsState
  }

  getProposal(id: number): Promise<ProposalRecord | undefined> {
    return this.store.getProposal(id)
  }

  listProposals(limit: number): Promise<ProposalRecord[]> {
    return this.store.listProposals(limit)
  }

  private execution(height: number, time: Millis): BlockExecution {
    return new BlockExecution(this.ctx, this.head, height, time, {
      registry: this.registry,
      proposals: this.proposalsState,
      voters: this.validators(height),
    })
  }

  get head(): Head {
    return this.store.head
  }

  async close(): Promise<void> {
    await this.store.close()
  }

  /**
   * Decodes a signed transaction for this chain (size, canonical encoding, shape). With `admitAt`
   * (admission), expiry and the signer's registration and key are checked against the committed
   * state before an issuance's records are hashed.
   */
  decodeTx(bytes: Bytes, admitAt?: Millis): DecodedTx {
    const authorize = admitAt === undefined ? undefined : (tx: SignedTx) => this.execution(this.head.height + 1, admitAt).checkSender(tx)
    return decodeTx(this.chainId, bytes, this.registry.params, authorize)
  }

  /**
   * Verifies the signatures of many transactions in one call to the verifier (worker threads in a
   * node), skipping those verified before; the ones that verify are remembered, so checkTx and
   * block execution do not verify them again. Answers, per transaction, whether it verified.
   * Reads nothing from storage: callers keep "the signature before anything is read".
   */
  async verifySignatures(txs: readonly DecodedTx[]): Promise<boolean[]> {
    const { verified } = this.ctx
    const todo = txs.filter((tx) => !verified.has(tx))
    if (todo.length > 0) {
      const verdicts = await this.verifier.verifyBatch(todo.map(txSignatureCheck))
      todo.forEach((tx, i) => {
        if (verdicts[i] === true) verified.add(tx)
      })
    }
    return txs.map((tx) => verified.has(tx))
  }

  /**
   * Runs every rule against the committed state, as if the transaction were in the next block at
   * `time`. The signature is verified before anything is read from storage for its records.
   */
  async checkTx(tx: DecodedTx, time: Millis): Promise<void> {
    const exec = this.execution(this.head.height + 1, time)
    exec.authenticate(tx)
    await exec.prefetch([tx])
    await exec.apply(tx)
  }

  /** Builds the next block from candidate transactions; those that fail a rule are left out. */
  async proposeBlock(candidates: readonly DecodedTx[], time: Millis, proposer: string): Promise<ProposedBlock> {
    const head = this.head
    const exec = this.execution(head.height + 1, Math.max(time, head.time + 1))
    await exec.prefetch(candidates)
    const rejected: RejectedTx[] = []
    for (const tx of candidates) {
      try {
        await exec.apply(tx)
      } catch (err) {
        if (!(err instanceof CertchainError)) throw err
        rejected.push({ tx, error: err })
      }
      await exec.pacer.pause()
    }
    const done = await exec.finish()
    const header: BlockHeader = {
      version: CHAIN_FORMAT_VERSION,
      chainId: this.chainId,
      height: exec.height,
      time: exec.time,
      prevHash: head.hash,
      txRoot: merkleRoot(exec.applied.map((t) => t.bytes)),
      txCount: exec.applied.length,
      stateRoot: done.stateRoot,
      proposer,
      ...this.setHashes(exec.height),
    }
    const block: Block = { header, txs: exec.applied.map((t) => t.bytes) }
    return { writes: this.writesFor(block, exec.applied, done, head), included: exec.applied, rejected }
  }

  /**
   * Re-executes a block received from elsewhere (another proposer, sync): every transaction must
   * pass every rule and the header must match what execution produces. Throws MALFORMED_BLOCK.
   * Signatures of consensus (proposal, commit) are consensus's to check, not the ledger's.
   * `known` may supply transactions already decoded and checked here (the mempool's).
   */
  async executeBlock(block: Block, known?: (bytes: Bytes) => DecodedTx | undefined): Promise<BlockWrites> {
    const head = this.head
    const { header } = block
    const bad = (message: string): never => {
      throw new CertchainError('MALFORMED_BLOCK', `block ${header.height}: ${message}`)
    }
    if (header.chainId !== this.chainId) bad(`chain id "${header.chainId}" is not "${this.chainId}"`)
    if (header.height !== head.height + 1) bad(`expected height ${head.height + 1}`)
    if (!bytesEqual(header.prevHash, head.hash)) bad('previous hash does not match the chain')
    if (header.time <= head.time) bad('time is not after the previous block')
    const params = this.registry.params
    if (header.txCount !== block.txs.length) bad(`txCount ${header.txCount} does not match ${block.txs.length} transactions`)
    if (!txRootMatches(block)) bad('transaction root does not match the transactions')
    if (block.txs.length > params.maxBlockTxs) bad(`more than ${params.maxBlockTxs} transactions`)
    if (block.txs.reduce((n, t) => n + t.length, 0) > params.maxBlockBytes) bad(`more than ${params.maxBlockBytes} bytes of transactions`)
    if (!this.validators(header.height).some((v) => v.id === header.proposer)) bad(`"${header.proposer}" is not a validator at this height`)
    const sets = this.setHashes(header.height)
    if (!bytesEqual(header.validatorsHash, sets.validatorsHash)) bad('validatorsHash is not the hash of this height\'s validator set')
    if (!bytesEqual(header.nextValidatorsHash, sets.nextValidatorsHash)) bad('nextValidatorsHash is not the hash of the next height\'s validator set')
    const exec = this.execution(header.height, header.time)
    const txs: DecodedTx[] = []
    for (const [i, bytes] of block.txs.entries()) {
      try {
        // A transaction this ledger already decoded (same bytes) keeps its verified signature.
        txs.push(known?.(bytes) ?? this.decodeTx(bytes))
      } catch (err) {
        if (!(err instanceof CertchainError)) throw err
        bad(`transaction ${i} is invalid: ${err.code}: ${err.message}`)
      }
      await exec.pacer.pause()
    }
    // Every signature not verified here before, in one batch (off the event loop in a node),
    // before anything is read from storage. One that fails is verified again by apply, in block
    // order, so the block is refused for its first invalid transaction, as without the batch.
    await this.verifySignatures(txs)
    await exec.prefetch(txs)
    for (const [i, tx] of txs.entries()) {
      try {
        await exec.apply(tx)
      } catch (err) {
        if (!(err instanceof CertchainError)) throw err
        bad(`transaction ${i} is invalid: ${err.code}: ${err.message}`)
      }
      await exec.pacer.pause()
    }
    const done = await exec.finish()
    if (!bytesEqual(done.stateRoot, header.stateRoot)) bad('state root does not match execution')
    return this.writesFor(block, exec.applied, done, head)
  }

  /**
   * What a header of `height` commits to about validator sets: the set of its height (registry
   * after height - 2) and of the next (registry after height - 1, committed when it is proposed).
   */
  private setHashes(height: number): { validatorsHash: Bytes; nextValidatorsHash: Bytes } {
    return {
      validatorsHash: this.history.atSync(RegistryHistory.validatorHeight(height)).activeSetHash,
      nextValidatorsHash: this.history.atSync(RegistryHistory.validatorHeight(height + 1)).activeSetHash,
    }
  }

  /** Makes a block and its commit durable (one fsynced batch), then visible. */
  async commitBlock(writes: BlockWrites, commit: Commit): Promise<void> {
    if (writes.block.header.height !== this.head.height + 1) {
      throw new CertchainError('MALFORMED_BLOCK', `cannot commit height ${writes.block.header.height} on top of ${this.head.height}`)
    }
    await this.store.commit(writes, commit, () => {
      this.headSigned = { header: writes.block.header, commit }
      const { header } = writes.block
      if (!bytesEqual(header.validatorsHash, header.nextValidatorsHash)) this.setChangeHeights.push(header.height)
      this.ctx.tree.committed(writes.treeNodes)
      this.ctx.history.committed(writes.historyNodes)
      const gov = writes.governance
      if (gov?.registry) this.history.committed(writes.block.header.height, gov.registry)
      if (gov?.proposals) this.proposalsState = gov.proposals
    })
  }

  getBlock(height: number): Promise<FinalizedBlock | undefined> {
    return this.store.getBlock(height)
  }

  /** Lowest height whose block body is kept: 1 on an archival node; pruning and state sync raise it. */
  get base(): number {
    return this.store.base
  }

  /** Header and commit of a committed height, also when its body was pruned. */
  getSignedHeader(height: number): Promise<{ header: BlockHeader; commit: Commit } | undefined> {
    return this.store.getSignedHeader(height)
  }

  /** Drops block bodies below `below` (at most `limit` per call), keeping headers, commits, indexes and trees. */
  pruneBlocks(below: number, limit: number): Promise<number> {
    return this.store.pruneBlocks(below, limit)
  }

  /**
   * A consistent read of the committed state as of this moment (synchronous: opened right after a
   * commit, it sees exactly that height, however long the snapshot then takes).
   */
  readState(): StateReader {
    return this.store.readState()
  }

  /** A snapshot of the committed state (as of now, or of `reader`), into chunks of about `chunkBytes` (see snapshot.ts). */
  async takeSnapshot(chunkBytes: number, onChunk: (index: number, bytes: Bytes) => Promise<void>, reader: StateReader = this.store.readState()): Promise<SnapshotManifest> {
    try {
      return await takeSnapshot(this.chainId, reader, chunkBytes, onChunk)
    } finally {
      await reader.close()
    }
  }

  /**
   * Starts installing a snapshot into this ledger, which must be empty (at genesis): `signed` is
   * the verified header of the snapshot's height, checked against the manifest at once.
   */
  async restoreSnapshot(manifest: SnapshotManifest, signed: { header: BlockHeader; commit: Commit }, limits: SnapshotLimits): Promise<LedgerRestore> {
    const restore = new SnapshotRestore({ store: this.store, genesis: this.genesis }, manifest, signed, limits)
    await this.store.clearRestored()
    return {
      restore,
      finish: async (headers) => {
        await restore.finish(headers)
        await this.reload()
      },
    }
  }

  /** Wipes what an abandoned snapshot install wrote, so the store is empty again (at genesis). */
  discardRestore(): Promise<void> {
    return this.store.clearRestored()
  }

  /** Reads again what the ledger keeps in memory, after the store was filled from a snapshot. */
  private async reload(): Promise<void> {
    const genesisRegistry = new Registry(this.genesis.chainId, registryStateFromGenesis(this.genesis))
    this.history = await RegistryHistory.open(this.store, genesisRegistry)
    this.proposalsState = (await this.store.getProposalsState()) ?? EMPTY_PROPOSALS
    this.setChangeHeights = await this.store.setChangeHeights()
    this.setChanges.clear()
    this.headSigned = undefined
    this.ctx = this.context()
  }

  /** What the state root after `height` commits to, and that block's time (genesis for 0). */
  async stateAt(height: number): Promise<{ time: Millis; roots: StateRoots }> {
    if (height === 0) return { time: this.genesis.genesisTime, roots: genesisRoots(this.genesis) }
    const info = await this.store.getHeightInfo(height)
    if (!info) throw new CertchainError('INTERNAL', `height ${height} has no state record`)
    return info
  }

  /** The newest height whose block time is at or before `time` (0 when before block 1). */
  heightAtTime(time: Millis): Promise<number> {
    return this.store.heightAtTime(time, this.head.height)
  }

  /**
   * A certificate as it stood after block `height`: its status history decides the state, and a
   * key compromise counts once the registry of that height records it. Verification as of
   * issuance is unchanged by `height`.
   */
  async certificateAsOf(id: Bytes, height: number): Promise<CertificateAsOf | undefined> {
    const [entry] = await this.store.getCertificates([id])
    if (!entry) return undefined
    if (entry.height > height) return { issued: false }
    return { issued: true, entry: withKeyCompromise(entryAsOf(entry, height), await this.registryAt(height)) }
  }

  /**
   * The proof bundle of one certificate against the head (README, "Proof bundles"), with the
   * validator-set changes after height `from`. Undefined for an unknown id. Built again if a block
   * commits meanwhile, so every part proves against one head.
   */
  async proof(id: Bytes, from = 0): Promise<ProofBundle | undefined> {
    for (let attempt = 0; ; attempt++) {
      const height = this.head.height
      const bundle = await this.buildProof(id, height, from)
      if (this.head.height === height || attempt >= 4) return bundle
    }
  }

  private async buildProof(id: Bytes, height: number, from: number): Promise<ProofBundle | undefined> {
    const [entry] = await this.store.getCertificates([id])
    if (!entry) return undefined
    const signed = await this.signedHeader(height)
    const asOf = entry.height - 1
    const [state, issuanceState, statusPath, historyPath, issuanceRegistry] = await Promise.all([
      this.stateAt(height),
      this.stateAt(asOf),
      this.ctx.tree.path(entry.seq),
      this.ctx.history.path(asOf),
      this.registryAt(asOf),
    ])
    const issuer = issuanceRegistry.issuerProof(entry.record.issuer)
    const type = issuanceRegistry.typeProof(entry.record.type)
    if (!issuer || !type) throw new CertchainError('INTERNAL', `certificate ${toHex(id)}: its issuer or type is missing from the registry of height ${asOf}`)
    const current = this.registry
    const sameRegistry = bytesEqual(current.hash, issuanceRegistry.hash)
    const currentIssuer = sameRegistry ? undefined : current.issuerProof(entry.record.issuer)
    return {
      chainId: this.chainId,
      certificateId: id,
      header: signed.header,
      commit: signed.commit,
      validatorChanges: await this.validatorChanges(from, height),
      state: state.roots,
      status: { leaf: statusLeafValue(id, entry), path: statusPath },
      ...(currentIssuer ? { issuer: currentIssuer } : {}),
      issuance: {
        record: { height: asOf, time: issuanceState.time, stateRoot: stateRoot(issuanceState.roots) },
        path: historyPath,
        state: issuanceState.roots,
        issuer,
        type,
      },
    }
  }

  /** The head's header and commit (kept after each commit; read once after a restart). */
  private async signedHeader(height: number): Promise<{ header: BlockHeader; commit: Commit }> {
    if (this.headSigned?.header.height !== height) {
      const signed = await this.store.getSignedHeader(height)
      if (!signed) throw new CertchainError('INTERNAL', `header ${height} is missing from the store`)
      this.headSigned = signed
    }
    return this.headSigned
  }

  /**
   * The set changes after `from` up to the head, for a node that light-verifies the head's header
   * from a trust anchor at `from` up to the header of `to` (state sync): what proofs carry.
   */
  setChangesBetween(from: number, to: number): Promise<ValidatorChange[]> {
    return this.validatorChanges(from, to)
  }

  /** Headers after `from` and before `to` whose next validator set differs, with commits and the next sets. */
  private async validatorChanges(from: number, to: number): Promise<ValidatorChange[]> {
    const heights = this.setChangeHeights.filter((h) => h > from && h < to)
    const out: ValidatorChange[] = []
    for (const h of heights) {
      let change = this.setChanges.get(h)
      if (!change) {
        const signed = await this.store.getSignedHeader(h)
        if (!signed) throw new CertchainError('INTERNAL', `header ${h} is missing from the store`)
        const next = (await this.validatorsAt(h + 1)).map(({ id, publicKey }) => ({ id, publicKey }))
        change = { header: signed.header, commit: signed.commit, nextValidators: next }
        // Set changes are rare and never change once committed: keep them.
        this.setChanges.set(h, change)
      }
      out.push(change)
    }
    return out
  }

  saveEvidence(at: { height: number; round: number; type: VoteType; validator: string }, evidence: Bytes): Promise<void> {
    return this.store.saveEvidence(at, evidence)
  }

  listEvidence(limit: number): Promise<Bytes[]> {
    return this.store.listEvidence(limit)
  }

  getBlockBytes(height: number): Promise<Bytes | undefined> {
    return this.store.getBlockBytes(height)
  }

  getTxLocation(txId: Bytes): Promise<TxLocation | undefined> {
    return this.store.getTxLocation(txId)
  }

  /**
   * Certificates as a verifier must see them: a certificate signed with a key its issuer (or
   * governance) later declared compromised since a time at or before its issuance reads as
   * revoked with reason key_compromised, whatever its recorded status.
   */
  async getCertificates(ids: readonly Bytes[]): Promise<(CertificateEntry | undefined)[]> {
    const registry = this.registry
    return (await this.store.getCertificates(ids)).map((entry) => entry && withKeyCompromise(entry, registry))
  }

  private writesFor(
    block: Block,
    applied: readonly DecodedTx[],
    done: Awaited<ReturnType<BlockExecution['finish']>>,
    head: Head,
  ): BlockWrites {
    const hash = blockHash(block.header)
    return {
      block,
      hash,
      txIds: applied.map((t) => t.id),
      certificates: done.certificates,
      treeNodes: done.treeNodes,
      historyNodes: done.historyNodes,
      roots: done.roots,
      ...(done.governance ? { governance: done.governance } : {}),
      head: {
        height: block.header.height,
        hash,
        time: block.header.time,
        stateRoot: done.stateRoot,
        certificateCount: done.certificateCount,
        txCount: head.txCount + applied.length,
      },
    }
  }
}


/** What the state before block 1 commits to: no certificates, no history, the genesis registry, no proposals. */
export function genesisRoots(genesis: Genesis): StateRoots {
  return {
    certificates: EMPTY_TREE_ROOT,
    history: EMPTY_TREE_ROOT,
    certificateCount: 0,
    registry: new Registry(genesis.chainId, registryStateFromGenesis(genesis)).hash,
    proposals: proposalsHash(EMPTY_PROPOSALS),
  }
}

/** The state root before block 1. */
export function genesisStateRoot(genesis: Genesis): Bytes {
  return stateRoot(genesisRoots(genesis))
}

/** A certificate as it stood after one height: its status then, or not issued yet. */
export type CertificateAsOf = { readonly issued: false } | { readonly issued: true; readonly entry: CertificateEntry }

/** The entry as it stood after block `height`: the last status change at or before it decides. */
function entryAsOf(entry: CertificateEntry, height: number): CertificateEntry {
  const changes = [...(entry.earlier ?? []), ...(entry.change ? [{ ...entry.change, state: entry.state }] : [])]
  const last = changes.filter((c) => c.height <= height).at(-1)
  const { change: _change, earlier: _earlier, ...base } = entry
  if (!last) return { ...base, state: 'active' }
  const { state, ...change } = last
  return { ...base, state, change }
}

function withKeyCompromise(entry: CertificateEntry, registry: Registry): CertificateEntry {
  // Most issuers never had a key compromised: then no key of theirs is looked up per certificate read.
  if (entry.state === 'revoked' || !registry.hasCompromisedKey(entry.record.issuer)) return entry
  const key = registry.issuerKey(entry.record.issuer, entry.key)
  if (key?.compromisedSince === undefined || entry.time < key.compromisedSince) return entry
  return {
    ...entry,
    state: 'revoked',
    change: { height: key.compromisedHeight ?? entry.height, time: key.compromisedSince, by: entry.record.issuer, reason: 'key_compromised' },
  }
}
