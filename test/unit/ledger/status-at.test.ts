import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CertificateFile, CertificateRecord } from '../../../src/core/index.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { verifyCertificate, type Ledger, type VerificationResult } from '../../../src/ledger/index.js'
import {
  certificateFiles,
  commitTxs,
  issuerKeysTx,
  issueTx,
  makeTestChain,
  MINUTE,
  openLedger,
  reinstateTx,
  revokeTx,
  suspendTx,
  type BuiltTx,
  type DocumentSecret,
  type OpenedLedger,
  type TxOptions,
} from '../../helpers/fixtures.js'

// Status as of a time: "was this certificate valid when the loan was signed?" is answered from
// the certificate's status history (every change with its height), the registry of that height
// (key compromise) and the time asked about (validity period), never from today's state.

const HOUR = 60 * MINUTE
/** Block k of every ledger here is committed at T0 + k hours. */
const T0 = Date.parse('2025-03-01T00:00:00.000Z')
const timeOf = (height: number): number => T0 + height * HOUR

const chain = makeTestChain()

interface Issued {
  readonly file: CertificateFile
  readonly secret: DocumentSecret
}

/** A ledger on `chain` whose block k is committed at timeOf(k), each with every transaction it is given. */
class TimedLedger {
  private constructor(readonly opened: OpenedLedger) {}

  static async open(): Promise<TimedLedger> {
    return new TimedLedger(await openLedger(chain))
  }

  get ledger(): Ledger {
    return this.opened.ledger
  }

  /** Options for a transaction of the next block: made at that block's time. */
  get next(): TxOptions {
    return { now: timeOf(this.ledger.head.height + 1) }
  }

  async block(...txs: BuiltTx[]): Promise<number> {
    const height = this.ledger.head.height + 1
    const proposed = await commitTxs(this.ledger, chain, txs, timeOf(height))
    if (proposed.rejected.length > 0) throw new Error(`refused: ${proposed.rejected.map((r) => r.error.code).join(', ')}`)
    return height
  }

  /** Issues certificates (one per record) in the next block, signed with `signWith` or the issuer's genesis key. */
  async issue(issuer: string, records: Partial<CertificateRecord>[] = [{}], extra: TxOptions = {}): Promise<Issued[]> {
    const tx = issueTx(chain, issuer, records, { ...this.next, ...extra })
    const height = await this.block(tx)
    return certificateFiles(chain, tx, height).map((file, i) => ({ file, secret: tx.secrets[i]! }))
  }

  async issueOne(issuer: string): Promise<Issued> {
    return (await this.issue(issuer))[0]!
  }

  verifyAt(c: Issued, height: number, time: number): Promise<VerificationResult> {
    return verifyCertificate(this.ledger, c.file, { document: c.secret.document }, Date.now(), { height, time })
  }
}

const failedChecks = (r: VerificationResult): string[] => r.checks.filter((c) => !c.ok).map((c) => c.name)

describe('a certificate suspended, reinstated, suspended again, reinstated and revoked', () => {
  let t: TimedLedger
  let c: Issued

  beforeAll(async () => {
    t = await TimedLedger.open()
    c = await t.issueOne('kr.seoul.jongno') // height 1
    const id = c.file.certificateId
    await t.block(suspendTx(chain, 'kr.seoul.jongno', id, { ...t.next, reason: 'under_investigation' })) // 2
    await t.block(reinstateTx(chain, 'kr.seoul.jongno', id, t.next)) // 3
    await t.block(suspendTx(chain, 'kr.seoul.jongno', id, { ...t.next, reason: 'court_order' })) // 4
    await t.block(reinstateTx(chain, 'kr.seoul.jongno', id, t.next)) // 5
    await t.block(revokeTx(chain, 'kr.seoul.jongno', [id], { ...t.next, reason: 'superseded' })) // 6
    await t.block() // 7: the head, after the last change
  })

  afterAll(async () => {
    await t?.opened.cleanup()
  })

  /** After each height: its state, the change that set it (height and reason), and what a verifier answers then. */
  const periods = [
    { height: 0, issued: false, status: 'not_yet_issued', failed: ['on_chain'] },
    { height: 1, state: 'active', change: undefined, status: 'valid', failed: [] },
    { height: 2, state: 'suspended', change: { height: 2, reason: 'under_investigation' }, status: 'suspended', failed: ['status'] },
    { height: 3, state: 'active', change: { height: 3, reason: undefined }, status: 'valid', failed: [] },
    { height: 4, state: 'suspended', change: { height: 4, reason: 'court_order' }, status: 'suspended', failed: ['status'] },
    { height: 5, state: 'active', change: { height: 5, reason: undefined }, status: 'valid', failed: [] },
    { height: 6, state: 'revoked', change: { height: 6, reason: 'superseded' }, status: 'revoked', failed: ['status'] },
    { height: 7, state: 'revoked', change: { height: 6, reason: 'superseded' }, status: 'revoked', failed: ['status'] },
  ] as const

  it('certificateAsOf gives the state after every height from 0 to the head', async () => {
    expect(t.ledger.head.height).toBe(periods.length - 1)
    for (const p of periods) {
      const asOf = await t.ledger.certificateAsOf(c.file.certificateId, p.height)
      if (!('state' in p)) {
        expect(asOf, `height ${p.height}`).toEqual({ issued: false })
        continue
      }
      expect(asOf?.issued, `height ${p.height}`).toBe(true)
      const entry = asOf?.issued ? asOf.entry : undefined
      expect(entry?.state, `height ${p.height}`).toBe(p.state)
      expect(entry?.change === undefined ? undefined : { height: entry.change.height, reason: entry.change.reason }, `height ${p.height}`).toEqual(p.change)
      if (p.change) expect(entry?.change?.time, `height ${p.height}`).toBe(timeOf(p.change.height))
    }
  })

  it('verifyCertificate as of each height answers that period\'s status and verdict', async () => {
    for (const p of periods) {
      const r = await t.verifyAt(c, p.height, timeOf(p.height))
      expect({ height: p.height, status: r.status, failed: failedChecks(r) }).toEqual({ height: p.height, status: p.status, failed: p.failed })
      expect(r.verdict, `height ${p.height}`).toBe(p.failed.length === 0 ? 'valid' : 'invalid')
    }
    const before = await t.verifyAt(c, 0, timeOf(0))
    expect(before.checks.find((x) => x.name === 'on_chain')?.detail).toMatch(/not yet issued as of height 0/)
  })

  it('the current answer (no point in time) is the last change', async () => {
    const now = await verifyCertificate(t.ledger, c.file, { document: c.secret.document }, timeOf(8))
    expect(now.status).toBe('revoked')
    expect(now.entry?.change).toMatchObject({ height: 6, reason: 'superseded' })
  })

  it('heightAtTime: a block\'s own time is that block, a time between blocks the earlier one, before block 1 is 0', async () => {
    const at = (time: number) => t.ledger.heightAtTime(time)
    for (let h = 1; h <= 7; h++) {
      expect(await at(timeOf(h)), `exactly at block ${h}`).toBe(h)
      expect(await at(timeOf(h) + 30 * MINUTE), `between blocks ${h} and ${h + 1}`).toBe(h)
      expect(await at(timeOf(h) - 1), `just before block ${h}`).toBe(h - 1)
    }
    expect(await at(timeOf(0))).toBe(0)
    expect(await at(Date.parse(chain.genesisJson.genesisTime))).toBe(0)
    expect(await at(timeOf(7) + 24 * HOUR)).toBe(7)
  })

  it('a time read through heightAtTime gets the status that held at that time', async () => {
    const statusAt = async (time: number): Promise<string> => (await t.verifyAt(c, await t.ledger.heightAtTime(time), time)).status
    expect(await statusAt(timeOf(1) - 1)).toBe('not_yet_issued')
    expect(await statusAt(timeOf(1))).toBe('valid')
    expect(await statusAt(timeOf(2) - 1)).toBe('valid')
    expect(await statusAt(timeOf(2))).toBe('suspended')
    expect(await statusAt(timeOf(3) - 1)).toBe('suspended')
    expect(await statusAt(timeOf(3) + 10 * MINUTE)).toBe('valid')
    expect(await statusAt(timeOf(4) + 59 * MINUTE)).toBe('suspended')
    expect(await statusAt(timeOf(5))).toBe('valid')
    expect(await statusAt(timeOf(6) - 1)).toBe('valid')
    expect(await statusAt(timeOf(6))).toBe('revoked')
  })
})

describe('a key declared compromised at height K', () => {
  let t: TimedLedger
  let before: Issued
  let after: Issued
  const K = 4

  beforeAll(async () => {
    t = await TimedLedger.open()
    before = await t.issueOne('kr.seoul.jongno') // 1: signed before the compromise began
    after = await t.issueOne('kr.seoul.jongno') // 2: signed with the same key, at the compromise's start
    const second = generateKeyPair()
    await t.block(issuerKeysTx(chain, 'kr.seoul.jongno', { add: [second.publicKey] }, t.next)) // 3
    const compromised = [{ key: chain.keys['kr.seoul.jongno'].publicKey, since: timeOf(2) }]
    expect(await t.block(issuerKeysTx(chain, 'kr.seoul.jongno', { compromised }, { ...t.next, signWith: second }))).toBe(K)
    await t.block() // 5
  })

  afterAll(async () => {
    await t?.opened.cleanup()
  })

  it('a certificate signed since the compromise reads active before K and revoked (key_compromised) from K', async () => {
    for (let h = 2; h <= 5; h++) {
      const asOf = await t.ledger.certificateAsOf(after.file.certificateId, h)
      const entry = asOf?.issued ? asOf.entry : undefined
      expect(entry?.state, `height ${h}`).toBe(h < K ? 'active' : 'revoked')
      if (h >= K) expect(entry?.change, `height ${h}`).toMatchObject({ height: K, time: timeOf(2), reason: 'key_compromised' })
      else expect(entry?.change, `height ${h}`).toBeUndefined()

      const r = await t.verifyAt(after, h, timeOf(h))
      expect({ height: h, status: r.status, failed: failedChecks(r) }).toEqual(
        h < K ? { height: h, status: 'valid', failed: [] } : { height: h, status: 'revoked', failed: ['status'] },
      )
    }
    expect((await t.verifyAt(after, K, timeOf(K))).checks.find((x) => x.name === 'status')?.detail).toMatch(/key_compromised/)
  })

  it('a certificate signed before the compromise began stays active at every height', async () => {
    for (let h = 1; h <= 5; h++) {
      const asOf = await t.ledger.certificateAsOf(before.file.certificateId, h)
      expect(asOf?.issued && asOf.entry.state, `height ${h}`).toBe('active')
      expect((await t.verifyAt(before, h, timeOf(h))).verdict, `height ${h}`).toBe('valid')
    }
  })
})

describe('the validity period is judged at the time asked about', () => {
  let t: TimedLedger
  let ending: Issued
  let starting: Issued
  /** Between blocks 2 and 3. */
  const validUntil = timeOf(2) + 30 * MINUTE
  const validFrom = timeOf(2)

  beforeAll(async () => {
    t = await TimedLedger.open()
    const [a, b] = await t.issue('kr.mois', [{ validFrom: timeOf(1), validUntil }, { validFrom }]) // 1
    ending = a!
    starting = b!
    await t.block() // 2
    await t.block() // 3
  })

  afterAll(async () => {
    await t?.opened.cleanup()
  })

  it('a certificate whose period ends between heights 2 and 3 reads expired only from its end on', async () => {
    expect((await t.verifyAt(ending, 2, timeOf(2))).status).toBe('valid')
    expect((await t.verifyAt(ending, 2, validUntil - 1)).status).toBe('valid')
    expect(await t.ledger.heightAtTime(validUntil)).toBe(2)
    const atEnd = await t.verifyAt(ending, 2, validUntil)
    expect({ status: atEnd.status, failed: failedChecks(atEnd) }).toEqual({ status: 'expired', failed: ['validity_period'] })
    const later = await t.verifyAt(ending, 3, timeOf(3))
    expect({ status: later.status, verdict: later.verdict, failed: failedChecks(later) }).toEqual({ status: 'expired', verdict: 'invalid', failed: ['validity_period'] })
    // Expiry is not a status change: the chain's state stays active.
    const asOf = await t.ledger.certificateAsOf(ending.file.certificateId, 3)
    expect(asOf?.issued && asOf.entry.state).toBe('active')
  })

  it('a certificate whose period starts after its issuance reads not_yet_valid until then', async () => {
    const early = await t.verifyAt(starting, 1, timeOf(1))
    expect({ status: early.status, failed: failedChecks(early) }).toEqual({ status: 'not_yet_valid', failed: ['validity_period'] })
    expect((await t.verifyAt(starting, 1, validFrom - 1)).status).toBe('not_yet_valid')
    expect((await t.verifyAt(starting, 2, validFrom)).status).toBe('valid')
  })
})
