import { merkleRoot } from '../../../src/core/merkle.js'
import { describe, expect, it } from 'vitest'
import { txRootMatches, blockHash, decodeFinalizedBlock, encodeFinalizedBlock, parseBlock } from '../../../src/core/block.js'
import { parseCommit } from '../../../src/core/header.js'
import { toHex } from '../../../src/core/bytes.js'
import { verify } from '../../../src/core/crypto.js'
import { encode } from '../../../src/core/encoding.js'
import { sha256 } from '../../../src/core/hash.js'
import { CHAIN_FORMAT_VERSION, type Block, type BlockHeader, type Commit, type FinalizedBlock } from '../../../src/core/types.js'
import { voteSignBytes } from '../../../src/consensus/messages.js'
import { commitFor, issueTx, makeTestChain, thrownCode } from '../../helpers/fixtures.js'

const chain = makeTestChain()
const MAX = 1 << 20

function sampleBlock(): Block {
  const txs = [issueTx(chain, 'kr.mois', 1).bytes, issueTx(chain, 'kr.land.seoul', 2).bytes]
  const header: BlockHeader = {
    version: CHAIN_FORMAT_VERSION,
    chainId: chain.genesis.chainId,
    height: 3,
    time: 1_750_000_000_000,
    prevHash: new Uint8Array(32).fill(1),
    txRoot: merkleRoot(txs),
    txCount: 2,
    stateRoot: new Uint8Array(32).fill(3),
    proposer: chain.proposer,
    validatorsHash: new Uint8Array(32).fill(4),
    nextValidatorsHash: new Uint8Array(32).fill(5),
  }
  return { header, txs }
}

function sample(): FinalizedBlock {
  const block = sampleBlock()
  return { block, commit: commitFor(chain, block, 1) }
}

/** The decode error code of an arbitrary value encoded canonically. */
const code = (value: unknown): string | undefined => thrownCode(() => decodeFinalizedBlock(encode(value), MAX))

describe('finalized block encoding', () => {
  it('round trips through encodeFinalizedBlock / decodeFinalizedBlock', () => {
    const fb = sample()
    expect(decodeFinalizedBlock(encodeFinalizedBlock(fb), MAX)).toEqual(fb)
    // the encoding is the canonical encoding of {block, commit}
    expect(toHex(encodeFinalizedBlock(fb))).toBe(toHex(encode(fb)))
  })

  it('an empty block with an empty signature list round trips too', () => {
    const block: Block = { header: { ...sampleBlock().header, txCount: 0, txRoot: merkleRoot([]) }, txs: [] }
    const fb: FinalizedBlock = { block, commit: { ...commitFor(chain, block), signatures: [] } }
    expect(decodeFinalizedBlock(encodeFinalizedBlock(fb), MAX)).toEqual(fb)
  })

  it('commitFor (test fixture) is a real precommit by the validator over the block hash', () => {
    const { block, commit } = sample()
    expect(commit).toMatchObject({ height: 3, round: 1, signatures: [{ validator: chain.proposer }] })
    expect(toHex(commit.blockHash)).toBe(toHex(blockHash(block.header)))
    const bytes = voteSignBytes(chain.genesis.chainId, 'precommit', 3, 1, commit.blockHash)
    expect(verify(chain.validatorKey.publicKey, bytes, commit.signatures[0]!.sig)).toBe(true)
  })

  it('MALFORMED_BLOCK: oversize input (before decoding)', () => {
    const bytes = encodeFinalizedBlock(sample())
    expect(decodeFinalizedBlock(bytes, bytes.length)).toBeDefined()
    expect(thrownCode(() => decodeFinalizedBlock(bytes, bytes.length - 1))).toBe('MALFORMED_BLOCK')
    expect(thrownCode(() => decodeFinalizedBlock(new Uint8Array(100).fill(0xff), 10))).toBe('MALFORMED_BLOCK')
  })

  it('non-canonical bytes are refused', () => {
    const fb = sample()
    const bytes = encodeFinalizedBlock(fb)
    // trailing byte after a complete value
    expect(thrownCode(() => decodeFinalizedBlock(Uint8Array.of(...bytes, 0), MAX))).toBe('MALFORMED_ENCODING')
    // the same map with its keys out of canonical order: {commit, block} instead of {block, commit}
    const swapped = Buffer.concat([
      Uint8Array.of(0xa2),
      encode('commit'),
      encode(fb.commit),
      encode('block'),
      encode(fb.block),
    ])
    expect(swapped.length).toBe(bytes.length)
    expect(thrownCode(() => decodeFinalizedBlock(swapped, MAX))).toBe('NON_CANONICAL_ENCODING')
    expect(thrownCode(() => decodeFinalizedBlock(new Uint8Array(0), MAX))).toBe('MALFORMED_ENCODING')
  })

  it('MALFORMED_BLOCK: the finalized block must be exactly {block, commit}', () => {
    const fb = sample()
    expect(code([fb.block, fb.commit])).toBe('MALFORMED_BLOCK')
    expect(code(null)).toBe('MALFORMED_BLOCK')
    expect(code(fb.block)).toBe('MALFORMED_BLOCK')
    expect(code({ block: fb.block })).toBe('MALFORMED_BLOCK')
    expect(code({ commit: fb.commit })).toBe('MALFORMED_BLOCK')
    expect(code({ ...fb, extra: 1 })).toBe('MALFORMED_BLOCK')
    // the old block shape with a proposer signature is gone
    expect(code({ ...fb, block: { ...fb.block, signature: new Uint8Array(64) } })).toBe('MALFORMED_BLOCK')
  })

  it('MALFORMED_BLOCK: wrong block and header shapes', () => {
    const fb = sample()
    const b = fb.block
    const withBlock = (block: unknown): unknown => ({ block, commit: fb.commit })
    expect(code(withBlock([b.header, b.txs]))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, extra: 1 }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ header: b.header }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ txs: b.txs }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, extra: 1 } }))).toBe('MALFORMED_BLOCK')
    for (const field of Object.keys(b.header)) {
      const header = Object.fromEntries(Object.entries(b.header).filter(([k]) => k !== field))
      expect(code(withBlock({ ...b, header })), `header without ${field}`).toBe('MALFORMED_BLOCK')
    }
    expect(code(withBlock({ ...b, header: { ...b.header, height: -1 } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, time: 1.5 } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, txCount: '2' } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, prevHash: new Uint8Array(31) } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, txRoot: 'root' } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, stateRoot: new Uint8Array(33) } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, chainId: 7 } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, version: 1 } })), 'a format-1 header').toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, validatorsHash: new Uint8Array(31) } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, nextValidatorsHash: null } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, header: { ...b.header, proposer: null } }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, txs: ['not bytes', ...b.txs.slice(1)] }))).toBe('MALFORMED_BLOCK')
    expect(code(withBlock({ ...b, txs: b.txs[0] }))).toBe('MALFORMED_BLOCK')
  })

  it('MALFORMED_BLOCK: a txCount that does not match the transactions', () => {
    const fb = sample()
    const b = fb.block
    expect(code({ ...fb, block: { ...b, header: { ...b.header, txCount: 3 } } })).toBe('MALFORMED_BLOCK')
    expect(code({ ...fb, block: { ...b, header: { ...b.header, txCount: 1 } } })).toBe('MALFORMED_BLOCK')
    expect(code({ ...fb, block: { ...b, txs: [] } })).toBe('MALFORMED_BLOCK')
    expect(thrownCode(() => parseBlock({ ...b, txs: [...b.txs, b.txs[0]] }))).toBe('MALFORMED_BLOCK')
  })

  it('MALFORMED_BLOCK: wrong commit shapes', () => {
    const fb = sample()
    const c = fb.commit
    const sig = c.signatures[0]!
    const withCommit = (commit: unknown): unknown => ({ block: fb.block, commit })
    expect(code(withCommit([c.height, c.round, c.blockHash, c.signatures]))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, extra: 1 }))).toBe('MALFORMED_BLOCK')
    for (const field of Object.keys(c)) {
      const commit = Object.fromEntries(Object.entries(c).filter(([k]) => k !== field))
      expect(code(withCommit(commit)), `commit without ${field}`).toBe('MALFORMED_BLOCK')
    }
    expect(code(withCommit({ ...c, height: -1 }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, round: 0.5 }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, round: -1 }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, blockHash: new Uint8Array(31) }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, blockHash: null }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: sig }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: [[sig.validator, sig.sig]] }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: [{ ...sig, extra: 1 }] }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: [{ validator: sig.validator }] }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: [{ sig: sig.sig }] }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: [{ ...sig, validator: 1 }] }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: [{ ...sig, sig: new Uint8Array(63) }] }))).toBe('MALFORMED_BLOCK')
    expect(code(withCommit({ ...c, signatures: [sig, { ...sig, sig: new Uint8Array(65) }] }))).toBe('MALFORMED_BLOCK')
  })

  it('parseBlock and parseCommit check already decoded values with the same rules', () => {
    const { block, commit } = sample()
    expect(parseBlock(block)).toEqual(block)
    expect(parseCommit(commit)).toEqual(commit)
    expect(thrownCode(() => parseBlock({ ...block, signature: new Uint8Array(64) }))).toBe('MALFORMED_BLOCK')
    expect(thrownCode(() => parseBlock(new Uint8Array(8)))).toBe('MALFORMED_BLOCK')
    expect(thrownCode(() => parseCommit({ ...commit, signatures: undefined }))).toBe('MALFORMED_BLOCK')
    expect(thrownCode(() => parseCommit(undefined))).toBe('MALFORMED_BLOCK')
  })
})

describe('blockHash', () => {
  it('is SHA-256 of the canonically encoded header, and stable', () => {
    const { header } = sampleBlock()
    expect(toHex(blockHash(header))).toBe(toHex(sha256(encode(header))))
    expect(toHex(blockHash(header))).toBe(toHex(blockHash({ ...header })))
    // independent of the order the fields were set in (canonical encoding sorts keys)
    const reordered = Object.fromEntries(Object.entries(header).reverse()) as unknown as BlockHeader
    expect(toHex(blockHash(reordered))).toBe(toHex(blockHash(header)))
    // and unchanged by an encode/decode round trip
    const fb = sample()
    expect(toHex(blockHash(decodeFinalizedBlock(encodeFinalizedBlock(fb), MAX).block.header))).toBe(toHex(blockHash(fb.block.header)))
  })

  it('changes with every header field', () => {
    const { header } = sampleBlock()
    const base = toHex(blockHash(header))
    const changed: Record<keyof BlockHeader, unknown> = {
      chainId: 'certchain-other',
      height: header.height + 1,
      time: header.time + 1,
      prevHash: new Uint8Array(32).fill(9),
      txRoot: new Uint8Array(32).fill(9),
      txCount: header.txCount + 1,
      stateRoot: new Uint8Array(32).fill(9),
      proposer: 'validator-2',
      version: 3,
      validatorsHash: new Uint8Array(32).fill(9),
      nextValidatorsHash: new Uint8Array(32).fill(9),
    }
    for (const [field, value] of Object.entries(changed)) {
      expect(toHex(blockHash({ ...header, [field]: value })), field).not.toBe(base)
    }
  })

  it('a commit is bound to the block hash: another block needs another commit', () => {
    const a = sampleBlock()
    const b: Block = { ...a, header: { ...a.header, time: a.header.time + 1 } }
    const ca: Commit = commitFor(chain, a)
    const cb: Commit = commitFor(chain, b)
    expect(toHex(ca.blockHash)).not.toBe(toHex(cb.blockHash))
    expect(toHex(ca.signatures[0]!.sig)).not.toBe(toHex(cb.signatures[0]!.sig))
  })
})

describe('the header binds the body', () => {
  it('a body that does not fit txRoot is MALFORMED_BLOCK on decoding (one byte of one signature changed)', () => {
    const fb = sample()
    const txs = fb.block.txs.map((t) => Uint8Array.from(t))
    txs[0]![txs[0]!.length - 1]! ^= 1
    const bytes = encodeFinalizedBlock({ ...fb, block: { ...fb.block, txs } })
    expect(thrownCode(() => decodeFinalizedBlock(bytes, MAX))).toBe('MALFORMED_BLOCK')
    expect(txRootMatches({ ...fb.block, txs })).toBe(false)
    expect(txRootMatches(fb.block)).toBe(true)
  })
})
