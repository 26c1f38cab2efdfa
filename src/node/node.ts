import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { sign } from '../core/crypto.js'
import { GOVERNABLE_PARAMS } from '../core/governance.js'
import { encodeTx, signTx } from '../core/tx.js'
import { decodeCanonical, encode } from '../core/encoding.js'
import { CertchainError, isCertchainError } from '../core/errors.js'
import { parseGenesis, type Genesis } from '../core/genesis.js'
import {
  BlockSync,
  blockTimeBounds,
  ConsensusEngine,
  ConsensusWal,
  DEFAULT_SYNC_OPTIONS,
  LedgerApp,
  SignerGuard,
  decodeMessage,
  encodeMessage,
  validateBlockGossip,
  validateConsensusGossip,
  type ConsensusMessage,
  type Draft,
  type Equivocation,
  type FinalizedEvent,
} from '../consensus/index.js'
import { encodeFinalizedBlock, parseBlock } from '../core/block.js'
import type { GossipVerdict } from '../core/types.js'
import { TxBundler, validateTxBundleGossip, validateTxGossip } from '../mempool/index.js'
import { MAX_GOSSIP_MESSAGE_BYTES, P2PHost, type GossipTopic } from '../p2p/index.js'
import { Ledger, type GovernanceWrites } from '../ledger/index.js'
import { admitBatch, admitTx, Mempool, DEFAULT_MEMPOOL_OPTIONS, recheckPending, type Admitted } from '../mempool/index.js'
import type { Audience } from '../wallet/presentation.js'
import { PresentationRequests } from '../wallet/requests.js'
import { createRpcServer, type NodeStatus, type RpcBackend, type RpcServer, type TxOutcome } from '../rpc/index.js'
import { homePath, type NodeConfig } from './config.js'
import { MAX_GENESIS_FILE_BYTES, readLocalFile } from './files.js'
import { loadKeyFile, peerIdOf, type KeyFile } from './keys.js'
import { createMetrics, type Metrics } from './metrics.js'
import { SnapshotFiles } from './snapshots.js'
import { SnapshotServer, StateSync } from './statesync.js'
import { DEFAULT_MIN_WORKER_BATCH, defaultVerifyThreads, VerifyPool } from './verify-pool.js'
import { DEFAULT_SNAPSHOT_LIMITS } from '../ledger/index.js'
import { trustFromCheckpoint, trustFromGenesis, type Trust } from '../light/index.js'

export interface NodeInit {
  readonly home: string
  readonly config: NodeConfig
  readonly logger: Logger
}

async function loadGenesis(path: string): Promise<{ genesis: Genesis; document: unknown }> {
  let text: string
  try {
    text = (await readLocalFile(path, { what: 'genesis', maxBytes: MAX_GENESIS_FILE_BYTES })).toString('utf8')
  } catch (err) {
    if (isCertchainError(err, 'FILE_NOT_FOUND')) throw new CertchainError('INVALID_GENESIS', `${path} does not exist; copy your chain's genesis.json there`)
    throw err
  }
  try {
    const document: unknown = JSON.parse(text)
    return { genesis: parseGenesis(document), document }
  } catch (err) {
    if (err instanceof SyntaxError) throw new CertchainError('INVALID_GENESIS', `${path} is not valid JSON: ${err.message}`)
    throw err
  }
}

/**
 * A port another process holds (a second dev node, devnet beside dev) is an operator's mistake:
 * one coded line naming the port and the setting that moves it, instead of libp2p's stack trace.
 */
function portInUse(err: unknown, what: string, setting: string): unknown {
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string }
  const text = String(e?.message ?? err)
  if (e?.code !== 'EADDRINUSE' && !text.includes('EADDRINUSE')) return err
  const where = /EADDRINUSE[^\n]*?(\S+):(\d+)\s*$/m.exec(text)
  const host = e.address ?? where?.[1] ?? '?'
  const port = e.port ?? where?.[2] ?? '?'
  return new CertchainError('PORT_IN_USE', `${what} port ${port} on ${host} is already in use (another certchain node?); choose another with ${setting}`)
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
  private mempoolRecheck: Promise<void> = Promise.resolve()
  private engine: ConsensusEngine | undefined
  private sync: BlockSync | undefined
  private wal: ConsensusWal | undefined
  private p2p: P2PHost | undefined
  /** Relays the transactions this node admits to its peers, in bundles (README, "Network"). */
  private bundler: TxBundler | undefined
  private rpc: RpcServer | undefined
  /** Peers the connection gater admits: registered validators and members, as of the last block. */
  private allowedPeers: Set<string>
  private unsubscribeMempool: (() => void) | undefined
  private started = false
  private stateSync: StateSync | undefined
  private stateSyncRun: Promise<boolean> | undefined
  /** The snapshot or pruning step in progress (one at a time, off the commit path). */
  private housekeeping: Promise<void> = Promise.resolve()
  private snapshotting = false

  private constructor(
    readonly config: NodeConfig,
    readonly logger: Logger,
    readonly metrics: Metrics,
    readonly ledger: Ledger,
    readonly mempool: Mempool,
    readonly peerId: string,
    private readonly validatorKey: KeyFile | undefined,
    private readonly guard: SignerGuard | undefined,
    private readonly consensusDir: string,
    private readonly nodeKey: KeyFile,
    readonly presentations: PresentationRequests,
    readonly genesisDocument: unknown,
    private readonly snapshots: SnapshotFiles | undefined,
    private readonly verifyPool: VerifyPool,
  ) {
    this.allowedPeers = ledger.peerIds()
  }

  /** Opens the store and loads keys; nothing listens until {@link start}. */
  static async create({ home, config, logger }: NodeInit): Promise<CertchainNode> {
    const { genesis, document: genesisDocument } = await loadGenesis(homePath(home, config.genesisFile))
    const nodeKey = await loadKeyFile(homePath(home, config.nodeKeyFile))
    const peerId = await peerIdOf(nodeKey)
    const dataDir = homePath(home, config.dataDir)
    const consensusDir = join(dataDir, 'consensus')
    await mkdir(consensusDir, { recursive: true, mode: 0o700 })
    let validatorKey: KeyFile | undefined
    let guard: SignerGuard | undefined
    // Any configured validator key signs: governance may add it to the set at a later height, and
    // the engine signs only at heights whose validator set holds it.
    if (config.validatorKeyFile !== null) {
      validatorKey = await loadKeyFile(homePath(home, config.validatorKeyFile))
      guard = await SignerGuard.open(join(consensusDir, 'priv_validator_state.json'), validatorKey.secretKey)
    }
    const metrics = createMetrics()
    // Workers start at the first batch large enough for them; closed with the node.
    const threads = config.verifyThreads === 'auto' ? defaultVerifyThreads() : config.verifyThreads
    const verifyPool = new VerifyPool({ threads, minWorkerBatch: DEFAULT_MIN_WORKER_BATCH }, { logger: logger.child({ module: 'verify' }), metrics })
    const ledger = await Ledger.open(join(dataDir, 'chain'), genesis, { verifier: verifyPool })
    const presentations = await PresentationRequests.open(join(dataDir, 'presentations'), config.verifier.maxOutstandingRequests)
    const mempool = new Mempool({ ...DEFAULT_MEMPOOL_OPTIONS, ...config.mempool })
    if (validatorKey && !ledger.registry.validatorRecords().some((v) => bytesEqual(v.publicKey, validatorKey.publicKey))) {
      logger.warn({ publicKey: toHex(validatorKey.publicKey) }, 'validator key is not registered (yet); following until governance adds it')
    }
    const snapshots =
      config.stateSync.snapshotInterval > 0 ? await SnapshotFiles.open(join(dataDir, 'snapshots'), config.stateSync.snapshotKeep, DEFAULT_SNAPSHOT_LIMITS) : undefined
    const node = new CertchainNode(config, logger, metrics, ledger, mempool, peerId, validatorKey, guard, consensusDir, nodeKey, presentations, genesisDocument, snapshots, verifyPool)
    node.updateChainMetrics()
    return node
  }

  /** The id this node signs as, when its validator key is in the current validator set. */
  get validatorId(): string | undefined {
    const key = this.validatorKey
    if (!key) return undefined
    return this.engine?.validatorId ?? this.ledger.validators(this.ledger.head.height + 1).find((v) => bytesEqual(v.publicKey, key.publicKey))?.id
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
      { chainId: this.ledger.chainId, genesisHash: toHex(this.ledger.genesis.hash), height: head.height, peerId: this.peerId, validator: this.validatorId ?? null },
      'starting node',
    )
    const replay = await this.startConsensus()
    await this.p2p!.start().catch((err: unknown) => {
      throw portInUse(err, 'p2p', '--p2p-port or p2p.listen')
    })
    this.logger.info({ addresses: this.p2p!.addresses() }, 'p2p listening')
    this.rpc = await createRpcServer(this.config.rpc, { backend: this, logger: this.logger.child({ module: 'rpc' }), metrics: this.metrics }).catch(
      (err: unknown) => {
        throw portInUse(err, 'RPC', '--rpc-port or rpc.port')
      },
    )
    this.logger.info({ url: this.rpc.address }, 'RPC listening')
    if (this.config.stateSync.enabled && this.ledger.head.height === 0) {
      await this.joinByStateSync()
      // Stopped while joining: stop() already ran, nothing more to start.
      if (!this.started) return
    }
    // After a state sync the WAL holds nothing of the new height; consensus starts from the head.
    this.engine!.start(this.ledger.head.height === 0 ? replay : {})
    this.sync!.start()
  }

  /**
   * Installs a peer's snapshot (light-verified from the trust anchor) before consensus starts,
   * then block sync fetches the rest. Without one in time, the node block-syncs from genesis.
   */
  private async joinByStateSync(): Promise<void> {
    const p2p = this.p2p!
    const logger = this.logger.child({ module: 'statesync' })
    const started = Date.now()
    const sync = new StateSync(
      { fetchers: this.config.stateSync.fetchers, discoveryTimeoutMs: this.config.stateSync.discoveryTimeoutMs, requestTimeoutMs: 30_000, limits: DEFAULT_SNAPSHOT_LIMITS },
      {
        ledger: this.ledger,
        trust: await this.stateSyncTrust(),
        logger,
        onChunk: (result) => this.metrics.stateSyncChunks.inc({ result }),
        network: {
          peers: () => p2p.connectedPeers(),
          request: (peer, request, options) => p2p.requestSnapshot(peer, request, options),
          ban: async (peer) => {
            this.metrics.peerDisconnects.inc({ reason: 'state_sync' })
            await p2p.disconnect(peer, { ban: true })
          },
        },
      },
    )
    this.stateSync = sync
    this.stateSyncRun = sync.run()
    if (await this.stateSyncRun) {
      this.metrics.stateSyncSeconds.set((Date.now() - started) / 1000)
      this.refreshPeerAccess()
      this.updateChainMetrics()
    } else {
      logger.warn({ timeoutMs: this.config.stateSync.discoveryTimeoutMs }, 'state sync found no verifiable snapshot in time; block-syncing from genesis')
    }
  }

  /** The anchor a state sync verifies from: the configured checkpoint, else the genesis. */
  private async stateSyncTrust(): Promise<Trust> {
    const file = this.config.stateSync.trustFile
    if (file === '') return trustFromGenesis(this.genesisDocument)
    const text = (await readLocalFile(file, { what: 'checkpoint', maxBytes: MAX_GENESIS_FILE_BYTES })).toString('utf8')
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new CertchainError('INVALID_CONFIG', `stateSync.trustFile ${file} is not valid JSON: ${(err as Error).message}`)
    }
    const trust = trustFromCheckpoint(json)
    if (trust.chainId !== this.ledger.chainId) throw new CertchainError('INVALID_CONFIG', `stateSync.trustFile ${file} is a checkpoint of chain "${trust.chainId}"`)
    return trust
  }

  /** Stops in reverse order: no new requests, finish the event in progress, close the stores. */
  async stop(): Promise<void> {
    if (this.started) {
      this.started = false
      this.waiters.releaseAll()
      await this.rpc?.close()
      this.unsubscribeMempool?.()
      this.stateSync?.stop()
      // A join in progress stops at its next chunk; the ledger must not close under it.
      await this.stateSyncRun?.catch(() => false)
      await this.housekeeping
      await this.sync?.stop()
      await this.engine?.stop()
      // What was admitted in the last window still goes out while the network is up.
      this.bundler?.flush()
      await this.p2p?.stop()
      await this.wal?.close()
    }
    await this.ledger.close()
    await this.verifyPool.close()
    await this.presentations.close()
    this.logger.info({ height: this.ledger.head.height }, 'node stopped')
  }

  private async startConsensus(): Promise<{ messages: ConsensusMessage[]; drafts: Draft[] }> {
    const logger = this.logger.child({ module: 'consensus' })
    const height = this.ledger.head.height + 1
    // Only the height in progress is resumed; records of a finished height (a reset that did
    // not happen before a crash) are skipped as the WAL streams by.
    const { wal, records, droppedBytes } = await ConsensusWal.open(join(this.consensusDir, 'wal'), MAX_WAL_RECORD, (bytes) => decodeWalRecord(bytes).height === height)
    if (droppedBytes > 0) logger.warn({ droppedBytes }, 'dropped a torn record at the end of the consensus WAL')
    this.wal = wal
    const app = new LedgerApp(this.ledger, this.mempool, blockTimeBounds(this.config.consensus), (event) =>
      this.onFinalized(event),
    )
    const guard = this.guard
    const validatorKey = this.validatorKey
    const p2p = await P2PHost.create(
      {
        chainId: this.ledger.chainId,
        listen: this.config.p2p.listen,
        bootstrap: this.config.p2p.bootstrap,
        nodeKey: this.nodeKey,
        // Read on every connection: governance changes membership while the node runs.
        isAllowedPeer: (peerId) => this.allowedPeers.has(peerId),
        maxMessageBytes: MAX_GOSSIP_MESSAGE_BYTES,
        limits: { allow: this.config.p2p.allow ?? [] },
      },
      {
        logger: this.logger,
        metrics: this.metrics,
        validate: (topic, data) => this.validateGossip(topic, data),
        // Accepted messages are handed over during validation (see validateGossip).
        onMessage: () => undefined,
        sync: { handle: (request) => this.sync!.handle(request) },
        ...(this.snapshots ? { snapshots: new SnapshotServer({ ledger: this.ledger, files: () => this.snapshots }) } : {}),
      },
    )
    this.p2p = p2p
    const publish = (topic: GossipTopic, data: Uint8Array): void => {
      p2p.publish(topic, data).catch((err: unknown) => logger.warn({ err, topic }, 'publish failed'))
    }
    this.bundler = new TxBundler(
      {
        windowMs: this.config.p2p.txBundle.windowMs,
        // Within what every receiver accepts (the chain's block limits, which governance may change).
        limits: () => {
          const { maxTxs, maxBytes } = this.config.p2p.txBundle
          const { maxBlockTxs, maxBlockBytes } = this.ledger.registry.params
          return { maxTxs: Math.min(maxTxs, maxBlockTxs), maxBytes: Math.min(maxBytes, maxBlockBytes) }
        },
      },
      (txs, bundle) => this.relayTxs(txs, bundle),
    )
    const engine = new ConsensusEngine(this.config.consensus, {
      app,
      ...(guard && validatorKey
        ? {
            signer: {
              publicKey: validatorKey.publicKey,
              sign: (h, r, step, bytes, lock) => guard.sign(h, r, step, bytes, lock),
              get lock() {
                return guard.lock
              },
            },
          }
        : {}),
      broadcast: (message) => publish('consensus', encodeMessage(message)),
      // Alone (a single validator), there is nobody to tell: skip encoding a possibly large block.
      broadcastCommit: (block, commit) => {
        if (p2p.connectedPeers().length > 0) publish('blocks', encodeFinalizedBlock({ block, commit }))
      },
      // Our own messages are on disk before they are sent (a restarted validator re-sends, never
      // contradicts them); peers' messages need no fsync, they re-send their own.
      record: (message, own) => wal.append(encode({ height: message.height, message: encodeMessage(message) }), { sync: own }),
      recordDraft: (height, round, block) => wal.append(encode({ height, draft: { round, block } }), { sync: true }),
      onEquivocation: (e) => {
        logger.warn({ validator: e.first.validator, height: e.first.height, round: e.first.round, type: e.first.type }, 'equivocation evidence')
        this.metrics.evidence.inc()
        this.ledger
          .saveEvidence(e.first, encode({ first: e.first, second: e.second }))
          .catch((err: unknown) => logger.error({ err }, 'cannot save evidence'))
        this.reportEquivocation(e)
      },
      onBehind: (height) => this.sync?.behind(height),
      logger,
    })
    this.engine = engine
    this.sync = new BlockSync(DEFAULT_SYNC_OPTIONS, {
      ledger: this.ledger,
      engine,
      logger: this.logger.child({ module: 'sync' }),
      // Governance may raise the block size later; decode up to the largest it may set.
      maxBlockBytes: Math.max(this.ledger.registry.params.maxBlockBytes, GOVERNABLE_PARAMS.maxBlockBytes.max),
      network: {
        peers: () => p2p.connectedPeers(),
        request: (peer, request, options) => p2p.request(peer, request, options),
        ban: async (peer, reason) => {
          logger.warn({ peer, reason }, 'banning peer')
          this.metrics.peerDisconnects.inc({ reason: 'sync' })
          await p2p.disconnect(peer, { ban: true })
        },
        penalize: (peer, code, bytes) => p2p.penalize(peer, code, bytes),
      },
    })
    this.unsubscribeMempool = this.mempool.onAdded(() => this.engine?.txsAvailable())
    const messages: ConsensusMessage[] = []
    const drafts: Draft[] = []
    for (const bytes of records) {
      const record = decodeWalRecord(bytes)
      if (record.message) messages.push(decodeMessage(record.message, MAX_WAL_RECORD))
      if (record.draft) drafts.push({ round: record.draft.round, block: parseBlock(record.draft.block) })
    }
    if (records.length > 0) logger.info({ height, messages: messages.length, drafts: drafts.length }, 'resuming the height in progress from the WAL')
    return { messages, drafts }
  }

  /** Gossip validation is chain logic: the mempool and consensus decide, p2p maps the verdict. */
  private async validateGossip(topic: GossipTopic, data: Uint8Array): Promise<GossipVerdict> {
    const max = MAX_GOSSIP_MESSAGE_BYTES
    switch (topic) {
      case 'txs': {
        const verdict = await validateTxGossip(this.ledger, this.mempool, data, Date.now())
        this.metrics.mempoolTxs.set(this.mempool.size)
        return verdict
      }
      case 'txbundle': {
        const { verdict, relay, txs } = await validateTxBundleGossip(this.ledger, this.mempool, data, Date.now())
        this.metrics.txBundlesReceived.inc({ result: verdict.result })
        if (txs > 0) this.metrics.txBundleTxs.observe({ direction: 'received' }, txs)
        // Admitted here but not forwarded as received (see BundleOutcome.relay): relayed as our own.
        for (const tx of relay) this.bundler?.add(tx)
        this.metrics.mempoolTxs.set(this.mempool.size)
        return verdict
      }
      case 'consensus': {
        const { verdict, message } = validateConsensusGossip(this.engine!, data, max, this.ledger.registry.params)
        if (message) this.engine!.receive(message)
        return verdict
      }
      case 'blocks': {
        const { verdict, finalized, ahead } = validateBlockGossip(this.ledger, data, max)
        if (finalized) this.engine!.receiveCommit(finalized.block, finalized.commit)
        if (ahead !== undefined) this.sync?.behind(ahead)
        return verdict
      }
    }
  }

  // ---- RpcBackend ---------------------------------------------------------------------------

  status(): NodeStatus {
    const head = this.ledger.head
    return {
      chainId: this.ledger.chainId,
      genesisHash: toHex(this.ledger.genesis.hash),
      nodeId: this.peerId,
      moniker: this.config.moniker,
      height: head.height,
      latestBlockHash: toHex(head.hash),
      latestBlockTime: new Date(head.time).toISOString(),
      stateRoot: toHex(head.stateRoot),
      catchingUp: this.sync?.catchingUp ?? false,
      targetHeight: this.sync?.targetHeight ?? head.height,
      validator: this.isValidator,
      validatorId: this.validatorId ?? null,
      peers: this.p2p?.connectedPeers().length ?? 0,
      mempool: { txs: this.mempool.size, bytes: this.mempool.bytes },
      certificates: head.certificateCount,
      transactions: head.txCount,
      baseHeight: this.ledger.base,
      stateSync: this.stateSync?.progress ?? { phase: 'off', height: 0, chunksDone: 0, chunksTotal: 0, peer: null },
    }
  }

  async submitTx(bytes: Bytes): Promise<Admitted> {
    try {
      const admitted = await admitTx(this.ledger, this.mempool, bytes, Date.now())
      this.admitted(admitted)
      this.metrics.mempoolTxs.set(this.mempool.size)
      this.metrics.mempoolBytes.set(this.mempool.bytes)
      return admitted
    } catch (err) {
      if (err instanceof CertchainError) this.metrics.txRejected.inc({ code: err.code })
      throw err
    }
  }

  /**
   * Publishes one bundle. While a peer still subscribes to the single-transaction topic only (a
   * node of an earlier version, during a rolling upgrade), each transaction also goes there.
   */
  private relayTxs(txs: readonly Bytes[], bundle: Bytes): void {
    const p2p = this.p2p
    if (!p2p) return
    const onError = (err: unknown): void => this.logger.warn({ err, txs: txs.length }, 'cannot relay transactions')
    p2p.publish('txbundle', bundle).catch(onError)
    this.metrics.txBundlesPublished.inc()
    this.metrics.txBundleTxs.observe({ direction: 'published' }, txs.length)
    const bundling = new Set(p2p.topicPeers('txbundle'))
    if (p2p.topicPeers('txs').some((peer) => !bundling.has(peer))) for (const tx of txs) p2p.publish('txs', tx).catch(onError)
  }

  async submitBatch(entries: readonly Bytes[], onAdmitted?: (index: number, admitted: Admitted) => void): Promise<(Admitted | CertchainError)[]> {
    const results = await admitBatch(this.ledger, this.mempool, entries, Date.now(), (index, admitted) => {
      this.admitted(admitted)
      onAdmitted?.(index, admitted)
    })
    for (const result of results) if (result instanceof CertchainError) this.metrics.txRejected.inc({ code: result.code })
    this.metrics.mempoolTxs.set(this.mempool.size)
    this.metrics.mempoolBytes.set(this.mempool.bytes)
    return results
  }

  /** Counts and relays a transaction admitted by this node's RPC. */
  private admitted({ added, tx }: Admitted): void {
    if (!added) return
    this.metrics.txAdmitted.inc()
    // Relay to the other nodes (validators include it when they propose).
    this.bundler?.add(tx.bytes)
  }

  waitForCommit(idHex: string, timeoutMs: number): Promise<TxOutcome | undefined> {
    return this.waiters.wait(idHex, timeoutMs)
  }

  audience(): Audience {
    return { name: this.config.verifier.name || this.config.moniker, node: this.peerId }
  }

  now(): number {
    return Date.now()
  }

  private onFinalized({ block, writes, rejected, certificates, commitMs }: FinalizedEvent): void {
    const height = block.header.height
    if (writes.governance) this.onGovernance(height, writes.governance)
    // Refusals by bytes that depended on the state before this block no longer hold (all of them, when the rules changed).
    this.mempool.forgetFailures(writes.governance?.registry !== undefined)
    this.refreshPeerAccess()
    // The finished height's messages are no longer needed to resume.
    void this.wal?.reset().catch((err: unknown) => this.logger.error({ err }, 'cannot reset the consensus WAL'))
    this.metrics.committedTxs.inc(writes.txIds.length)
    this.metrics.committedCertificates.inc(certificates)
    this.metrics.blockCommitSeconds.observe(commitMs / 1000)
    for (const { error } of rejected) this.metrics.txRejected.inc({ code: error.code })
    this.updateChainMetrics()
    if (this.waiters.size > 0) {
      writes.txIds.forEach((id, index) => this.waiters.settle(toHex(id), { status: 'committed', height, index }))
      for (const { tx, error } of rejected) {
        this.waiters.settle(toHex(tx.id), { status: 'rejected', code: error.code, message: error.message })
      }
    }
    if (writes.txIds.length > 0 || rejected.length > 0) {
      this.logger.info({ height, txs: writes.txIds.length, rejected: rejected.length }, 'committed block')
    }
    this.recheckMempool(block.header.time, writes)
    this.afterCommit(height)
  }

  /**
   * Snapshots every `stateSync.snapshotInterval` blocks and prunes old bodies, one step at a
   * time in the background: the next block commits meanwhile (a snapshot reads a LevelDB
   * snapshot of the state, so blocks committed while it is written do not change it).
   */
  private afterCommit(height: number): void {
    const { snapshotInterval, chunkBytes } = this.config.stateSync
    const files = this.snapshots
    if (files && height % snapshotInterval === 0 && !this.snapshotting) {
      this.snapshotting = true
      // Opened now, in the step that saw the commit: the snapshot is of exactly this height, so
      // every node's snapshot of it is the same and a joining node can fetch from all of them.
      const reader = this.ledger.readState()
      this.housekeeping = this.housekeeping.then(async () => {
        const started = performance.now()
        try {
          const { manifest, bytes } = await files.take(this.ledger, chunkBytes, reader)
          const seconds = (performance.now() - started) / 1000
          this.metrics.snapshotsTaken.inc()
          this.metrics.snapshotSeconds.set(seconds)
          this.metrics.snapshotBytes.set(bytes)
          this.metrics.snapshotHeight.set(manifest.height)
          this.logger.info({ height: manifest.height, chunks: manifest.chunks.length, bytes, seconds }, 'snapshot taken')
        } catch (err) {
          this.logger.error({ err }, 'cannot take a snapshot')
        } finally {
          this.snapshotting = false
        }
      })
    }
    const keep = this.config.pruning.keepBlocks
    if (keep > 0 && height - keep + 1 > this.ledger.base) {
      this.housekeeping = this.housekeeping.then(async () => {
        try {
          const base = await this.ledger.pruneBlocks(this.ledger.head.height - keep + 1, PRUNE_STEP)
          this.metrics.prunedBelow.set(base)
        } catch (err) {
          this.logger.error({ err }, 'cannot prune old blocks')
        }
      })
    }
  }

  /** Drops pending transactions the block made impossible, and tells whoever waits for them. */
  private recheckMempool(time: number, writes: FinalizedEvent['writes']): void {
    if (this.mempool.size === 0) return
    const changes = { time, certificates: [...writes.certificates.keys()], rulesChanged: writes.governance?.registry !== undefined }
    // One re-check at a time, in block order.
    this.mempoolRecheck = this.mempoolRecheck.then(() => recheckPending(this.ledger, this.mempool, changes, Date.now())).then(
      (evicted) => {
        for (const { tx, error } of evicted) {
          this.metrics.txRejected.inc({ code: error.code })
          this.waiters.settle(toHex(tx.id), { status: 'rejected', code: error.code, message: error.message })
        }
        if (evicted.length > 0) this.logger.info({ evicted: evicted.length }, 'dropped pending transactions the last block made impossible')
        this.metrics.mempoolTxs.set(this.mempool.size)
        this.metrics.mempoolBytes.set(this.mempool.bytes)
      },
      (err: unknown) => this.logger.error({ err }, 'cannot re-check pending transactions'),
    )
  }

  /**
   * Puts evidence on chain: a validator signs a ReportEquivocation transaction and gossips it, so
   * whichever validator proposes next includes it. Every validator that saw the conflict may
   * report it; mempools keep and forward one report per offence (DUPLICATE_EVIDENCE), and the
   * chain refuses reports of a validator already punished (EVIDENCE_ALREADY_COMMITTED).
   */
  private reportEquivocation(e: Equivocation): void {
    const key = this.validatorKey
    const signer = this.validatorId
    if (!key || signer === undefined) return
    // Another validator's report of this offence is pending already: one on chain is enough.
    if (this.mempool.hasReport(e.first)) {
      this.logger.info({ validator: e.first.validator, height: e.first.height }, 'equivocation already reported by another validator')
      return
    }
    const expiresAt = Date.now() + Math.floor(this.ledger.registry.params.txMaxTtlMs / 2)
    const tx = signTx(this.ledger.chainId, { kind: 'ReportEquivocation', signer, key: key.publicKey, body: { first: e.first, second: e.second, expiresAt } }, (m) =>
      sign(key.secretKey, m),
    )
    this.submitTx(encodeTx(tx)).then(
      () => this.logger.info({ validator: e.first.validator, height: e.first.height }, 'reported equivocation evidence'),
      (err: unknown) => this.logger.warn({ err, validator: e.first.validator }, 'evidence not reported'),
    )
  }

  /** Logs, counts and applies (peer access) what governance changed in a committed block. */
  private onGovernance(height: number, governance: GovernanceWrites): void {
    for (const event of governance.events) {
      this.metrics.governanceEvents.inc({ kind: event.kind })
      const fields =
        'proposal' in event
          ? { proposal: event.proposal.id, action: event.proposal.action.type, status: event.proposal.status, ...('validator' in event ? { validator: event.validator, approve: event.approve } : {}) }
          : event
      this.logger.info({ height, governance: event.kind, ...fields }, `governance: ${event.kind}`)
    }
  }

  /** Follows membership after each block; peers no longer admitted are disconnected. */
  private refreshPeerAccess(): void {
    const next = this.ledger.peerIds()
    if (next.size === this.allowedPeers.size && [...next].every((p) => this.allowedPeers.has(p))) return
    this.allowedPeers = next
    void this.p2p?.reevaluatePeers().catch((err: unknown) => this.logger.warn({ err }, 'cannot re-evaluate peers'))
  }

  private updateChainMetrics(): void {
    const head = this.ledger.head
    this.metrics.height.set(head.height)
    this.metrics.prunedBelow.set(this.ledger.base)
    this.metrics.chainTxs.set(head.txCount)
    this.metrics.chainCertificates.set(head.certificateCount)
    this.metrics.mempoolTxs.set(this.mempool.size)
    this.metrics.mempoolBytes.set(this.mempool.bytes)
    const registry = this.ledger.registry
    this.metrics.validators.set(this.ledger.validators(head.height + 1).length)
    this.metrics.jailedValidators.set(registry.validatorRecords().filter((v) => v.jailedHeight !== undefined).length)
    this.metrics.members.set(registry.members().length)
    this.metrics.activeIssuers.set(registry.allIssuers().filter((i) => i.active).length)
    this.metrics.openProposals.set(this.ledger.proposals.open.length)
  }
}

/** Block bodies dropped per pruning step (one batch). */
const PRUNE_STEP = 1000

/** Largest WAL record: a proposal carries a whole block. */
const MAX_WAL_RECORD = 64 * 1024 * 1024

interface WalRecord {
  readonly height: number
  readonly message?: Uint8Array
  readonly draft?: { readonly round: number; readonly block: unknown }
}

function decodeWalRecord(bytes: Uint8Array): WalRecord {
  return decodeCanonical(bytes, MAX_WAL_RECORD) as WalRecord
}
