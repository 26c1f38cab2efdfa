import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig, parseConfig } from '../../src/node/config.js'
import { createTestnet, type TestnetManifest } from '../../src/node/home.js'
import { loadKeyFile } from '../../src/node/keys.js'
import { createLogger, type Logger } from '../../src/node/logger.js'
import { CertchainNode } from '../../src/node/node.js'
import { RpcClient } from '../../src/rpc/index.js'
import type { IssuerIdentity } from '../../src/client/index.js'

export interface TestNode {
  readonly node: CertchainNode
  readonly url: string
  readonly client: RpcClient
  readonly manifest: TestnetManifest
  readonly dir: string
  identity(issuer: string): Promise<IssuerIdentity>
  stop(): Promise<void>
}

/**
 * A single-validator node in this process, on a free port, from a fresh testnet in a temp dir.
 * Fast blocks so tests that wait for commits stay quick.
 */
export async function startTestNode(
  options: { blockIntervalMs?: number; heartbeatIntervalMs?: number; rpc?: object; mempool?: object; logger?: Logger } = {},
): Promise<TestNode> {
  const dir = await mkdtemp(join(tmpdir(), 'certchain-test-'))
  const manifest = await createTestnet({ validators: 1, out: dir, chainId: 'certchain-test' })
  const home = manifest.nodes[0]!.home
  const loaded = await loadConfig(home)
  const config = parseConfig({
    ...loaded,
    rpc: { ...loaded.rpc, port: 0, ...options.rpc },
    p2p: { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [] },
    consensus: { ...loaded.consensus, blockIntervalMs: options.blockIntervalMs ?? 20, heartbeatIntervalMs: options.heartbeatIntervalMs ?? 60_000 },
    ...(options.mempool ? { mempool: { ...loaded.mempool, ...options.mempool } } : {}),
  })
  const node = await CertchainNode.create({ home, config, logger: options.logger ?? createLogger({ level: 'silent', pretty: false }) })
  await node.start()
  const url = node.rpcUrl
  return {
    node,
    url,
    client: new RpcClient(url),
    manifest,
    dir,
    async identity(issuer) {
      const entry = manifest.issuers.find((i) => i.id === issuer)
      if (!entry) throw new Error(`no issuer ${issuer} in the testnet`)
      return { issuer, key: await loadKeyFile(entry.keyFile) }
    },
    async stop() {
      await node.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
