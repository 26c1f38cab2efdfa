import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PresentationRequests } from '../../../src/wallet/index.js'

// The node's store of the presentation requests it issued: durable across restarts, single use,
// bounded.
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'certchain-requests-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const audience = { name: '우리은행 종로지점', node: '12D3KooWBank' }
const T = Date.parse('2026-12-01T09:00:00Z')

describe('PresentationRequests', () => {
  it('a restart neither forgets an outstanding nonce nor makes a used one usable again', async () => {
    let store = await PresentationRequests.open(dir, 100)
    const open = await store.create('certchain-test', audience, { types: ['kr.residence'], purpose: 'loan', ttlSeconds: 120 }, T)
    const used = await store.create('certchain-test', audience, {}, T)
    expect(open.nonce).toHaveLength(32)
    expect(open.expiresAt - open.createdAt).toBe(120_000)
    expect(await store.markUsed(used.nonce)).toBe(true)
    await store.close()

    store = await PresentationRequests.open(dir, 100)
    expect(await store.lookup(open.nonce)).toEqual({ request: open, used: false })
    expect((await store.lookup(used.nonce))?.used).toBe(true)
    expect(await store.markUsed(used.nonce)).toBe(false)
    expect(store.size).toBe(2)
    await store.close()
  })

  it('markUsed is atomic: of two concurrent claims exactly one wins', async () => {
    const store = await PresentationRequests.open(dir, 100)
    const r = await store.create('certchain-test', audience, {}, T)
    const claims = await Promise.all([store.markUsed(r.nonce), store.markUsed(r.nonce), store.markUsed(r.nonce)])
    expect(claims.filter(Boolean)).toHaveLength(1)
    expect(await store.markUsed(new Uint8Array(32))).toBe(false)
    await store.close()
  })

  it('ttl 1..600 s (default 300); TOO_MANY_REQUESTS beyond the cap; expired requests are forgotten an hour later', async () => {
    const store = await PresentationRequests.open(dir, 3)
    expect((await store.create('c', audience, {}, T)).expiresAt).toBe(T + 300_000)
    for (const ttlSeconds of [0, 601, 1.5]) {
      await expect(store.create('c', audience, { ttlSeconds }, T)).rejects.toMatchObject({ code: 'INVALID_REQUEST' })
    }
    await store.create('c', audience, { ttlSeconds: 600 }, T)
    await store.create('c', audience, { ttlSeconds: 600 }, T)
    await expect(store.create('c', audience, {}, T)).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' })
    // Still there just after expiry (a late answer reads "expired"), gone an hour later.
    await expect(store.create('c', audience, {}, T + 700_000)).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' })
    const later = await store.create('c', audience, {}, T + 600_000 + 3_600_001)
    expect(store.size).toBe(1)
    expect(await store.lookup(later.nonce)).toMatchObject({ used: false })
    await store.close()
  })
})
