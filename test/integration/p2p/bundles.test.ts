/**
 * Transactions relayed in bundles between real nodes on loopback: a member's batch submission
 * reaches the validator in a few bundles, not one message per transaction; a node of an earlier
 * version (single transactions on the txs topic) is still heard; a bundle holding a forged
 * transaction is rejected and charged to the peer that sent it.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { IssuerIdentity } from '../../../src/client/index.js'
import { encodeTx, toHex } from '../../../src/core/index.js'
import { encodeTxBundle } from '../../../src/mempool/index.js'
import { loadConfig, parseConfig } from '../../../src/node/config.js'
import { createTestnet, type TestnetManifest } from '../../../src/node/home.js'
import { loadKeyFile } from '../../../src/node/keys.js'
import { createLogger } from '../../../src/node/logger.js'
import { CertchainNode } from '../../../src/node/node.js'
import { MAX_GOSSIP_MESSAGE_BYTES, P2PHost } from '../../../src/p2p/index.js'
import { httpPost, issueOne, until } from '../rpc/helpers.js'

/** The sum of a metric's samples whose labels include `labels`, from a node's /metrics. */
async function metric(node: CertchainNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${node.rpcUrl}/metrics`)).text()
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

describe('transaction bundles between nodes', () => {
  let dir: string
  let manifest: TestnetManifest
  let validator: CertchainNode
  let member: CertchainNode
  /** A libp2p host with the second member's node key: an older node, or a hostile one. */
  let raw: P2PHost
  let identity: IssuerIdentity
  let type: string
  const nodes: CertchainNode[] = []

  const start = async (index: number): Promise<CertchainNode> => {
    const home = manifest.nodes[index]!.home
    const loaded = await loadConfig(home)
    const config = parseConfig({ ...loaded, rpc: { ...loaded.rpc, port: 0 }, consensus: { ...loaded.consensus, blockIntervalMs: 20, heartbeatIntervalMs: 60_000 } })
    const node = await CertchainNode.create({ home, config, logger: createLogger({ level: 'silent', pretty: false }) })
    nodes.push(node)
    await node.start()
    return node
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-bundles-'))
    const base = 20_000 + Math.floor(Math.random() * 20_000) * 2
    manifest = await createTestnet({ validators: 1, observers: 2, out: dir, chainId: 'certchain-test', rpcBasePort: base, p2pBasePort: base + 1 })
    validator = await start(0)
    member = await start(1)
    const issuer = manifest.issuers[0]!
    identity = { issuer: issuer.id, key: await loadKeyFile(issuer.keyFile) }
    type = issuer.types[0]!
    const nodeKey = await loadKeyFile(join(manifest.nodes[2]!.home, 'node_key.json'))
    raw = await P2PHost.create(
      { chainId: manifest.chainId, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [manifest.nodes[0]!.p2p], nodeKey, isAllowedPeer: () => true, maxMessageBytes: MAX_GOSSIP_MESSAGE_BYTES },
      { logger: pino({ level: 'silent' }), validate: () => ({ result: 'ignore', reason: 'listening only' }), onMessage: () => undefined, sync: { handle: () => Promise.resolve(dagCbor.encode({ height: 0 })) } },
    )
    // It answers sync as a node without blocks does: an empty answer would be a malformed one,
    // and the nodes' sync polls would penalize and drop it before the tests publish from it.
    await raw.start()
    await until(() => Promise.resolve(member.status().peers >= 1 && raw.topicPeers('txbundle').length >= 1 && raw.topicPeers('txs').length >= 1 ? true : undefined), 'peers connected and subscribed', 30_000)
  }, 120_000)

  afterAll(async () => {
    await raw?.stop()
    for (const n of nodes.reverse()) await n.stop().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })

  it("a member's batch reaches the validator in bundles, and every transaction is committed", async () => {
    const txs = Array.from({ length: 40 }, () => issueOne(manifest.chainId, identity, type))
    const res = await httpPost(member.rpcUrl, '/v1/txs/batch', dagCbor.encode(txs.map((t) => t.bytes)), { raw: true, contentType: 'application/cbor' })
    expect(res.status).toBe(200)
    for (const t of txs) await until(async () => ((await validator.ledger.getTxLocation(t.id)) ? true : undefined), `tx ${toHex(t.id)} committed`, 30_000)
    const published = await metric(member, 'certchain_tx_bundles_published_total')
    expect(published).toBeGreaterThanOrEqual(1)
    // One batch request is admitted in one go: a handful of bundles, not forty messages.
    expect(published).toBeLessThanOrEqual(10)
    expect(await metric(member, 'certchain_tx_bundle_transactions_sum', { direction: 'published' })).toBe(40)
    expect(await metric(validator, 'certchain_tx_bundles_received_total', { result: 'accept' })).toBe(published)
    expect(await metric(validator, 'certchain_gossip_messages_total', { topic: 'txs' })).toBe(0)
  }, 60_000)

  it('a bundle sent again once gossip forgot it is validated again and ignored without charge (every transaction pending or committed)', async () => {
    const txs = Array.from({ length: 3 }, () => issueOne(manifest.chainId, identity, type).bytes)
    const bundle = encodeTxBundle(txs)
    await raw.publish('txbundle', bundle)
    await until(async () => ((await metric(validator, 'certchain_tx_bundles_received_total', { result: 'accept' })) >= 1 ? true : undefined), 'the bundle accepted')
    const ignoredBefore = await metric(validator, 'certchain_gossip_messages_total', { topic: 'txbundle', result: 'ignore' })
    // Past the seen caches' 800 ms, the same bytes are a new message to gossipsub. Published again
    // every second: on a loaded machine one repeat may still fall inside a cache's window.
    await until(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000))
      if ((await metric(validator, 'certchain_gossip_messages_total', { topic: 'txbundle', result: 'ignore' })) > ignoredBefore) return true
      await raw.publish('txbundle', bundle).catch(() => undefined)
      return undefined
    }, 'the repeat ignored', 30_000)
    expect(await metric(validator, 'certchain_peer_penalty_points_total', { topic: 'txbundle' })).toBe(0)
  }, 60_000)

  it('a single transaction on the txs topic (a node of an earlier version) is still admitted and committed', async () => {
    const tx = issueOne(manifest.chainId, identity, type)
    await raw.publish('txs', tx.bytes)
    await until(async () => ((await validator.ledger.getTxLocation(tx.id)) ? true : undefined), 'the single transaction committed', 30_000)
    expect(await metric(validator, 'certchain_gossip_messages_total', { topic: 'txs', result: 'accept' })).toBe(1)
  }, 60_000)

  it('a bundle holding a forged transaction is rejected and charged to its sender; its valid transactions are relayed by the receiver', async () => {
    const good = issueOne(manifest.chainId, identity, type)
    const genuine = issueOne(manifest.chainId, identity, type)
    const forged = encodeTx({ ...genuine.tx, sig: new Uint8Array(64).fill(9) })
    const relayedBefore = await metric(validator, 'certchain_tx_bundle_transactions_sum', { direction: 'published' })
    await raw.publish('txbundle', encodeTxBundle([good.bytes, forged]))
    await until(async () => ((await metric(validator, 'certchain_tx_bundles_received_total', { result: 'reject' })) >= 1 ? true : undefined), 'the bundle rejected')
    expect(await metric(validator, 'certchain_gossip_messages_total', { topic: 'txbundle', result: 'reject', reason: 'BAD_SIGNATURE' })).toBe(1)
    expect(await metric(validator, 'certchain_peer_penalty_points_total', { topic: 'txbundle', reason: 'BAD_SIGNATURE' })).toBeGreaterThanOrEqual(34)
    // Admitted before the forgery was found: the validator relays it in a bundle of its own, and commits it.
    expect(await metric(validator, 'certchain_tx_bundle_transactions_sum', { direction: 'published' })).toBe(relayedBefore + 1)
    await until(async () => ((await validator.ledger.getTxLocation(good.id)) ? true : undefined), 'the valid transaction committed', 30_000)
    expect(await validator.ledger.getTxLocation(genuine.id)).toBeUndefined()
  }, 60_000)
})
