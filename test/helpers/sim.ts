import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { toHex, type Bytes } from '../../src/core/bytes.js'
import { blockHash } from '../../src/core/block.js'
import { publicKeyFromSecret, type KeyPair } from '../../src/core/crypto.js'
import type { ValidatorInfo } from '../../src/core/genesis.js'
import { sha256 } from '../../src/core/hash.js'
import { CHAIN_FORMAT_VERSION, type Block, type Commit } from '../../src/core/types.js'
import { ConsensusEngine, type Clock, type ConsensusApp, type Draft, type EngineOptions } from '../../src/consensus/engine.js'
import type { ConsensusMessage } from '../../src/consensus/messages.js'
import { SignerGuard } from '../../src/consensus/signer.js'
import type { Equivocation } from '../../src/consensus/vote-set.js'

/** Seeded PRNG (mulberry32): the same seed replays the same network. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Virtual time: timers fire in order only when the simulation advances. */
export class SimClock implements Clock {
  time = 1_800_000_000_000
  private seq = 0
  private readonly timers = new Map<number, { at: number; fn: () => void }>()
  now(): number {
    return this.time
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn })
    return id
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number)
  }
  /** Fires the next timer (advancing time); false when none is left before `until`. */
  fireNext(until: number): boolean {
    let next: [number, { at: number; fn: () => void }] | undefined
    for (const entry of this.timers) if (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[0] < next[0])) next = entry
    if (!next || next[1].at > until) return false
    this.timers.delete(next[0])
    this.time = Math.max(this.time, next[1].at)
    next[1].fn()
    return true
  }
}

export const SIM_OPTIONS: EngineOptions = {
  timeoutProposeMs: 1000,
  timeoutPrevoteMs: 500,
  timeoutPrecommitMs: 500,
  timeoutDeltaMs: 250,
  blockIntervalMs: 50,
  heartbeatIntervalMs: 200,
  gossipIntervalMs: 300,
}

/**
 * A minimal application: a block is valid unless marked bad. Its only transactions are evidence
 * reports ("jail:<validator>"), which jail that validator from two heights after the block that
 * carries the first report, as the ledger's governance does.
 */
class SimApp implements ConsensusApp {
  readonly committed: { block: Block; commit: Commit }[] = []
  /** Validators with committed evidence, by the height of the block that carried it. */
  readonly jailed = new Map<string, number>()
  private readonly reported = new Set<string>()
  private lastHash: Bytes = sha256(Buffer.from('genesis'))
  constructor(
    readonly chainId: string,
    private readonly set: readonly ValidatorInfo[],
    private readonly clock: Clock,
    readonly salt: string,
    /** Validators that join the set only from a height (as governance adds them), by id. */
    private readonly joining: ReadonlyMap<string, number> = new Map(),
  ) {}
  committedHeight(): number {
    return this.committed.length
  }
  validators(height: number): readonly ValidatorInfo[] {
    return this.set.filter((v) => !((this.jailed.get(v.id) ?? Infinity) <= height - 2) && (this.joining.get(v.id) ?? 0) <= height)
  }
  /** Evidence against `validator` to put in this node's next proposal. */
  report(validator: string): void {
    if (!this.jailed.has(validator)) this.reported.add(validator)
  }
  createBlock(height: number, proposer: string): Promise<Block> {
    const block = simBlock(this.chainId, height, this.clock.now(), this.lastHash, proposer, this.salt)
    return Promise.resolve({ ...block, txs: [...this.reported].map((v) => new TextEncoder().encode(`jail:${v}`)) })
  }
  validateBlock(block: Block): Promise<boolean> {
    const h = block.header
    return Promise.resolve(h.height === this.committed.length + 1 && toHex(h.prevHash) === toHex(this.lastHash) && h.proposer !== 'invalid')
  }
  commitBlock(block: Block, commit: Commit): Promise<void> {
    this.committed.push({ block, commit })
    for (const tx of block.txs) {
      const validator = new TextDecoder().decode(tx).slice('jail:'.length)
      if (!this.jailed.has(validator)) this.jailed.set(validator, block.header.height)
      this.reported.delete(validator)
    }
    this.lastHash = blockHash(block.header)
    return Promise.resolve()
  }
  hasPendingTxs(): boolean {
    return true
  }
}

export function simBlock(chainId: string, height: number, time: number, prevHash: Bytes, proposer: string, salt: string): Block {
  return {
    header: {
      version: CHAIN_FORMAT_VERSION,
      chainId,
      height,
      time,
      prevHash,
      txRoot: sha256(Buffer.from(`${salt}/${height}/${time}`)),
      txCount: 0,
      stateRoot: new Uint8Array(32),
      proposer,
      validatorsHash: new Uint8Array(32),
      nextValidatorsHash: new Uint8Array(32),
    },
    txs: [],
  }
}

export interface SimNode {
  readonly id: string
  readonly key: KeyPair
  readonly app: SimApp
  engine: ConsensusEngine
  readonly equivocations: Equivocation[]
  /** Messages of the height in progress, as the node's WAL holds them. */
  readonly wal: ConsensusMessage[]
  readonly drafts: Draft[]
  online: boolean
}

export interface SimNetworkOptions {
  readonly validators: number
  /** Validators (by id) outside the set until a height. */
  readonly joining?: Readonly<Record<string, number>>
  readonly seed: number
  /** Probability that one message to one peer is lost. */
  readonly loss?: number
  /** Delivery delay range in ms (uniform); reordering follows from it. */
  readonly delay?: readonly [number, number]
}

/**
 * n engines on a simulated network with seeded loss, delay and reordering. Messages pass the
 * engine's own gossip check before delivery, as they would over libp2p.
 */
export class SimNetwork {
  readonly clock = new SimClock()
  readonly nodes: SimNode[] = []
  readonly random: () => number
  readonly validators: ValidatorInfo[]
  /** Pairs (a -> b) whose messages are dropped, e.g. a partition. */
  readonly cut = new Set<string>()
  /** Intercepts a node's outgoing messages (a Byzantine node rewrites or multiplies them). */
  tamper?: (from: SimNode, message: ConsensusMessage) => ConsensusMessage[]
  readonly chainId = 'certchain-sim'

  static async create(options: SimNetworkOptions): Promise<SimNetwork> {
    const net = new SimNetwork(options)
    await net.init()
    return net
  }

  private readonly keys: KeyPair[]

  private constructor(private readonly options: SimNetworkOptions) {
    this.random = prng(options.seed)
    // Keys from the seed too: the proposer order (sorted by public key) must replay identically.
    this.keys = Array.from({ length: options.validators }, (_, i) => {
      const secretKey = sha256(Buffer.from(`sim-key/${options.seed}/${i}`))
      return { secretKey, publicKey: publicKeyFromSecret(secretKey) }
    })
    this.validators = this.keys
      .map((k, i) => ({ id: `v${i}`, name: `v${i}`, publicKey: k.publicKey, peerId: `peer${i}` }))
      .sort((a, b) => Buffer.compare(a.publicKey, b.publicKey))
  }

  private dir = ''

  private async init(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'certchain-sim-'))
    for (const [i, key] of this.keys.entries()) {
      const id = `v${i}`
      const app = new SimApp(this.chainId, this.validators, this.clock, id, new Map(Object.entries(this.options.joining ?? {})))
      const node: SimNode = { id, key, app, equivocations: [], wal: [], drafts: [], online: true, engine: undefined as unknown as ConsensusEngine }
      node.engine = await this.engine(node)
      this.nodes.push(node)
    }
  }

  /** A fresh engine for `node`, as after a process start: same signer state file, same chain. */
  private async engine(node: SimNode): Promise<ConsensusEngine> {
    const guard = await SignerGuard.open(join(this.dir, `${node.id}.json`), node.key.secretKey)
    return new ConsensusEngine(SIM_OPTIONS, {
      app: node.app,
      signer: {
        publicKey: node.key.publicKey,
        sign: (h, r, s, b, lock) => guard.sign(h, r, s, b, lock),
        get lock() {
          return guard.lock
        },
      },
      broadcast: (m) => this.send(node, m),
      broadcastCommit: (block, commit) => {
        for (const to of this.nodes) {
          if (to === node || this.cut.has(`${node.id}>${to.id}`) || this.random() < (this.options.loss ?? 0)) continue
          this.clock.setTimeout(() => to.online && to.engine.receiveCommit(block, commit), 20)
        }
      },
      record: (message) => {
        node.wal.push(message)
        return Promise.resolve()
      },
      recordDraft: (_height, round, block) => {
        node.drafts.push({ round, block })
        return Promise.resolve()
      },
      onCommit: () => {
        node.wal.length = 0
        node.drafts.length = 0
      },
      onEquivocation: (e) => {
        node.equivocations.push(e)
        node.app.report(e.first.validator)
      },
      // Sync, simplified: fetch the missing blocks with their commits from the furthest peer.
      onBehind: (height) => this.syncFromPeers(node, height),
      logger: pino({ level: 'silent' }),
      clock: this.clock,
    })
  }

  /** Crash and restart a validator: in-memory state is lost; signer state, WAL and chain survive. */
  async restart(id: string): Promise<void> {
    const node = this.node(id)
    await node.engine.stop()
    node.engine = await this.engine(node)
    node.engine.start({ messages: [...node.wal], drafts: [...node.drafts] })
  }

  private syncFromPeers(node: SimNode, height: number): void {
    const source = this.nodes.filter((n) => n.online && n !== node && !this.cut.has(`${n.id}>${node.id}`))
      .sort((a, b) => b.app.committed.length - a.app.committed.length)[0]
    if (!source) return
    const from = node.app.committed.length
    const to = Math.min(height, source.app.committed.length)
    this.clock.setTimeout(() => {
      for (let h = from; h < to; h++) {
        const entry = source.app.committed[h]!
        node.engine.receiveCommit(entry.block, entry.commit)
      }
    }, 30)
  }

  start(): void {
    for (const node of this.nodes) node.engine.start()
  }

  node(id: string): SimNode {
    return this.nodes.find((n) => n.id === id)!
  }

  send(from: SimNode, message: ConsensusMessage): void {
    if (!from.online) return
    const messages = this.tamper ? this.tamper(from, message) : [message]
    for (const m of messages) for (const to of this.nodes) if (to !== from) this.deliver(from, to, m)
  }

  deliver(from: SimNode, to: SimNode, message: ConsensusMessage): void {
    if (this.cut.has(`${from.id}>${to.id}`)) return
    if (this.random() < (this.options.loss ?? 0)) return
    const [lo, hi] = this.options.delay ?? [5, 40]
    this.clock.setTimeout(() => {
      if (!to.online || this.cut.has(`${from.id}>${to.id}`)) return
      if (to.engine.check(message).ok) to.engine.receive(message)
    }, lo + this.random() * (hi - lo))
  }

  /** Runs the simulation until `done()` or virtual `ms` have passed. */
  async run(ms: number, done: () => boolean = () => false): Promise<void> {
    const until = this.clock.time + ms
    for (;;) {
      await this.settle()
      if (done()) return
      if (!this.clock.fireNext(until)) return
    }
  }

  private async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r))
      await Promise.all(this.nodes.map((n) => n.engine.settled()))
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.engine.stop()))
  }

  /** Every pair of nodes agrees on every height both have committed (safety). */
  assertAgreement(): void {
    const longest = Math.max(...this.nodes.map((n) => n.app.committed.length))
    for (let h = 0; h < longest; h++) {
      const hashes = new Set(this.nodes.flatMap((n) => { const c = n.app.committed[h]; return c ? [toHex(blockHash(c.block.header))] : [] }))
      if (hashes.size > 1) throw new Error(`fork at height ${h + 1}: ${[...hashes].join(' vs ')}`)
    }
  }

  minHeight(nodes = this.nodes): number {
    return Math.min(...nodes.map((n) => n.app.committed.length))
  }
}
