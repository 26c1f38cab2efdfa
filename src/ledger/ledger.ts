import { bytesEqual, type Bytes } from '../core/bytes.js'
import { blockHash, txRootMatches } from '../core/block.js'
import { CertchainError } from '../core/errors.js'
import type { Genesis } from '../core/genesis.js'
import { merkleRoot } from '../core/merkle.js'
import { decodeTx, type DecodedTx } from '../core/tx.js'
import type { Block, BlockHeader, Commit, FinalizedBlock, Millis } from '../core/types.js'
import type { VoteType } from '../core/vote.js'
import { BlockExecution, stateRoot, type ExecutionContext } from './execute.js'
import { EMPTY_PROPOSALS, proposalsHash, type ProposalRecord, type ProposalsState } from './governance.js'
import { RegistryHistory } from './history.js'
import { Registry, registryStateFromGenesis, type ActiveValidator } from './registry.js'
import { EMPTY_TREE_ROOT, StateTree } from './state-tree.js'
import { LedgerStore, type BlockWrites, type CertificateEntry, type Head, type TxLocation } from './store.js'

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
  private readonly ctx: ExecutionContext

  private constructor(
    readonly genesis: Genesis,
    private readonly store: LedgerStore,
    private readonly history: RegistryHistory,
    private proposalsState: ProposalsState,
  ) {
    this.ctx = {
      chainId: genesis.chainId,
      store,
      tree: new StateTree(store.readTreeNodes),
      verified: new WeakSet(),
      validatorsAt: (height) => this.history.validatorsAt(height),
    }
  }

  static async open(dataDir: string, genesis: Genesis): Promise<Ledger> {
    const genesisRegistry = new Registry(genesis.chainId, registryStateFromGenesis(genesis))
    const store = await LedgerStore.open(dataDir, genesis.hash, genesis.genesisTime, genesisStateRoot(genesis))
    const history = await RegistryHistory.open(store, genesisRegistry)
    return new Ledger(genesis, store, history, (await store.getProposalsState()) ?? EMPTY_PROPOSALS)
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

  /** Decodes a signed transaction for this chain (size, canonical encoding, shape). */
  decodeTx(bytes: Bytes): DecodedTx {
    return decodeTx(this.chainId, bytes, this.registry.params)
  }

  /** Runs every rule against the committed state, as if the transaction were in the next block at `time`. */
  async checkTx(tx: DecodedTx, time: Millis): Promise<void> {
    const exec = this.execution(this.head.height + 1, time)
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
    }
    const done = await exec.finish()
    const header: BlockHeader = {
      chainId: this.chainId,
      height: exec.height,
      time: exec.time,
      prevHash: head.hash,
      txRoot: merkleRoot(exec.applied.map((t) => t.bytes)),
      txCount: exec.applied.length,
      stateRoot: done.stateRoot,
      proposer,
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
    const exec = this.execution(header.height, header.time)
    const txs = block.txs.map((bytes, i) => {
      try {
        // A transaction this ledger already decoded (same bytes) keeps its verified signature.
        return known?.(bytes) ?? this.decodeTx(bytes)
      } catch (err) {
        if (!(err instanceof CertchainError)) throw err
        return bad(`transaction ${i} is invalid: ${err.code}: ${err.message}`)
      }
    })
    await exec.prefetch(txs)
    for (const [i, tx] of txs.entries()) {
      try {
        await exec.apply(tx)
      } catch (err) {
        if (!(err instanceof CertchainError)) throw err
        bad(`transaction ${i} is invalid: ${err.code}: ${err.message}`)
      }
    }
    const done = await exec.finish()
    if (!bytesEqual(done.stateRoot, header.stateRoot)) bad('state root does not match execution')
    return this.writesFor(block, exec.applied, done, head)
  }

  /** Makes a block and its commit durable (one fsynced batch), then visible. */
  async commitBlock(writes: BlockWrites, commit: Commit): Promise<void> {
    if (writes.block.header.height !== this.head.height + 1) {
      throw new CertchainError('MALFORMED_BLOCK', `cannot commit height ${writes.block.header.height} on top of ${this.head.height}`)
    }
    await this.store.commit(writes, commit, () => {
      this.ctx.tree.committed(writes.treeNodes)
      const gov = writes.governance
      if (gov?.registry) this.history.committed(writes.block.header.height, gov.registry)
      if (gov?.proposals) this.proposalsState = gov.proposals
    })
  }

  getBlock(height: number): Promise<FinalizedBlock | undefined> {
    return this.store.getBlock(height)
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


/** The state root before block 1: no certificates, the genesis registry, no proposals. */
export function genesisStateRoot(genesis: Genesis): Bytes {
  return stateRoot({
    certificates: EMPTY_TREE_ROOT,
    certificateCount: 0,
    registry: new Registry(genesis.chainId, registryStateFromGenesis(genesis)).hash,
    proposals: proposalsHash(EMPTY_PROPOSALS),
  })
}

function withKeyCompromise(entry: CertificateEntry, registry: Registry): CertificateEntry {
  const key = registry.issuerKey(entry.record.issuer, entry.key)
  if (key?.compromisedSince === undefined || entry.time < key.compromisedSince || entry.state === 'revoked') return entry
  return {
    ...entry,
    state: 'revoked',
    change: { height: key.compromisedHeight ?? entry.height, time: key.compromisedSince, by: entry.record.issuer, reason: 'key_compromised' },
  }
}
