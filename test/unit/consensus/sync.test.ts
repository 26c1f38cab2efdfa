import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { decodeFinalizedBlock, encodeFinalizedBlock } from '../../../src/core/block.js'
import { decodeCanonical, encode } from '../../../src/core/encoding.js'
import { BlockSync, ConsensusEngine, decodeBlocksAnswer, decodeStatusAnswer, DEFAULT_ENGINE_OPTIONS, DEFAULT_SYNC_OPTIONS, LedgerApp, type SyncNetwork } from '../../../src/consensus/index.js'
import { CertchainError } from '../../../src/core/errors.js'
import type { Ledger } from '../../../src/ledger/index.js'
import { DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../src/mempool/index.js'
import { blockHash } from '../../../src/core/block.js'
import { generateKeyPair, sign } from '../../../src/core/crypto.js'
import type { GovAction } from '../../../src/core/governance.js'
import { voteSignBytes } from '../../../src/core/vote.js'
import { commitTxs, decode, issueTx, makeTestChain, openLedger, proposeTx, VALIDATOR_ID, voteTx, type OpenedLedger } from '../../helpers/fixtures.js'

const logger = pino({ level: 'silent' })
const chain = makeTestChain()
const opened: OpenedLedger[] = []
const stops: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
  for (const o of opened.splice(0)) await o.cleanup()
})

async function ledgerWithBlocks(blocks: number): Promise<Ledger> {
  const o = await openLedger(chain)
  opened.push(o)
  let time = chain.genesis.genesisTime + 1000
  for (let h = 0; h < blocks; h++) {
    time += 1000
    await commitTxs(o.ledger, chain, [issueTx(chain, 'kr.mois', 2, { now: time })], time)
  }
  return o.ledger
}

/** A syncing follower: ledger, engine without a signer, BlockSync over `network`. */
async function follower(network: SyncNetwork, of = chain): Promise<{ ledger: Ledger; sync: BlockSync }> {
  const o = await openLedger(of)
  opened.push(o)
  const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
  const app = new LedgerApp(o.ledger, mempool, { maxClockDriftMs: Number.MAX_SAFE_INTEGER, maxBlockAgeMs: Number.MAX_SAFE_INTEGER }, () => undefined)
  const engine = new ConsensusEngine(DEFAULT_ENGINE_OPTIONS, { app, broadcast: () => undefined, logger })
  engine.start()
  const sync = new BlockSync({ ...DEFAULT_SYNC_OPTIONS, batchBlocks: 4, pollIntervalMs: 50 }, { ledger: o.ledger, engine, network, logger, maxBlockBytes: chain.genesis.params.maxBlockBytes })
  stops.push(async () => {
    await sync.stop()
    await engine.stop()
  })
  return { ledger: o.ledger, sync }
}

/** A peer that serves from `source`, optionally rewriting its answers. */
function peerServing(source: Ledger, rewrite?: (request: { type: string }, answer: Bytes) => Bytes): SyncNetwork & { banned: string[]; penalized: { peer: string; code: string; bytes: number }[] } {
  const server = new BlockSync(DEFAULT_SYNC_OPTIONS, { ledger: source, engine: undefined as unknown as ConsensusEngine, network: undefined as unknown as SyncNetwork, logger, maxBlockBytes: chain.genesis.params.maxBlockBytes })
  const banned: string[] = []
  const penalized: { peer: string; code: string; bytes: number }[] = []
  return {
    banned,
    penalized,
    penalize: (peer, code, bytes) => penalized.push({ peer, code, bytes }),
    peers: () => (banned.includes('peer-a') ? [] : ['peer-a']),
    request: async (_peer, request) => {
      const answer = await server.handle(request)
      return rewrite ? rewrite(decodeCanonical(request, 1024) as { type: string }, answer) : answer
    },
    ban: (peer) => {
      banned.push(peer)
      return Promise.resolve()
    },
  }
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('BlockSync', () => {
  it('fetches every block with its commit from a peer that is ahead and ends with the same state', async () => {
    const source = await ledgerWithBlocks(9)
    const network = peerServing(source)
    const { ledger, sync } = await follower(network)
    sync.start()
    await until(() => ledger.head.height === 9)
    expect(toHex(ledger.head.stateRoot)).toBe(toHex(source.head.stateRoot))
    expect(toHex(ledger.head.hash)).toBe(toHex(source.head.hash))
    expect(sync.catchingUp).toBe(false)
    expect(network.banned).toEqual([])
  })

  it('bans a peer that claims a height it cannot serve', async () => {
    const source = await ledgerWithBlocks(3)
    const network = peerServing(source, (request, answer) => (request.type === 'status' ? encode({ height: 50 }) : answer))
    const { ledger, sync } = await follower(network)
    sync.start()
    await until(() => network.banned.length > 0)
    expect(network.banned).toEqual(['peer-a'])
    // What it did serve was valid and is kept.
    expect(ledger.head.height).toBe(3)
  })

  it('bans a peer that serves a block whose commit does not verify, and applies nothing of it', async () => {
    const source = await ledgerWithBlocks(3)
    const network = peerServing(source, (request, answer) => {
      if (request.type !== 'blocks') return answer
      const { blocks } = decodeCanonical(answer, 1 << 24) as { blocks: Bytes[] }
      const forged = blocks.map((raw) => {
        const fb = decodeFinalizedBlock(raw, 1 << 24)
        const sig = Uint8Array.from(fb.commit.signatures[0]!.sig)
        sig[0]! ^= 1
        return encodeFinalizedBlock({ ...fb, commit: { ...fb.commit, signatures: [{ ...fb.commit.signatures[0]!, sig }] } })
      })
      return encode({ blocks: forged })
    })
    const { ledger, sync } = await follower(network)
    sync.start()
    await until(() => network.banned.length > 0)
    expect(ledger.head.height).toBe(0)
  })

  it('serves at most the batch size, from the requested height', async () => {
    const source = await ledgerWithBlocks(6)
    const server = new BlockSync({ ...DEFAULT_SYNC_OPTIONS, batchBlocks: 4 }, { ledger: source, engine: undefined as unknown as ConsensusEngine, network: undefined as unknown as SyncNetwork, logger, maxBlockBytes: 1 << 22 })
    const { blocks } = decodeCanonical(await server.handle(encode({ type: 'blocks', from: 2, count: 100 })), 1 << 24) as { blocks: Bytes[] }
    expect(blocks.map((b) => decodeFinalizedBlock(b, 1 << 24).block.header.height)).toEqual([2, 3, 4, 5])
    expect(decodeCanonical(await server.handle(encode({ type: 'status' })), 64)).toEqual({ height: 6, base: 1 })
  })
})

describe('BlockSync, malformed answers (MALFORMED_SYNC_RESPONSE)', () => {
  const refusal = (f: () => unknown): string => {
    try {
      f()
    } catch (err) {
      if (err instanceof CertchainError) return err.code
      throw err
    }
    throw new Error('accepted')
  }

  it('a status answer must be a map with a height; a blocks answer a map with at most the asked number of byte strings', () => {
    expect(decodeStatusAnswer(encode({ height: 7 }))).toEqual({ height: 7, base: 1 })
    expect(decodeStatusAnswer(encode({ height: 7, base: 5 }))).toEqual({ height: 7, base: 5 })
    for (const answer of [null, 7, [], 'status', {}, { height: null }, { height: -1 }, { height: 1.5 }, { height: '7' }, { height: 7, base: 0 }, { height: 7, base: '1' }]) {
      expect(refusal(() => decodeStatusAnswer(encode(answer))), JSON.stringify(answer)).toBe('MALFORMED_SYNC_RESPONSE')
    }
    const block = new Uint8Array([1, 2, 3])
    expect(decodeBlocksAnswer(encode({ blocks: [block] }), 1024, 1)).toEqual([block])
    for (const answer of [null, [], { blocks: null }, { blocks: 'x' }, { blocks: [1] }, { blocks: [block, null] }, { error: 'bad request' }]) {
      expect(refusal(() => decodeBlocksAnswer(encode(answer), 1024, 2)), JSON.stringify(answer)).toBe('MALFORMED_SYNC_RESPONSE')
    }
    expect(refusal(() => decodeBlocksAnswer(encode({ blocks: [block, block, block] }), 1024, 2))).toBe('MALFORMED_SYNC_RESPONSE')
    // Bytes that are not DAG-CBOR keep the decoder's code; an answer over the size limit is malformed too.
    expect(refusal(() => decodeBlocksAnswer(new Uint8Array([0xff]), 1024, 2))).toBe('MALFORMED_ENCODING')
    expect(refusal(() => decodeBlocksAnswer(encode({ blocks: [new Uint8Array(2048)] }), 1024, 2))).toBe('MALFORMED_SYNC_RESPONSE')
  })

  it('a null blocks answer is charged to the peer and nothing is applied (was: a TypeError, the peer unpunished)', async () => {
    const source = await ledgerWithBlocks(3)
    const null_ = encode(null)
    const network = peerServing(source, (request, answer) => (request.type === 'blocks' ? null_ : answer))
    const { ledger, sync } = await follower(network)
    sync.start()
    await until(() => network.penalized.length > 0)
    expect(network.penalized[0]).toEqual({ peer: 'peer-a', code: 'MALFORMED_SYNC_RESPONSE', bytes: null_.length })
    expect(ledger.head.height).toBe(0)
    // Charged, not banned on the spot: the p2p host disconnects at the penalty limit.
    expect(network.banned).toEqual([])
  })

  it('a status answer of the wrong shape is charged and the peer is not synced from', async () => {
    const source = await ledgerWithBlocks(3)
    const network = peerServing(source, (request, answer) => (request.type === 'status' ? encode({ height: 'lots' }) : answer))
    const { ledger, sync } = await follower(network)
    sync.start()
    await until(() => network.penalized.length > 0)
    expect(network.penalized[0]!.code).toBe('MALFORMED_SYNC_RESPONSE')
    await new Promise((r) => setTimeout(r, 200))
    expect(ledger.head.height).toBe(0)
  })

  it('a blocks answer with blocks that are not bytes is charged, not thrown', async () => {
    const source = await ledgerWithBlocks(3)
    const network = peerServing(source, (request, answer) => (request.type === 'blocks' ? encode({ blocks: [{ block: 1 }] }) : answer))
    const { ledger, sync } = await follower(network)
    sync.start()
    await until(() => network.penalized.length > 0)
    expect(network.penalized[0]!.code).toBe('MALFORMED_SYNC_RESPONSE')
    expect(ledger.head.height).toBe(0)
  })
})

describe('BlockSync, one block behind', () => {
  it('waits while only a status poll says a peer is one block ahead (consensus closes that gap)', async () => {
    const source = await ledgerWithBlocks(1)
    const network = peerServing(source)
    const { ledger, sync } = await follower(network)
    sync.start()
    await new Promise((r) => setTimeout(r, 300)) // several 50 ms polls
    expect(ledger.head.height).toBe(0)
  })

  it('fetches that one block once consensus messages of a later height say it was missed', async () => {
    const source = await ledgerWithBlocks(1)
    const network = peerServing(source)
    const { ledger, sync } = await follower(network)
    sync.start()
    sync.behind(1)
    await until(() => ledger.head.height === 1)
    expect(toHex(ledger.head.hash)).toBe(toHex(source.head.hash))
  })
})

describe('BlockSync across validator set changes', () => {
  /**
   * A chain whose single validator adds validator-2 by governance (passing at once), then both add
   * validator-3: every commit is signed by all validators of its own height, so a follower can
   * only verify it with the set of that height.
   */
  async function growingChain(): Promise<{ chain: ReturnType<typeof makeTestChain>; source: Ledger; changes: number[] }> {
    const base = makeTestChain()
    const keys = new Map([[VALIDATOR_ID, base.validatorKey]])
    const o = await openLedger(base)
    opened.push(o)
    const source = o.ledger
    let time = base.genesis.genesisTime + 1000
    const changes: number[] = []
    const commitBlock = async (txs: Bytes[]): Promise<void> => {
      time += 1000
      const proposed = await source.proposeBlock(txs.map((t) => decode(base, t)), time, VALIDATOR_ID)
      expect(proposed.rejected).toEqual([])
      const { block } = proposed.writes
      const hash = blockHash(block.header)
      const set = source.validators(block.header.height)
      const signatures = set.map((v) => ({
        validator: v.id,
        sig: sign(keys.get(v.id)!.secretKey, voteSignBytes(base.genesis.chainId, 'precommit', block.header.height, 0, hash)),
      }))
      await source.commitBlock(proposed.writes, { height: block.header.height, round: 0, blockHash: hash, signatures })
    }
    const add = (id: string): { action: GovAction; key: ReturnType<typeof generateKeyPair> } => {
      const key = generateKeyPair()
      keys.set(id, key)
      return { key, action: { type: 'addValidator', id, name: id, publicKey: key.publicKey, peerId: `peer-${id}` } }
    }
    const v1 = { id: VALIDATOR_ID, key: base.validatorKey }
    await commitBlock([])
    await commitBlock([proposeTx(base, v1, add('validator-2').action, { now: time }).bytes])
    changes.push(source.head.height)
    for (let i = 0; i < 3; i++) await commitBlock([issueTx(base, 'kr.mois', 1, { now: time }).bytes])
    await commitBlock([proposeTx(base, v1, add('validator-3').action, { now: time }).bytes])
    await commitBlock([voteTx(base, { id: 'validator-2', key: keys.get('validator-2')! }, 2, true, { now: time }).bytes])
    changes.push(source.head.height)
    for (let i = 0; i < 4; i++) await commitBlock([])
    return { chain: base, source, changes }
  }

  it('verifies every commit with the validators of its height and reaches the same state', async () => {
    const { chain: base, source, changes } = await growingChain()
    expect(source.validators(changes[0]! + 2)).toHaveLength(2)
    expect(source.validators(changes[1]! + 2)).toHaveLength(3)
    const network = peerServing(source)
    const { ledger, sync } = await follower(network, base)
    sync.start()
    await until(() => ledger.head.height === source.head.height)
    expect(network.banned).toEqual([])
    expect(toHex(ledger.head.stateRoot)).toBe(toHex(source.head.stateRoot))
    expect(ledger.validators(ledger.head.height + 1).map((v) => v.id).sort()).toEqual(['validator-1', 'validator-2', 'validator-3'])
  })

  it('bans a peer whose commit after a change is signed by the old set only', async () => {
    const { chain: base, source, changes } = await growingChain()
    const forged = changes[0]! + 2
    const network = peerServing(source, (request, answer) => {
      if (request.type !== 'blocks') return answer
      const { blocks } = decodeCanonical(answer, 64 * 1024 * 1024) as { blocks: Bytes[] }
      return encode({
        blocks: blocks.map((raw) => {
          const fb = decodeFinalizedBlock(raw, 64 * 1024 * 1024)
          if (fb.block.header.height !== forged) return raw
          return encodeFinalizedBlock({ ...fb, commit: { ...fb.commit, signatures: fb.commit.signatures.filter((s) => s.validator === VALIDATOR_ID) } })
        }),
      })
    })
    const { ledger, sync } = await follower(network, base)
    sync.start()
    await until(() => network.banned.length > 0)
    // The blocks before the forged one were handed over and execute.
    await until(() => ledger.head.height >= forged - 1)
    expect(ledger.head.height).toBe(forged - 1)
  })
})
