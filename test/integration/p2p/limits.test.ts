/**
 * Issue 10, findings 2-4, on real hosts over loopback: what one member can make another node do
 * is bounded and charged to it (gossip penalties and remembered failures, the sync budget, the
 * slots for connections still in their handshake).
 */
import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics } from '../../../src/node/metrics.js'
import { isP2PError, type SyncHandler } from '../../../src/p2p/index.js'
import { Hosts, encode, newIdentity, waitFor, waitForGossipMesh } from './helpers.js'

const hosts = new Hosts()
const sockets: Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await hosts.stopAll()
})

async function metricValue(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return value?.value ?? 0
}

describe('p2p limits per peer', () => {
  it('charges failing gossip to its sender, never validates the same bytes twice, and disconnects the sender at the limit', async () => {
    const [validator, member] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([validator.peerId, member.peerId])
    const metrics = createMetrics({ defaultMetrics: false })
    const target = await hosts.start(validator, { members, metrics, maxMessageBytes: 256 * 1024 })
    const attacker = await hosts.start(member, { members, bootstrap: target.host.addresses(), maxMessageBytes: 256 * 1024 })
    await waitForGossipMesh([target, attacker], ['txs'])

    // The same failing bytes twice, further apart than gossipsub's seen-cache remembers them.
    const repeated = encode(`charge:${'x'.repeat(1000)}`)
    await attacker.host.publish('txs', repeated)
    await waitFor('first copy validated', () => target.validated.length === 1)
    // The sender's own seen-cache swallows a re-publish until it expires (TTL plus a heartbeat).
    await waitFor(
      'a second copy charged without validation',
      async () => {
        await attacker.host.publish('txs', repeated)
        await new Promise((resolve) => setTimeout(resolve, 300))
        return (await metricValue(metrics, 'certchain_gossip_repeated_failures_total', { topic: 'txs' })) >= 1
      },
      15_000,
    )
    expect(target.validated).toHaveLength(1)

    // Distinct failing messages of 200 KB: 2 + 3 points each, cut off at 100 points.
    const flood = Array.from({ length: 40 }, (_, i) => encode(`charge:${i}:${'y'.repeat(200 * 1024)}`))
    for (const message of flood) {
      if (!attacker.host.connectedPeers().includes(validator.peerId)) break
      await attacker.host.publish('txs', message).catch(() => undefined)
    }
    await waitFor('member disconnected', () => !target.host.connectedPeers().includes(member.peerId), 5000)
    // About twenty at 5 points each (a few more may be in flight while the connection closes), of 40.
    expect(target.validated.length).toBeLessThanOrEqual(25)
    expect(await metricValue(metrics, 'certchain_peer_disconnects_total', { reason: 'gossip_penalty' })).toBe(1)
    expect(await metricValue(metrics, 'certchain_gossip_messages_total', { topic: 'txs', result: 'ignore', reason: 'test_charge' })).toBeGreaterThanOrEqual(20)
    expect(await metricValue(metrics, 'certchain_peer_penalty_points_total', { topic: 'txs', reason: 'test_charge' })).toBeGreaterThanOrEqual(100)
    // Refused for a while: the member's bootstrap dialer cannot get back in.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(target.host.connectedPeers()).not.toContain(member.peerId)
  })

  it('charges malformed sync answers to the peer on its one penalty account and disconnects it at the limit', async () => {
    const [validator, member] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([validator.peerId, member.peerId])
    const metrics = createMetrics({ defaultMetrics: false })
    const target = await hosts.start(validator, { members, metrics })
    await hosts.start(member, { members, bootstrap: target.host.addresses() })
    await waitFor('connected', () => target.host.connectedPeers().includes(member.peerId))
    // A reject costs 34 points: the third malformed answer reaches the limit of 100.
    target.host.penalize(member.peerId, 'MALFORMED_SYNC_RESPONSE', 10)
    target.host.penalize(member.peerId, 'MALFORMED_SYNC_RESPONSE', 10)
    expect(target.host.connectedPeers()).toContain(member.peerId)
    expect(await metricValue(metrics, 'certchain_peer_penalty_points', { peer: member.peerId })).toBeCloseTo(68, 0)
    target.host.penalize(member.peerId, 'MALFORMED_SYNC_RESPONSE', 10)
    await waitFor('member disconnected', () => !target.host.connectedPeers().includes(member.peerId), 5000)
    expect(await metricValue(metrics, 'certchain_peer_disconnects_total', { reason: 'sync' })).toBe(1)
    expect(await metricValue(metrics, 'certchain_peer_penalty_points_total', { topic: 'sync', reason: 'MALFORMED_SYNC_RESPONSE' })).toBe(102)
    // Refused for a while: the member's bootstrap dialer cannot get back in.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(target.host.connectedPeers()).not.toContain(member.peerId)
  })

  it('serves one peer at most maxConcurrentPerPeer sync requests at once; the rest are answered P2P_BUSY', async () => {
    const [server, client] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([server.peerId, client.peerId])
    let active = 0
    let most = 0
    // Handlers hold their streams until every other request has been answered.
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    let gated = false
    const sync: SyncHandler = {
      handle: async () => {
        most = Math.max(most, ++active)
        if (gated) await gate
        active--
        return encode('blocks')
      },
    }
    const serving = await hosts.start(server, { members, sync, limits: { sync: { maxConcurrentPerPeer: 4, bytesPerSecondPerPeer: 1 << 30, burstBytesPerPeer: 1 << 30 } } })
    const asking = await hosts.start(client, { members, bootstrap: serving.host.addresses() })
    await waitFor('connected', () => asking.host.connectedPeers().includes(server.peerId))
    // One request first: the connection is up and serving before the burst.
    await waitFor('a first request answered', () => asking.host.request(server.peerId, encode('status')).then(() => true, () => false))
    most = 0
    gated = true
    let refused = 0
    const outcomes = await Promise.all(
      Array.from({ length: 32 }, () =>
        asking.host.request(server.peerId, encode('blocks from 1')).then(
          () => 'ok',
          (err: unknown) => {
            if (++refused === 28) release()
            return isP2PError(err) ? err.code : 'other'
          },
        ),
      ),
    )
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'P2P_BUSY')).toEqual([])
    expect(most).toBeLessThanOrEqual(4)
    expect(outcomes.filter((o) => o === 'ok').length).toBeLessThanOrEqual(4)
    expect(outcomes.filter((o) => o === 'P2P_BUSY').length).toBeGreaterThanOrEqual(28)
  })

  it('limits the sync bytes one peer receives: over its budget it is answered P2P_BUSY until the budget refills', async () => {
    const [server, client] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([server.peerId, client.peerId])
    const response = new Uint8Array(100 * 1024)
    const sync: SyncHandler = { handle: () => Promise.resolve(response) }
    const limits = { sync: { maxConcurrentPerPeer: 4, bytesPerSecondPerPeer: 100 * 1024, burstBytesPerPeer: 300 * 1024 } }
    const serving = await hosts.start(server, { members, sync, limits, maxMessageBytes: 256 * 1024 })
    const asking = await hosts.start(client, { members, bootstrap: serving.host.addresses(), maxMessageBytes: 256 * 1024 })
    await waitFor('connected', () => asking.host.connectedPeers().includes(server.peerId))
    const outcomes: string[] = []
    for (let i = 0; i < 10; i++) {
      outcomes.push(
        await asking.host.request(server.peerId, encode('blocks')).then(
          () => 'ok',
          (err: unknown) => (isP2PError(err) ? err.code : 'other'),
        ),
      )
    }
    // The burst (300 KiB) allows three 100 KiB answers plus what refilled meanwhile.
    expect(outcomes.filter((o) => o === 'ok').length).toBeLessThanOrEqual(5)
    expect(outcomes).toContain('P2P_BUSY')
  })

  it('silent sockets from other addresses do not delay a member: each address holds at most a few handshake slots', async () => {
    const [validator, member] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([validator.peerId, member.peerId])
    const target = await hosts.start(validator, { members })
    const [address] = target.host.addresses()
    const port = Number(/\/tcp\/(\d+)/.exec(address!)![1])
    // Ten addresses (127.0.0.2-11), three silent sockets each: more than libp2p's default 10 slots.
    for (let ip = 2; ip <= 11; ip++) {
      for (let i = 0; i < 3; i++) {
        const socket = connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${ip}` })
        socket.on('error', () => undefined)
        sockets.push(socket)
      }
    }
    await Promise.all(sockets.map((s) => new Promise((resolve) => (s.connecting ? s.once('connect', resolve) : resolve(undefined)))))
    await new Promise((resolve) => setTimeout(resolve, 200))
    // The member dials from 127.0.0.1 while every silent socket is still open (they hold for
    // the upgrade timeout, 3 s): it must get in well before that.
    const joining = await hosts.start(member, { members, bootstrap: target.host.addresses() })
    const started = Date.now()
    await waitFor('member connected', () => target.host.connectedPeers().includes(member.peerId), 2500)
    expect(Date.now() - started).toBeLessThan(2500)
    expect(joining.host.connectedPeers()).toContain(validator.peerId)
  })
})
