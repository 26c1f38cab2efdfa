import type { Logger } from 'pino'
import { isBytes, toHex, type Bytes } from '../core/bytes.js'
import { decodeCanonical, encode } from '../core/encoding.js'
import { CertchainError, isCertchainError } from '../core/errors.js'
import { parseCommit, parseHeader } from '../core/header.js'
import type { BlockHeader, Commit } from '../core/types.js'
import { decodeManifest, encodeManifest, maxManifestBytes, type Ledger, type SnapshotLimits, type SnapshotManifest } from '../ledger/index.js'
import { followSets, type Trust } from '../light/index.js'
import { isP2PError } from '../p2p/index.js'
import type { ValidatorChange } from '../light/proof.js'
import type { SnapshotFiles } from './snapshots.js'

/*
 * State sync over `/certchain/<chainId>/snapshot/1` (README, "State sync"). Requests:
 *   {type: 'list'}                            -> {snapshots: [{height, root, chunks}]}
 *   {type: 'offer', height, root, from}       -> {manifest, header, commit, changes}: the manifest's
 *        bytes, the header of its height with its commit, and the set changes after `from` (the
 *        asker's trust anchor) before it, so the asker can light-verify the header
 *   {type: 'chunk', height, root, index}      -> {chunk}
 */

const MAX_REQUEST_BYTES = 1024
/** Set changes one offer may carry (each is a header, a commit and a validator set). */
const MAX_CHANGES = 256
const MAX_LISTED = 16
const PROGRESS_LOG_MS = 5000
const DISCOVERY_SETTLE_MS = 1000
/**
 * A serving peer answers P2P_BUSY once this node has drawn its per-peer budget (8 MiB/s): that
 * is backpressure, not a fault, so the chunk is asked again after a pause (doubling up to 2 s),
 * at most this many times per chunk before that peer counts as not serving it.
 */
const MAX_BUSY_WAITS = 30

type Request =
  | { type: 'list' }
  | { type: 'offer'; height: number; root: Bytes; from: number }
  | { type: 'chunk'; height: number; root: Bytes; index: number }

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

/** Serves this node's snapshots. Bad requests get an error answer and cost the peer its sync budget only. */
export class SnapshotServer {
  constructor(private readonly deps: { ledger: Ledger; files: () => SnapshotFiles | undefined }) {}

  async handle(bytes: Bytes): Promise<Bytes> {
    const r = decodeCanonical(bytes, MAX_REQUEST_BYTES, 'MALFORMED_ENCODING') as Request | null
    const files = this.deps.files()
    if (r?.type === 'list') return encode({ snapshots: (files?.summaries() ?? []).slice(-MAX_LISTED) })
    if (!files || (r?.type !== 'offer' && r?.type !== 'chunk') || !isCount(r.height) || !isBytes(r.root, 32)) return encode({ error: 'bad request' })
    if (r.type === 'chunk') {
      const chunk = isCount(r.index) ? await files.chunk(r.height, r.root, r.index) : undefined
      return encode(chunk ? { chunk } : { error: 'no such chunk' })
    }
    const manifest = files.manifest(r.height, r.root)
    if (!manifest || !isCount(r.from) || r.from > manifest.height) return encode({ error: 'no such snapshot' })
    const signed = await this.deps.ledger.getSignedHeader(manifest.height)
    if (!signed) return encode({ error: 'no such snapshot' })
    const changes = await this.deps.ledger.setChangesBetween(r.from, manifest.height)
    if (changes.length > MAX_CHANGES) return encode({ error: 'too many set changes since that height: use a newer checkpoint' })
    return encode({ manifest: encodeManifest(manifest), header: signed.header, commit: signed.commit, changes })
  }
}

/** The peers state sync talks to (the p2p host's snapshot protocol). */
export interface StateSyncNetwork {
  peers(): string[]
  request(peer: string, request: Bytes, options: { timeoutMs: number }): Promise<Bytes>
  /** A peer that served a bad chunk or an unverifiable snapshot: disconnect and refuse it. */
  ban(peer: string, reason: string): Promise<void>
}

export type StateSyncPhase = 'off' | 'discovering' | 'verifying' | 'fetching' | 'restoring' | 'done' | 'failed'

export interface StateSyncProgress {
  readonly phase: StateSyncPhase
  /** Height of the snapshot being installed (0 before one is chosen). */
  readonly height: number
  readonly chunksDone: number
  readonly chunksTotal: number
  /** The peer whose offer is being installed. */
  readonly peer: string | null
}

export interface StateSyncOptions {
  readonly fetchers: number
  readonly discoveryTimeoutMs: number
  readonly requestTimeoutMs: number
  readonly limits: SnapshotLimits
}

interface Candidate {
  readonly height: number
  readonly root: Bytes
  readonly chunks: number
  readonly peers: string[]
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Joins a chain from a snapshot: asks peers what snapshots they have, light-verifies the header
 * of the best one from the trust anchor, fetches its chunks from every peer that offers it
 * (a few at a time), checks each against the manifest, and installs the state, which the ledger
 * rebuilds and compares with the verified header (ledger/snapshot.ts). A peer that serves a chunk
 * that does not match the manifest is banned and the chunk fetched from another; the peers that
 * offered a snapshot whose state does not rebuild to the verified root are banned together.
 */
export class StateSync {
  private state: StateSyncProgress = { phase: 'off', height: 0, chunksDone: 0, chunksTotal: 0, peer: null }
  private lastProgressLog = 0
  private readonly banned = new Set<string>()
  private stopped = false

  constructor(
    private readonly options: StateSyncOptions,
    private readonly deps: {
      ledger: Ledger
      network: StateSyncNetwork
      trust: Trust
      logger: Logger
      onChunk?: (result: 'ok' | 'bad' | 'failed') => void
    },
  ) {}

  get progress(): StateSyncProgress {
    return this.state
  }

  stop(): void {
    this.stopped = true
  }

  /** Runs until a snapshot is installed (true) or the discovery time runs out without one (false). */
  async run(): Promise<boolean> {
    const deadline = Date.now() + this.options.discoveryTimeoutMs
    this.set({ phase: 'discovering' })
    let settled = false
    while (!this.stopped && Date.now() < deadline) {
      if (this.peers().length === 0) {
        await sleep(250)
        continue
      }
      if (!settled) {
        // The first connection is rarely the only one: give the others a moment, so the chunks
        // are spread over every peer that offers the snapshot, not the first to answer.
        settled = true
        await sleep(DISCOVERY_SETTLE_MS)
      }
      for (const candidate of await this.discover()) {
        if (this.stopped) break
        if (await this.attempt(candidate)) {
          this.set({ phase: 'done' })
          return true
        }
        this.set({ phase: 'discovering', height: 0, chunksDone: 0, chunksTotal: 0, peer: null })
      }
      await sleep(500)
    }
    this.set({ phase: 'failed' })
    return false
  }

  private set(change: Partial<StateSyncProgress>): void {
    const before = this.state.phase
    this.state = { ...this.state, ...change }
    if (this.state.phase !== before) this.deps.logger.info({ stateSync: this.state }, `state sync: ${this.state.phase}`)
  }

  private peers(): string[] {
    return this.deps.network.peers().filter((p) => !this.banned.has(p))
  }

  private async ask(peer: string, request: Record<string, unknown>, maxBytes: number): Promise<Record<string, unknown>> {
    const bytes = await this.deps.network.request(peer, encode(request), { timeoutMs: this.options.requestTimeoutMs })
    const answer = decodeCanonical(bytes, maxBytes, 'SNAPSHOT_INVALID')
    if (answer === null || typeof answer !== 'object' || Array.isArray(answer)) throw new CertchainError('SNAPSHOT_INVALID', 'answer is not a map')
    return answer as Record<string, unknown>
  }

  private async ban(peer: string, reason: string): Promise<void> {
    // Fetchers run in parallel: two bad chunks from one peer in flight at once are one ban.
    if (this.banned.has(peer)) return
    this.banned.add(peer)
    this.deps.logger.warn({ peer, reason }, 'state sync: banning peer')
    await this.deps.network.ban(peer, reason).catch((err: unknown) => this.deps.logger.warn({ err, peer }, 'cannot ban peer'))
  }

  /** Snapshots offered by the peers, best first: the highest, then the most widely offered. */
  private async discover(): Promise<Candidate[]> {
    const found = new Map<string, { height: number; root: Bytes; chunks: number; peers: string[] }>()
    await Promise.all(
      this.peers().map(async (peer) => {
        try {
          const answer = await this.ask(peer, { type: 'list' }, 64 * 1024)
          const list = Array.isArray(answer.snapshots) ? (answer.snapshots as unknown[]).slice(0, MAX_LISTED) : []
          for (const s of list) {
            const { height, root, chunks } = (s ?? {}) as Record<string, unknown>
            if (!isCount(height) || !isBytes(root, 32) || !isCount(chunks) || chunks < 1 || chunks > this.options.limits.maxChunks) continue
            if (height <= this.deps.trust.height) continue
            const key = `${height}:${toHex(root)}`
            const entry = found.get(key) ?? { height, root, chunks, peers: [] }
            if (entry.chunks === chunks) entry.peers.push(peer)
            found.set(key, entry)
          }
        } catch (err) {
          this.deps.logger.debug({ err, peer }, 'state sync: no snapshot list')
        }
      }),
    )
    return [...found.values()].sort((a, b) => b.height - a.height || b.peers.length - a.peers.length)
  }

  /** Verifies one candidate's header through an offer, then fetches and installs it. */
  private async attempt(candidate: Candidate): Promise<boolean> {
    const { trust, ledger } = this.deps
    this.set({ phase: 'verifying', height: candidate.height, chunksTotal: candidate.chunks, chunksDone: 0 })
    this.lastProgressLog = Date.now()
    for (const peer of candidate.peers) {
      if (this.banned.has(peer)) continue
      let offer: { manifest: SnapshotManifest; signed: { header: BlockHeader; commit: Commit }; changes: ValidatorChange[] }
      try {
        offer = await this.offer(peer, candidate)
      } catch (err) {
        if (!isCertchainError(err)) {
          this.deps.logger.debug({ err, peer }, 'state sync: no offer')
          continue
        }
        await this.ban(peer, `bad snapshot offer: ${err.message}`)
        continue
      }
      const problem = followSets(trust, { ...offer.signed, validatorChanges: offer.changes })
      if (problem) {
        await this.ban(peer, `snapshot header does not verify: ${problem}`)
        continue
      }
      this.set({ peer })
      this.deps.logger.info({ height: candidate.height, root: toHex(candidate.root), chunks: candidate.chunks, peers: candidate.peers.length }, 'state sync: header verified')
      let restoring
      try {
        restoring = await ledger.restoreSnapshot(offer.manifest, offer.signed, this.options.limits)
      } catch (err) {
        if (!isCertchainError(err, 'SNAPSHOT_INVALID')) throw err
        await this.ban(peer, `manifest does not match the verified header: ${err.message}`)
        continue
      }
      this.set({ phase: 'fetching' })
      try {
        await this.fetch(candidate, (index, bytes) => restoring.restore.checkChunk(index, bytes), (index, bytes) => restoring.restore.apply(index, bytes))
        this.set({ phase: 'restoring' })
        // The set changes followed are verified headers: proofs of older certificates carry them.
        await restoring.finish(offer.changes.filter((c) => c.header.height > trust.height).map(({ header, commit }) => ({ header, commit })))
        this.deps.logger.info({ height: ledger.head.height, certificates: ledger.head.certificateCount, stateRoot: toHex(ledger.head.stateRoot) }, 'state sync: state installed and verified')
        return true
      } catch (err) {
        // What was applied is wiped now: the next attempt, or block sync from genesis, starts from an empty store.
        if (isCertchainError(err, 'SNAPSHOT_INVALID')) {
          await ledger.discardRestore()
          // Every chunk matched the manifest, so the manifest itself lies: all who offered it are at fault.
          for (const p of candidate.peers) await this.ban(p, `snapshot ${candidate.height} does not rebuild to the verified state: ${err.message}`)
          return false
        }
        if (isCertchainError(err, 'STATE_SYNC_FAILED')) {
          await ledger.discardRestore()
          this.deps.logger.warn({ err: err.message }, 'state sync: snapshot abandoned')
          return false
        }
        throw err
      }
    }
    return false
  }

  private async offer(peer: string, candidate: Candidate): Promise<{ manifest: SnapshotManifest; signed: { header: BlockHeader; commit: Commit }; changes: ValidatorChange[] }> {
    const limits = this.options.limits
    const answer = await this.ask(peer, { type: 'offer', height: candidate.height, root: candidate.root, from: this.deps.trust.height }, maxManifestBytes(limits) + 2 * 1024 * 1024)
    if (!isBytes(answer.manifest) || !Array.isArray(answer.changes) || answer.changes.length > MAX_CHANGES) {
      throw new CertchainError('SNAPSHOT_INVALID', typeof answer.error === 'string' ? answer.error : 'offer must be {manifest, header, commit, changes}')
    }
    const manifest = decodeManifest(answer.manifest, limits)
    if (manifest.height !== candidate.height || toHex(manifest.root) !== toHex(candidate.root) || manifest.chunks.length !== candidate.chunks) {
      throw new CertchainError('SNAPSHOT_INVALID', 'manifest is not the one listed')
    }
    try {
      const signed = { header: parseHeader(answer.header), commit: parseCommit(answer.commit) }
      const changes = (answer.changes as unknown[]).map((c): ValidatorChange => {
        const { header, commit, nextValidators } = (c ?? {}) as Record<string, unknown>
        if (!Array.isArray(nextValidators) || !nextValidators.every((v) => typeof (v as { id?: unknown })?.id === 'string' && isBytes((v as { publicKey?: unknown }).publicKey, 32))) {
          throw new CertchainError('SNAPSHOT_INVALID', 'a set change has a malformed next validator set')
        }
        return { header: parseHeader(header), commit: parseCommit(commit), nextValidators: nextValidators as ValidatorChange['nextValidators'] }
      })
      return { manifest, signed, changes }
    } catch (err) {
      if (isCertchainError(err, 'MALFORMED_BLOCK')) throw new CertchainError('SNAPSHOT_INVALID', err.message)
      throw err
    }
  }

  /**
   * Fetches every chunk, `fetchers` at a time over the offering peers in turn, and applies them
   * in order. A chunk that fails `check` bans the peer that served it and is fetched again from
   * another; a peer that does not answer is skipped for that chunk. No peer left: STATE_SYNC_FAILED.
   */
  private async fetch(candidate: Candidate, check: (index: number, bytes: Bytes) => boolean, apply: (index: number, bytes: Bytes) => Promise<void>): Promise<void> {
    const maxAnswer = this.options.limits.maxChunkBytes + 1024
    let turn = 0
    const fetchOne = async (index: number): Promise<Bytes> => {
      const tried = new Set<string>()
      let busy = 0
      for (;;) {
        if (this.stopped) throw new CertchainError('STATE_SYNC_FAILED', 'stopped')
        const providers = candidate.peers.filter((p) => !this.banned.has(p) && !tried.has(p) && this.deps.network.peers().includes(p))
        if (providers.length === 0) throw new CertchainError('STATE_SYNC_FAILED', `no peer left that serves chunk ${index} of snapshot ${candidate.height}`)
        const peer = providers[turn++ % providers.length]!
        tried.add(peer)
        let chunk: unknown
        try {
          chunk = (await this.ask(peer, { type: 'chunk', height: candidate.height, root: candidate.root, index }, maxAnswer)).chunk
        } catch (err) {
          if (isP2PError(err, 'P2P_BUSY') && busy < MAX_BUSY_WAITS) {
            tried.delete(peer)
            await sleep(Math.min(2000, 50 * 2 ** Math.min(busy++, 6)))
            continue
          }
          this.deps.onChunk?.('failed')
          this.deps.logger.debug({ err, peer, index }, 'state sync: chunk request failed')
          continue
        }
        if (isBytes(chunk) && check(index, chunk)) {
          this.deps.onChunk?.('ok')
          return chunk
        }
        this.deps.onChunk?.('bad')
        await this.ban(peer, `served chunk ${index} of snapshot ${candidate.height} that does not match its manifest`)
      }
    }
    const total = candidate.chunks
    for (let start = 0; start < total; start += this.options.fetchers) {
      const window = Array.from({ length: Math.min(this.options.fetchers, total - start) }, (_, i) => fetchOne(start + i))
      const chunks = await Promise.all(window)
      for (const [i, bytes] of chunks.entries()) {
        await apply(start + i, bytes)
        this.set({ chunksDone: start + i + 1 })
      }
      if (Date.now() - this.lastProgressLog >= PROGRESS_LOG_MS || this.state.chunksDone === total) {
        this.lastProgressLog = Date.now()
        this.deps.logger.info({ height: candidate.height, chunksDone: this.state.chunksDone, chunksTotal: total }, 'state sync: chunks applied')
      }
    }
  }
}
