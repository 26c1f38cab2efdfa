import { performance } from 'node:perf_hooks'
import { toHex } from '../core/bytes.js'
import { blockHash, txRootMatches } from '../core/block.js'
import { CertchainError } from '../core/errors.js'
import type { ValidatorInfo } from '../core/genesis.js'
import type { DecodedTx } from '../core/tx.js'
import type { Block, Commit } from '../core/types.js'
import type { BlockWrites, Ledger, RejectedTx } from '../ledger/index.js'
import type { Mempool } from '../mempool/index.js'
import { pruneUndefined } from '../core/encoding.js'
import type { ConsensusApp, EngineOptions } from './engine.js'

/** What became final, for the node to publish (metrics, waiters, logs, gossip). */
export interface FinalizedEvent {
  readonly block: Block
  readonly commit: Commit
  readonly writes: BlockWrites
  /** Transactions of this node's own proposal that block execution refused (empty otherwise). */
  readonly rejected: readonly RejectedTx[]
  /** Certificates issued by the block. */
  readonly certificates: number
  /** Time to make the block and its commit durable, in milliseconds. */
  readonly commitMs: number
}

export interface LedgerAppOptions {
  /** A proposed block's time may be at most this far ahead of this validator's clock. */
  readonly maxClockDriftMs: number
  /**
   * A newly proposed block's time may be at most this far behind this validator's clock (clock
   * drift plus the time a proposal takes to arrive): the lower bound on block time. Without it a
   * proposer could date a block previous + 1 ms, and block time decides expiry and the cut-off of
   * a key declared compromised.
   */
  readonly maxBlockAgeMs: number
}

/**
 * The block-time window of a validator with these settings (README, Security model): a block at
 * most `maxClockDriftMs` ahead of its clock, and a fresh proposal at most that drift plus the
 * propose timeout behind it (the longest an honest proposal waits to be prevoted).
 */
export function blockTimeBounds(consensus: { readonly maxClockDriftMs: number; readonly timeoutProposeMs: number }): LedgerAppOptions {
  return { maxClockDriftMs: consensus.maxClockDriftMs, maxBlockAgeMs: consensus.maxClockDriftMs + consensus.timeoutProposeMs }
}

interface Executed {
  readonly writes: BlockWrites
  readonly rejected: readonly RejectedTx[]
  readonly refused: readonly DecodedTx[]
}

/**
 * The consensus <-> ledger boundary (CometBFT's ABCI in spirit): consensus asks for a block to
 * propose, asks whether a proposed block is valid, and says which block is final; the ledger
 * builds, executes and commits. Execution results are kept per block hash for the height in
 * progress, so a block is executed once however many times consensus asks.
 */
export class LedgerApp implements ConsensusApp {
  private executed = new Map<string, Executed | null>()
  private readonly bodyChecked = new WeakSet<Block>()

  constructor(
    private readonly ledger: Ledger,
    private readonly mempool: Mempool,
    private readonly options: LedgerAppOptions,
    private readonly onFinalized: (event: FinalizedEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get chainId(): string {
    return this.ledger.chainId
  }

  committedHeight(): number {
    return this.ledger.head.height
  }

  validators(height: number): readonly ValidatorInfo[] {
    return this.ledger.validators(height)
  }

  /**
   * Timing set on chain (genesis or governance); unset fields stay local. The engine asks when it
   * enters a height, always the one after the last committed block, whose rules are the latest.
   */
  timing(_height: number): Partial<EngineOptions> {
    const { timeoutProposeMs, timeoutPrevoteMs, timeoutPrecommitMs, heartbeatIntervalMs } = this.ledger.registry.params
    return pruneUndefined({ timeoutProposeMs, timeoutPrevoteMs, timeoutPrecommitMs, heartbeatIntervalMs })
  }

  hasPendingTxs(): boolean {
    return this.mempool.size > 0
  }

  async createBlock(_height: number, proposer: string): Promise<Block> {
    const params = this.ledger.registry.params
    const candidates = this.mempool.reap(params.maxBlockTxs, params.maxBlockBytes)
    const proposed = await this.ledger.proposeBlock(candidates, this.now(), proposer)
    const { block } = proposed.writes
    this.executed.set(toHex(blockHash(block.header)), {
      writes: proposed.writes,
      rejected: proposed.rejected,
      refused: proposed.rejected.map((r) => r.tx),
    })
    return block
  }

  isTimely(block: Block): boolean {
    return block.header.time >= this.now() - this.options.maxBlockAgeMs
  }

  async validateBlock(block: Block): Promise<boolean> {
    // Results are cached by header hash, which is sound only for a body that fits its header.
    if (!this.bodyChecked.has(block)) {
      if (!txRootMatches(block)) return false
      this.bodyChecked.add(block)
    }
    const key = toHex(blockHash(block.header))
    const known = this.executed.get(key)
    if (known !== undefined) return known !== null
    // Not cached: a block too far in the future may become acceptable as our clock advances.
    if (block.header.time > this.now() + this.options.maxClockDriftMs) return false
    try {
      this.executed.set(key, await this.execute(block))
      return true
    } catch (err) {
      if (!(err instanceof CertchainError)) throw err
      this.executed.set(key, null)
      return false
    }
  }

  /** Executes another validator's block, reusing the transactions this node already admitted. */
  private async execute(block: Block): Promise<Executed> {
    return { writes: await this.ledger.executeBlock(block, (bytes) => this.mempool.known(bytes)), rejected: [], refused: [] }
  }

  async commitBlock(block: Block, commit: Commit): Promise<void> {
    const key = toHex(blockHash(block.header))
    let entry = this.executed.get(key)
    // A block decided before this node validated it (a commit from a peer, sync).
    entry ??= await this.execute(block)
    const issuedBefore = this.ledger.head.certificateCount
    const started = performance.now()
    await this.ledger.commitBlock(entry.writes, commit)
    const commitMs = performance.now() - started
    // Results of the finished height are stale now: every other candidate built on its parent.
    this.executed = new Map()
    this.mempool.remove([...entry.writes.txIds, ...entry.refused.map((t) => t.id)])
    for (const { tx, error } of entry.rejected) this.mempool.recordRejection(toHex(tx.id), error)
    const certificates = entry.writes.head.certificateCount - issuedBefore
    this.onFinalized({ block, commit, writes: entry.writes, rejected: entry.rejected, certificates, commitMs })
  }
}
