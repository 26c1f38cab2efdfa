import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_SNAPSHOT_LIMITS } from '../../../src/ledger/index.js'
import { SnapshotFiles } from '../../../src/node/snapshots.js'
import { makeTempDir } from '../../helpers/fixtures.js'
import { makeProofChain, type ProofChain } from '../../helpers/proof-chain.js'

describe('snapshot files', () => {
  let pc: ProofChain
  let dir: string

  beforeAll(async () => {
    pc = await makeProofChain({ small: true })
    dir = await makeTempDir()
  }, 60_000)
  afterAll(async () => {
    await pc.opened.cleanup()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps the newest snapshots, serves their chunks, and drops a damaged one at open', async () => {
    const files = await SnapshotFiles.open(dir, 1, DEFAULT_SNAPSHOT_LIMITS)
    const { manifest, bytes } = await files.take(pc.ledger, 64 * 1024)
    expect(bytes).toBeGreaterThan(0)
    expect(files.summaries()).toEqual([{ height: manifest.height, root: manifest.root, chunks: manifest.chunks.length }])
    expect(await files.chunk(manifest.height, manifest.root, 0)).toBeDefined()
    expect(await files.chunk(manifest.height, manifest.root, manifest.chunks.length)).toBeUndefined()
    expect(await files.chunk(manifest.height + 1, manifest.root, 0)).toBeUndefined()
    // A second snapshot of the same height replaces the first (keep 1).
    await files.take(pc.ledger, 64 * 1024)
    expect(await readdir(dir)).toEqual([String(manifest.height)])

    const reopened = await SnapshotFiles.open(dir, 1, DEFAULT_SNAPSHOT_LIMITS)
    expect(reopened.latest?.root).toEqual(manifest.root)
    const path = join(dir, String(manifest.height), '0')
    const chunk = await readFile(path)
    await writeFile(path, chunk.subarray(0, chunk.length - 1))
    const damaged = await SnapshotFiles.open(dir, 1, DEFAULT_SNAPSHOT_LIMITS)
    expect(damaged.summaries()).toEqual([])
    expect(await readdir(dir)).toEqual([])
  })
})
