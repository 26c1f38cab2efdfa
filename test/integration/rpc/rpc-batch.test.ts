/**
 * Issue 11 item 1: `POST /v1/txs/batch` admits many signed transactions through the same path as
 * `POST /v1/txs`, answers each entry in order with the code a single submission would get, and
 * keeps the same limits: body size, a count cap checked before decoding, the waiter cap and a
 * rate budget charged per transaction.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { IssuerIdentity } from '../../../src/client/index.js'
import { encode, toBase64, toHex, type Bytes } from '../../../src/core/index.js'
import { FAILURE_COST, RpcClient } from '../../../src/rpc/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { expectError, holdCommitWaits, httpGet, httpPost, issueOne, postTx, type HttpResult } from './helpers.js'

const MAX_BATCH = 8
const BODY_LIMIT = 64 * 1024

let node: TestNode
let limited: TestNode
let chainId: string
let mois: IssuerIdentity

beforeAll(async () => {
  ;[node, limited] = await Promise.all([
    startTestNode({ rpc: { maxBatchTxs: MAX_BATCH, bodyLimitBytes: BODY_LIMIT, maxWaiters: 1, rateLimitPerSecond: 0 } }),
    startTestNode({ rpc: { rateLimitPerSecond: 1, rateLimitBurst: 6, rateLimitExempt: [] } }),
  ])
  chainId = node.manifest.chainId
  mois = await node.identity('kr.mois')
})
afterAll(async () => {
  await Promise.all([node?.stop(), limited?.stop()])
})

const fresh = (): Bytes => issueOne(chainId, mois, 'kr.residence').bytes
function signed(): { bytes: Bytes; id: string } {
  const p = issueOne(chainId, mois, 'kr.residence')
  return { bytes: p.bytes, id: toHex(p.id) }
}

function postCbor(url: string, entries: readonly Bytes[] | Uint8Array, wait?: string): Promise<HttpResult> {
  const body = entries instanceof Uint8Array ? entries : dagCbor.encode(entries)
  return httpPost(url, `/v1/txs/batch${wait ? `?wait=${wait}` : ''}`, body, { raw: true, contentType: 'application/cbor' })
}

function postJson(url: string, entries: readonly (Bytes | string)[], wait?: string): Promise<HttpResult> {
  return httpPost(url, `/v1/txs/batch${wait ? `?wait=${wait}` : ''}`, { txs: entries.map((e) => (typeof e === 'string' ? e : toBase64(e))) })
}

/** A copy of an issuance with one signature byte flipped. */
function badSignature(): Bytes {
  const p = issueOne(chainId, mois, 'kr.residence')
  const sig = Uint8Array.from(p.tx.sig)
  sig[0]! ^= 1
  return encode({ ...p.tx, sig })
}

const mempoolSize = async (url = node.url): Promise<number> => ((await httpGet(url, '/v1/status')).body.mempool as { txs: number }).txs

describe('per-transaction answers', () => {
  for (const body of ['cbor', 'json'] as const) {
    it(`${body}: accepted, repeated, bad-signature, malformed, expired and already-committed entries, each answered in order with the single-submission code`, async () => {
      const committed = signed()
      expect((await postTx(node.url, committed.bytes, 'commit')).body.status).toBe('committed')
      const a = signed()
      const b = signed()
      const expired = issueOne(chainId, mois, 'kr.residence', { expiresAt: Date.now() - 1000 }).bytes
      const malformed = Uint8Array.from([0xa1, 0x61])
      const bad = badSignature()
      const entries = [a.bytes, bad, a.bytes, malformed, expired, committed.bytes, b.bytes]
      const res = body === 'cbor' ? await postCbor(node.url, entries) : await postJson(node.url, entries)
      expect(res.status, res.text).toBe(200)
      const results = res.body.results as { id?: string; status: string; code?: string }[]
      expect(results.map((r) => [r.status, r.code ?? null, r.id ?? null])).toEqual([
        ['pending', null, a.id],
        ['rejected', 'BAD_SIGNATURE', null],
        ['rejected', 'DUPLICATE_IN_BATCH', a.id],
        ['rejected', 'MALFORMED_ENCODING', null],
        ['rejected', 'TX_EXPIRED', null],
        ['rejected', 'DUPLICATE_TX', null],
        ['pending', null, b.id],
      ])
      expect(results[2]).toMatchObject({ message: expect.stringContaining('repeats entry 0') })
      // The same codes a single submission gets for each of them.
      for (const [i, bytes] of entries.entries()) {
        if (i === 2 || results[i]!.status !== 'rejected') continue
        expectError(await postTx(node.url, bytes), results[i]!.code as never, `entry ${i} alone`)
      }
      for (const { id } of [a, b]) expect((await httpGet(node.url, `/v1/txs/${id}`)).body.status).toMatch(/^(pending|committed)$/)
      expect((await httpGet(node.url, '/metrics')).text).toMatch(/certchain_rpc_batch_transactions_bucket\{le="10"\} [1-9]/)
    })
  }

  it('json: an entry that is not base64 is answered INVALID_BASE64 and the others go on', async () => {
    const a = signed()
    const res = await postJson(node.url, ['!!!', a.bytes])
    expect(res.status).toBe(200)
    expect(res.body.results).toEqual([
      { status: 'rejected', code: 'INVALID_BASE64', message: expect.any(String) },
      { id: a.id, status: 'pending' },
    ])
  })

  it('?wait=commit answers once every accepted entry is in a block, each with its height and index; refused ones keep their code', async () => {
    const txs = [signed(), signed(), signed()]
    const res = await postCbor(node.url, [txs[0]!.bytes, badSignature(), txs[1]!.bytes, txs[2]!.bytes], 'commit')
    expect(res.status, res.text).toBe(200)
    const results = res.body.results as { id?: string; status: string; height?: number; index?: number; code?: string }[]
    expect(results[1]).toMatchObject({ status: 'rejected', code: 'BAD_SIGNATURE' })
    for (const [k, i] of [0, 2, 3].entries()) {
      expect(results[i]).toEqual({ id: txs[k]!.id, status: 'committed', height: expect.any(Number), index: expect.any(Number) })
      // The height is the one the chain holds the transaction at.
      expect((await httpGet(node.url, `/v1/txs/${txs[k]!.id}`)).body).toEqual(results[i])
    }
  })

  it('a full batch has its signatures verified on a worker thread: the forged entry is BAD_SIGNATURE, the others are admitted, nothing is kept for the forgery', async () => {
    const workerSignatures = async (): Promise<number> =>
      Number(/^certchain_signatures_verified_total\{where="worker"\} (\d+)/m.exec((await httpGet(node.url, '/metrics')).text)?.[1] ?? 0)
    const before = await workerSignatures()
    const txs = Array.from({ length: MAX_BATCH - 1 }, () => signed())
    const victim = issueOne(chainId, mois, 'kr.residence')
    const sig = Uint8Array.from(victim.tx.sig)
    sig[5]! ^= 1
    const entries = [...txs.slice(0, 3).map((t) => t.bytes), encode({ ...victim.tx, sig }), ...txs.slice(3).map((t) => t.bytes)]
    const res = await postCbor(node.url, entries)
    expect(res.status, res.text).toBe(200)
    const results = res.body.results as { id?: string; status: string; code?: string }[]
    expect(results.map((r) => r.code ?? r.status)).toEqual(['pending', 'pending', 'pending', 'BAD_SIGNATURE', 'pending', 'pending', 'pending', 'pending'])
    expect(results.filter((r) => r.status === 'pending').map((r) => r.id)).toEqual(txs.map((t) => t.id))
    expect(await workerSignatures()).toBe(before + MAX_BATCH)
    // Neither pending nor marked rejected: the genuine transaction with this id may still come.
    expect((await httpGet(node.url, `/v1/txs/${toHex(victim.id)}`)).body).toEqual({ id: toHex(victim.id), status: 'unknown' })
  })

  it('the client library sends a CBOR batch and returns the per-entry answers', async () => {
    const client = new RpcClient(node.url)
    const a = signed()
    const answer = await client.submitBatch([a.bytes, a.bytes], { wait: 'commit' })
    expect(answer.results).toEqual([
      { id: a.id, status: 'committed', height: expect.any(Number), index: expect.any(Number) },
      { id: a.id, status: 'rejected', code: 'DUPLICATE_IN_BATCH', message: expect.any(String) },
    ])
  })
})

describe('a refused batch stores nothing', () => {
  it('malformed bodies: not CBOR, not an array, an entry that is not bytes, empty, JSON of another shape', async () => {
    const before = await mempoolSize()
    const a = signed()
    const cases: [Promise<HttpResult>, string][] = [
      [postCbor(node.url, Uint8Array.from([0x82, ...dagCbor.encode(a.bytes), 0xff])), 'MALFORMED_ENCODING'],
      [postCbor(node.url, Uint8Array.from([0x9f, ...dagCbor.encode(a.bytes), 0xff])), 'MALFORMED_ENCODING'],
      [postCbor(node.url, dagCbor.encode({ txs: [a.bytes] })), 'INVALID_REQUEST'],
      [postCbor(node.url, dagCbor.encode([a.bytes, 'not bytes'])), 'INVALID_REQUEST'],
      [postCbor(node.url, dagCbor.encode([])), 'INVALID_REQUEST'],
      [postJson(node.url, []), 'INVALID_REQUEST'],
      [httpPost(node.url, '/v1/txs/batch', { txs: [toBase64(a.bytes)], extra: 1 }), 'INVALID_REQUEST'],
      [httpPost(node.url, '/v1/txs/batch', { txs: [toBase64(a.bytes), 7] }), 'INVALID_REQUEST'],
      [httpPost(node.url, '/v1/txs/batch', '{"txs": [', { raw: true }), 'MALFORMED_JSON'],
      [httpPost(node.url, '/v1/txs/batch', toBase64(a.bytes), { raw: true, contentType: 'text/plain' }), 'UNSUPPORTED_MEDIA_TYPE'],
    ]
    for (const [res, code] of cases) expectError(await res, code as never)
    expect(await mempoolSize()).toBe(before)
    expect((await httpGet(node.url, `/v1/txs/${a.id}`)).body.status).toBe('unknown')
    // CBOR is taken by the batch route only.
    expectError(await httpPost(node.url, '/v1/txs', dagCbor.encode({ tx: a.bytes }), { raw: true, contentType: 'application/cbor' }), 'UNSUPPORTED_MEDIA_TYPE')
  })
})

describe('limits', () => {
  it(`TOO_MANY_TXS (413): more than rpc.maxBatchTxs entries; a CBOR body is refused on its declared length, before decoding`, async () => {
    const before = await mempoolSize()
    const many = Array.from({ length: MAX_BATCH + 1 }, fresh)
    expectError(await postCbor(node.url, many), 'TOO_MANY_TXS')
    expectError(await postJson(node.url, many), 'TOO_MANY_TXS')
    // A head announcing 2^32 entries, and nothing after it: refused for its count, not its truncation.
    expectError(await postCbor(node.url, Uint8Array.from([0x9a, 0xff, 0xff, 0xff, 0xff])), 'TOO_MANY_TXS')
    expect(await mempoolSize()).toBe(before)
    // At the cap it is taken.
    const res = await postCbor(node.url, many.slice(0, MAX_BATCH))
    expect((res.body.results as { status: string }[]).map((r) => r.status)).toEqual(Array(MAX_BATCH).fill('pending'))
  })

  it('BODY_TOO_LARGE (413): the body limit of single submission applies to the whole batch', async () => {
    const before = await mempoolSize()
    const huge = [fresh(), new Uint8Array(BODY_LIMIT)]
    expectError(await postCbor(node.url, huge), 'BODY_TOO_LARGE')
    expectError(await postJson(node.url, huge), 'BODY_TOO_LARGE')
    expect(await mempoolSize()).toBe(before)
  })

  it('TOO_MANY_WAITERS (503): a batch waiting for its commits holds one of rpc.maxWaiters, refused before anything is admitted', async () => {
    const { release, restore } = holdCommitWaits(node.node)
    try {
      const held = signed()
      const waiting = postCbor(node.url, [held.bytes, fresh()], 'commit')
      await new Promise((r) => setTimeout(r, 200))
      const extra = signed()
      expectError(await postCbor(node.url, [extra.bytes], 'commit'), 'TOO_MANY_WAITERS')
      expectError(await postTx(node.url, extra.bytes, 'commit'), 'TOO_MANY_WAITERS')
      expect((await httpGet(node.url, `/v1/txs/${extra.id}`)).body.status).toBe('unknown')
      release()
      expect(((await waiting).body.results as { status: string }[]).map((r) => r.status)).toEqual(['committed', 'committed'])
    } finally {
      restore()
    }
  })

  it(`RATE_LIMITED: a batch costs one request per transaction; entries past the budget are answered RATE_LIMITED undecoded, with Retry-After, and failing entries cost ${FAILURE_COST} more`, async () => {
    const lchain = limited.manifest.chainId
    const lmois = await limited.identity('kr.mois')
    const txs = Array.from({ length: 8 }, () => issueOne(lchain, lmois, 'kr.residence'))
    // Burst 6: the first six are admitted, the last two never decoded (garbage there is not even looked at).
    const res = await httpPost(limited.url, '/v1/txs/batch', dagCbor.encode([...txs.slice(0, 6).map((t) => t.bytes), Uint8Array.from([1]), txs[7]!.bytes]), {
      raw: true,
      contentType: 'application/cbor',
    })
    expect(res.status, res.text).toBe(200)
    const results = res.body.results as { id?: string; status: string; code?: string }[]
    expect(results.slice(0, 6).map((r) => r.id)).toEqual(txs.slice(0, 6).map((t) => toHex(t.id)))
    expect(results.slice(6)).toEqual([
      { status: 'rejected', code: 'RATE_LIMITED', message: expect.any(String) },
      { status: 'rejected', code: 'RATE_LIMITED', message: expect.any(String) },
    ])
    const retry = await fetch(limited.url + '/v1/status')
    expect(retry.status).toBe(429)
    expect((await httpGet(limited.url, `/v1/txs/${toHex(txs[7]!.id)}`)).status).toBe(429)
  })

  it(`RATE_LIMITED: each refused entry spends ${FAILURE_COST} more of the budget`, async () => {
    // A fresh client address: burst 6 = one request for a batch of 1 refused entry (1 + 4), then one more request.
    const { request } = await import('node:http')
    const { hostname, port } = new URL(limited.url)
    const from = (path: string, body?: Uint8Array) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { host: hostname, port: Number(port), path, method: body ? 'POST' : 'GET', localAddress: '127.0.0.9', agent: false, headers: body ? { 'content-type': 'application/cbor' } : {} },
          (r) => {
            r.resume()
            r.on('end', () => resolve(r.statusCode ?? 0))
          },
        )
        req.on('error', reject)
        req.end(body)
      })
    expect(await from('/v1/txs/batch', dagCbor.encode([Uint8Array.from([1])]))).toBe(200)
    expect(await from('/v1/status')).toBe(200)
    expect(await from('/v1/status')).toBe(429)
  })
})
