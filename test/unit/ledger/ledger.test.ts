import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { blockHash, decodeFinalizedBlock, encodeFinalizedBlock } from '../../../src/core/block.js'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { documentHash } from '../../../src/core/certificate.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { merkleRoot } from '../../../src/core/merkle.js'
import type { DecodedTx } from '../../../src/core/tx.js'
import type { Block, BlockHeader, FinalizedBlock } from '../../../src/core/types.js'
import {
  certificateStatus,
  genesisStateRoot,
  Ledger,
  verifyCertificate,
  type CertificateEntry,
} from '../../../src/ledger/index.js'
import {
  certificateFiles,
  commitFor,
  commitTxs,
  commitWrites,
  DAY,
  decode,
  issueTx,
  makeTestChain,
  openLedger,
  reinstateTx,
  revokeTx,
  suspendTx,
  type BuiltTx,
  type OpenedLedger,
  type TestChain,
} from '../../helpers/fixtures.js'

const chain = makeTestChain()

const toClean: OpenedLedger[] = []
async function fresh(c: TestChain = chain): Promise<OpenedLedger> {
  const o = await openLedger(c)
  toClean.push(o)
  return o
}
afterEach(async () => {
  for (const o of toClean.splice(0)) await o.cleanup()
})

function d(tx: BuiltTx | DecodedTx): DecodedTx {
  return 'signBytes' in tx ? tx : decode(chain, tx)
}

/** A block built by hand: the ledger checks no proposer signature, so any header is a candidate. */
function blockOf(header: BlockHeader, txs: readonly Bytes[]): Block {
  return { header, txs }
}

describe('proposeBlock', () => {
  let ledger: Ledger
  let now: number
  beforeEach(async () => {
    ledger = (await fresh()).ledger
    now = Date.now()
  })

  it('leaves out invalid transactions and reports them with their codes', async () => {
    const a = issueTx(chain, 'kr.mois', 2)
    const expired = issueTx(chain, 'kr.mois', 1, { expiresAt: now })
    const b = issueTx(chain, 'kr.court.seoul', 1)
    const stranger = issueTx(chain, 'kr.nobody', 1, { signWith: generateKeyPair() })
    const p = await ledger.proposeBlock([a, expired, b, stranger].map(d), now, chain.proposer)
    expect(p.included.map((t) => toHex(t.id))).toEqual([d(a), d(b)].map((t) => toHex(t.id)))
    expect(p.rejected.map((r) => [toHex(r.tx.id), r.error.code])).toEqual([
      [toHex(d(expired).id), 'TX_EXPIRED'],
      [toHex(d(stranger).id), 'UNKNOWN_ISSUER'],
    ])
    expect(p.writes.block.txs.map(toHex)).toEqual([a.bytes, b.bytes].map(toHex))
    expect(p.writes.txIds.map(toHex)).toEqual([d(a), d(b)].map((t) => toHex(t.id)))
    expect(p.writes.certificates.size).toBe(3)
  })

  it('does not change the ledger until commitBlock', async () => {
    const head = ledger.head
    const p = await ledger.proposeBlock([d(issueTx(chain, 'kr.mois', 1))], now, chain.proposer)
    expect(ledger.head).toEqual(head)
    expect(await ledger.getBlock(1)).toBeUndefined()
    expect(await ledger.getCertificates([...p.writes.certificates.values()].map((c) => c.id))).toEqual([undefined])
  })

  it('block 1: height 1, prevHash = genesis hash, txRoot over the signed tx bytes, proposer id; no signature', async () => {
    const txs = [issueTx(chain, 'kr.mois', 1), issueTx(chain, 'kr.land.seoul', 2)].map(d)
    const p = await ledger.proposeBlock(txs, now, chain.proposer)
    const { header } = p.writes.block
    expect(header).toMatchObject({ chainId: chain.genesis.chainId, height: 1, time: now, txCount: 2, proposer: chain.proposer })
    expect(toHex(header.prevHash)).toBe(toHex(chain.genesis.hash))
    expect(toHex(header.txRoot)).toBe(toHex(merkleRoot(txs.map((t) => t.bytes))))
    // the block is exactly {header, txs}: finality comes from the commit, not a proposer signature
    expect(Object.keys(p.writes.block).sort()).toEqual(['header', 'txs'])
    expect(toHex(p.writes.hash)).toBe(toHex(blockHash(header)))
  })

  it('an empty block has txRoot = merkleRoot([]) and no transactions', async () => {
    const p = await ledger.proposeBlock([], now, chain.proposer)
    expect(p.writes.block.txs).toEqual([])
    expect(p.writes.block.header.txCount).toBe(0)
    expect(toHex(p.writes.block.header.txRoot)).toBe(toHex(merkleRoot([])))
  })

  it('the genesis head: height 0, genesis hash and time, empty state', () => {
    expect(ledger.head).toEqual({
      height: 0,
      hash: chain.genesis.hash,
      time: chain.genesis.genesisTime,
      stateRoot: genesisStateRoot(chain.genesis),
      certificateCount: 0,
      txCount: 0,
    })
    expect(ledger.chainId).toBe(chain.genesis.chainId)
  })

  it('commit moves the head; block 2 links to block 1; time is strictly increasing', async () => {
    const p1 = await commitTxs(ledger, chain, [issueTx(chain, 'kr.mois', 2)], now)
    expect(ledger.head).toEqual({
      height: 1,
      hash: p1.writes.hash,
      time: now,
      stateRoot: p1.writes.block.header.stateRoot,
      certificateCount: 2,
      txCount: 1,
    })
    // a proposal time at or before the head time is moved to head.time + 1
    const p2 = await commitTxs(ledger, chain, [issueTx(chain, 'kr.mois', 1)], now - 5000)
    expect(p2.writes.block.header.height).toBe(2)
    expect(p2.writes.block.header.time).toBe(now + 1)
    expect(toHex(p2.writes.block.header.prevHash)).toBe(toHex(p1.writes.hash))
    const p3 = await commitTxs(ledger, chain, [], now + 1)
    expect(p3.writes.block.header.time).toBe(now + 2)
    const p4 = await commitTxs(ledger, chain, [], now + 1000)
    expect(p4.writes.block.header.time).toBe(now + 1000)
    expect(ledger.head).toMatchObject({ height: 4, certificateCount: 3, txCount: 2, time: now + 1000 })
  })

  it('stores blocks with their commits, the tx index and certificate entries', async () => {
    const a = issueTx(chain, 'kr.mois', 1)
    const b = issueTx(chain, 'kr.seoul.jongno', 1)
    const p = await ledger.proposeBlock([a, b].map(d), now, chain.proposer)
    const commit = commitFor(chain, p.writes.block, 2)
    await ledger.commitBlock(p.writes, commit)
    const stored = await ledger.getBlock(1)
    expect(stored).toEqual({ block: p.writes.block, commit })
    expect(stored?.commit.round).toBe(2)
    // the raw stored bytes are the canonical encoding of {block, commit}, served as is
    expect(toHex((await ledger.getBlockBytes(1))!)).toBe(toHex(encodeFinalizedBlock({ block: p.writes.block, commit })))
    expect(await ledger.getBlock(2)).toBeUndefined()
    expect(await ledger.getBlockBytes(2)).toBeUndefined()
    expect(await ledger.getTxLocation(d(a).id)).toEqual({ height: 1, index: 0 })
    expect(await ledger.getTxLocation(d(b).id)).toEqual({ height: 1, index: 1 })
    const [ea] = await ledger.getCertificates(d(a).certificateIds)
    expect(ea).toMatchObject({ record: a.records[0], state: 'active', height: 1 })
  })

  it('commitBlock refuses a block that is not the next height (MALFORMED_BLOCK)', async () => {
    const p = await ledger.proposeBlock([], now, chain.proposer)
    const commit = await commitWrites(ledger, chain, p.writes)
    await expect(ledger.commitBlock(p.writes, commit)).rejects.toMatchObject({ code: 'MALFORMED_BLOCK' })
    expect(ledger.head.height).toBe(1)
  })

  it('the block with its commit survives encodeFinalizedBlock → decodeFinalizedBlock unchanged', async () => {
    const p = await ledger.proposeBlock([d(issueTx(chain, 'kr.mois', 3))], now, chain.proposer)
    const fb: FinalizedBlock = { block: p.writes.block, commit: commitFor(chain, p.writes.block) }
    const bytes = encodeFinalizedBlock(fb)
    expect(decodeFinalizedBlock(bytes, chain.genesis.params.maxBlockBytes)).toEqual(fb)
  })
})

describe('determinism: executeBlock on a second ledger', () => {
  /** A varied history: issues, status changes, refused transactions, an empty block. */
  async function history(ledger: Ledger, t0: number): Promise<Block[]> {
    const i1 = issueTx(chain, 'kr.mois', 4)
    const i2 = issueTx(chain, 'kr.seoul.jongno', 3)
    const ids1 = d(i1).certificateIds
    const ids2 = d(i2).certificateIds
    const blocks: Block[] = []
    const steps: BuiltTx[][] = [
      [i1, i2],
      [revokeTx(chain, 'kr.mois', [ids1[0]!, ids2[1]!]), suspendTx(chain, 'kr.mois', ids1[1]!), revokeTx(chain, 'kr.court.seoul', [ids1[2]!])],
      [],
      [reinstateTx(chain, 'kr.mois', ids1[1]!), issueTx(chain, 'kr.court.seoul', 2), issueTx(chain, 'kr.land.seoul', 5)],
      [suspendTx(chain, 'kr.seoul.jongno', ids2[0]!, { reason: 'holder_request' }), issueTx(chain, 'kr.mois', 1)],
    ]
    for (const [i, txs] of steps.entries()) {
      const p = await commitTxs(ledger, chain, txs, t0 + i * 1000)
      blocks.push(p.writes.block)
    }
    return blocks
  }

  it('blocks replayed on a fresh ledger give identical state roots and heads', async () => {
    const a = (await fresh()).ledger
    const b = (await fresh()).ledger
    const blocks = await history(a, Date.now())
    for (const [i, block] of blocks.entries()) {
      // over the wire (sync): the stored bytes of block and commit, decoded
      const received = decodeFinalizedBlock((await a.getBlockBytes(i + 1))!, chain.genesis.params.maxBlockBytes)
      expect(toHex(blockHash(received.block.header))).toBe(toHex(blockHash(block.header)))
      expect(received.block.txs.map(toHex)).toEqual(block.txs.map(toHex))
      const writes = await b.executeBlock(received.block)
      expect(toHex(writes.head.stateRoot)).toBe(toHex(block.header.stateRoot))
      await b.commitBlock(writes, received.commit)
    }
    expect(b.head).toEqual(a.head)
    for (let h = 1; h <= blocks.length; h++) {
      expect(await b.getBlock(h)).toEqual(await a.getBlock(h))
      expect(toHex((await b.getBlockBytes(h))!)).toBe(toHex((await a.getBlockBytes(h))!))
    }
    // and the certificate entries agree
    const ids = blocks.flatMap((blk) => blk.txs.map((t) => decode(chain, t))).flatMap((t) => t.certificateIds)
    expect(ids.length).toBe(15)
    expect(await b.getCertificates(ids)).toEqual(await a.getCertificates(ids))
  })

  it('an uncommitted proposal leaves no trace in later state roots', async () => {
    const a = (await fresh()).ledger
    const b = (await fresh()).ledger
    const t0 = Date.now()
    const base = issueTx(chain, 'kr.mois', 3)
    await commitTxs(a, chain, [base], t0)
    const first = (await a.getBlock(1))!
    await b.commitBlock(await b.executeBlock(first.block), first.commit)
    // a proposal that touches the tree, then is dropped
    const dropped = await a.proposeBlock([d(revokeTx(chain, 'kr.mois', [d(base).certificateIds[0]!])), d(issueTx(chain, 'kr.mois', 2))], t0 + 1000, chain.proposer)
    expect(dropped.included).toHaveLength(2)
    const p = await commitTxs(a, chain, [suspendTx(chain, 'kr.mois', d(base).certificateIds[1]!)], t0 + 1000)
    await commitWrites(b, chain, await b.executeBlock(p.writes.block))
    expect(b.head).toEqual(a.head)
  })
})

describe('executeBlock rejects a bad block (MALFORMED_BLOCK)', () => {
  let a: Ledger
  let b: Ledger
  let block: Block
  beforeEach(async () => {
    a = (await fresh()).ledger
    b = (await fresh()).ledger
    const p = await a.proposeBlock([d(issueTx(chain, 'kr.mois', 2)), d(issueTx(chain, 'kr.court.seoul', 1))], Date.now(), chain.proposer)
    block = p.writes.block
  })

  async function expectBad(bad: Block, message: RegExp): Promise<void> {
    const head = b.head
    await expect(b.executeBlock(bad)).rejects.toMatchObject({ code: 'MALFORMED_BLOCK', message: expect.stringMatching(message) })
    expect(b.head).toEqual(head)
  }

  it('control: the untouched block executes', async () => {
    await expect(b.executeBlock(block)).resolves.toMatchObject({ head: { height: 1 } })
  })

  it('a tampered state root', async () => {
    const header = { ...block.header, stateRoot: new Uint8Array(32).fill(1) }
    await expectBad(blockOf(header, block.txs), /state root/)
  })

  it('a wrong previous hash', async () => {
    await expectBad(blockOf({ ...block.header, prevHash: new Uint8Array(32) }, block.txs), /previous hash/)
  })

  it('validator-set hashes that are not the ones of its heights', async () => {
    const other = new Uint8Array(32).fill(7)
    await expectBad(blockOf({ ...block.header, validatorsHash: other }, block.txs), /validatorsHash is not the hash of this height's validator set/)
    await expectBad(blockOf({ ...block.header, nextValidatorsHash: other }, block.txs), /nextValidatorsHash is not the hash of the next height's validator set/)
  })

  it('an unknown proposer', async () => {
    await expectBad(blockOf({ ...block.header, proposer: 'validator-9' }, block.txs), /is not a validator at this height/)
  })

  it('an invalid transaction', async () => {
    const expired = issueTx(chain, 'kr.mois', 1, { expiresAt: block.header.time })
    const txs = [...block.txs, expired.bytes]
    // Headers that fit each body (txCount, txRoot), so execution is what refuses them.
    const fitting = (list: Uint8Array[]) => blockOf({ ...block.header, txCount: list.length, txRoot: merkleRoot(list) }, list)
    await expectBad(fitting(txs), /transaction 2 is invalid: TX_EXPIRED/)
    const forged = issueTx(chain, 'kr.mois', 1, { signWith: generateKeyPair(), key: chain.keys['kr.mois'].publicKey })
    await expectBad(fitting([forged.bytes, ...block.txs]), /transaction 0 is invalid: BAD_SIGNATURE/)
    await expectBad(fitting([Uint8Array.of(0xff), ...block.txs]), /transaction 0 is invalid: MALFORMED_ENCODING/)
  })

  it('a transaction root that does not match', async () => {
    await expectBad(blockOf({ ...block.header, txRoot: merkleRoot([]) }, block.txs), /transaction root/)
    // same transactions in another order
    await expectBad(blockOf(block.header, [...block.txs].reverse()), /transaction root|state root/)
  })

  it('wrong height, chain id or time', async () => {
    await expectBad(blockOf({ ...block.header, height: 2 }, block.txs), /expected height 1/)
    await expectBad(blockOf({ ...block.header, chainId: 'certchain-other' }, block.txs), /chain id/)
    await expectBad(blockOf({ ...block.header, time: chain.genesis.genesisTime }, block.txs), /time/)
  })

  // Regression: a block handed over as an object (not decoded) with a wrong txCount was once
  // accepted and stored with a header that lied about its content.
  it('a header txCount that does not match the transactions is MALFORMED_BLOCK', async () => {
    await expectBad(blockOf({ ...block.header, txCount: 5 }, block.txs), /txCount|transaction/)
  })

  it('more transactions or bytes than the block limits allow', async () => {
    const txs = [issueTx(chain, 'kr.mois', 1), issueTx(chain, 'kr.court.seoul', 1)].map(d)
    const bytes = txs[0]!.bytes.length + txs[1]!.bytes.length - 1
    // genesis requires maxTxBytes <= maxBlockBytes (every transaction fits in a block)
    for (const params of [{ maxBlockTxs: 1 }, { maxBlockBytes: bytes, maxTxBytes: bytes }]) {
      const limited = makeTestChain({ keys: chain.keys, validatorKey: chain.validatorKey, params })
      // proposeBlock takes the candidates it is given (the mempool reap respects the limits)
      const big = (await (await fresh(limited)).ledger.proposeBlock(txs, Date.now(), limited.proposer)).writes.block
      expect(big.txs).toHaveLength(2)
      const other = (await fresh(limited)).ledger
      await expect(other.executeBlock(big)).rejects.toMatchObject({
        code: 'MALFORMED_BLOCK',
        message: expect.stringMatching(/more than \d+ (transactions|bytes of transactions)/),
      })
      expect(other.head.height).toBe(0)
    }
  })

  it('after a refused block, the right block still executes', async () => {
    await expect(b.executeBlock(blockOf({ ...block.header, stateRoot: new Uint8Array(32) }, block.txs))).rejects.toMatchObject({
      code: 'MALFORMED_BLOCK',
    })
    const writes = await b.executeBlock(block)
    await commitWrites(b, chain, writes)
    await commitWrites(a, chain, await a.executeBlock(block))
    expect(b.head).toEqual(a.head)
    expect(await b.getBlock(1)).toEqual(await a.getBlock(1))
  })
})

describe('store lifecycle', () => {
  it('reopening after close keeps head, blocks, tx index and certificates; the next block agrees with a replay', async () => {
    const o = await fresh()
    const t0 = Date.now()
    const i1 = issueTx(chain, 'kr.mois', 3)
    const ids = d(i1).certificateIds
    await commitTxs(o.ledger, chain, [i1], t0)
    await commitTxs(o.ledger, chain, [revokeTx(chain, 'kr.mois', [ids[0]!]), issueTx(chain, 'kr.court.seoul', 2)], t0 + 1000)
    const head = o.ledger.head
    const blocks = [await o.ledger.getBlock(1), await o.ledger.getBlock(2)]
    const entries = await o.ledger.getCertificates(ids)
    await o.ledger.close()

    const reopened = await Ledger.open(o.dir, chain.genesis)
    try {
      expect(reopened.head).toEqual(head)
      expect(await reopened.getBlock(1)).toEqual(blocks[0])
      expect(await reopened.getBlock(2)).toEqual(blocks[1])
      expect(await reopened.getTxLocation(d(i1).id)).toEqual({ height: 1, index: 0 })
      expect(await reopened.getCertificates(ids)).toEqual(entries)
      // the status tree is read back from disk: a new block gives the same root as a replay
      const p3 = await commitTxs(reopened, chain, [suspendTx(chain, 'kr.mois', ids[1]!), issueTx(chain, 'kr.mois', 1)], t0 + 2000)
      const replay = (await fresh()).ledger
      const p3commit = (await reopened.getBlock(3))!.commit
      for (const { block, commit } of [blocks[0]!, blocks[1]!, { block: p3.writes.block, commit: p3commit }]) {
        await replay.commitBlock(await replay.executeBlock(block), commit)
      }
      expect(replay.head).toEqual(reopened.head)
    } finally {
      await reopened.close()
    }
  })

  it('DATA_DIR_LOCKED: a second open of the same directory while it is open', async () => {
    const o = await fresh()
    await expect(Ledger.open(o.dir, chain.genesis)).rejects.toMatchObject({ code: 'DATA_DIR_LOCKED' })
    // the first one keeps working
    await commitTxs(o.ledger, chain, [issueTx(chain, 'kr.mois', 1)])
    expect(o.ledger.head.height).toBe(1)
    // once closed, the directory opens again
    await o.ledger.close()
    const again = await Ledger.open(o.dir, chain.genesis)
    expect(again.head.height).toBe(1)
    await again.close()
  })

  it('GENESIS_MISMATCH: a directory made for another genesis', async () => {
    const o = await fresh()
    await commitTxs(o.ledger, chain, [issueTx(chain, 'kr.mois', 1)])
    await o.ledger.close()
    const other = makeTestChain({ keys: chain.keys, validatorKey: chain.validatorKey, chainId: 'certchain-other' })
    await expect(Ledger.open(o.dir, other.genesis)).rejects.toMatchObject({ code: 'GENESIS_MISMATCH' })
    // same chain id, different content is another genesis too
    const edited = makeTestChain({ keys: chain.keys, validatorKey: chain.validatorKey, params: { txMaxTtlMs: 1000 } })
    await expect(Ledger.open(o.dir, edited.genesis)).rejects.toMatchObject({ code: 'GENESIS_MISMATCH' })
    // the refused open released the directory
    const again = await Ledger.open(o.dir, chain.genesis)
    expect(again.head.height).toBe(1)
    await again.close()
  })
})

describe('certificateStatus', () => {
  const record = { type: 'kr.residence', issuer: 'kr.mois', docHash: new Uint8Array(32), validFrom: 1000, validUntil: 2000 }
  const entry = (e: Partial<CertificateEntry> = {}): CertificateEntry => ({
    record,
    seq: 0,
    txId: new Uint8Array(32),
    key: new Uint8Array(32),
    height: 1,
    time: 1000,
    state: 'active',
    ...e,
  })

  it('valid from validFrom (inclusive) until validUntil (exclusive)', () => {
    expect(certificateStatus(entry(), 999)).toBe('not_yet_valid')
    expect(certificateStatus(entry(), 1000)).toBe('valid')
    expect(certificateStatus(entry(), 1999)).toBe('valid')
    expect(certificateStatus(entry(), 2000)).toBe('expired')
  })

  it('revoked and suspended win over the validity period', () => {
    for (const now of [0, 1500, 5000]) {
      expect(certificateStatus(entry({ state: 'revoked' }), now)).toBe('revoked')
      expect(certificateStatus(entry({ state: 'suspended' }), now)).toBe('suspended')
    }
  })

  it('on chain: valid, then suspended, valid again, then revoked', async () => {
    const { ledger } = await fresh()
    const t0 = Date.now()
    const tx = issueTx(chain, 'kr.mois', 1, { now: t0 })
    const [id] = d(tx).certificateIds
    const get = async (): Promise<CertificateEntry> => (await ledger.getCertificates([id!]))[0]!
    await commitTxs(ledger, chain, [tx], t0)
    expect(certificateStatus(await get(), t0)).toBe('valid')
    expect(certificateStatus(await get(), t0 - 1)).toBe('not_yet_valid')
    expect(certificateStatus(await get(), t0 + 90 * DAY)).toBe('expired')
    await commitTxs(ledger, chain, [suspendTx(chain, 'kr.mois', id!)], t0 + 1000)
    expect(certificateStatus(await get(), t0 + 1000)).toBe('suspended')
    await commitTxs(ledger, chain, [reinstateTx(chain, 'kr.mois', id!)], t0 + 2000)
    expect(certificateStatus(await get(), t0 + 2000)).toBe('valid')
    await commitTxs(ledger, chain, [revokeTx(chain, 'kr.mois', [id!])], t0 + 3000)
    expect(certificateStatus(await get(), t0 + 3000)).toBe('revoked')
  })
})

describe('verifyCertificate', () => {
  let ledger: Ledger
  let t0: number
  let tx: ReturnType<typeof issueTx>
  beforeEach(async () => {
    ledger = (await fresh()).ledger
    t0 = Date.now()
    tx = issueTx(chain, 'kr.seoul.jongno', 4, { now: t0 })
    await commitTxs(ledger, chain, [tx], t0)
  })

  const ALL = ['chain', 'certificate_id', 'document_hash', 'issuer_signature', 'on_chain', 'issuer_authorized', 'status', 'validity_period']

  function failing(result: Awaited<ReturnType<typeof verifyCertificate>>): string[] {
    return result.checks.filter((c) => !c.ok).map((c) => c.name)
  }

  it('a genuine certificate: verdict valid, every check ok', async () => {
    const files = certificateFiles(chain, tx, 1)
    for (const [i, file] of files.entries()) {
      const r = await verifyCertificate(ledger, file, { document: tx.secrets[i]!.document }, t0 + 1000)
      expect(r.verdict).toBe('valid')
      expect(r.status).toBe('valid')
      expect(r.certificateId).toBe(toHex(file.certificateId))
      expect(r.checks.map((c) => c.name)).toEqual(ALL)
      expect(failing(r)).toEqual([])
      expect(r.entry?.state).toBe('active')
    }
  })

  it('evidence may be the document hash instead of the document', async () => {
    const [file] = certificateFiles(chain, tx, 1)
    const r = await verifyCertificate(ledger, file!, { documentHash: file!.record.docHash }, t0 + 1000)
    expect(r.verdict).toBe('valid')
  })

  it('wrong document: document_hash fails', async () => {
    const [file] = certificateFiles(chain, tx, 1)
    const r = await verifyCertificate(ledger, file!, { document: new TextEncoder().encode('forged') }, t0 + 1000)
    expect(r.verdict).toBe('invalid')
    expect(failing(r)).toEqual(['document_hash'])
    // the document of another certificate of the same batch
    const r2 = await verifyCertificate(ledger, file!, { document: tx.secrets[1]!.document }, t0 + 1000)
    expect(failing(r2)).toEqual(['document_hash'])
  })

  it('tampered record: certificate_id, issuer_signature and on_chain fail', async () => {
    const [file] = certificateFiles(chain, tx, 1)
    const record = { ...file!.record, validUntil: file!.record.validUntil + 365 * DAY }
    const r = await verifyCertificate(ledger, { ...file!, record }, { document: tx.secrets[0]!.document }, t0 + 1000)
    expect(r.verdict).toBe('invalid')
    expect(failing(r)).toEqual(['certificate_id', 'issuer_signature', 'on_chain'])
  })

  it('tampered record with a matching doc hash for a forged document: still invalid', async () => {
    const [file] = certificateFiles(chain, tx, 1)
    const forged = new TextEncoder().encode('forged')
    const record = { ...file!.record, docHash: documentHash(file!.salt, forged) }
    const r = await verifyCertificate(ledger, { ...file!, record }, { document: forged }, t0 + 1000)
    expect(r.verdict).toBe('invalid')
    expect(failing(r)).toEqual(['certificate_id', 'issuer_signature', 'on_chain'])
  })

  it('revoked: status fails, status revoked', async () => {
    const files = certificateFiles(chain, tx, 1)
    await commitTxs(ledger, chain, [revokeTx(chain, 'kr.mois', [files[2]!.certificateId], { reason: 'fraud' })], t0 + 1000)
    const r = await verifyCertificate(ledger, files[2]!, { document: tx.secrets[2]!.document }, t0 + 2000)
    expect(r).toMatchObject({ verdict: 'invalid', status: 'revoked' })
    expect(failing(r)).toEqual(['status'])
    expect(r.checks.find((c) => c.name === 'status')?.detail).toContain('fraud')
    // the other members of the batch are still valid
    const other = await verifyCertificate(ledger, files[1]!, { document: tx.secrets[1]!.document }, t0 + 2000)
    expect(other.verdict).toBe('valid')
  })

  it('suspended: status fails, status suspended; valid again after reinstatement', async () => {
    const [file] = certificateFiles(chain, tx, 1)
    await commitTxs(ledger, chain, [suspendTx(chain, 'kr.seoul.jongno', file!.certificateId)], t0 + 1000)
    const r = await verifyCertificate(ledger, file!, { document: tx.secrets[0]!.document }, t0 + 2000)
    expect(r).toMatchObject({ verdict: 'invalid', status: 'suspended' })
    expect(failing(r)).toEqual(['status'])
    await commitTxs(ledger, chain, [reinstateTx(chain, 'kr.seoul.jongno', file!.certificateId)], t0 + 2000)
    expect((await verifyCertificate(ledger, file!, { document: tx.secrets[0]!.document }, t0 + 3000)).verdict).toBe('valid')
  })

  it('expired or not yet valid: validity_period fails', async () => {
    const [file] = certificateFiles(chain, tx, 1)
    const expired = await verifyCertificate(ledger, file!, { document: tx.secrets[0]!.document }, file!.record.validUntil)
    expect(expired).toMatchObject({ verdict: 'invalid', status: 'expired' })
    expect(failing(expired)).toEqual(['validity_period'])
    const early = await verifyCertificate(ledger, file!, { document: tx.secrets[0]!.document }, file!.record.validFrom - 1)
    expect(early).toMatchObject({ verdict: 'invalid', status: 'not_yet_valid' })
    expect(failing(early)).toEqual(['validity_period'])
  })

  it('unknown certificate: on_chain fails, status unknown, no chain-side checks', async () => {
    const other = issueTx(chain, 'kr.seoul.jongno', 1, { now: t0 })
    const [file] = certificateFiles(chain, other, 1)
    const r = await verifyCertificate(ledger, file!, { document: other.secrets[0]!.document }, t0 + 1000)
    expect(r).toMatchObject({ verdict: 'invalid', status: 'unknown' })
    expect(r.entry).toBeUndefined()
    expect(r.checks.map((c) => c.name)).toEqual(['chain', 'certificate_id', 'document_hash', 'issuer_signature', 'on_chain'])
    expect(failing(r)).toEqual(['on_chain'])
  })

  it('wrong chain id: chain and issuer_signature fail', async () => {
    const [file] = certificateFiles(chain, tx, 1)
    const r = await verifyCertificate(ledger, { ...file!, chainId: 'certchain-other' }, { document: tx.secrets[0]!.document }, t0 + 1000)
    expect(r.verdict).toBe('invalid')
    expect(failing(r)).toEqual(['chain', 'issuer_signature', 'on_chain'])
  })

  it('a genuine file for another chain (same keys, same record) is invalid here', async () => {
    const otherChain = makeTestChain({ keys: chain.keys, validatorKey: chain.validatorKey, chainId: 'certchain-other' })
    const foreign = issueTx(otherChain, 'kr.seoul.jongno', [tx.records[0]!], { now: t0 })
    const [file] = certificateFiles(otherChain, { ...foreign, secrets: [tx.secrets[0]] }, 1)
    const r = await verifyCertificate(ledger, file!, { document: tx.secrets[0]!.document }, t0 + 1000)
    expect(r.verdict).toBe('invalid')
    expect(failing(r)).toContain('chain')
  })
})
