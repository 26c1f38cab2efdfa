/**
 * Snapshot and state-sync bench: builds a chain of batched issuances directly on a ledger (no
 * network), then times a snapshot of its head (the node's own SnapshotFiles code, chunks on disk)
 * and an install of that snapshot into an empty ledger (light verification of the header from the
 * genesis, every chunk checked, both trees rebuilt and compared with the verified state root).
 * Prints one JSON document on stdout, progress on stderr.
 *
 *   npm run -s build && node dist/bench/statesync.js [--certs N] [--batch N] [--chunk-bytes N]
 *
 * `measureStateSync(ledger, genesisDocument, dir)` is the part bench:scale calls on a ledger it
 * has built. The install is what a joining node does after discovery; the network transfer of
 * the chunks (bounded by 8 MiB/s per serving peer by default) comes on top.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { prepareIssuance, type IssuerIdentity } from '../src/client/index.js'
import { blockHash } from '../src/core/block.js'
import { toHex } from '../src/core/bytes.js'
import { sign } from '../src/core/crypto.js'
import { parseGenesis } from '../src/core/genesis.js'
import { voteSignBytes } from '../src/core/vote.js'
import { DEFAULT_SNAPSHOT_LIMITS, Ledger } from '../src/ledger/index.js'
import { followSets, trustFromGenesis } from '../src/light/index.js'
import { createTestnet } from '../src/node/home.js'
import { loadKeyFile } from '../src/node/keys.js'
import { SnapshotFiles } from '../src/node/snapshots.js'
import { progress } from './harness.js'

export interface StateSyncMeasure {
  readonly height: number
  readonly certificates: number
  readonly snapshotSeconds: number
  readonly snapshotBytes: number
  readonly chunks: number
  /** Verify the header, check and apply every chunk, rebuild the trees, write the head. */
  readonly installSeconds: number
  readonly stateRootMatches: boolean
}

/** Times a snapshot of `source`'s head into `dir` and its install into an empty ledger there. */
export async function measureStateSync(source: Ledger, genesisDocument: unknown, dir: string, chunkBytes = 1024 * 1024): Promise<StateSyncMeasure> {
  const files = await SnapshotFiles.open(join(dir, 'snapshots'), 1, DEFAULT_SNAPSHOT_LIMITS)
  let t = performance.now()
  const { manifest, bytes } = await files.take(source, chunkBytes)
  const snapshotSeconds = (performance.now() - t) / 1000
  progress(`snapshot of height ${manifest.height}: ${manifest.chunks.length} chunks, ${bytes} bytes in ${snapshotSeconds.toFixed(2)} s`)
  const target = await Ledger.open(join(dir, 'joined'), source.genesis)
  try {
    t = performance.now()
    const signed = (await source.getSignedHeader(manifest.height))!
    const changes = await source.setChangesBetween(0, manifest.height)
    const problem = followSets(trustFromGenesis(genesisDocument), { ...signed, validatorChanges: changes })
    if (problem) throw new Error(`snapshot header does not verify: ${problem}`)
    const restoring = await target.restoreSnapshot(manifest, signed, DEFAULT_SNAPSHOT_LIMITS)
    for (let i = 0; i < manifest.chunks.length; i++) {
      const chunk = await files.chunk(manifest.height, manifest.root, i)
      if (!chunk || !restoring.restore.checkChunk(i, chunk)) throw new Error(`chunk ${i} does not match`)
      await restoring.restore.apply(i, chunk)
    }
    await restoring.finish(changes)
    const installSeconds = (performance.now() - t) / 1000
    progress(`installed in ${installSeconds.toFixed(2)} s`)
    return {
      height: manifest.height,
      certificates: manifest.roots.certificateCount,
      snapshotSeconds,
      snapshotBytes: bytes,
      chunks: manifest.chunks.length,
      installSeconds,
      stateRootMatches: toHex(target.head.stateRoot) === toHex(source.head.stateRoot),
    }
  } finally {
    await target.close()
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { certs: { type: 'string', default: '100000' }, batch: { type: 'string', default: '5000' }, 'chunk-bytes': { type: 'string', default: String(1024 * 1024) } },
  })
  const certs = Number(values.certs)
  const batch = Number(values.batch)
  const dir = await mkdtemp(join(tmpdir(), 'certchain-bench-statesync-'))
  try {
    const testnet = await createTestnet({ validators: 1, out: join(dir, 'net'), chainId: 'certchain-bench' })
    const node = testnet.nodes[0]!
    const genesisDocument: unknown = JSON.parse(await readFile(join(node.home, 'genesis.json'), 'utf8'))
    const genesis = parseGenesis(genesisDocument)
    const validatorKey = await loadKeyFile(join(node.home, 'validator_key.json'))
    const proposer = genesis.validators[0]!.id
    const issuerEntry = testnet.issuers[0]!
    const identity: IssuerIdentity = { issuer: issuerEntry.id, key: await loadKeyFile(issuerEntry.keyFile) }
    const ledger = await Ledger.open(join(dir, 'source'), genesis)
    const started = performance.now()
    let time = Date.now() - 3600_000
    for (let issued = 0; issued < certs; issued += batch) {
      const now = Date.now()
      const n = Math.min(batch, certs - issued)
      const tx = prepareIssuance(genesis.chainId, identity, Array.from({ length: n }, (_, i) => ({ type: issuerEntry.types[0]!, document: new TextEncoder().encode(`doc ${issued + i} ${now}`), validFrom: now - 1000, validUntil: now + 365 * 86_400_000 })))
      time = Math.max(time + 1, now)
      const proposed = await ledger.proposeBlock([ledger.decodeTx(tx.bytes)], time, proposer)
      if (proposed.rejected.length > 0) throw new Error(`refused: ${proposed.rejected[0]!.error.message}`)
      const hash = blockHash(proposed.writes.block.header)
      const height = proposed.writes.block.header.height
      const sig = sign(validatorKey.secretKey, voteSignBytes(genesis.chainId, 'precommit', height, 0, hash))
      await ledger.commitBlock(proposed.writes, { height, round: 0, blockHash: hash, signatures: [{ validator: proposer, sig }] })
      if (height % 20 === 0) progress(`${issued + n} certificates at height ${height}`)
    }
    const buildSeconds = (performance.now() - started) / 1000
    const measure = await measureStateSync(ledger, genesisDocument, dir, Number(values['chunk-bytes']))
    await ledger.close()
    process.stdout.write(`${JSON.stringify({ buildSeconds, ...measure, rssBytes: process.memoryUsage().rss }, null, 2)}\n`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
