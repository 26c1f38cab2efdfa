/**
 * What a Byzantine validator can make one engine keep, record and report (issue 10: rounds, the
 * next-height buffer, the lock, block time, evidence). One engine, fed messages directly, so each
 * bound is counted exactly; signatures are checked by engine.check, which these tests bypass.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blockHash } from '../../../src/core/block.js'
import { publicKeyFromSecret } from '../../../src/core/crypto.js'
import type { ValidatorInfo } from '../../../src/core/genesis.js'
import { sha256 } from '../../../src/core/hash.js'
import type { Block, Commit } from '../../../src/core/types.js'
import { ConsensusEngine, FUTURE_BYTES_PER_VALIDATOR, type ConsensusApp } from '../../../src/consensus/engine.js'
import type { ConsensusMessage, Proposal, Vote } from '../../../src/consensus/messages.js'
import { SignerGuard } from '../../../src/consensus/signer.js'
import type { Equivocation } from '../../../src/consensus/vote-set.js'
import { SIM_OPTIONS, SimClock, simBlock } from '../../helpers/sim.js'

const CHAIN = 'certchain-bounds'
const SIG = new Uint8Array(64)

const keys = Array.from({ length: 4 }, (_, i) => {
  const secretKey = sha256(Buffer.from(`bounds-key/${i}`))
  return { secretKey, publicKey: publicKeyFromSecret(secretKey) }
})
const validators: ValidatorInfo[] = keys
  .map((k, i) => ({ id: `v${i}`, name: `v${i}`, publicKey: k.publicKey, peerId: `peer${i}` }))
  .sort((a, b) => Buffer.compare(a.publicKey, b.publicKey))
/** proposer(h, r) = validators[(h + r) % 4]: at height 1, round 0 is validators[1], round 1 validators[2]. */
const byIndex = (i: number): ValidatorInfo => validators[i % 4]!
const SELF = byIndex(3)
const selfKey = keys[Number(SELF.id.slice(1))]!.secretKey

class FakeApp implements ConsensusApp {
  readonly chainId = CHAIN
  readonly committed: Block[] = []
  timely: (block: Block) => boolean = () => true
  constructor(private readonly clock: SimClock) {}
  committedHeight(): number {
    return this.committed.length
  }
  validators(): readonly ValidatorInfo[] {
    return validators
  }
  createBlock(height: number, proposer: string): Promise<Block> {
    return Promise.resolve(simBlock(CHAIN, height, this.clock.now(), new Uint8Array(32), proposer, 'self'))
  }
  validateBlock(): Promise<boolean> {
    return Promise.resolve(true)
  }
  isTimely(block: Block): boolean {
    return this.timely(block)
  }
  commitBlock(block: Block, _commit: Commit): Promise<void> {
    this.committed.push(block)
    return Promise.resolve()
  }
  hasPendingTxs(): boolean {
    return true
  }
}

interface Harness {
  readonly engine: ConsensusEngine
  readonly app: FakeApp
  readonly clock: SimClock
  readonly sent: ConsensusMessage[]
  readonly recorded: ConsensusMessage[]
  readonly equivocations: Equivocation[]
  /** Every record and broadcast in order: "record own|peer <type> <validator>", "send <type>". */
  readonly log: string[]
  feed(...messages: ConsensusMessage[]): Promise<void>
}

let dir: string
const engines: ConsensusEngine[] = []
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certchain-bounds-'))
})
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.stop()))
  await rm(dir, { recursive: true, force: true })
})

let engineCount = 0

/** One engine for validator SELF; `signerFile` names its signer state (shared to model a restart). */
async function harness(options: { clock?: SimClock; app?: FakeApp; signerFile?: string } = {}): Promise<Harness> {
  const clock = options.clock ?? new SimClock()
  const app = options.app ?? new FakeApp(clock)
  const guard = await SignerGuard.open(join(dir, options.signerFile ?? `signer-${++engineCount}.json`), selfKey)
  const sent: ConsensusMessage[] = []
  const recorded: ConsensusMessage[] = []
  const equivocations: Equivocation[] = []
  const log: string[] = []
  const engine = new ConsensusEngine(SIM_OPTIONS, {
    app,
    signer: {
      publicKey: SELF.publicKey,
      sign: (h, r, step, bytes, lock) => guard.sign(h, r, step, bytes, lock),
      get lock() {
        return guard.lock
      },
    },
    broadcast: (m) => {
      log.push(`send ${m.type} ${m.validator}`)
      sent.push(m)
    },
    record: async (m, own) => {
      recorded.push(m)
      // Resolves a tick later, like a write: a send before it finished would show in the log.
      await new Promise((r) => setImmediate(r))
      log.push(`record ${own ? 'own' : 'peer'} ${m.type} ${m.validator}`)
    },
    onEquivocation: (e) => equivocations.push(e),
    logger: pino({ level: 'silent' }),
    clock,
  })
  engines.push(engine)
  engine.start()
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r))
      await engine.settled()
    }
  }
  return {
    engine,
    app,
    clock,
    sent,
    recorded,
    equivocations,
    log,
    async feed(...messages) {
      for (const m of messages) engine.receive(m)
      await settle()
    },
  }
}

const prevote = (from: ValidatorInfo, round: number, hash: Uint8Array | null, height = 1): Vote => ({
  type: 'prevote',
  height,
  round,
  blockHash: hash,
  validator: from.id,
  sig: SIG,
})

function proposal(round: number, block: Block, height = 1): Proposal {
  return { type: 'proposal', height, round, polRound: -1, block, validator: byIndex(height + round).id, sig: SIG }
}

const blockAt = (height: number, round: number, time: number, salt = 'b'): Block =>
  simBlock(CHAIN, height, time, new Uint8Array(32), byIndex(height + round).id, `${salt}${round}`)

describe('consensus engine bounds', () => {
  it('keeps rounds up to round + 1 only: 12,000 far-round prevotes of one validator add no round and nothing to the WAL', async () => {
    const h = await harness()
    const byzantine = byIndex(0)
    const flood = Array.from({ length: 12_000 }, (_, i) => prevote(byzantine, i + 2, null))
    await h.feed(...flood)
    expect(h.engine.status.round).toBe(0)
    // Round 0 only (entered on the first message); one remembered far round for the validator.
    expect(h.engine.load.rounds).toBeLessThanOrEqual(2)
    expect(h.engine.load.farRounds).toBe(1)
    expect(h.recorded.filter((m) => m.validator === byzantine.id)).toHaveLength(0)
  })

  it('still skips ahead when f + 1 validators are in later rounds (the highest round that many reached)', async () => {
    const h = await harness()
    await h.feed(prevote(byIndex(0), 9, null), prevote(byIndex(1), 7, null))
    expect(h.engine.status.round).toBe(7)
    // One Byzantine validator alone cannot move us: f + 1 = 2 of 4.
    const alone = await harness({ clock: new SimClock() })
    await alone.feed(prevote(byIndex(0), 50, null))
    expect(alone.engine.status.round).toBe(0)
  })

  it('buffers next-height messages by bytes per validator: 300 proposals of 1 MiB keep at most FUTURE_BYTES_PER_VALIDATOR', async () => {
    const h = await harness()
    const big = new Uint8Array(1024 * 1024)
    const byzantine = byIndex(0)
    const flood = Array.from({ length: 300 }, (_, r) => ({
      ...proposal(r, { ...blockAt(2, r, h.clock.now()), txs: [big] }, 2),
      validator: byzantine.id,
    }))
    await h.feed(...flood)
    const { futureBytes, futureMessages } = h.engine.load
    expect(futureBytes).toBeLessThanOrEqual(FUTURE_BYTES_PER_VALIDATOR)
    expect(futureMessages).toBeLessThanOrEqual(4)
    // Another validator still has its own budget.
    await h.feed(prevote(byIndex(1), 0, null, 2))
    expect(h.engine.load.futureMessages).toBe(futureMessages + 1)
  })

  it('reports one equivocation per validator, round and vote type however many conflicting votes it signs', async () => {
    const h = await harness()
    const byzantine = byIndex(0)
    const votes = Array.from({ length: 100 }, (_, i) => prevote(byzantine, 0, sha256(Buffer.from(`conflict ${i}`))))
    await h.feed(...votes)
    expect(h.equivocations).toHaveLength(1)
    // A precommit equivocation in the same round is another fault, reported once too.
    const precommits = votes.slice(0, 10).map((v) => ({ ...v, type: 'precommit' as const }))
    await h.feed(...precommits)
    expect(h.equivocations).toHaveLength(2)
  })

  it('writes its own proposal and votes to the WAL as its own (fsynced) before sending them; peers\' votes as not own', async () => {
    const h = await harness()
    const block = blockAt(1, 0, h.clock.now())
    const hash = blockHash(block.header)
    await h.feed(proposal(0, block), prevote(byIndex(0), 0, hash), prevote(byIndex(1), 0, hash))
    const sends = h.log.filter((line) => line.startsWith('send '))
    expect(sends).toEqual([`send prevote ${SELF.id}`, `send precommit ${SELF.id}`])
    for (const send of sends) {
      const recorded = h.log.indexOf(send.replace('send', 'record own'))
      expect(recorded, send).toBeGreaterThanOrEqual(0)
      expect(recorded, send).toBeLessThan(h.log.indexOf(send))
    }
    expect(h.log).toContain(`record peer prevote ${byIndex(0).id}`)
    expect(h.log).toContain(`record peer proposal ${byIndex(1).id}`)
    expect(h.log.filter((line) => line.startsWith('record own') && !line.endsWith(SELF.id))).toEqual([])
  })

  it('keeps the lock with the signer state: after a restart that lost the WAL it prevotes nil for another block', async () => {
    const clock = new SimClock()
    const first = await harness({ clock, signerFile: 'restarted.json' })
    const locked = blockAt(1, 0, clock.now(), 'locked')
    const hash = blockHash(locked.header)
    await first.feed(proposal(0, locked), prevote(byIndex(0), 0, hash), prevote(byIndex(1), 0, hash))
    const precommit = first.sent.find((m) => m.type === 'precommit')
    expect(precommit?.type === 'precommit' && precommit.blockHash).toEqual(hash)
    await first.engine.stop()

    // Power loss: the WAL is gone, only the signer state file survives.
    const second = await harness({ clock, app: first.app, signerFile: 'restarted.json' })
    await second.feed(prevote(byIndex(0), 1, null), prevote(byIndex(1), 1, null))
    expect(second.engine.status.round).toBe(1)
    const other = blockAt(1, 1, clock.now(), 'other')
    await second.feed(proposal(1, other))
    const vote = second.sent.find((m) => m.type === 'prevote' && m.round === 1)
    expect(vote).toBeDefined()
    expect(vote?.type === 'prevote' && vote.blockHash).toBeNull()
  })

  it('prevotes nil for a fresh proposal dated too far in the past (block time bounded from below)', async () => {
    const h = await harness()
    h.app.timely = (block) => block.header.time >= h.clock.now() - 5000
    const old = blockAt(1, 0, h.clock.now() - 60_000, 'old')
    await h.feed(proposal(0, old))
    const vote = h.sent.find((m) => m.type === 'prevote')
    expect(vote?.type === 'prevote' && vote.blockHash).toBeNull()

    const fresh = await harness({ clock: h.clock })
    fresh.app.timely = h.app.timely
    const now = blockAt(1, 0, h.clock.now(), 'now')
    await fresh.feed(proposal(0, now))
    const ok = fresh.sent.find((m) => m.type === 'prevote')
    expect(ok?.type === 'prevote' && ok.blockHash).toEqual(blockHash(now.header))
  })

  it('a re-proposal justified by 2f+1 prevotes of an earlier round keeps its time; the same block proposed fresh is nil', async () => {
    // The block was timely when round 0 prevoted it; round 1 re-proposes it (polRound 0) later.
    const old = blockAt(1, 1, new SimClock().now() - 60_000, 'pol')
    const hash = blockHash(old.header)
    const round0 = [prevote(byIndex(0), 0, hash), prevote(byIndex(1), 0, hash), prevote(byIndex(2), 0, hash)]
    // f + 1 validators in round 1 move the engine there.
    const skip = [prevote(byIndex(0), 1, null), prevote(byIndex(1), 1, null)]
    const prevoteOf = (h: Harness) => {
      const vote = h.sent.find((m) => m.type === 'prevote' && m.round === 1)
      return vote?.type === 'prevote' ? vote.blockHash : undefined
    }
    const reproposed = await harness()
    reproposed.app.timely = (block) => block.header.time >= reproposed.clock.now() - 5000
    await reproposed.feed(...round0, ...skip)
    expect(reproposed.engine.status.round).toBe(1)
    await reproposed.feed({ ...proposal(1, old), polRound: 0 })
    expect(prevoteOf(reproposed)).toEqual(hash)

    const fresh = await harness()
    fresh.app.timely = reproposed.app.timely
    await fresh.feed(...round0, ...skip)
    await fresh.feed(proposal(1, old))
    expect(prevoteOf(fresh)).toBeNull()
  })
})
