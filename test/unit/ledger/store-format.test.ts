import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { Ledger } from '../../../src/ledger/index.js'
import { STORE_LAYOUT_VERSION } from '../../../src/ledger/store.js'
import { makeTempDir, makeTestChain } from '../../helpers/fixtures.js'
import { rm } from 'node:fs/promises'

// A data directory written by chain format 1 (before validator-set hashes, the height history and
// the registry tree) cannot be read as format 2: the node says so instead of computing state roots
// nobody else agrees with.
let dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
  dirs = []
})

describe('store format', () => {
  it('STORE_FORMAT_MISMATCH for a data directory of chain format 1; a format-2 directory reopens', async () => {
    const chain = makeTestChain()
    const dir = await makeTempDir()
    dirs.push(dir)
    const ledger = await Ledger.open(dir, chain.genesis)
    await ledger.close()
    // reopens as format 2
    await (await Ledger.open(dir, chain.genesis)).close()
    // Format 1 stores had no format record (META bucket 0, key "format").
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.del(Buffer.concat([Uint8Array.of(0), Buffer.from('format')]))
    await db.close()
    await expect(Ledger.open(dir, chain.genesis)).rejects.toMatchObject({
      code: 'STORE_FORMAT_MISMATCH',
      message: expect.stringMatching(/holds chain format 1; this node writes format 2/),
    })
  })

  it('STORE_FORMAT_MISMATCH for a store of layout 1 (one record per tree node, before chunked trees)', async () => {
    const chain = makeTestChain()
    const dir = await makeTempDir()
    dirs.push(dir)
    await (await Ledger.open(dir, chain.genesis)).close()
    // Layout 1 stores had no layout record (META bucket 0, key "layout").
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.del(Buffer.concat([Uint8Array.of(0), Buffer.from('layout')]))
    await db.close()
    await expect(Ledger.open(dir, chain.genesis)).rejects.toMatchObject({
      code: 'STORE_FORMAT_MISMATCH',
      message: expect.stringMatching(new RegExp(`holds store layout 1; this node writes layout ${STORE_LAYOUT_VERSION}`)),
    })
  })
})
