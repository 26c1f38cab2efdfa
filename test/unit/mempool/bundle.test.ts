/**
 * Transaction bundles (the txbundle gossip topic): the format and its decoder's refusals, the
 * bundler's window and caps, and the one verdict gossip gets for a bundle of transactions that
 * each go through admission.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Bytes } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { DEFAULT_CHAIN_PARAMS } from '../../../src/core/genesis.js'
import { encodeTx } from '../../../src/core/tx.js'
import type { Ledger } from '../../../src/ledger/index.js'
import {
  bundleBytes,
  bundleEntryBytes,
  bundleLimits,
  decodeTxBundle,
  DEFAULT_MEMPOOL_OPTIONS,
  encodeTxBundle,
  ADMIT_CHUNK,
  MAX_BUNDLE_FAILURES,
  Mempool,
  TxBundler,
  validateTxBundleGossip,
} from '../../../src/mempool/index.js'
import { DEFAULT_PENALTY_OPTIONS, PeerPenalties } from '../../../src/p2p/index.js'
import { issueTx, makeTestChain, openLedger, thrownCode, type OpenedLedger } from '../../helpers/fixtures.js'

const LIMITS = { maxTxs: 8, maxBytes: 4096 }
const tx = (n: number, length = 10): Bytes => new Uint8Array(length).fill(n)

describe('bundle format', () => {
  it('is the DAG-CBOR array of the transactions; decoding gives them back in order, as views of the message', () => {
    const txs = [tx(1), tx(2, 300), tx(3, 70_000)]
    const bundle = encodeTxBundle(txs)
    expect(bundle).toEqual(dagCbor.encode(txs))
    expect(bundle.length).toBe(bundleBytes(3, txs.reduce((n, t) => n + bundleEntryBytes(t.length), 0)))
    const decoded = decodeTxBundle(bundle, { maxTxs: 3, maxBytes: bundle.length })
    expect(decoded).toEqual(txs)
    expect(decoded.every((d) => d.buffer === bundle.buffer)).toBe(true)
  })

  it('receivers take at most a block: maxBlockTxs transactions, maxBlockBytes of them plus their heads', () => {
    const limits = bundleLimits(DEFAULT_CHAIN_PARAMS)
    expect(limits.maxTxs).toBe(DEFAULT_CHAIN_PARAMS.maxBlockTxs)
    expect(limits.maxBytes).toBeGreaterThanOrEqual(bundleBytes(1, bundleEntryBytes(DEFAULT_CHAIN_PARAMS.maxBlockBytes)))
    expect(limits.maxBytes).toBeLessThan(DEFAULT_CHAIN_PARAMS.maxBlockBytes + 128 * 1024)
  })

  const refusals: [string, Uint8Array, string][] = [
    ['over the byte limit (TX_BUNDLE_TOO_LARGE), before anything is read', encodeTxBundle([tx(1, 5000)]), 'TX_BUNDLE_TOO_LARGE'],
    ['more transactions than the limit, on the count its first bytes declare (TOO_MANY_TXS)', Uint8Array.of(0x9a, 0xff, 0xff, 0xff, 0xff), 'TOO_MANY_TXS'],
    ['an empty bundle', encodeTxBundle([]), 'MALFORMED_TX_BUNDLE'],
    ['not an array', dagCbor.encode({ txs: [tx(1)] }), 'MALFORMED_TX_BUNDLE'],
    ['an entry that is not a byte string', dagCbor.encode([tx(1), 'tx']), 'MALFORMED_TX_BUNDLE'],
    ['a count beyond the bytes there are', Uint8Array.of(0x88, 0x41, 0x01), 'MALFORMED_ENCODING'],
    ['a truncated entry', encodeTxBundle([tx(1, 100)]).subarray(0, 50), 'MALFORMED_ENCODING'],
    ['bytes after the array', Uint8Array.of(...encodeTxBundle([tx(1)]), 0x00), 'MALFORMED_ENCODING'],
    ['an indefinite-length array', Uint8Array.of(0x9f, 0x41, 0x01, 0xff), 'MALFORMED_ENCODING'],
    ['a non-minimal array head (a second encoding, a second message id)', Uint8Array.of(0x98, 0x01, 0x41, 0x01), 'NON_CANONICAL_ENCODING'],
    ['a non-minimal entry head', Uint8Array.of(0x81, 0x58, 0x01, 0x01), 'NON_CANONICAL_ENCODING'],
    ['the same transaction twice (DUPLICATE_IN_BATCH)', encodeTxBundle([tx(1), tx(2), tx(1)]), 'DUPLICATE_IN_BATCH'],
    ['no bytes at all', new Uint8Array(0), 'MALFORMED_ENCODING'],
  ]
  for (const [what, bytes, code] of refusals) {
    it(`refuses ${what}`, () => {
      expect(thrownCode(() => decodeTxBundle(bytes, LIMITS))).toBe(code)
    })
  }
})

describe('TxBundler', () => {
  let published: Bytes[][]
  const bundler = (limits = LIMITS, windowMs = 5) => new TxBundler({ windowMs, limits: () => limits }, (txs, bundle) => {
    expect(decodeTxBundle(bundle, { maxTxs: 1000, maxBytes: 1 << 22 })).toEqual(txs)
    published.push([...txs])
  })
  beforeEach(() => {
    published = []
    vi.useFakeTimers()
  })
  afterEach(() => vi.useRealTimers())

  it('publishes what arrived within the window as one bundle, when the window closes', () => {
    const b = bundler()
    b.add(tx(1))
    vi.advanceTimersByTime(3)
    b.add(tx(2))
    expect(published).toEqual([])
    expect(b.pending).toBe(2)
    vi.advanceTimersByTime(2)
    expect(published).toEqual([[tx(1), tx(2)]])
    // The next transaction opens a new window.
    b.add(tx(3))
    vi.advanceTimersByTime(5)
    expect(published).toEqual([[tx(1), tx(2)], [tx(3)]])
  })

  it('publishes at once when the count cap is reached', () => {
    const b = bundler({ maxTxs: 3, maxBytes: 4096 })
    for (let i = 0; i < 7; i++) b.add(tx(i))
    expect(published).toEqual([[tx(0), tx(1), tx(2)], [tx(3), tx(4), tx(5)]])
    vi.advanceTimersByTime(5)
    expect(published[2]).toEqual([tx(6)])
  })

  it('never goes past the byte cap: a transaction that would, starts the next bundle; one larger than the cap travels alone', () => {
    const b = bundler({ maxTxs: 100, maxBytes: 1000 })
    b.add(tx(1, 400))
    b.add(tx(2, 400))
    b.add(tx(3, 400))
    expect(published).toEqual([[tx(1, 400), tx(2, 400)]])
    b.add(tx(4, 5000))
    expect(published).toEqual([[tx(1, 400), tx(2, 400)], [tx(3, 400)], [tx(4, 5000)]])
    expect(b.pending).toBe(0)
    for (const txs of published.slice(0, 2)) expect(encodeTxBundle(txs).length).toBeLessThanOrEqual(1000)
  })

  it('flush() publishes what is pending now (shutdown) and nothing when empty', () => {
    const b = bundler()
    b.flush()
    b.add(tx(1))
    b.flush()
    expect(published).toEqual([[tx(1)]])
    vi.advanceTimersByTime(10)
    expect(published).toHaveLength(1)
  })
})

describe('validateTxBundleGossip', () => {
  const chain = makeTestChain()
  let opened: OpenedLedger
  let ledger: Ledger
  let mempool: Mempool
  beforeEach(async () => {
    opened = await openLedger(chain)
    ledger = opened.ledger
    mempool = new Mempool(DEFAULT_MEMPOOL_OPTIONS)
  })
  afterEach(() => opened.cleanup())

  const valid = (n = 1) => Array.from({ length: n }, () => issueTx(chain, 'kr.mois', 1).bytes)
  /** Signed by the registered key of an inactive issuer: refused by a rule that depends on the registry, charged. */
  const inactive = () => issueTx(chain, 'kr.retired', 1).bytes
  const forged = () => encodeTx({ ...issueTx(chain, 'kr.mois', 1).tx, sig: new Uint8Array(64).fill(7) })
  const validate = (txs: Bytes[]) => validateTxBundleGossip(ledger, mempool, encodeTxBundle(txs), Date.now())

  it('accepts (forwards as received) a bundle whose transactions entered the mempool, one verdict for all', async () => {
    const txs = valid(5)
    expect(await validate(txs)).toEqual({ verdict: { result: 'accept' }, relay: [], txs: 5 })
    expect(mempool.size).toBe(5)
  })

  it('accepts when at least one is new; ignores, free of charge, when every one is pending already', async () => {
    const [a, b] = valid(2) as [Bytes, Bytes]
    await validate([a])
    expect((await validate([a, b])).verdict).toEqual({ result: 'accept' })
    const again = await validate([b, a])
    expect(again.verdict).toMatchObject({ result: 'ignore' })
    expect(again.verdict).not.toHaveProperty('charge')
    expect(again.relay).toEqual([])
  })

  it('rejects a malformed bundle before any admission', async () => {
    const duplicate = valid(1)[0]!
    const outcome = await validate([duplicate, duplicate])
    expect(outcome.verdict).toMatchObject({ result: 'reject', code: 'DUPLICATE_IN_BATCH' })
    expect(mempool.size).toBe(0)
    const tooMany = await validateTxBundleGossip(ledger, mempool, Uint8Array.of(0x9a, 0x7f, 0xff, 0xff, 0xff), Date.now())
    expect(tooMany).toMatchObject({ verdict: { result: 'reject', code: 'TOO_MANY_TXS' }, txs: 0 })
  })

  it('rejects a bundle holding a transaction invalid everywhere; what its chunk admitted is relayed by this node, not forwarded, and later chunks are not looked at', async () => {
    const [good, after] = valid(2) as [Bytes, Bytes]
    const beyond = valid(1)
    // The forgery is in the first chunk (admitted together); the next chunk is never looked at.
    const filler = valid(ADMIT_CHUNK - 3)
    const outcome = await validate([good, forged(), after, ...filler, ...beyond])
    expect(outcome.verdict).toMatchObject({ result: 'reject', code: 'BAD_SIGNATURE', reason: expect.stringContaining(`transaction 1 of ${ADMIT_CHUNK + 1}`) })
    expect(outcome.relay).toEqual([good, after, ...filler])
    expect(mempool.size).toBe(ADMIT_CHUNK - 1)
  })

  it('state-dependent failures: ignored, not forwarded, charged once per failing transaction; the admitted ones are relayed by this node', async () => {
    const [good] = valid(1) as [Bytes]
    const outcome = await validate([inactive(), good, inactive(), inactive()])
    expect(outcome.verdict).toMatchObject({ result: 'ignore', code: 'ISSUER_INACTIVE', charge: true, units: 3 })
    expect(outcome.relay).toEqual([good])
    const penalties = new PeerPenalties(DEFAULT_PENALTY_OPTIONS)
    const units = outcome.verdict.result === 'accept' ? undefined : outcome.verdict.units
    // As much as three failing single-transaction messages.
    expect(penalties.cost({ result: 'ignore', code: 'ISSUER_INACTIVE', ...(units === undefined ? {} : { units }) }, 1000)).toBe(3 * DEFAULT_PENALTY_OPTIONS.chargePoints)
  })

  it(`stops checking a bundle after ${MAX_BUNDLE_FAILURES} charged failures`, async () => {
    const txs = [...Array.from({ length: MAX_BUNDLE_FAILURES }, inactive), ...valid(3)]
    const outcome = await validate(txs)
    expect(outcome.verdict).toMatchObject({ result: 'ignore', charge: true, units: MAX_BUNDLE_FAILURES })
    expect(mempool.size).toBe(0)
  })

  it('an unknown issuer signed for real is charged, not rejected (the registry may differ by a block)', async () => {
    const stranger = issueTx(chain, 'xx.nobody', 1, { signWith: generateKeyPair(), type: 'kr.residence' }).bytes
    expect((await validate([stranger])).verdict).toMatchObject({ result: 'ignore', code: 'UNKNOWN_ISSUER', charge: true, units: 1 })
  })
})
