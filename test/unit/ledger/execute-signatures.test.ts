/**
 * Issue 11 item 2: a block received from another proposer or from sync has the signatures of its
 * transactions (those not verified here before) checked in one call to the ledger's injected
 * verifier (worker threads in a node), before anything is read from storage; verdicts and refusal
 * messages are those of verifying each transaction in order.
 */
import pino from 'pino'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { generateKeyPair, INLINE_VERIFIER, type SignatureBatchVerifier, type SignatureCheck } from '../../../src/core/crypto.js'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { merkleRoot } from '../../../src/core/merkle.js'
import type { Block } from '../../../src/core/types.js'
import type { Ledger } from '../../../src/ledger/index.js'
import { admitTx, DEFAULT_MEMPOOL_OPTIONS, Mempool } from '../../../src/mempool/index.js'
import { createMetrics } from '../../../src/node/metrics.js'
import { VerifyPool } from '../../../src/node/verify-pool.js'
import { commitWrites, decode, issueTx, makeTestChain, openLedger, type OpenedLedger } from '../../helpers/fixtures.js'

const chain = makeTestChain()
const opened: OpenedLedger[] = []
afterEach(async () => {
  for (const o of opened.splice(0)) await o.cleanup()
})

/** What happened, in order: each batch handed to the verifier and each storage lookup. */
type Event = { batch: number } | { lookup: number }

class RecordingVerifier implements SignatureBatchVerifier {
  constructor(
    private readonly events: Event[],
    private readonly answer: (checks: readonly SignatureCheck[]) => Promise<boolean[]> = (checks) => INLINE_VERIFIER.verifyBatch(checks),
  ) {}
  verifyBatch(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    this.events.push({ batch: checks.length })
    return this.answer(checks)
  }
}

async function open(verifier?: SignatureBatchVerifier, events?: Event[]): Promise<Ledger> {
  const o = await openLedger(chain, verifier ? { verifier } : {})
  opened.push(o)
  if (events) {
    const store = (o.ledger as unknown as { store: { lookup: (txs: Bytes[], certs: Bytes[]) => Promise<unknown> } }).store
    const lookup = store.lookup.bind(store)
    store.lookup = (txs, certs) => {
      events.push({ lookup: txs.length })
      return lookup(txs, certs)
    }
  }
  return o.ledger
}

let proposer: Ledger
let block: Block
let txs: Bytes[]
beforeEach(async () => {
  proposer = await open()
  txs = [issueTx(chain, 'kr.mois', 2), issueTx(chain, 'kr.seoul.jongno', 1), issueTx(chain, 'kr.court.seoul', 3), issueTx(chain, 'kr.mois', 1), issueTx(chain, 'kr.land.seoul', 1)].map((t) => t.bytes)
  block = (await proposer.proposeBlock(txs.map((t) => decode(chain, t)), Date.now(), chain.proposer)).writes.block
  expect(block.txs).toHaveLength(5)
})

/** The same header over other transactions (txCount, txRoot fit them), so execution is what judges them. */
const withTxs = (list: Bytes[]): Block => ({ header: { ...block.header, txCount: list.length, txRoot: merkleRoot(list) }, txs: list })

describe('executeBlock and the injected signature verifier', () => {
  it('verifies every signature in one batch before the first storage read, and executes to the proposer\'s state root', async () => {
    const events: Event[] = []
    const follower = await open(new RecordingVerifier(events), events)
    const writes = await follower.executeBlock(block)
    expect(toHex(writes.head.stateRoot)).toBe(toHex(block.header.stateRoot))
    expect(events[0]).toEqual({ batch: 5 })
    expect(events.filter((e) => 'batch' in e)).toHaveLength(1)
    expect(events.some((e) => 'lookup' in e)).toBe(true)
  })

  it('transactions the mempool verified already (known) are not verified again', async () => {
    const events: Event[] = []
    const follower = await open(new RecordingVerifier(events))
    const mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
    for (const bytes of txs.slice(0, 3)) await admitTx(follower, mempool, bytes, Date.now())
    await follower.executeBlock(block, (bytes) => mempool.known(bytes))
    // Three single admissions, then the block's other two.
    expect(events).toEqual([{ batch: 1 }, { batch: 1 }, { batch: 1 }, { batch: 2 }])
  })

  it('a forged transaction refuses the block with the first invalid transaction\'s code, as without the batch', async () => {
    const events: Event[] = []
    const follower = await open(new RecordingVerifier(events))
    const forged = issueTx(chain, 'kr.mois', 1, { signWith: generateKeyPair(), key: chain.keys['kr.mois'].publicKey }).bytes
    const expired = issueTx(chain, 'kr.mois', 1, { expiresAt: block.header.time }).bytes
    await expect(follower.executeBlock(withTxs([txs[0]!, forged, ...txs.slice(1)]))).rejects.toMatchObject({
      code: 'MALFORMED_BLOCK',
      message: expect.stringMatching(/transaction 1 is invalid: BAD_SIGNATURE/),
    })
    // An earlier transaction that breaks another rule is the one reported, though the forgery's signature was checked first.
    await expect(follower.executeBlock(withTxs([expired, forged]))).rejects.toMatchObject({ message: expect.stringMatching(/transaction 0 is invalid: TX_EXPIRED/) })
    expect(events).toEqual([{ batch: 6 }, { batch: 2 }])
    expect(follower.head.height).toBe(0)
  })

  it('a verifier that answers "does not verify" for everything cannot refuse a valid block: the transactions are verified again in order', async () => {
    const follower = await open(new RecordingVerifier([], (checks) => Promise.resolve(checks.map(() => false))))
    const writes = await follower.executeBlock(block)
    expect(toHex(writes.head.stateRoot)).toBe(toHex(block.header.stateRoot))
  })

  it('with the node\'s worker pool: the same block executes to the same state and commits', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const pool = new VerifyPool({ threads: 1, minWorkerBatch: 1 }, { logger: pino({ level: 'silent' }), metrics })
    try {
      const follower = await open(pool)
      await commitWrites(follower, chain, await follower.executeBlock(block))
      expect(follower.head.stateRoot).toEqual(block.header.stateRoot)
      const verified = (await metrics.registry.getSingleMetric('certchain_signatures_verified_total')!.get()).values
      expect(verified).toEqual([{ labels: { where: 'worker' }, value: 5 }])
    } finally {
      await pool.close()
    }
  })
})
