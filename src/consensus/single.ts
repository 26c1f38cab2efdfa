import type { Logger } from 'pino'
import { toHex } from '../core/bytes.js'
import type { DecodedTx } from '../core/tx.js'
import type { BlockProposer, Ledger, RejectedTx } from '../ledger/index.js'
import type { BlockWrites } from '../ledger/index.js'
import type { Mempool } from '../mempool/index.js'

export interface ProducerOptions {
  /** Shortest time between two blocks while transactions are pending. */
  readonly blockIntervalMs: number
  /** An empty block is produced after this long without one, so verifiers can see the chain is alive. */
  readonly heartbeatIntervalMs: number
}

const RETRY_PAUSE_MS = 1000

export const DEFAULT_PRODUCER_OPTIONS: ProducerOptions = Object.freeze({ blockIntervalMs: 100, heartbeatIntervalMs: 10_000 })

export interface CommittedBlock {
  readonly writes: BlockWrites
  readonly included: readonly DecodedTx[]
  readonly rejected: readonly RejectedTx[]
  /** Build, execute and durable commit, in milliseconds. */
  readonly durationMs: number
}

export interface ProducerDeps {
  readonly ledger: Ledger
  readonly mempool: Mempool
  readonly proposer: BlockProposer
  readonly logger: Logger
  readonly onCommit: (block: CommittedBlock) => void
  readonly now?: () => number
}

/**
 * Block production for a chain with one validator: it orders transactions alone, so a block is
 * final once it is durable. The round-robin BFT engine replaces this behind the same inputs
 * (mempool, ledger propose/commit) and output (onCommit).
 */
export class SingleValidatorProducer {
  private timer: NodeJS.Timeout | undefined
  private timerDue = Infinity
  private running = false
  private building: Promise<void> | undefined
  private lastBlockAt = 0
  private unsubscribe: (() => void) | undefined
  private readonly now: () => number

  constructor(
    private readonly options: ProducerOptions,
    private readonly deps: ProducerDeps,
  ) {
    this.now = deps.now ?? Date.now
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.lastBlockAt = this.now()
    this.unsubscribe = this.deps.mempool.onAdded(() => this.schedule())
    this.schedule()
  }

  /** Stops producing; waits for a block being committed so shutdown never interrupts a batch. */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.unsubscribe?.()
    clearTimeout(this.timer)
    this.timer = undefined
    await this.building
  }

  private schedule(): void {
    if (!this.running || this.building) return
    const pending = this.deps.mempool.size > 0
    const due = this.lastBlockAt + (pending ? this.options.blockIntervalMs : this.options.heartbeatIntervalMs)
    if (this.timer !== undefined && this.timerDue <= due) return
    clearTimeout(this.timer)
    this.timerDue = due
    this.timer = setTimeout(() => this.produce(), Math.max(0, due - this.now()))
  }

  private produce(): void {
    this.timer = undefined
    this.timerDue = Infinity
    this.building = this.buildAndCommit()
      .catch((err: unknown) => {
        // Nothing was half-written (the commit is one batch); try again after a pause rather
        // than spinning on a failing disk.
        this.deps.logger.error({ err }, 'block production failed; retrying in 1 s')
        this.lastBlockAt = this.now() + RETRY_PAUSE_MS
      })
      .finally(() => {
        this.building = undefined
        this.schedule()
      })
  }

  private async buildAndCommit(): Promise<void> {
    const { ledger, mempool, proposer, logger } = this.deps
    const params = ledger.registry.params
    const candidates = mempool.reap(params.maxBlockTxs, params.maxBlockBytes - 64 * 1024)
    const started = this.now()
    const proposed = await ledger.proposeBlock(candidates, started, proposer)
    await ledger.commitBlock(proposed.writes)
    this.lastBlockAt = this.now()
    mempool.remove(candidates)
    for (const { tx, error } of proposed.rejected) mempool.recordRejection(toHex(tx.id), error)
    const { header } = proposed.writes.block
    logger.debug(
      { height: header.height, txs: header.txCount, rejected: proposed.rejected.length, ms: this.lastBlockAt - started },
      'committed block',
    )
    this.deps.onCommit({
      writes: proposed.writes,
      included: proposed.included,
      rejected: proposed.rejected,
      durationMs: this.lastBlockAt - started,
    })
  }
}
