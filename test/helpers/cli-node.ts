import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import { exited, freePort, runCli, spawnCli, waitForHttp } from './process.js'

export interface CliNode {
  /** The testnet folder: homes, genesis, `issuers/ID.json` key files. */
  readonly net: string
  readonly rpc: string
  stop(): Promise<void>
}

/**
 * A one-validator chain made by `certchain testnet` under `dir/net`, its node started by
 * `certchain start` on free ports, as the CLI tests drive it.
 */
export async function startCliNode(dir: string, chainId: string): Promise<CliNode> {
  const net = join(dir, 'net')
  const testnet = await runCli(['testnet', '--validators', '1', '--out', net, '--chain-id', chainId])
  expect(testnet.code, testnet.stderr).toBe(0)
  // The node always runs libp2p: move it off the default p2p port, which other test files' nodes use too.
  const configFile = join(net, 'validator0', 'config.json')
  const config = JSON.parse(await readFile(configFile, 'utf8')) as { p2p: { listen: string[] } }
  config.p2p.listen = [`/ip4/127.0.0.1/tcp/${await freePort()}`]
  await writeFile(configFile, JSON.stringify(config, null, 2))
  const port = await freePort()
  const rpc = `http://127.0.0.1:${port}`
  const node = spawnCli(['start', '--home', join(net, 'validator0'), '--rpc-port', String(port), '--log-level', 'warn'])
  await waitForHttp(`${rpc}/healthz`, node)
  return {
    net,
    rpc,
    stop: async () => {
      node.kill('SIGTERM')
      await exited(node)
    },
  }
}
