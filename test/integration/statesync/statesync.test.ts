import { readdir, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { prepareIssuance, type IssuerIdentity } from '../../../src/client/index.js'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { loadConfig, parseConfig, type NodeConfig } from '../../../src/node/config.js'
import { createTestnet, type TestnetManifest } from '../../../src/node/home.js'
import { loadKeyFile } from '../../../src/node/keys.js'
import { createLogger } from '../../../src/node/logger.js'
import { CertchainNode } from '../../../src/node/node.js'
import { httpGet, newCertificate, postTx, until } from '../rpc/helpers.js'

/** Waits until `node` reaches `height` (or the validator's height, read each time). */
const reaches = (node: CertchainNode, height: () => number, what: string): Promise<true> =>
  until(() => Promise.resolve(node.ledger.head.height === height() ? true : undefined), what, 20_000)

/**
 * A validator and three members on loopback. The validator and member0 take snapshots; member1
 * takes them too but its chunk files are corrupted on disk (it lists the right manifest and
 * serves bad chunks); member2 starts empty with state sync enabled, joins from the snapshot,
 * bans member1, block-syncs the blocks after the snapshot and follows the chain. The validator
 * prunes old block bodies.
 */
const INTERVAL = 4
const CHUNK = 64 * 1024

describe('state sync on loopback', () => {
  let dir: string
  let manifest: TestnetManifest
  const nodes: CertchainNode[] = []
  let validator: CertchainNode
  let honest: CertchainNode
  let evil: CertchainNode
  let joiner: CertchainNode
  const ids: Bytes[] = []

  const start = async (index: number, edit: (c: NodeConfig) => Partial<NodeConfig>): Promise<CertchainNode> => {
    const home = manifest.nodes[index]!.home
    const loaded = await loadConfig(home)
    const config = parseConfig({
      ...loaded,
      rpc: { ...loaded.rpc, port: 0 },
      consensus: { ...loaded.consensus, blockIntervalMs: 20, heartbeatIntervalMs: 60_000 },
      ...edit(loaded),
    })
    const node = await CertchainNode.create({ home, config, logger: createLogger({ level: 'silent', pretty: false }) })
    nodes.push(node)
    await node.start()
    return node
  }

  const snapshotting = (c: NodeConfig): Partial<NodeConfig> => ({ stateSync: { ...c.stateSync, snapshotInterval: INTERVAL, chunkBytes: CHUNK } })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-statesync-'))
    const base = 20_000 + Math.floor(Math.random() * 20_000) * 2
    manifest = await createTestnet({ validators: 1, observers: 3, out: dir, chainId: 'certchain-test', rpcBasePort: base, p2pBasePort: base + 1 })
    validator = await start(0, (c) => ({ ...snapshotting(c), pruning: { keepBlocks: 3 } }))
    honest = await start(1, snapshotting)
    evil = await start(2, snapshotting)
    const issuer = manifest.issuers[0]!
    const identity: IssuerIdentity = { issuer: issuer.id, key: await loadKeyFile(issuer.keyFile) }
    // Enough certificates for several chunks; one batch per block.
    for (let b = 0; b < INTERVAL * 2; b++) {
      const batch = prepareIssuance(manifest.chainId, identity, Array.from({ length: 300 }, () => newCertificate(issuer.types[0]!)))
      const res = await postTx(validator.rpcUrl, batch.bytes, 'commit')
      expect(res.status).toBe(200)
      ids.push(...batch.certificateIds)
    }
    const height = validator.ledger.head.height
    const snapshotHeight = Math.floor(height / INTERVAL) * INTERVAL
    for (const n of [validator, honest, evil]) {
      await reaches(n, () => height, 'members follow')
    }
    const snapshotDir = (n: number) => join(manifest.nodes[n]!.home, 'data', 'snapshots', String(snapshotHeight))
    for (const n of [0, 1, 2]) await until(async () => ((await readdir(snapshotDir(n)).catch((): string[] => [])).includes('manifest') ? true : undefined), `snapshot ${snapshotHeight} of node ${n}`, 20_000)
    // member1 serves corrupted chunks of a valid manifest.
    for (const name of await readdir(snapshotDir(2))) {
      if (name === 'manifest') continue
      const path = join(snapshotDir(2), name)
      const bytes = await readFile(path)
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff
      await writeFile(path, bytes)
    }
    // One more block after the snapshot: the joiner block-syncs it.
    const after = prepareIssuance(manifest.chainId, identity, [newCertificate(issuer.types[0]!)])
    expect((await postTx(validator.rpcUrl, after.bytes, 'commit')).status).toBe(200)
    ids.push(...after.certificateIds)
    joiner = await start(3, (c) => ({ stateSync: { ...c.stateSync, enabled: true, fetchers: 4, discoveryTimeoutMs: 20_000 } }))
  }, 180_000)

  afterAll(async () => {
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })

  it('joins from a snapshot, bans the peer that served corrupted chunks and follows the chain', async () => {
    const status = (await httpGet(joiner.rpcUrl, '/v1/status')).body
    expect(status.stateSync.phase).toBe('done')
    expect(status.stateSync.chunksDone).toBe(status.stateSync.chunksTotal)
    expect(status.stateSync.chunksTotal).toBeGreaterThan(2)
    expect(status.stateSync.height % INTERVAL).toBe(0)
    expect(status.baseHeight).toBe(status.stateSync.height + 1)
    const metrics = await (await fetch(`${joiner.rpcUrl}/metrics`)).text()
    expect(metrics).toMatch(/certchain_state_sync_chunks_total\{result="bad"\} [1-9]/)
    expect(metrics).toMatch(/certchain_peer_disconnects_total\{reason="state_sync"\} 1/)
    expect(joiner.status().peers).toBeLessThan(3)
    await reaches(joiner, () => validator.ledger.head.height, 'joiner catches up')
    expect(toHex(joiner.ledger.head.stateRoot)).toBe(toHex(validator.ledger.head.stateRoot))
    // It follows new blocks too.
    const issuer = manifest.issuers[0]!
    const identity: IssuerIdentity = { issuer: issuer.id, key: await loadKeyFile(issuer.keyFile) }
    const next = prepareIssuance(manifest.chainId, identity, [newCertificate(issuer.types[0]!)])
    expect((await postTx(joiner.rpcUrl, next.bytes, 'commit')).status).toBe(200)
    ids.push(...next.certificateIds)
    await reaches(joiner, () => validator.ledger.head.height, 'joiner follows')
  }, 60_000)

  it('answers every certificate as the validator does, with proofs', async () => {
    for (const id of [...ids.slice(0, 20), ...ids.slice(-5)]) {
      const path = `/v1/certificates/${toHex(id)}`
      const [a, b] = await Promise.all([httpGet(joiner.rpcUrl, path), httpGet(validator.rpcUrl, path)])
      expect(a.status).toBe(200)
      expect(a.body).toEqual(b.body)
      const proof = await httpGet(joiner.rpcUrl, `/v1/certificates/${toHex(id)}/proof`)
      expect(proof.status).toBe(200)
    }
  })

  it('a pruned or state-synced node answers 410 BLOCK_PRUNED below its base and serves the rest', async () => {
    for (const node of [validator, joiner]) {
      expect(node.ledger.base).toBeGreaterThan(1)
      const res = await httpGet(node.rpcUrl, '/v1/blocks/1')
      expect(res.status).toBe(410)
      expect(res.body.code).toBe('BLOCK_PRUNED')
      expect((await httpGet(node.rpcUrl, `/v1/blocks/${node.ledger.head.height}`)).status).toBe(200)
    }
  })
})
