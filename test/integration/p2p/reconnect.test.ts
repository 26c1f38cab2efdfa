import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics } from '../../../src/node/metrics.js'
import { Hosts, encode, newIdentity, recordingLogger, waitFor, waitForGossipMesh } from './helpers.js'

const hosts = new Hosts()
afterEach(() => hosts.stopAll())

async function gaugeValue(metrics: ReturnType<typeof createMetrics>): Promise<number | undefined> {
  return (await metrics.peers.get()).values[0]?.value
}

describe('p2p reconnect', () => {
  it('redials a bootstrap peer that restarts on the same port, and counts peers', async () => {
    const [a, b] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([a.peerId, b.peerId])
    const metrics = createMetrics({ defaultMetrics: false })
    const first = await hosts.start(b, { members })
    const [address] = first.host.addresses()
    const port = /\/tcp\/(\d+)\//.exec(address ?? '')?.[1]
    expect(port).toBeDefined()
    const { logger, lines } = recordingLogger()
    const hostA = await hosts.start(a, { members, bootstrap: first.host.addresses(), metrics: { peers: metrics.peers }, logger })
    await waitFor('A connected to B', () => hostA.host.connectedPeers().includes(b.peerId))
    expect(await gaugeValue(metrics)).toBe(1)

    await first.host.stop()
    await waitFor('A saw B go', () => hostA.host.connectedPeers().length === 0)
    expect(await gaugeValue(metrics)).toBe(0)

    // Same key, same port, no bootstrap of its own: only A's backoff can bring them together.
    const second = await hosts.start(b, { members, listen: [`/ip4/127.0.0.1/tcp/${port}`] })
    await waitFor(
      'A reconnected to the restarted B',
      () => hostA.host.connectedPeers().includes(b.peerId) && second.host.connectedPeers().includes(a.peerId),
      20_000,
    )
    expect(await gaugeValue(metrics)).toBe(1)

    const peerEvents = lines.filter((line) => line.module === 'p2p' && line.peer === b.peerId && /^peer (dis)?connected$/.test(String(line.msg)))
    expect(peerEvents.map(({ msg, peers }) => ({ msg, peers }))).toEqual([
      { msg: 'peer connected', peers: 1 },
      { msg: 'peer disconnected', peers: 0 },
      { msg: 'peer connected', peers: 1 },
    ])

    await waitForGossipMesh([hostA, second])
    await second.host.publish('blocks', encode('block after restart'))
    await waitFor('gossip flows again', () => hostA.texts('blocks').includes('block after restart'))
  })
})
