/**
 * Issue 10, finding 1: gossiped blocks and proposals are checked cheapest first, so a forged
 * message costs a decode and a few field reads, never a hash per transaction. Work is counted
 * (Merkle roots, signature verifications), not timed.
 */
import { pino } from 'pino'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { blockHash, encodeFinalizedBlock } from '../../../src/core/block.js'
import { sign, verify } from '../../../src/core/crypto.js'
import { merkleRoot } from '../../../src/core/merkle.js'
import type * as MerkleModule from '../../../src/core/merkle.js'
import type * as CryptoModule from '../../../src/core/crypto.js'
import type * as EncodingModule from '../../../src/core/encoding.js'
import { decodeCanonical, encode } from '../../../src/core/encoding.js'
import type { Block } from '../../../src/core/types.js'
import { ConsensusEngine, DEFAULT_ENGINE_OPTIONS, type ConsensusApp } from '../../../src/consensus/engine.js'
import { cborItemCount, validateBlockGossip, validateConsensusGossip } from '../../../src/consensus/gossip.js'
import { encodeMessage, proposalSignBytes, type Proposal } from '../../../src/consensus/messages.js'
import { MAX_GOSSIP_MESSAGE_BYTES } from '../../../src/p2p/index.js'
import { commitFor, commitTxs, makeTestChain, openLedger, type OpenedLedger, type TestChain } from '../../helpers/fixtures.js'

vi.mock('../../../src/core/merkle.js', async (importOriginal) => {
  const original = await importOriginal<typeof MerkleModule>()
  return { ...original, merkleRoot: vi.fn(original.merkleRoot) }
})
vi.mock('../../../src/core/encoding.js', async (importOriginal) => {
  const original = await importOriginal<typeof EncodingModule>()
  return { ...original, decodeCanonical: vi.fn(original.decodeCanonical) }
})
vi.mock('../../../src/core/crypto.js', async (importOriginal) => {
  const original = await importOriginal<typeof CryptoModule>()
  return { ...original, verify: vi.fn(original.verify) }
})

const MAX = MAX_GOSSIP_MESSAGE_BYTES
const hashes = (): number => vi.mocked(merkleRoot).mock.calls.length
const verifications = (): number => vi.mocked(verify).mock.calls.length
const decodes = (): number => vi.mocked(decodeCanonical).mock.calls.length

let chain: TestChain
let opened: OpenedLedger
beforeEach(async () => {
  chain = makeTestChain()
  opened = await openLedger(chain)
})
afterEach(async () => {
  await opened.cleanup()
})

/** A block at `height` on the test chain carrying `count` one-byte transactions (txRoot of a real body). */
async function blockWith(height: number, count: number, options: { rightRoot?: boolean } = {}): Promise<Block> {
  const { block } = (await opened.ledger.proposeBlock([], Date.now(), chain.proposer)).writes
  const txs = Array.from({ length: count }, (_, i) => Uint8Array.of(i & 0xff))
  const txRoot = options.rightRoot === false ? block.header.txRoot : merkleRoot(txs)
  return { header: { ...block.header, height, txCount: count, txRoot }, txs }
}

function forgedCommit(block: Block) {
  return { height: block.header.height, round: 0, blockHash: blockHash(block.header), signatures: [{ validator: chain.proposer, sig: new Uint8Array(64).fill(7) }] }
}

describe('finalized-block gossip', () => {
  beforeEach(() => {
    vi.mocked(merkleRoot).mockClear()
    vi.mocked(verify).mockClear()
    vi.mocked(decodeCanonical).mockClear()
  })

  it('a block beyond the next height over maxBlockTxs is REJECT (charged), without hashing a transaction', async () => {
    const block = await blockWith(6, 100_000, { rightRoot: false })
    vi.mocked(merkleRoot).mockClear()
    const result = validateBlockGossip(opened.ledger, encodeFinalizedBlock({ block, commit: forgedCommit(block) }), MAX)
    expect(result.verdict).toMatchObject({ result: 'reject', code: 'too_many_txs' })
    expect(hashes()).toBe(0)
    expect(verifications()).toBe(0)
    // Not even decoded: counting its CBOR items was enough.
    expect(decodes()).toBe(0)
  })

  it('a block beyond the next height within the limits is IGNORE and tells sync, without a hash or a signature check', async () => {
    const block = await blockWith(6, 1000, { rightRoot: false })
    vi.mocked(merkleRoot).mockClear()
    const result = validateBlockGossip(opened.ledger, encodeFinalizedBlock({ block, commit: forgedCommit(block) }), MAX)
    expect(result.verdict).toMatchObject({ result: 'ignore', code: 'ahead' })
    expect(result.ahead).toBe(6)
    expect(hashes()).toBe(0)
    expect(verifications()).toBe(0)
  })

  it('more transactions than maxBlockTxs is REJECT before the commit or any hash', async () => {
    const limit = opened.ledger.registry.params.maxBlockTxs
    const block = await blockWith(1, limit + 1)
    vi.mocked(merkleRoot).mockClear()
    const result = validateBlockGossip(opened.ledger, encodeFinalizedBlock({ block, commit: forgedCommit(block) }), MAX)
    expect(result.verdict).toMatchObject({ result: 'reject', code: 'too_many_txs' })
    expect(hashes()).toBe(0)
    expect(verifications()).toBe(0)
  })

  it('a forged commit for the next height is REJECT after one signature check per signer, before hashing the body', async () => {
    const block = await blockWith(1, 10_000)
    vi.mocked(merkleRoot).mockClear()
    const result = validateBlockGossip(opened.ledger, encodeFinalizedBlock({ block, commit: forgedCommit(block) }), MAX)
    expect(result.verdict).toMatchObject({ result: 'reject', code: 'bad_commit' })
    expect(verifications()).toBe(1)
    expect(hashes()).toBe(0)
  })

  it('a message larger than the largest block can be is REJECT before decoding', () => {
    const params = opened.ledger.registry.params
    const data = new Uint8Array(Math.min(MAX, params.maxBlockBytes + 256 * 1024) + 1)
    expect(validateBlockGossip(opened.ledger, data, MAX).verdict).toMatchObject({ result: 'reject', code: 'oversize' })
    expect(decodes()).toBe(0)
  })

  it('a block with a valid commit is accepted, its body hashed once', async () => {
    const block = await blockWith(1, 3)
    vi.mocked(merkleRoot).mockClear()
    const result = validateBlockGossip(opened.ledger, encodeFinalizedBlock({ block, commit: commitFor(chain, block) }), MAX)
    expect(result.verdict).toEqual({ result: 'accept' })
    expect(result.finalized?.block.txs).toHaveLength(3)
    expect(hashes()).toBe(1)
  })

  it('a block at or below our height is IGNORE without blame', async () => {
    await commitTxs(opened.ledger, chain, [])
    const block = await blockWith(1, 3)
    const result = validateBlockGossip(opened.ledger, encodeFinalizedBlock({ block, commit: forgedCommit(block) }), MAX)
    expect(result.verdict).toMatchObject({ result: 'ignore', code: 'stale' })
    expect(result.verdict).not.toHaveProperty('charge')
  })
})

describe('proposal gossip', () => {
  let engine: ConsensusEngine
  beforeEach(() => {
    const app: ConsensusApp = {
      chainId: chain.genesis.chainId,
      committedHeight: () => 0,
      validators: (height) => opened.ledger.validators(height),
      createBlock: () => Promise.reject(new Error('not proposing')),
      validateBlock: () => Promise.resolve(true),
      commitBlock: () => Promise.resolve(),
      hasPendingTxs: () => false,
    }
    engine = new ConsensusEngine(DEFAULT_ENGINE_OPTIONS, { app, broadcast: () => undefined, logger: pino({ level: 'silent' }) })
    vi.mocked(merkleRoot).mockClear()
    vi.mocked(verify).mockClear()
    vi.mocked(decodeCanonical).mockClear()
  })

  function proposalOf(block: Block, signature?: Uint8Array): Uint8Array {
    const bytes = proposalSignBytes(chain.genesis.chainId, 1, 0, -1, blockHash(block.header))
    const proposal: Proposal = { type: 'proposal', height: 1, round: 0, polRound: -1, block, validator: chain.proposer, sig: signature ?? sign(chain.validatorKey.secretKey, bytes) }
    return encodeMessage(proposal)
  }

  const limits = () => opened.ledger.registry.params

  it('a badly signed proposal is REJECT without hashing its transactions', async () => {
    const block = await blockWith(1, 10_000)
    vi.mocked(merkleRoot).mockClear()
    const { verdict } = validateConsensusGossip(engine, proposalOf(block, new Uint8Array(64).fill(1)), MAX, limits())
    expect(verdict).toMatchObject({ result: 'reject', code: 'bad_signature' })
    expect(hashes()).toBe(0)
  })

  it('a proposal over maxBlockTxs is REJECT before its signature is checked', async () => {
    const block = await blockWith(1, limits().maxBlockTxs + 1)
    vi.mocked(merkleRoot).mockClear()
    const { verdict } = validateConsensusGossip(engine, proposalOf(block), MAX, limits())
    expect(verdict).toMatchObject({ result: 'reject', code: 'too_many_txs' })
    expect(verifications()).toBe(0)
    expect(hashes()).toBe(0)
  })

  it('a proposal of a hundred thousand transactions is REJECT without being decoded', async () => {
    const block = await blockWith(1, 100_000, { rightRoot: false })
    vi.mocked(decodeCanonical).mockClear()
    const { verdict } = validateConsensusGossip(engine, proposalOf(block), MAX, limits())
    expect(verdict).toMatchObject({ result: 'reject', code: 'too_many_txs' })
    expect(decodes()).toBe(0)
    expect(verifications()).toBe(0)
  })

  it('a signed proposal whose body does not match its txRoot is REJECT (hashed once, after the signature)', async () => {
    const block = await blockWith(1, 5, { rightRoot: false })
    vi.mocked(merkleRoot).mockClear()
    const { verdict } = validateConsensusGossip(engine, proposalOf(block), MAX, limits())
    expect(verdict).toMatchObject({ result: 'reject', code: 'bad_tx_root' })
    expect(verifications()).toBe(1)
    expect(hashes()).toBe(1)
  })

  it('a signed proposal with a matching body is accepted', async () => {
    const block = await blockWith(1, 5)
    const { verdict, message } = validateConsensusGossip(engine, proposalOf(block), MAX, limits())
    expect(verdict).toEqual({ result: 'accept' })
    expect(message?.type).toBe('proposal')
  })
})

describe('cborItemCount', () => {
  it('counts the data items of one value, stops past the cap, refuses what is not one definite value', () => {
    expect(cborItemCount(encode({ a: [1, 2, { b: new Uint8Array(5) }], c: 'x' }), 100)).toBe(10)
    const txs = Array.from({ length: 50_000 }, (_, i) => Uint8Array.of(i & 0xff))
    expect(cborItemCount(encode({ txs }), 1000)).toBe(1001)
    expect(cborItemCount(Uint8Array.of(0x9f, 0xff), 10)).toBeUndefined() // indefinite-length array
    expect(cborItemCount(Uint8Array.of(0x82, 0x01), 10)).toBeUndefined() // array cut short
    expect(cborItemCount(Uint8Array.of(0x01, 0x01), 10)).toBeUndefined() // trailing bytes
    expect(cborItemCount(Uint8Array.of(0x5a, 0xff, 0xff, 0xff, 0xff), 10)).toBeUndefined() // string longer than the input
  })
})
