/**
 * A small load: 200 single-certificate issuances submitted at once with ?wait=commit. Every one
 * must commit, exactly once, at the place the node reports, and every certificate must then be
 * valid. Proves concurrent admission and commit waiting work; asserts nothing about speed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { IssuerIdentity, PreparedIssuance } from '../../../src/client/index.js'
import { toHex } from '../../../src/core/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { httpGet, httpPost, issueOne, postTx } from './helpers.js'

const COUNT = 200

let node: TestNode
let url: string

beforeAll(async () => {
  node = await startTestNode({ heartbeatIntervalMs: 600_000 })
  url = node.url
})

afterAll(async () => {
  await node?.stop()
})

describe(`${COUNT} concurrent issuances`, () => {
  it('all commit, each exactly once, and every certificate is valid', async () => {
    const chainId = node.manifest.chainId
    // Four issuers, each issuing a type it is registered for.
    const issuers: [IssuerIdentity, string][] = [
      [await node.identity('kr.seoul.jongno'), 'kr.residence'],
      [await node.identity('kr.mois'), 'kr.residence'],
      [await node.identity('kr.court.seoul-family'), 'kr.family'],
      [await node.identity('kr.seoul.land'), 'kr.land'],
    ]
    const txs: PreparedIssuance[] = Array.from({ length: COUNT }, (_, i) => {
      const [identity, type] = issuers[i % issuers.length]!
      return issueOne(chainId, identity, type)
    })
    const txIds = txs.map((t) => toHex(t.id))
    expect(new Set(txIds).size).toBe(COUNT)

    const responses = await Promise.all(txs.map((t) => postTx(url, t.bytes, 'commit')))
    const failed = responses.filter((r) => r.status !== 200 || r.body?.status !== 'committed')
    expect(failed.map((r) => `${r.status} ${r.text}`)).toEqual([])
    responses.forEach((r, i) => {
      expect(r.body).toEqual({ id: txIds[i], status: 'committed', height: expect.any(Number), index: expect.any(Number) })
    })

    const status = (await httpGet(url, '/v1/status')).body
    expect(status.transactions).toBe(COUNT)
    expect(status.certificates).toBe(COUNT)
    expect(status.mempool).toEqual({ txs: 0, bytes: 0 })

    // Every block from 1 to the head: together they hold exactly these transactions, each at the
    // height and index its response named.
    const where = new Map<string, string>()
    for (let height = 1; height <= status.height; height++) {
      const block = await httpGet(url, `/v1/blocks/${height}`)
      expect(block.status).toBe(200)
      expect(block.body.header.txCount).toBe(block.body.txs.length)
      block.body.txs.forEach((t: { id: string }, index: number) => {
        expect(where.has(t.id), `${t.id} in two blocks`).toBe(false)
        where.set(t.id, `${height}/${index}`)
      })
    }
    expect(where.size).toBe(COUNT)
    responses.forEach((r, i) => expect(where.get(txIds[i]!), txIds[i]).toBe(`${r.body.height}/${r.body.index}`))

    const certificateIds = txs.map((t) => toHex(t.certificateIds[0]!))
    const batch = await httpPost(url, '/v1/certificates/status', { ids: certificateIds })
    expect(batch.status, batch.text).toBe(200)
    expect(batch.body.results).toEqual(
      txs.map((t, i) => ({ id: certificateIds[i], status: 'valid', type: t.records[0]!.type, issuer: t.records[0]!.issuer })),
    )
  })
})
