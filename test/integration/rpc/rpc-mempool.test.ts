/**
 * The mempool through the RPC on a node that never makes a block during the test (block interval
 * of a minute): resubmitting a pending transaction is harmless, a pending issuance reserves its
 * certificates, and a full mempool answers 503 MEMPOOL_FULL without remembering the refusal.
 *
 * Its own file because it needs its own node (`mempool.maxTxs: 2`, no blocks).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { IssuerIdentity, PreparedIssuance } from '../../../src/client/index.js'
import { toHex } from '../../../src/core/index.js'
import type { NodeStatus } from '../../../src/rpc/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { expectError, httpGet, issueOne, postTx, signRaw } from './helpers.js'

let node: TestNode
let url: string
let chainId: string
let jongno: IssuerIdentity
let tx1: PreparedIssuance
let tx2: PreparedIssuance

beforeAll(async () => {
  node = await startTestNode({
    mempool: { maxTxs: 2 },
    blockIntervalMs: 60_000,
    heartbeatIntervalMs: 600_000,
    // ?wait=commit on a transaction that cannot commit answers "still pending" after this long.
    rpc: { waitTimeoutMs: 200 },
  })
  url = node.url
  chainId = node.manifest.chainId
  jongno = await node.identity('kr.seoul.jongno')
  tx1 = issueOne(chainId, jongno, 'kr.residence')
  tx2 = issueOne(chainId, jongno, 'kr.residence')
})

afterAll(async () => {
  await node?.stop()
})

const status = async (): Promise<NodeStatus> => (await httpGet(url, '/v1/status')).body as NodeStatus

describe('a mempool of two on a node without blocks', () => {
  it('a submitted transaction is pending', async () => {
    const res = await postTx(url, tx1.bytes)
    expect(res.status, res.text).toBe(202)
    expect(res.body).toEqual({ id: toHex(tx1.id), status: 'pending' })
    expect((await httpGet(url, `/v1/txs/${toHex(tx1.id)}`)).body).toEqual({ id: toHex(tx1.id), status: 'pending' })
    const s = await status()
    expect(s.mempool).toEqual({ txs: 1, bytes: tx1.bytes.length })
    expect(s.height).toBe(0)
  })

  it('resubmitting a pending transaction is not an error: 202 pending, same id, added once', async () => {
    for (const wait of [undefined, 'none']) {
      const res = await postTx(url, tx1.bytes, wait)
      expect(res.status, res.text).toBe(202)
      expect(res.body).toEqual({ id: toHex(tx1.id), status: 'pending' })
    }
    // ?wait=commit: the node's wait timeout passes with no block, so it answers 202 pending.
    const waited = await postTx(url, tx1.bytes, 'commit')
    expect(waited.status, waited.text).toBe(202)
    expect(waited.body).toEqual({ id: toHex(tx1.id), status: 'pending' })
    expect((await status()).mempool).toEqual({ txs: 1, bytes: tx1.bytes.length })
  })

  it('a second issuance of a pending certificate: 409 DUPLICATE_CERTIFICATE, remembered', async () => {
    const again = signRaw(chainId, jongno.key.secretKey, {
      kind: 'IssueCertificates',
      signer: 'kr.seoul.jongno',
      key: jongno.key.publicKey,
      body: { records: tx1.records, expiresAt: tx1.tx.body.expiresAt + 1 },
    })
    expect(toHex(again.id)).not.toBe(toHex(tx1.id))
    const res = await postTx(url, again.bytes)
    expectError(res, 'DUPLICATE_CERTIFICATE', 'reissue of a pending certificate')
    expect((await httpGet(url, `/v1/txs/${toHex(again.id)}`)).body).toMatchObject({ status: 'rejected', code: 'DUPLICATE_CERTIFICATE' })
    expect((await status()).mempool.txs).toBe(1)
  })

  it('a full mempool: 503 MEMPOOL_FULL for a third transaction, not remembered (it may be retried)', async () => {
    const second = await postTx(url, tx2.bytes)
    expect(second.status, second.text).toBe(202)
    expect((await status()).mempool).toEqual({ txs: 2, bytes: tx1.bytes.length + tx2.bytes.length })

    const tx3 = issueOne(chainId, jongno, 'kr.residence')
    expectError(await postTx(url, tx3.bytes), 'MEMPOOL_FULL', 'third transaction')
    expectError(await postTx(url, tx3.bytes, 'commit'), 'MEMPOOL_FULL', 'third transaction, wait=commit')
    expect((await httpGet(url, `/v1/txs/${toHex(tx3.id)}`)).body).toEqual({ id: toHex(tx3.id), status: 'unknown' })

    // Resubmitting one that is already pending is still fine when full.
    const resubmit = await postTx(url, tx2.bytes)
    expect(resubmit.status, resubmit.text).toBe(202)
    expect(resubmit.body).toEqual({ id: toHex(tx2.id), status: 'pending' })

    // A full mempool does not hide a rule violation behind MEMPOOL_FULL.
    expectError(await postTx(url, issueOne(chainId, jongno, 'kr.land').bytes), 'ISSUER_NOT_AUTHORIZED_FOR_TYPE', 'rule check before capacity')

    const s = await status()
    expect(s.mempool.txs).toBe(2)
    expect(s.height).toBe(0)
    expect(s.transactions).toBe(0)
    expect(s.certificates).toBe(0)
    const metrics = (await httpGet(url, '/metrics')).text
    expect(metrics).toMatch(/^certchain_mempool_transactions 2$/m)
    expect(metrics).toMatch(/^certchain_tx_rejected_total\{code="MEMPOOL_FULL"\} [1-9]/m)
    expect((await httpGet(url, '/healthz')).body).toEqual({ ok: true, height: 0 })
  })
})
