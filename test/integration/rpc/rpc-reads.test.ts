/**
 * Issue 10 item 8: reads cost bounded work per request. Work is counted (transactions decoded,
 * proposal records read), not timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ProposalRecord } from '../../../src/ledger/index.js'
import { PROPOSALS_SCANNED } from '../../../src/rpc/registry-routes.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { prepareReinstatement, prepareRevocation, prepareSuspension } from '../../../src/client/index.js'
import { expectError, hex, httpGet, httpPost, issueOne, postTx, randomId } from './helpers.js'

let node: TestNode

beforeAll(async () => {
  node = await startTestNode()
})
afterAll(() => node?.stop())

describe('GET /v1/blocks/:height', () => {
  it('decodes a block\'s transactions once, however many clients ask for it, at once or later', async () => {
    const mois = await node.identity('kr.mois')
    const txs = Array.from({ length: 6 }, () => issueOne(node.manifest.chainId, mois, 'kr.residence'))
    const committed = await Promise.all(txs.map((t) => postTx(node.url, t.bytes, 'commit')))
    const height = committed[0]!.body.height as number
    const txCount = committed.filter((c) => c.body.height === height).length

    const ledger = node.node.ledger
    const decodeTx = ledger.decodeTx.bind(ledger)
    let decoded = 0
    ledger.decodeTx = (bytes, at) => {
      decoded++
      return decodeTx(bytes, at)
    }
    try {
      const parallel = await Promise.all(Array.from({ length: 4 }, () => httpGet(node.url, `/v1/blocks/${height}`)))
      const later = [await httpGet(node.url, `/v1/blocks/${height}`), await httpGet(node.url, `/v1/blocks/${height}`)]
      for (const res of [...parallel, ...later]) {
        expect(res.status).toBe(200)
        expect(res.contentType).toMatch(/^application\/json/)
        expect(res.body).toEqual(parallel[0]!.body)
      }
      expect(parallel[0]!.body.txs).toHaveLength(txCount)
      expect(decoded).toBe(txCount)
    } finally {
      ledger.decodeTx = decodeTx
    }
  })
})

describe('GET /v1/governance/proposals', () => {
  const STORED = 5000
  const record = (id: number): ProposalRecord => ({
    id,
    action: { type: 'setParams', params: { proposalTtlBlocks: 50 } },
    proposer: 'validator-1',
    txId: new Uint8Array(32),
    height: 1,
    deadline: 10,
    // One in a thousand passed: a filter by it has to look through many.
    status: id % 1000 === 0 ? 'passed' : 'expired',
    votes: [],
    closedHeight: 2,
  })

  it(`a filter by a closed status reads at most ${PROPOSALS_SCANNED} records per request and pages through the rest`, async () => {
    const ledger = node.node.ledger as unknown as Record<string, unknown>
    let reads = 0
    const saved = { getProposal: ledger.getProposal, listProposals: ledger.listProposals }
    Object.defineProperty(ledger, 'proposals', { configurable: true, get: () => ({ next: STORED + 1, open: [] }) })
    ledger.getProposal = (id: number) => {
      reads++
      return Promise.resolve(id >= 1 && id <= STORED ? record(id) : undefined)
    }
    ledger.listProposals = (limit: number) => {
      const n = Math.min(limit, STORED)
      reads += n
      return Promise.resolve(Array.from({ length: n }, (_, i) => record(STORED - i)))
    }
    try {
      const found: number[] = []
      let before: number | null | undefined
      let pages = 0
      do {
        reads = 0
        const res = await httpGet(node.url, `/v1/governance/proposals?status=passed&limit=1000${before ? `&before=${before}` : ''}`)
        expect(res.status, res.text).toBe(200)
        expect(reads).toBeLessThanOrEqual(PROPOSALS_SCANNED)
        found.push(...res.body.proposals.map((p: { id: number }) => p.id))
        before = res.body.next as number | null
        pages++
      } while (before !== null && pages < 20)
      expect(found).toEqual([5000, 4000, 3000, 2000, 1000])

      // An unfiltered page of 3 reads 3.
      reads = 0
      const newest = await httpGet(node.url, '/v1/governance/proposals?limit=3')
      expect(newest.body.proposals.map((p: { id: number }) => p.id)).toEqual([5000, 4999, 4998])
      expect(newest.body.next).toBe(4998)
      expect(reads).toBe(3)
      const following = await httpGet(node.url, '/v1/governance/proposals?limit=2&before=4998')
      expect(following.body.proposals.map((p: { id: number }) => p.id)).toEqual([4997, 4996])
    } finally {
      Object.assign(ledger, saved)
      delete ledger.proposals
    }
  })
})

describe('GET /v1/certificates/:id and POST /v1/certificates/status (cached entries)', () => {
  it('answer a suspension, reinstatement and revocation as soon as its block commits; as-of answers and unknown ids unchanged', async () => {
    const mois = await node.identity('kr.mois')
    const chainId = node.manifest.chainId
    const issued = issueOne(chainId, mois, 'kr.residence')
    const issuedAt = (await postTx(node.url, issued.bytes, 'commit')).body.height as number
    const id = hex(issued.certificateIds[0]!)
    const unknown = randomId()
    const read = async () => {
      const one = await httpGet(node.url, `/v1/certificates/${id.toUpperCase()}`)
      const batch = await httpPost(node.url, '/v1/certificates/status', { ids: [id, unknown] })
      expect(one.status, one.text).toBe(200)
      expect(batch.status, batch.text).toBe(200)
      expect(batch.body.results[0]).toEqual({ id, status: one.body.status, type: 'kr.residence', issuer: 'kr.mois' })
      expect(batch.body.results[1]).toEqual({ id: unknown, status: 'unknown' })
      return one.body as { id: string; status: string; statusChange: { state: string } | null }
    }
    // Read twice before any change, so the entry is cached when the changes commit.
    expect((await read()).status).toBe('valid')
    expect(await read()).toMatchObject({ id, status: 'valid', statusChange: null })
    const heights: number[] = []
    for (const [tx, status] of [
      [prepareSuspension(chainId, mois, issued.certificateIds[0]!, 'under_investigation'), 'suspended'],
      [prepareReinstatement(chainId, mois, issued.certificateIds[0]!), 'valid'],
      [prepareRevocation(chainId, mois, [issued.certificateIds[0]!], 'issued_in_error'), 'revoked'],
    ] as const) {
      const committed = await postTx(node.url, tx.bytes, 'commit')
      expect(committed.status, committed.text).toBe(200)
      heights.push(committed.body.height as number)
      expect((await read()).status).toBe(status)
    }
    const at = async (h: number): Promise<unknown> => ((await httpGet(node.url, `/v1/certificates/${id}?at=${h}`)).body as unknown)
    expect(await at(issuedAt - 1)).toMatchObject({ status: 'not_yet_issued' })
    expect(await at(issuedAt)).toMatchObject({ status: 'valid', asOf: { height: issuedAt } })
    expect(await at(heights[0]!)).toMatchObject({ status: 'suspended', statusChange: { state: 'suspended' } })
    expect(await at(heights[1]!)).toMatchObject({ status: 'valid' })
    expect(await at(heights[2]!)).toMatchObject({ status: 'revoked', statusChange: { state: 'revoked', reason: 'issued_in_error' } })
    expectError(await httpGet(node.url, `/v1/certificates/${unknown}`), 'CERTIFICATE_NOT_FOUND')
  })
})
