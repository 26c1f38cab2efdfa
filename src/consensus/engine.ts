import type { Logger } from 'pino'
import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { blockHash } from '../core/block.js'
import { verify } from '../core/crypto.js'
import type { ValidatorInfo } from '../core/genesis.js'
import type { Block, Commit } from '../core/types.js'
import {
  hashKey,
  proposalSignBytes,
  signBytesOf,
  verifyCommit,
  voteSignBytes,
  type ConsensusMessage,
  type Proposal,
  type SignStep,
  type Vote,
  type VoteType,
} from './messages.js'
import { VoteSet, honestThreshold, quorum, type Equivocation } from './vote-set.js'

/** What consensus needs from the ledger: it orders blocks, the application builds and executes them. */
export interface ConsensusApp {
  readonly chainId: string
  /** Height of the last committed block. */
  committedHeight(): number
  /** Validators of a height, in proposer-rotation order (sorted by public key). */
  validators(height: number): readonly ValidatorInfo[]
  /** Timing the chain sets for a height (governance); absent fields keep the engine's options. */
  timing?(height: number): Partial<EngineOptions>
  /** Builds the block to propose at `height` from pending transactions. */
  createBlock(height: number, proposer: string): Promise<Block>
  /** Executes a proposed block on the committed state; false if any rule fails. Cached per hash. */
  validateBlock(block: Block): Promise<boolean>
  /**
   * Whether a newly proposed block's time is close enough to this validator's clock to prevote
   * for it (the lower bound on block time: see README, "Block time"). Asked only for proposals
   * without a proof-of-lock round; a re-proposed block keeps its time. Absent: every time is.
   */
  isTimely?(block: Block): boolean
  /** Makes a decided block durable with its commit. */
  commitBlock(block: Block, commit: Commit): Promise<void>
  hasPendingTxs(): boolean
}

/**
 * Signs consensus messages; answers null when that would double-sign (see SignerGuard). Known by
 * its public key: governance may add it to (or remove it from) the validator set at any height.
 */
export interface ConsensusSigner {
  readonly publicKey: Bytes
  /**
   * Signs; `lock` is this validator's lock at the moment of signing, made durable together with
   * the signature, so a restarted validator cannot forget a lock its precommit depends on.
   */
  sign(height: number, round: number, step: SignStep, signBytes: Bytes, lock?: Lock): Promise<Bytes | null>
  /** The lock persisted with the last signature (restored when the engine starts that height). */
  readonly lock?: Lock | undefined
}

/** A validator's lock (Tendermint's lockedValue/lockedRound) at one height. */
export interface Lock {
  readonly height: number
  readonly round: number
  readonly blockHash: Bytes
}

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
}

export interface EngineOptions {
  readonly timeoutProposeMs: number
  readonly timeoutPrevoteMs: number
  readonly timeoutPrecommitMs: number
  /** Added to every timeout per round, so rounds get longer until the network keeps up. */
  readonly timeoutDeltaMs: number
  /** Shortest time between two blocks while transactions are pending. */
  readonly blockIntervalMs: number
  /** Longest time without a block: then an empty one is proposed so verifiers see the chain alive. */
  readonly heartbeatIntervalMs: number
  /** Own messages of the height in progress are re-sent this often (gossip is best-effort). */
  readonly gossipIntervalMs: number
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = Object.freeze({
  timeoutProposeMs: 3000,
  timeoutPrevoteMs: 1000,
  timeoutPrecommitMs: 1000,
  timeoutDeltaMs: 500,
  blockIntervalMs: 100,
  heartbeatIntervalMs: 10_000,
  gossipIntervalMs: 1000,
})

export interface EngineDeps {
  readonly app: ConsensusApp
  /** Absent on member nodes: they follow votes and commits but never sign. */
  readonly signer?: ConsensusSigner
  readonly broadcast: (message: ConsensusMessage) => void
  /** Re-sends the last decided block with its commit, for peers that missed the final votes. */
  readonly broadcastCommit?: (block: Block, commit: Commit) => void
  /** Record of a message of the height in progress, for resuming after a restart. */
  readonly record?: (message: ConsensusMessage, own: boolean) => Promise<void>
  /**
   * Durable record of a block this validator is about to propose, written before the proposal is
   * signed: a validator restarted between signing and sending proposes the same block again
   * (the signer guard would refuse any other), instead of sitting out its turn.
   */
  readonly recordDraft?: (height: number, round: number, block: Block) => Promise<void>
  readonly onEquivocation?: (evidence: Equivocation) => void
  readonly onCommit?: (block: Block, commit: Commit) => void
  /** Messages from a later height arrived: this node is behind and should sync up to `height`. */
  readonly onBehind?: (height: number) => void
  readonly logger: Logger
  readonly clock?: Clock
}

type Step = 'waiting' | 'propose' | 'prevote' | 'precommit'

/** A block built to be proposed at (its height, round). */
export interface Draft {
  readonly round: number
  readonly block: Block
}

export type MessageCheck = { ok: true } | { ok: false; reject: boolean; code: string; reason: string }

interface RoundVotes {
  readonly prevotes: VoteSet
  readonly precommits: VoteSet
  /** The first proposal received: the one this validator prevotes on (lines 22, 28). */
  proposal?: Proposal
  /**
   * Every distinct block proposed in the round (bounded). A Byzantine proposer can send different
   * blocks to different validators; whichever gets 2f+1 votes must still be found here.
   */
  readonly proposed: Map<string, Proposal>
}

const MAX_PROPOSALS_PER_ROUND = 4

type EngineEvent =
  | { readonly kind: 'message'; readonly message: ConsensusMessage; readonly replayed?: boolean }
  | { readonly kind: 'timeout'; readonly height: number; readonly round: number; readonly step: 'propose' | 'prevote' | 'precommit' }
  | { readonly kind: 'start-round'; readonly height: number; readonly round: number }
  | { readonly kind: 'commit'; readonly block: Block; readonly commit: Commit }

/**
 * Messages of the next height kept while this node finishes its own, per validator: enough for
 * a proposal of the largest block and a few rounds of votes, so the buffer is bounded by bytes
 * per signer (n validators: at most n times this), not by a message count one signer can fill.
 */
export const FUTURE_BYTES_PER_VALIDATOR = 4 * 1024 * 1024 + 64 * 1024
export const FUTURE_MESSAGES_PER_VALIDATOR = 32
/** What a buffered message costs against the budget: its transactions plus a fixed envelope. */
const MESSAGE_ENVELOPE_BYTES = 512

function messageBytes(message: ConsensusMessage): number {
  return message.type === 'proposal' ? message.block.txs.reduce((n, tx) => n + tx.length, MESSAGE_ENVELOPE_BYTES) : MESSAGE_ENVELOPE_BYTES
}
/**
 * A decided block can be megabytes; re-sending it every gossip interval for as long as the chain
 * is idle would cost every node that much each time. A few re-sends cover lost final votes.
 */
const LAST_DECIDED_RESENDS = 3

/**
 * Tendermint consensus ("The latest gossip on BFT consensus", Buchman, Kwon, Milosevic 2018) with
 * equal-weight validators and proposer(h, r) = validators[(h + r) mod n]. One loop owns the round
 * state; peer messages, own messages and timeouts are events processed one at a time, in order.
 * Rule comments cite the line numbers of Algorithm 1 in the paper.
 */
export class ConsensusEngine {
  private readonly clock: Clock
  private readonly queue: EngineEvent[] = []
  private draining = false
  private running = false
  private timers = new Set<unknown>()
  private gossipTimer: unknown

  private height = 0
  private round = 0
  private step: Step = 'waiting'
  private validatorSet: readonly ValidatorInfo[] = []
  /** This validator's id in the set of the height in progress; undefined while not in it. */
  private me: string | undefined
  /** Options with the chain's timing for the height in progress applied. */
  private timing: EngineOptions
  private lockedHash: Bytes | undefined
  private lockedRound = -1
  private validBlock: Block | undefined
  private validRound = -1
  /** Rounds up to round + 1 only (as CometBFT keeps them); later ones are summarized in farRounds. */
  private rounds = new Map<number, RoundVotes>()
  /**
   * The highest round beyond round + 1 that each validator sent a signed message for. Only this
   * is kept of such messages (not the message, not in the WAL): it is what the round skip needs
   * (f + 1 validators beyond our round), and it is bounded by one number per validator however
   * many rounds a Byzantine validator signs. Honest validators re-send their own messages, so
   * the messages of the round we skip to arrive again.
   */
  private farRounds = new Map<string, number>()
  private own: ConsensusMessage[] = []
  private firstPrevoteQuorum = new Set<number>()
  private timeoutPrevoteScheduled = new Set<number>()
  private timeoutPrecommitScheduled = new Set<number>()
  private future: ConsensusMessage[] = []
  private futureUse = new Map<string, { bytes: number; messages: number }>()
  private lastCommitAt = 0
  private firstRoundAt = Infinity
  private lastDecided: { block: Block; commit: Commit } | undefined
  /** Re-sends of the last decided block left: it helps peers that missed the final votes just now; later ones sync. */
  private lastDecidedResends = 0
  /** Blocks this validator built to propose at the height in progress, by round. */
  private drafts = new Map<number, Block>()
  private idle: Promise<void> = Promise.resolve()
  private resolveIdle: (() => void) | undefined

  constructor(
    private readonly options: EngineOptions,
    private readonly deps: EngineDeps,
  ) {
    this.clock = deps.clock ?? systemClock
    this.timing = options
  }

  /** Validator id this node signs as at the height in progress (undefined: following only). */
  get validatorId(): string | undefined {
    return this.me
  }

  get status(): { height: number; round: number; step: Step } {
    return { height: this.height, round: this.round, step: this.step }
  }

  /** What the engine holds for the heights in progress and next (bounded; see README, "Security model"). */
  get load(): { rounds: number; farRounds: number; futureMessages: number; futureBytes: number } {
    let futureBytes = 0
    for (const use of this.futureUse.values()) futureBytes += use.bytes
    return { rounds: this.rounds.size, farRounds: this.farRounds.size, futureMessages: this.future.length, futureBytes }
  }

  /** Resolves when no event is being processed (tests step a simulated network with it). */
  settled(): Promise<void> {
    return this.idle
  }

  /** Starts at the height after the last committed block, first replaying what the WAL recorded. */
  start(replay: { readonly messages?: readonly ConsensusMessage[]; readonly drafts?: readonly Draft[] } = {}): void {
    if (this.running) return
    this.running = true
    this.lastCommitAt = this.clock.now()
    this.enterHeight(this.deps.app.committedHeight() + 1)
    for (const draft of replay.drafts ?? []) if (draft.block.header.height === this.height) this.drafts.set(draft.round, draft.block)
    for (const message of replay.messages ?? []) if (message.height === this.height) this.push({ kind: 'message', message, replayed: true })
    this.gossipTimer = this.clock.setTimeout(() => this.gossip(), this.options.gossipIntervalMs)
  }

  /** Stops timers and waits for the event being processed (never interrupts a commit). */
  async stop(): Promise<void> {
    this.running = false
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.timers.clear()
    this.clock.clearTimeout(this.gossipTimer)
    this.queue.length = 0
    await this.idle
  }

  /**
   * Gossip validation of a consensus message (chain logic; p2p maps the answer): reject when
   * malformed or badly signed or not from a validator; ignore when stale or too far ahead.
   */
  check(message: ConsensusMessage): MessageCheck {
    if (message.height < this.height) return { ok: false, reject: false, code: 'stale', reason: 'stale height' }
    if (message.height > this.height + 1) return { ok: false, reject: false, code: 'ahead', reason: 'height too far ahead' }
    const validators = this.deps.app.validators(message.height)
    const validator = validators.find((v) => v.id === message.validator)
    if (!validator) return { ok: false, reject: true, code: 'not_validator', reason: `"${message.validator}" is not a validator at height ${message.height}` }
    // Field checks before the signature (the signature before any work on a proposal's body).
    if (message.type === 'proposal') {
      const expected = this.proposer(message.height, message.round, validators)
      if (message.validator !== expected.id) return { ok: false, reject: true, code: 'not_proposer', reason: `not the proposer of round ${message.round}` }
      if (message.block.header.height !== message.height) return { ok: false, reject: true, code: 'malformed', reason: 'block height differs' }
      if (message.polRound >= message.round) return { ok: false, reject: true, code: 'malformed', reason: 'polRound must be below round' }
    }
    if (!verify(validator.publicKey, signBytesOf(this.deps.app.chainId, message), message.sig)) {
      return { ok: false, reject: true, code: 'bad_signature', reason: 'bad signature' }
    }
    return { ok: true }
  }

  /** A message that passed {@link check} (peers, or the WAL on restart). */
  receive(message: ConsensusMessage): void {
    this.push({ kind: 'message', message })
  }

  /**
   * A decided block with its commit, from a peer that is ahead (catch-up). Applied if it is for
   * the height in progress, its commit verifies against that height's validators, and it executes.
   */
  receiveCommit(block: Block, commit: Commit): void {
    this.push({ kind: 'commit', block, commit })
  }

  /** The mempool got transactions: a waiting height can start its round sooner. */
  txsAvailable(): void {
    if (this.step === 'waiting' && this.running) this.scheduleFirstRound()
  }

  proposer(height: number, round: number, validators = this.deps.app.validators(height)): ValidatorInfo {
    return validators[(height + round) % validators.length]!
  }

  // ---- event loop ---------------------------------------------------------------------------

  private push(event: EngineEvent): void {
    if (!this.running) return
    this.queue.push(event)
    if (!this.draining) {
      this.draining = true
      this.idle = new Promise((resolve) => (this.resolveIdle = resolve))
      void this.drain()
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.running) {
        const event = this.queue.shift()!
        try {
          await this.handle(event)
        } catch (err) {
          this.deps.logger.error({ err, event: event.kind, height: this.height, round: this.round }, 'consensus event failed')
        }
      }
    } finally {
      this.draining = false
      this.resolveIdle?.()
    }
  }

  private async handle(event: EngineEvent): Promise<void> {
    switch (event.kind) {
      case 'start-round':
        if (event.height === this.height && (this.step === 'waiting' || event.round > this.round)) await this.startRound(event.round)
        break
      case 'timeout':
        await this.onTimeout(event.height, event.round, event.step)
        break
      case 'message':
        await this.onMessage(event.message, event.replayed ?? false)
        break
      case 'commit':
        await this.onCommitReceived(event.block, event.commit)
        break
    }
    await this.applyRules()
  }

  private async onMessage(message: ConsensusMessage, replayed: boolean): Promise<void> {
    if (message.height < this.height) return
    if (message.height > this.height) {
      this.buffer(message)
      this.deps.onBehind?.(message.height - 1)
      return
    }
    // Replayed messages were bounded when first recorded; they restore the round we were in.
    if (message.round > this.round + 1 && !replayed) {
      if (message.round > (this.farRounds.get(message.validator) ?? -1)) this.farRounds.set(message.validator, message.round)
      // Others have started this height; the round skip (applyRules) decides whether to follow.
      if (this.step === 'waiting') await this.startRound(0)
      return
    }
    const votes = this.roundVotes(message.round)
    if (message.type === 'proposal') {
      const key = hashKey(blockHash(message.block.header))
      if (votes.proposed.has(key) || votes.proposed.size >= MAX_PROPOSALS_PER_ROUND) return
      votes.proposed.set(key, message)
      votes.proposal ??= message
    } else {
      const set = message.type === 'prevote' ? votes.prevotes : votes.precommits
      const { added, equivocation } = set.add(message)
      if (equivocation) {
        this.deps.logger.warn(
          { validator: message.validator, height: message.height, round: message.round, type: message.type },
          'equivocation: conflicting votes from one validator',
        )
        this.deps.onEquivocation?.(equivocation)
      }
      if (!added) return
    }
    const mine = this.me !== undefined && message.validator === this.me
    // Our own messages come back only from the WAL after a restart: keep re-sending them.
    if (mine) this.own.push(message)
    if (!replayed) await this.deps.record?.(message, mine)
    // A proposal or vote for this height ends the wait for transactions: others have started.
    if (this.step === 'waiting') await this.startRound(0)
  }

  /** Keeps a next-height message within its validator's byte and message budget. */
  private buffer(message: ConsensusMessage): void {
    const use = this.futureUse.get(message.validator) ?? { bytes: 0, messages: 0 }
    const bytes = messageBytes(message)
    if (use.messages >= FUTURE_MESSAGES_PER_VALIDATOR || use.bytes + bytes > FUTURE_BYTES_PER_VALIDATOR) return
    this.futureUse.set(message.validator, { bytes: use.bytes + bytes, messages: use.messages + 1 })
    this.future.push(message)
  }

  private async onCommitReceived(block: Block, commit: Commit): Promise<void> {
    if (block.header.height > this.height) this.deps.onBehind?.(block.header.height)
    if (block.header.height !== this.height) return
    const problem = verifyCommit(this.deps.app.chainId, this.validatorSet, block, commit)
    if (problem) {
      this.deps.logger.warn({ height: this.height, problem }, 'ignored an invalid commit')
      return
    }
    if (!(await this.deps.app.validateBlock(block))) {
      this.deps.logger.error({ height: this.height }, 'a block with a valid commit does not execute here')
      return
    }
    await this.finalize(block, commit)
  }

  private async onTimeout(height: number, round: number, step: 'propose' | 'prevote' | 'precommit'): Promise<void> {
    if (height !== this.height || round !== this.round) return
    if (step === 'propose' && this.step === 'propose') await this.vote('prevote', null) // line 57
    else if (step === 'prevote' && this.step === 'prevote') await this.vote('precommit', null) // line 61
    else if (step === 'precommit') await this.startRound(round + 1) // line 65
  }

  // ---- the algorithm ------------------------------------------------------------------------

  private enterHeight(height: number): void {
    this.height = height
    this.round = 0
    this.step = 'waiting'
    this.validatorSet = this.deps.app.validators(height)
    const signer = this.deps.signer
    this.me = signer && this.validatorSet.find((v) => bytesEqual(v.publicKey, signer.publicKey))?.id
    this.timing = { ...this.options, ...this.deps.app.timing?.(height) }
    const lock = this.deps.signer?.lock
    // A lock persisted with our last signature at this height survives a restart (and a lost WAL).
    this.lockedHash = lock?.height === height ? lock.blockHash : undefined
    this.lockedRound = lock?.height === height ? lock.round : -1
    this.validBlock = undefined
    this.validRound = -1
    this.rounds = new Map()
    this.farRounds = new Map()
    this.own = []
    this.firstPrevoteQuorum = new Set()
    this.timeoutPrevoteScheduled = new Set()
    this.timeoutPrecommitScheduled = new Set()
    this.firstRoundAt = Infinity
    this.drafts = new Map()
    const future = this.future
    this.future = []
    this.futureUse = new Map()
    this.scheduleFirstRound()
    for (const message of future) if (message.height >= height) this.push({ kind: 'message', message })
  }

  /** Round 0 waits for transactions (at most one block per interval) or for the heartbeat. */
  private scheduleFirstRound(): void {
    const height = this.height
    const interval = this.deps.app.hasPendingTxs() ? this.timing.blockIntervalMs : this.timing.heartbeatIntervalMs
    const now = this.clock.now()
    const at = Math.max(now, this.lastCommitAt + interval)
    if (at >= this.firstRoundAt) return
    this.firstRoundAt = at
    this.after(at - now, () => this.push({ kind: 'start-round', height, round: 0 }))
  }

  private async startRound(round: number): Promise<void> {
    // line 11
    this.round = round
    this.step = 'propose'
    const proposer = this.proposer(this.height, round, this.validatorSet)
    this.deps.logger.debug({ height: this.height, round, proposer: proposer.id }, 'new round')
    if (this.deps.signer && proposer.id === this.me) {
      const block = this.validBlock ?? this.drafts.get(round) ?? (await this.draft(round, proposer.id))
      const polRound = this.validBlock ? this.validRound : -1
      const sig = await this.deps.signer.sign(
        this.height,
        round,
        'proposal',
        proposalSignBytes(this.deps.app.chainId, this.height, round, polRound, blockHash(block.header)),
        this.currentLock(),
      )
      if (sig) {
        const proposal: Proposal = { type: 'proposal', height: this.height, round, polRound, block, validator: proposer.id, sig }
        await this.sendOwn(proposal)
        const votes = this.roundVotes(round)
        votes.proposed.set(hashKey(blockHash(block.header)), proposal)
        votes.proposal ??= proposal
      }
    }
    const { height } = this
    this.after(this.timeout(this.timing.timeoutProposeMs, round), () => this.push({ kind: 'timeout', height, round, step: 'propose' }))
  }

  private async draft(round: number, proposer: string): Promise<Block> {
    const block = await this.deps.app.createBlock(this.height, proposer)
    await this.deps.recordDraft?.(this.height, round, block)
    this.drafts.set(round, block)
    return block
  }

  private async applyRules(): Promise<void> {
    // Re-evaluate until nothing changes: one event can enable several rules in turn.
    for (let changed = true; changed && this.running && this.step !== 'waiting'; ) {
      changed = await this.applyOnce()
    }
  }

  private async applyOnce(): Promise<boolean> {
    const n = this.validatorSet.length
    const q = quorum(n)
    const current = this.roundVotes(this.round)
    const proposal = current.proposal
    const before = `${this.height}/${this.round}/${this.step}`

    // line 49: a block with 2f+1 precommits in any round is decided.
    for (const [r, votes] of this.rounds) {
      const key = votes.precommits.majority(q)
      const decided = key === undefined ? undefined : votes.proposed.get(key)
      if (decided && (await this.deps.app.validateBlock(decided.block))) {
        await this.decide(decided.block, r, votes.precommits.votesFor(key!))
        return true
      }
    }

    if (proposal && this.step === 'propose') {
      const hash = blockHash(proposal.block.header)
      if (proposal.polRound === -1) {
        // line 22
        const timely = this.deps.app.isTimely?.(proposal.block) ?? true
        const ok = timely && (await this.deps.app.validateBlock(proposal.block)) && (this.lockedRound === -1 || this.isLocked(hash))
        await this.vote('prevote', ok ? hash : null)
      } else if (proposal.polRound < this.round) {
        // line 28
        const pol = this.rounds.get(proposal.polRound)
        if (pol && pol.prevotes.count(toHex(hash)) >= q) {
          const ok = (await this.deps.app.validateBlock(proposal.block)) && (this.lockedRound <= proposal.polRound || this.isLocked(hash))
          await this.vote('prevote', ok ? hash : null)
        }
      }
    }

    // line 34
    if (this.step === 'prevote' && current.prevotes.size >= q && !this.timeoutPrevoteScheduled.has(this.round)) {
      this.timeoutPrevoteScheduled.add(this.round)
      const { height, round } = this
      this.after(this.timeout(this.timing.timeoutPrevoteMs, round), () => this.push({ kind: 'timeout', height, round, step: 'prevote' }))
    }

    // line 36
    const polKey = current.prevotes.majority(q)
    const pol = polKey === undefined ? undefined : current.proposed.get(polKey)
    if (pol && (this.step === 'prevote' || this.step === 'precommit') && !this.firstPrevoteQuorum.has(this.round)) {
      if (await this.deps.app.validateBlock(pol.block)) {
        this.firstPrevoteQuorum.add(this.round)
        if (this.step === 'prevote') {
          this.lockedHash = blockHash(pol.block.header)
          this.lockedRound = this.round
          await this.vote('precommit', blockHash(pol.block.header))
        }
        this.validBlock = pol.block
        this.validRound = this.round
      }
    }

    // line 44
    if (this.step === 'prevote' && current.prevotes.count('nil') >= q) await this.vote('precommit', null)

    // line 47
    if (current.precommits.size >= q && !this.timeoutPrecommitScheduled.has(this.round)) {
      this.timeoutPrecommitScheduled.add(this.round)
      const { height, round } = this
      this.after(this.timeout(this.timing.timeoutPrecommitMs, round), () => this.push({ kind: 'timeout', height, round, step: 'precommit' }))
    }

    // line 55: f+1 validators are already in a later round: join them.
    const skipTo = this.skipRound(honestThreshold(n))
    if (skipTo !== undefined) await this.startRound(skipTo)
    return `${this.height}/${this.round}/${this.step}` !== before
  }

  /**
   * The round to skip to when at least `threshold` (f + 1) validators sent messages of rounds
   * after ours: the highest round that that many of them have reached (line 55 for round + 1;
   * beyond it, only each validator's highest round is known, see farRounds).
   */
  private skipRound(threshold: number): number | undefined {
    const highest = new Map<string, number>()
    const saw = (validator: string, round: number): void => {
      if (round > this.round && round > (highest.get(validator) ?? -1)) highest.set(validator, round)
    }
    for (const [validator, round] of this.farRounds) saw(validator, round)
    for (const [round, votes] of this.rounds) {
      if (round <= this.round) continue
      for (const vote of [...votes.prevotes.all(), ...votes.precommits.all()]) saw(vote.validator, round)
      if (votes.proposal) saw(votes.proposal.validator, round)
    }
    if (highest.size < threshold) return undefined
    const rounds = [...highest.values()].sort((a, b) => b - a)
    return rounds[threshold - 1]
  }

  private isLocked(hash: Bytes): boolean {
    return this.lockedHash !== undefined && bytesEqual(this.lockedHash, hash)
  }

  private currentLock(): Lock | undefined {
    return this.lockedHash === undefined ? undefined : { height: this.height, round: this.lockedRound, blockHash: this.lockedHash }
  }

  private async vote(type: VoteType, hash: Bytes | null): Promise<void> {
    this.step = type
    this.deps.logger.debug({ height: this.height, round: this.round, type, block: hash ? toHex(hash).slice(0, 12) : 'nil' }, 'vote')
    if (!this.deps.signer || this.me === undefined) return
    const { height, round } = this
    const sig = await this.deps.signer.sign(height, round, type, voteSignBytes(this.deps.app.chainId, type, height, round, hash), this.currentLock())
    if (!sig) {
      this.deps.logger.warn({ height, round, type }, 'signer refused to vote (already signed at this step)')
      return
    }
    const vote: Vote = { type, height, round, blockHash: hash, validator: this.me, sig }
    await this.sendOwn(vote)
    const votes = this.roundVotes(round)
    ;(type === 'prevote' ? votes.prevotes : votes.precommits).add(vote)
  }

  private async decide(block: Block, round: number, precommits: readonly Vote[]): Promise<void> {
    await this.finalize(block, {
      height: this.height,
      round,
      blockHash: blockHash(block.header),
      signatures: precommits.map((v) => ({ validator: v.validator, sig: v.sig })).sort((a, b) => (a.validator < b.validator ? -1 : 1)),
    })
  }

  private async finalize(block: Block, commit: Commit): Promise<void> {
    this.deps.logger.debug({ height: block.header.height, round: commit.round, txs: block.header.txCount }, 'decided')
    await this.deps.app.commitBlock(block, commit)
    this.lastDecided = { block, commit }
    this.lastDecidedResends = LAST_DECIDED_RESENDS
    this.deps.broadcastCommit?.(block, commit)
    this.lastCommitAt = this.clock.now()
    this.deps.onCommit?.(block, commit)
    for (const t of this.timers) this.clock.clearTimeout(t)
    this.timers.clear()
    this.enterHeight(this.height + 1)
  }

  // ---- helpers ------------------------------------------------------------------------------

  private async sendOwn(message: ConsensusMessage): Promise<void> {
    // On disk (WAL) before on the wire; the signer guard already made the signature durable.
    await this.deps.record?.(message, true)
    this.own.push(message)
    this.deps.broadcast(message)
  }

  private gossip(): void {
    if (!this.running) return
    for (const message of this.own) this.deps.broadcast(message)
    if (this.lastDecided && this.lastDecidedResends > 0) {
      this.lastDecidedResends--
      this.deps.broadcastCommit?.(this.lastDecided.block, this.lastDecided.commit)
    }
    this.gossipTimer = this.clock.setTimeout(() => this.gossip(), this.options.gossipIntervalMs)
  }

  private roundVotes(round: number): RoundVotes {
    let votes = this.rounds.get(round)
    if (!votes) this.rounds.set(round, (votes = { prevotes: new VoteSet(), precommits: new VoteSet(), proposed: new Map() }))
    return votes
  }

  private timeout(base: number, round: number): number {
    return base + round * this.timing.timeoutDeltaMs
  }

  private after(ms: number, fn: () => void): void {
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(handle)
      fn()
    }, ms)
    this.timers.add(handle)
  }
}
