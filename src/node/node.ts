import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { toHex, type Bytes } from '../core/bytes.js'
import { createSigner } from '../core/crypto.js'
import { CertchainError } from '../core/errors.js'
import { parseGenesis, type Genesis } from '../core/genesis.js'
import { SingleValidatorProducer, type CommittedBlock } from '../consensus/index.js'
import { Ledger } from '../ledger/index.js'
import { admitTx, Mempool, DEFAULT_MEMPOOL_OPTIONS, type Admitted } from '../mempool/index.js'
import { createRpcServer, type NodeStatus, type RpcBackend, type RpcServer, type TxOutcome } from '../rpc/index.js'
import { homePath, type NodeConfig } from './config.js'
import { loadKeyFile, peerIdOf } from './keys.js'
import { createMetrics, type Metrics } from './metrics.js'

export interface NodeInit {
  readonly home: string
  readonly config: NodeConfig
  readonly logger: Logger
}

async function loadGenesis(path: string): Promise<Genesis> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new CertchainError('INVALID_GENESIS', `${path} does not exist; copy your chain's genesis.json there`)
  }
  try {
    return parseGenesis(JSON.parse(text))
  } catch (err) {
    if (err instanceof SyntaxError) throw new CertchainError('INVALID_GENESIS', `${path} is not valid JSON: ${err.message}`)
    throw err
  }
}

/** Resolves `waitForCommit` promises when their transaction is committed or refused by a block. */
class CommitWaiters {
  private readonly waiters = new Map<string, Set<(outcome: TxOutcome | undefined) => void>>()

  wait(idHex: string, timeoutMs: number): Promise<TxOutcome | undefined> {
    return new Promise((resolve) => {
      let set = this.waiters.get(idHex)
      if (!set) this.waiters.set(idHex, (set = new Set()))
      const waiting = set
      const done = (outcome: TxOutcome | undefined): void => {
        clearTimeout(timer)
        waiting.delete(done)
        if (waiting.size === 0) this.waiters.delete(idHex)
        resolve(outcome)
      }
      const timer = setTimeout(() => done(undefined), timeoutMs)
      waiting.add(done)
    })
  }

  settle(idHex: string, outcome: TxOutcome): void {
    const set = this.waiters.get(idHex)
    if (set) for (const done of [...set]) done(outcome)
  }

  get size(): number {
    return this.waiters.size
  }

  /** Wakes every waiter with "not yet" (shutdown). */
  releaseAll(): void {
    for (const set of [...this.waiters.values()]) for (const done of [...set]) done(undefined)
  }
}

/**
 * The composition root: builds every part of a node from its config and wires them together.
 * Nothing here is global, so tests run several nodes in one process.
 */
export class CertchainNode implements RpcBackend {
  private readonly waiters = new CommitWaiters()
  private producer: SingleValidatorProducer | undefined
  private rpc: RpcServer | undefined
  private started = false

  private constructor(
    readonly config: NodeConfig,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly ledger: Ledger,
    readonly mempool: Mempool,
    readonly peerId: string,
    readonly validatorId: string | undefined,
    private readonly validatorSecret: Bytes | undefined,
  ) {}

  /** Opens the store and loads keys; nothing listens until {@link start}. */
  static async create({ home, config, logger }: NodeInit): Promise<CertchainNode> {
    const genesis = await loadGenesis(homePath(home, config.genesisFile))
    const nodeKey = await loadKeyFile(homePath(home, config.nodeKeyFile))
    const peerId = await peerIdOf(nodeKey)
    let validatorId: string | undefined
    let validatorSecret: Bytes | undefined
    if (config.validatorKeyFile !== null) {
      const key = await loadKeyFile(homePath(home, config.validatorKeyFile))
      const registry = genesis.validators.find((v) => toHex(v.publicKey) === toHex(key.publicKey))
      if (registry) {
        validatorId = registry.id
        validatorSecret = key.secretKey
      } else {
        logger.warn({ publicKey: toHex(key.publicKey) }, 'validator key is not in the genesis validator set; running as a follower')
      }
    }
    const ledger = await Ledger.open(homePath(home, config.dataDir), genesis)
    const mempool = new Mempool({ ...DEFAULT_MEMPOOL_OPTIONS, ...config.mempool })
    const metrics = createMetrics()
    const node = new CertchainNode(config, logger, metrics, ledger, mempool, peerId, validatorId, validatorSecret)
    node.updateChainMetrics()
    return node
  }

  get isValidator(): boolean {
    return this.validatorId !== undefined
  }

  get rpcUrl(): string {
    const address = this.rpc?.address
    if (!address) throw new Error('node is not started')
    return address
  }

  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    const head = this.ledger.head
    this.logger.info(
      { chainId: this.ledger.chainId, height: head.height, peerId: this.peerId, validator: this.validatorId ?? null },
      'starting node',
    )
    if (this.validatorId !== undefined && this.validatorSecret !== undefined) {
      const validators = this.ledger.registry.validators(head.height + 1)
      if (validators.length === 1) {
        const signer = createSigner(this.validatorSecret)
        this.producer = new SingleValidatorProducer(this.config.producer, {
          ledger: this.ledger,
          mempool: this.mempool,
          proposer: { id: this.validatorId, sign: (message) => signer.sign(message) },
          logger: this.logger.child({ module: 'producer' }),
          onCommit: (block) => this.onCommit(block),
        })
        this.producer.start()
      } else {
        this.logger.warn({ validators: validators.length }, 'multi-validator consensus is not available in this version; not producing blocks')
      }
    }
    this.rpc = await createRpcServer(this.config.rpc, { backend: this, logger: this.logger.child({ module: 'rpc' }), metrics: this.metrics })
    this.logger.info({ url: this.rpc.address }, 'RPC listening')
  }

  /** Stops in reverse order: no new requests, finish the block in progress, close the store. */
  async stop(): Promise<void> {
    if (!this.started) {
      await this.ledger.close()
      return
    }
    this.started = false
    this.waiters.releaseAll()
    await this.rpc?.close()
    await this.producer?.stop()
    await this.ledger.close()
    this.logger.info({ height: this.ledger.head.height }, 'node stopped')
  }

  // ---- RpcBackend ---------------------------------------------------------------------------

  status(): NodeStatus {
    const head = this.ledger.head
    return {
      chainId: this.ledger.chainId,
      nodeId: this.peerId,
      moniker: this.config.moniker,
      height: head.height,
      latestBlockHash: toHex(head.hash),
      latestBlockTime: new Date(head.time).toISOString(),
      stateRoot: toHex(head.stateRoot),
      catchingUp: false,
      validator: this.isValidator,
      validatorId: this.validatorId ?? null,
      peers: 0,
      mempool: { txs: this.mempool.size, bytes: this.mempool.bytes },
      certificates: head.certificateCount,
      transactions: head.txCount,
    }
  }

  async submitTx(bytes: Bytes): Promise<Admitted> {
    try {
      const admitted = await admitTx(this.ledger, this.mempool, bytes, Date.now())
      if (admitted.added) this.metrics.txAdmitted.inc()
      this.metrics.mempoolTxs.set(this.mempool.size)
      this.metrics.mempoolBytes.set(this.mempool.bytes)
      return admitted
    } catch (err) {
      if (err instanceof CertchainError) this.metrics.txRejected.inc({ code: err.code })
      throw err
    }
  }

  waitForCommit(idHex: string, timeoutMs: number): Promise<TxOutcome | undefined> {
    return this.waiters.wait(idHex, timeoutMs)
  }

  now(): number {
    return Date.now()
  }

  private onCommit({ writes, included, rejected, durationMs }: CommittedBlock): void {
    const height = writes.block.header.height
    this.metrics.committedTxs.inc(included.length)
    this.metrics.committedCertificates.inc(included.reduce((n, t) => n + t.certificateIds.length, 0))
    this.metrics.blockCommitSeconds.observe(durationMs / 1000)
    for (const { error } of rejected) this.metrics.txRejected.inc({ code: error.code })
    this.updateChainMetrics()
    if (this.waiters.size > 0) {
      writes.txIds.forEach((id, index) => this.waiters.settle(toHex(id), { status: 'committed', height, index }))
      for (const { tx, error } of rejected) {
        this.waiters.settle(toHex(tx.id), { status: 'rejected', code: error.code, message: error.message })
      }
    }
    if (included.length > 0 || rejected.length > 0) {
      this.logger.info({ height, txs: included.length, rejected: rejected.length, ms: durationMs }, 'committed block')
    }
  }

  private updateChainMetrics(): void {
    const head = this.ledger.head
    this.metrics.height.set(head.height)
    this.metrics.chainTxs.set(head.txCount)
    this.metrics.chainCertificates.set(head.certificateCount)
    this.metrics.mempoolTxs.set(this.mempool.size)
    this.metrics.mempoolBytes.set(this.mempool.bytes)
  }
}
