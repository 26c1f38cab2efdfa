import * as dagCbor from '@ipld/dag-cbor'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { encode } from '../../../src/core/encoding.js'
import { blockHash } from '../../../src/core/block.js'
import { sha256 } from '../../../src/core/hash.js'
import { merkleRoot } from '../../../src/core/merkle.js'
import { DEFAULT_SNAPSHOT_LIMITS, decodeManifest, encodeManifest, type Ledger, type SnapshotManifest } from '../../../src/ledger/index.js'
import { followSets, trustFromGenesis } from '../../../src/light/index.js'
import { commitTxs, decode, issueTx, makeTestChain, openLedger, revokeTx, thrownCode, type OpenedLedger } from '../../helpers/fixtures.js'
import { fullCommit, makeProofChain, type ProofChain } from '../../helpers/proof-chain.js'

const CHUNK = 4096

async function snapshotOf(ledger: Ledger, chunkBytes = CHUNK): Promise<{ manifest: SnapshotManifest; chunks: Bytes[] }> {
  const chunks: Bytes[] = []
  const manifest = await ledger.takeSnapshot(chunkBytes, (index, bytes) => {
    chunks[index] = bytes
    return Promise.resolve()
  })
  return { manifest, chunks }
}

/** Installs a snapshot into a fresh ledger; the code of the error it fails with, or undefined. */
async function install(pc: ProofChain, target: Ledger, manifest: SnapshotManifest, chunks: readonly Bytes[]): Promise<string | undefined> {
  const signed = (await pc.ledger.getSignedHeader(manifest.height))!
  try {
    const restoring = await target.restoreSnapshot(manifest, signed, DEFAULT_SNAPSHOT_LIMITS)
    for (const [i, chunk] of chunks.entries()) await restoring.restore.apply(i, chunk)
    await restoring.finish(await pc.ledger.setChangesBetween(0, manifest.height))
    return undefined
  } catch (err) {
    return (err as { code?: string }).code ?? String(err)
  }
}

const itemsOf = (chunk: Bytes): { items: unknown[][] } => dagCbor.decode(chunk)

/** Re-encodes a chunk with its items changed, and a manifest that lists it (a provider lying consistently). */
function forge(manifest: SnapshotManifest, chunks: Bytes[], index: number, edit: (items: unknown[][]) => void): { manifest: SnapshotManifest; chunks: Bytes[] } {
  const { items } = itemsOf(chunks[index]!)
  edit(items)
  const forged = [...chunks]
  forged[index] = encode({ items })
  const hashes = forged.map((c) => sha256(c))
  return { manifest: { ...manifest, chunks: hashes, root: merkleRoot(hashes) }, chunks: forged }
}

describe('snapshots', () => {
  let pc: ProofChain
  const opened: OpenedLedger[] = []
  let snap: { manifest: SnapshotManifest; chunks: Bytes[] }

  beforeAll(async () => {
    pc = await makeProofChain({ small: true })
    snap = await snapshotOf(pc.ledger)
  }, 60_000)
  afterAll(async () => {
    for (const o of opened) await o.cleanup()
    await pc.opened.cleanup()
  })

  const fresh = async (): Promise<Ledger> => {
    const o = await openLedger(pc.chain)
    opened.push(o)
    return o.ledger
  }

  it('cuts bounded chunks named by the manifest, and a second snapshot of the same state is identical', async () => {
    const { manifest, chunks } = snap
    expect(manifest.height).toBe(pc.ledger.head.height)
    expect(manifest.blockHash).toEqual(pc.ledger.head.hash)
    expect(manifest.roots.certificateCount).toBe(pc.ledger.head.certificateCount)
    expect(chunks.length).toBeGreaterThan(1)
    for (const [i, c] of chunks.entries()) {
      // Canonical DAG-CBOR of {items}, though framed by hand from the items' encodings.
      expect(encode(itemsOf(c))).toEqual(c)
      expect(sha256(c)).toEqual(manifest.chunks[i])
      expect(c.length).toBeLessThan(CHUNK + 64 * 1024)
    }
    expect(manifest.root).toEqual(merkleRoot(manifest.chunks))
    const again = await snapshotOf(pc.ledger)
    expect(again.manifest.root).toEqual(manifest.root)
    expect(decodeManifest(encodeManifest(manifest), DEFAULT_SNAPSHOT_LIMITS)).toEqual(manifest)
  })

  it('the snapshot header light-verifies from the genesis with the set changes the ledger serves', async () => {
    const signed = (await pc.ledger.getSignedHeader(snap.manifest.height))!
    const trust = trustFromGenesis(pc.chain.genesisJson)
    const validatorChanges = await pc.ledger.setChangesBetween(0, snap.manifest.height)
    expect(validatorChanges.length).toBeGreaterThan(0)
    expect(followSets(trust, { ...signed, validatorChanges })).toBeUndefined()
    // Without the set changes the header's validators are not the trusted ones.
    expect(followSets(trust, { ...signed, validatorChanges: [] })).toMatch(/validator set/)
  })

  it('from an operator checkpoint, only the set changes after it are needed, and a forged checkpoint fails', async () => {
    const h = snap.manifest.height
    const anchor = pc.setChanges[0]! + 1
    const trust = {
      chainId: pc.chain.genesis.chainId,
      height: anchor,
      headerHash: blockHash((await pc.ledger.getSignedHeader(anchor))!.header),
      validators: (await pc.ledger.validatorsAt(anchor + 1)).map(({ id, publicKey }) => ({ id, publicKey })),
    }
    const signed = (await pc.ledger.getSignedHeader(h))!
    const changes = await pc.ledger.setChangesBetween(anchor, h)
    expect(changes.every((c) => c.header.height > anchor)).toBe(true)
    expect(followSets(trust, { ...signed, validatorChanges: changes })).toBeUndefined()
    // A checkpoint naming the genesis validators at that height (not the set that signs after it) proves nothing.
    const forged = { ...trust, validators: trustFromGenesis(pc.chain.genesisJson).validators }
    expect(followSets(forged, { ...signed, validatorChanges: changes })).toMatch(/validator set/)
  })

  it('restores a ledger with the same state root, status and proof of every certificate', async () => {
    const target = await fresh()
    expect(await install(pc, target, snap.manifest, snap.chunks)).toBeUndefined()
    const source = pc.ledger
    expect(target.head).toEqual(source.head)
    expect(target.base).toBe(source.head.height + 1)
    expect(target.registry.hash).toEqual(source.registry.hash)
    expect(target.proposals).toEqual(source.proposals)
    expect(target.validators(target.head.height + 1)).toEqual(source.validators(source.head.height + 1))
    expect(target.validators(target.head.height + 2)).toEqual(source.validators(source.head.height + 2))
    for (const { file } of pc.certificates) {
      const id = file.certificateId
      expect(await target.getCertificates([id])).toEqual(await source.getCertificates([id]))
      // Byte for byte (trees read from memory give Buffers, from disk Uint8Arrays).
      expect(encode(await target.proof(id))).toEqual(encode(await source.proof(id)))
      for (const h of [1, Math.floor(source.head.height / 2), source.head.height]) {
        expect(await target.certificateAsOf(id, h)).toEqual(await source.certificateAsOf(id, h))
      }
    }
    for (let h = 1; h <= source.head.height; h++) expect(await target.stateAt(h)).toEqual(await source.stateAt(h))
    expect(await target.getBlock(source.head.height)).toBeUndefined()
  })

  it('refuses a chunk that does not match its hash in the manifest, whatever byte changed', async () => {
    const target = await fresh()
    const signed = (await pc.ledger.getSignedHeader(snap.manifest.height))!
    const { restore } = await target.restoreSnapshot(snap.manifest, signed, DEFAULT_SNAPSHOT_LIMITS)
    const chunk = snap.chunks[0]!
    for (const at of [0, Math.floor(chunk.length / 2), chunk.length - 1]) {
      const bad = new Uint8Array(chunk)
      bad[at]! ^= 1
      expect(restore.checkChunk(0, bad)).toBe(false)
    }
    expect(restore.checkChunk(0, chunk.subarray(0, chunk.length - 1))).toBe(false)
    expect(restore.checkChunk(1, chunk)).toBe(false)
    expect(restore.checkChunk(snap.chunks.length, chunk)).toBe(false)
    expect(restore.checkChunk(0, chunk)).toBe(true)
    await expect(restore.apply(1, snap.chunks[1]!)).rejects.toThrow(/out of order/)
  })

  it('refuses a manifest that does not belong to the verified header', async () => {
    const signed = (await pc.ledger.getSignedHeader(snap.manifest.height))!
    const other = (await pc.ledger.getSignedHeader(snap.manifest.height - 1))!
    const target = await fresh()
    const tries: [string, SnapshotManifest, typeof signed][] = [
      ['other header', snap.manifest, other],
      ['roots changed', { ...snap.manifest, roots: { ...snap.manifest.roots, certificateCount: snap.manifest.roots.certificateCount + 1 } }, signed],
      ['proposals changed', { ...snap.manifest, proposals: { ...snap.manifest.proposals, next: snap.manifest.proposals.next + 1 } }, signed],
      ['time changed', { ...snap.manifest, time: snap.manifest.time + 1 }, signed],
      ['chain changed', { ...snap.manifest, chainId: 'other' }, signed],
    ]
    for (const [, manifest, header] of tries) {
      await expect(target.restoreSnapshot(manifest, header, DEFAULT_SNAPSHOT_LIMITS)).rejects.toMatchObject({ code: 'SNAPSHOT_INVALID' })
    }
    expect(thrownCode(() => decodeManifest(encodeManifest({ ...snap.manifest, root: sha256(new Uint8Array(1)) }), DEFAULT_SNAPSHOT_LIMITS))).toBe('SNAPSHOT_INVALID')
    expect(thrownCode(() => decodeManifest(encodeManifest({ ...snap.manifest, chunks: [] }), DEFAULT_SNAPSHOT_LIMITS))).toBe('SNAPSHOT_INVALID')
    expect(thrownCode(() => decodeManifest(encodeManifest(snap.manifest), { ...DEFAULT_SNAPSHOT_LIMITS, maxChunks: 1 }))).toBe('SNAPSHOT_INVALID')
  })

  const lastIndex = (items: unknown[][], kind: number): number => items.findLastIndex((i) => i[0] === kind)
  const chunkWith = (kind: number): number => snap.chunks.findIndex((c) => itemsOf(c).items.some((i) => i[0] === kind))

  // A provider whose manifest lists its forged chunks passes every chunk hash; the rebuilt state must still fail.
  const tamperings: [string, number, (items: unknown[][]) => void][] = [
    ['a certificate status changed', 2, (items) => {
      const item = items[lastIndex(items, 2)]!
      item[2] = { ...(item[2] as object), state: (item[2] as { state: string }).state === 'active' ? 'revoked' : 'active' }
    }],
    ['a certificate record changed', 2, (items) => {
      const item = items[lastIndex(items, 2)]!
      const entry = item[2] as { record: { validUntil: number } }
      item[2] = { ...entry, record: { ...entry.record, validUntil: entry.record.validUntil + 1 } }
    }],
    ['a certificate dropped', 2, (items) => void items.splice(lastIndex(items, 2), 1)],
    ['a certificate sequence number moved', 2, (items) => {
      const item = items[lastIndex(items, 2)]!
      item[2] = { ...(item[2] as object), seq: 0 }
    }],
    ['a height record time changed', 1, (items) => {
      const item = items[lastIndex(items, 1)]!
      item[2] = { ...(item[2] as object), time: (item[2] as { time: number }).time - 1 }
    }],
    ['a height record dropped', 1, (items) => void items.splice(lastIndex(items, 1), 1)],
    ['a registry changed', 0, (items) => {
      const item = items[lastIndex(items, 0)]!
      const state = item[2] as { params: { maxBlockTxs: number } }
      item[2] = { ...state, params: { ...state.params, maxBlockTxs: state.params.maxBlockTxs + 1 } }
    }],
    ['a registry dropped', 0, (items) => void items.splice(lastIndex(items, 0), 1)],
    ['an item of the wrong shape', 2, (items) => void items.push([2, 'x', 1])],
  ]
  for (const [name, kind, edit] of tamperings) {
    it(`refuses a snapshot with ${name}, consistently listed in a forged manifest`, async () => {
      const forged = forge(snap.manifest, snap.chunks, chunkWith(kind), edit)
      expect(await install(pc, await fresh(), forged.manifest, forged.chunks)).toBe('SNAPSHOT_INVALID')
    })
  }

  it('a ledger restored after a failed attempt is clean', async () => {
    const target = await fresh()
    const forged = forge(snap.manifest, snap.chunks, chunkWith(2), (items) => void items.splice(lastIndex(items, 2), 1))
    expect(await install(pc, target, forged.manifest, forged.chunks)).toBe('SNAPSHOT_INVALID')
    expect(target.head.height).toBe(0)
    expect(await install(pc, target, snap.manifest, snap.chunks)).toBeUndefined()
    expect(toHex(target.head.stateRoot)).toBe(toHex(pc.ledger.head.stateRoot))
  })

  // Last: it moves the source chain on.
  it('a restored ledger executes a revocation of a certificate issued before the snapshot as the source does', async () => {
    const target = await fresh()
    expect(await install(pc, target, snap.manifest, snap.chunks)).toBeUndefined()
    const early = pc.certificates.filter((c) => c.story === 'one certificate per transaction')
    const entries = await pc.ledger.getCertificates(early.map((c) => c.file.certificateId))
    const active = early.filter((_, i) => entries[i]?.state === 'active').slice(0, 2)
    expect(active.length).toBe(2)
    const tx = decode(pc.chain, revokeTx(pc.chain, 'kr.court.seoul', active.map((c) => c.file.certificateId), { now: pc.time }))
    const time = pc.time + 1000
    const onSource = await pc.ledger.proposeBlock([tx], time, pc.chain.proposer)
    const onTarget = await target.proposeBlock([tx], time, pc.chain.proposer)
    expect(onTarget.rejected).toEqual([])
    expect(onTarget.writes.block.header.stateRoot).toEqual(onSource.writes.block.header.stateRoot)
    await target.commitBlock(onTarget.writes, fullCommit(pc.chain, target, pc.keys, onTarget.writes.block))
    for (const entry of await target.getCertificates(active.map((c) => c.file.certificateId))) expect(entry?.state).toBe('revoked')
  })
})

describe('snapshots of more certificates than two tree rebuild batches (65,536 each)', () => {
  // From the third batch on, the rebuild reads chunks the earlier batches wrote (found at 1,000,000 by bench:scale).
  it('restore rebuilds the status tree across batches to the committed root', async () => {
    const chain = makeTestChain()
    const source = await openLedger(chain)
    const target = await openLedger(chain)
    try {
      const time = Date.now() - 600_000
      for (let b = 0; b < 14; b++) {
        const txs = Array.from({ length: 10 }, () => issueTx(chain, 'kr.mois', 1000, { now: time + b * 1000 }))
        await commitTxs(source.ledger, chain, txs, time + b * 1000 + 500)
      }
      expect(source.ledger.head.certificateCount).toBe(140_000)
      const { manifest, chunks } = await snapshotOf(source.ledger, 1024 * 1024)
      const signed = (await source.ledger.getSignedHeader(manifest.height))!
      const restoring = await target.ledger.restoreSnapshot(manifest, signed, DEFAULT_SNAPSHOT_LIMITS)
      for (const [i, chunk] of chunks.entries()) await restoring.restore.apply(i, chunk)
      await restoring.finish([])
      expect(target.ledger.head).toEqual(source.ledger.head)
    } finally {
      await source.cleanup()
      await target.cleanup()
    }
  }, 120_000)
})
