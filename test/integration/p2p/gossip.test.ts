import { afterEach, describe, expect, it } from 'vitest'
import { isP2PError } from '../../../src/p2p/index.js'
import { Hosts, encode, newIdentity, waitFor, waitForGossipMesh, type Identity, type TestHost } from './helpers.js'

const hosts = new Hosts()
afterEach(() => hosts.stopAll())

async function identities(n: number): Promise<Identity[]> {
  return Promise.all(Array.from({ length: n }, () => newIdentity()))
}

describe('p2p gossip', () => {
  it('delivers messages on all three topics to every node of a 4-node network', async () => {
    const ids = await identities(4)
    const members = new Set(ids.map((id) => id.peerId))
    // Each node bootstraps to the ones started before it: a full mesh of connections.
    const started: TestHost[] = []
    for (const id of ids) {
      started.push(await hosts.start(id, { members, bootstrap: started.flatMap((h) => h.host.addresses()) }))
    }
    await waitForGossipMesh(started)

    const [first, , , last] = started as [TestHost, TestHost, TestHost, TestHost]
    await last.host.publish('txs', encode('tx-1'))
    await last.host.publish('consensus', encode('vote-1'))
    await first.host.publish('blocks', encode('block-1'))

    await waitFor('every other node received every message', () =>
      started.every(
        (h) =>
          (h === last || (h.texts('txs').includes('tx-1') && h.texts('consensus').includes('vote-1'))) &&
          (h === first || h.texts('blocks').includes('block-1')),
      ),
    )
    // Content-addressed ids: within the seen window (SEEN_TTL_MS) a node delivers a message once
    // however many peers relayed it, and never its own.
    for (const h of started) {
      expect(h.received.filter((m) => m.text === 'tx-1')).toHaveLength(h === last ? 0 : 1)
      expect(h.received.filter((m) => m.text === 'block-1')).toHaveLength(h === first ? 0 : 1)
    }
    expect(ids.map((id) => id.peerId)).toContain(first.received.find((m) => m.text === 'tx-1')?.from)
  })

  it('maps verdicts: only accepted messages reach onMessage, ignored and rejected ones are not forwarded', async () => {
    const [a, b, c] = (await identities(3)) as [Identity, Identity, Identity]
    const members = new Set([a.peerId, b.peerId, c.peerId])
    // A line: A - B - C. Anything C gets from A went through B's validation.
    const hostB = await hosts.start(b, { members })
    const hostA = await hosts.start(a, { members, bootstrap: hostB.host.addresses() })
    const hostC = await hosts.start(c, { members, bootstrap: hostB.host.addresses() })
    await waitForGossipMesh([hostA, hostB])
    await waitForGossipMesh([hostB, hostC])
    expect(hostA.host.connectedPeers()).not.toContain(c.peerId)

    await hostA.host.publish('txs', encode('reject:bad-signature'))
    await hostA.host.publish('txs', encode('ignore:stale'))
    await hostA.host.publish('txs', encode('accept:good'))

    // A message id is forgotten after SEEN_TTL_MS (so consensus re-sends get through); a copy that
    // arrives later is validated again. Assertions are therefore about distinct messages.
    const distinct = (texts: string[]): string[] => [...new Set(texts)].sort()
    await waitFor('C received the accepted message through B', () => hostC.texts('txs').includes('accept:good'))
    await waitFor('B validated all three', () => distinct(hostB.validated.map((m) => m.text)).length === 3)
    expect(hostB.validated.every((m) => m.from === a.peerId)).toBe(true)
    expect(distinct(hostB.texts('txs'))).toEqual(['accept:good'])
    // B forwarded nothing it did not accept: C never even had to validate the others.
    expect(distinct(hostC.validated.map((m) => m.text))).toEqual(['accept:good'])
    expect(hostC.received.every((m) => m.topic === 'txs' && m.text === 'accept:good' && m.from === b.peerId)).toBe(true)
  })

  it('lowers the score of a peer whose messages are rejected, not of one whose messages are ignored', async () => {
    const [a, b] = (await identities(2)) as [Identity, Identity]
    const members = new Set([a.peerId, b.peerId])
    const hostB = await hosts.start(b, { members })
    const hostA = await hosts.start(a, { members, bootstrap: hostB.host.addresses() })
    await waitForGossipMesh([hostA, hostB])

    await hostA.host.publish('consensus', encode('ignore:old-round'))
    await waitFor('B validated the ignored message', () => hostB.validated.length >= 1)
    expect(hostB.host.peerScore(a.peerId)).toBe(0)

    await hostA.host.publish('consensus', encode('reject:forged-vote-1'))
    await hostA.host.publish('consensus', encode('reject:forged-vote-2'))
    await waitFor("A's score at B goes negative", () => hostB.host.peerScore(a.peerId) < 0)
    expect(hostB.received).toEqual([])
    expect(hostA.host.peerScore(b.peerId)).toBe(0)
  })

  it("rejects a message over the receiver's size limit without asking chain logic", async () => {
    const [a, b] = (await identities(2)) as [Identity, Identity]
    const members = new Set([a.peerId, b.peerId])
    const hostB = await hosts.start(b, { members, maxMessageBytes: 1024 })
    const hostA = await hosts.start(a, { members, bootstrap: hostB.host.addresses(), maxMessageBytes: 4096 })
    await waitForGossipMesh([hostA, hostB])

    await hostA.host.publish('blocks', encode(`accept:${'x'.repeat(2000)}`))
    await waitFor("A's score at B goes negative", () => hostB.host.peerScore(a.peerId) < 0)
    await hostA.host.publish('blocks', encode('accept:small'))
    await waitFor('B received the small block', () => hostB.texts('blocks').includes('accept:small'))
    expect([...new Set(hostB.validated.map((m) => m.text))]).toEqual(['accept:small'])
  })

  it('publishes without peers, and refuses a message over the size limit', async () => {
    const alone = await newIdentity()
    const host = await hosts.start(alone, { members: new Set([alone.peerId]), maxMessageBytes: 1024 })
    await expect(host.host.publish('blocks', encode('nobody listens'))).resolves.toBeUndefined()
    const error: unknown = await host.host.publish('blocks', new Uint8Array(1025)).catch((err: unknown) => err)
    expect(isP2PError(error, 'P2P_FRAME_TOO_LARGE')).toBe(true)
  })
})
