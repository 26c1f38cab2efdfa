import type { Logger } from 'pino'
import type { Bytes } from '../core/bytes.js'
import { decodeFinalizedBlock } from '../core/block.js'
import { decodeCanonical, encode } from '../core/encoding.js'
import { CertchainError, isCertchainError } from '../core/errors.js'
import type { Ledger } from '../ledger/index.js'
import type { ConsensusEngine } from './engine.js'
import { verifyCommit } from './messages.js'

/** The peers sync talks to (the p2p host, behind an interface). */
export interface SyncNetwork {
  peers(): string[]
  request(peer: string, request: Bytes, options: { timeoutMs: number }): Promise<Bytes>
  /** A peer that served invalid blocks or lied about its height: disconnect and refuse it. */
  ban(peer: string, reason: string): Promise<void>
  /**
   * A peer whose answer of `bytes` bytes is not an answer (`code` says why): charge it as a
   * rejected gossip message; the p2p host disconnects it at its penalty limit.
   */
  penalize(peer: string, code: string, bytes: number): void
}

export interface SyncOptions {
  /** Blocks asked for in one request. */
  readonly batchBlocks: number
  /** Largest response served (bounded by the network's frame limit). */
  readonly maxResponseBytes: number
  /** How often peers are asked for their height while nothing else says we are behind. */
  readonly pollIntervalMs: number
  readonly requestTimeoutMs: number
}

export const DEFAULT_SYNC_OPTIONS: SyncOptions = Object.freeze({
  batchBlocks: 100,
  maxResponseBytes: 3 * 1024 * 1024,
  pollIntervalMs: 2000,
  requestTimeoutMs: 10_000,
})

type SyncRequest = { type: 'status' } | { type: 'blocks'; from: number; count: number }

const MAX_REQUEST_BYTES = 1024
const PROGRESS_LOG_MS = 5000

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

function malformed(what: string): never {
  throw new CertchainError('MALFORMED_SYNC_RESPONSE', `sync answer: ${what}`)
}

/**
 * A peer's answer to `status`: its height. Throws a CertchainError (MALFORMED_SYNC_RESPONSE for
 * a wrong shape, the decoder's code for bytes that are not canonical DAG-CBOR).
 */
export function decodeStatusAnswer(bytes: Bytes): { height: number; base: number } {
  const answer = decodeCanonical(bytes, MAX_REQUEST_BYTES, 'MALFORMED_SYNC_RESPONSE')
  if (!isRecord(answer)) malformed('a status answer is not a map')
  const { height, base = 1 } = answer
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 0) malformed('a status answer without a height')
  // `base` is absent in answers of nodes that never prune (before pruning existed): they hold every block.
  if (typeof base !== 'number' || !Number.isSafeInteger(base) || base < 1) malformed('a status answer with a base that is not a height')
  return { height, base }
}

/**
 * A peer's answer to `blocks`: at most `maxBlocks` encoded finalized blocks (each is decoded and
 * its commit checked after). Throws a CertchainError as {@link decodeStatusAnswer} does.
 */
export function decodeBlocksAnswer(bytes: Bytes, maxBytes: number, maxBlocks: number): Bytes[] {
  const answer = decodeCanonical(bytes, maxBytes, 'MALFORMED_SYNC_RESPONSE')
  if (!isRecord(answer)) malformed('a blocks answer is not a map')
  const { blocks } = answer
  if (!Array.isArray(blocks)) malformed('a blocks answer without a list of blocks')
  if (blocks.length > maxBlocks) malformed(`${blocks.length} blocks for a request of ${maxBlocks}`)
  if (!blocks.every((b): b is Bytes => b instanceof Uint8Array)) malformed('a block that is not bytes')
  return blocks
}

/**
 * Block sync over request/response: a node that is behind (restarted, new, back from a partition)
 * asks peers for their height, fetches blocks with their commits, checks each commit against the
 * validator set of its own height, and hands them to the consensus engine, which executes and
 * commits them in its single loop. A peer that serves an invalid block or claims a height it
 * cannot serve is banned.
 */
export class BlockSync {
  private timer: NodeJS.Timeout | undefined
  private running = false
  private active: Promise<void> | undefined
  private target = 0
  /** Highest height that consensus messages of later heights showed we are missing. */
  private missed = 0
  private lastProgressLog = 0

  constructor(
    private readonly options: SyncOptions,
    private readonly deps: { ledger: Ledger; engine: ConsensusEngine; network: SyncNetwork; logger: Logger; maxBlockBytes: number },
  ) {}

  /** True while a peer is known to be more than one block ahead. */
  get catchingUp(): boolean {
    return this.target > this.deps.ledger.head.height + 1
  }

  get targetHeight(): number {
    return Math.max(this.target, this.deps.ledger.head.height)
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.schedule(0)
  }

  async stop(): Promise<void> {
    this.running = false
    clearTimeout(this.timer)
    await this.active
  }

  /** Something (a future consensus message, a gossiped block) says we are behind `height`. */
  behind(height: number): void {
    if (height > this.target) this.target = height
    if (height > this.missed) this.missed = height
    if (!this.active) this.schedule(0)
  }

  /** Serves a peer's request. */
  async handle(request: Bytes): Promise<Bytes> {
    const r = decodeCanonical(request, MAX_REQUEST_BYTES, 'MALFORMED_ENCODING') as SyncRequest
    // `base`: heights below it were pruned here (or never held, after a state sync); peers fetch them elsewhere.
    if (r?.type === 'status') return encode({ height: this.deps.ledger.head.height, base: this.deps.ledger.base })
    if (r?.type !== 'blocks' || !Number.isSafeInteger(r.from) || !Number.isSafeInteger(r.count) || r.from < 1) {
      return encode({ error: 'bad request' })
    }
    const blocks: Bytes[] = []
    if (r.from < this.deps.ledger.base) return encode({ blocks, base: this.deps.ledger.base })
    let size = 0
    const last = Math.min(this.deps.ledger.head.height, r.from + Math.min(r.count, this.options.batchBlocks) - 1)
    for (let h = r.from; h <= last; h++) {
      const bytes = await this.deps.ledger.getBlockBytes(h)
      if (!bytes || (blocks.length > 0 && size + bytes.length > this.options.maxResponseBytes)) break
      blocks.push(bytes)
      size += bytes.length
    }
    return encode({ blocks })
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer)
    if (!this.running) return
    this.timer = setTimeout(() => {
      this.active = this.round()
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'sync round failed'))
        .finally(() => {
          this.active = undefined
          this.schedule(this.catchingUp ? 0 : this.options.pollIntervalMs)
        })
    }, ms)
  }

  private async round(): Promise<void> {
    const { network, ledger } = this.deps
    const heights = await Promise.all(
      network.peers().map(async (peer) => {
        let answer: Bytes
        try {
          answer = await network.request(peer, encode({ type: 'status' }), { timeoutMs: this.options.requestTimeoutMs })
        } catch {
          // Unreachable, busy or slow: not a fault of the peer's that we can prove.
          return { peer, height: 0 }
        }
        try {
          const { height, base } = decodeStatusAnswer(answer)
          // A peer without the next block's body (pruned) cannot serve it: only peers that can count.
          return { peer, height: base <= ledger.head.height + 1 ? height : 0 }
        } catch (err) {
          if (!isCertchainError(err)) throw err
          this.refuse(peer, err, answer.length)
          return { peer, height: 0 }
        }
      }),
    )
    const best = heights.sort((a, b) => b.height - a.height)[0]
    if (!best) return
    const head = ledger.head.height
    // Consensus messages of a later height told us we missed a block: fetch it even if it is
    // only one (the peers have moved on and will not re-send its votes; seen after a partition).
    const hinted = this.missed > head
    this.target = best.height
    // Otherwise one block behind is normal during a height; consensus itself closes it.
    if (best.height <= head || (best.height === head + 1 && !hinted)) return
    await this.fetchFrom(best.peer, best.height)
  }

  private async fetchFrom(peer: string, claimed: number): Promise<void> {
    const { network, ledger, engine } = this.deps
    while (this.running && ledger.head.height < claimed) {
      const from = ledger.head.height + 1
      const bytes = await network.request(peer, encode({ type: 'blocks', from, count: this.options.batchBlocks }), {
        timeoutMs: this.options.requestTimeoutMs,
      })
      let blocks: Bytes[]
      try {
        blocks = decodeBlocksAnswer(bytes, this.options.maxResponseBytes + 1024, this.options.batchBlocks)
      } catch (err) {
        if (!isCertchainError(err)) throw err
        this.refuse(peer, err, bytes.length)
        return
      }
      if (blocks.length === 0) {
        await network.ban(peer, `claimed height ${claimed} but served no block from ${from}`)
        return
      }
      let expected = from
      for (const raw of blocks) {
        // The validators of height h are known once block h - 2 is committed (governance changes
        // take effect two heights later): let the blocks handed over so far execute first.
        if (expected > ledger.head.height + 2) {
          await engine.settled()
          if (ledger.head.height < expected - 2) break
        }
        let problem: string | undefined
        try {
          const { block, commit } = decodeFinalizedBlock(raw, this.deps.maxBlockBytes + 1024 * 1024)
          if (block.header.height !== expected) problem = `served height ${block.header.height} for ${expected}`
          else problem = verifyCommit(ledger.chainId, ledger.validators(expected), block, commit)
          if (!problem) engine.receiveCommit(block, commit)
        } catch (err) {
          if (!isCertchainError(err)) throw err
          problem = err.message
        }
        if (problem) {
          await network.ban(peer, `invalid block: ${problem}`)
          return
        }
        expected++
      }
      await engine.settled()
      if (ledger.head.height < expected - 1) {
        // Commits verified but the blocks did not execute here: never retry them from this peer.
        await network.ban(peer, `blocks up to ${expected - 1} have valid commits but do not execute`)
        return
      }
      this.logProgress(claimed)
    }
  }

  /** A malformed answer: charged to the peer, and this round asks it nothing more. */
  private refuse(peer: string, err: CertchainError, bytes: number): void {
    this.deps.logger.warn({ peer, code: err.code, reason: err.message }, 'malformed sync answer; peer penalized')
    this.deps.network.penalize(peer, err.code, bytes)
  }

  private logProgress(target: number): void {
    const now = Date.now()
    if (now - this.lastProgressLog < PROGRESS_LOG_MS && this.deps.ledger.head.height < target) return
    this.lastProgressLog = now
    this.deps.logger.info({ height: this.deps.ledger.head.height, target }, 'catching up')
  }
}
