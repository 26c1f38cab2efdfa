import { afterEach, describe, expect, it } from 'vitest'
import { isP2PError, type P2PErrorCode } from '../../../src/p2p/index.js'
import { Hosts, encode, newIdentity, waitFor, waitForGossipMesh, type TestHost } from './helpers.js'

const hosts = new Hosts()
afterEach(() => hosts.stopAll())

async function failureCode(promise: Promise<unknown>): Promise<P2PErrorCode | undefined> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  return isP2PError(error) ? error.code : undefined
}

const ping = encode('ping')

describe('p2p connection gater', () => {
  it('refuses a non-member inbound and outbound, so it can neither connect nor gossip', async () => {
    const [a, b, c, outsider] = await Promise.all([newIdentity(), newIdentity(), newIdentity(), newIdentity()])
    const members = new Set([a.peerId, b.peerId, c.peerId])
    const hostA = await hosts.start(a, { members })
    const hostB = await hosts.start(b, { members, bootstrap: hostA.host.addresses() })
    await waitForGossipMesh([hostA, hostB])
    // The outsider accepts anyone and keeps dialing A and B (inbound for them).
    const hostX = await hosts.start(outsider, {
      members: () => true,
      bootstrap: [...hostA.host.addresses(), ...hostB.host.addresses()],
    })
    // A member that has the outsider in its bootstrap list (outbound for it).
    const hostC = await hosts.start(c, {
      members,
      bootstrap: [...hostX.host.addresses(), ...hostA.host.addresses(), ...hostB.host.addresses()],
    })
    const members3: TestHost[] = [hostA, hostB, hostC]
    await waitForGossipMesh(members3)

    expect(await failureCode(hostX.host.request(a.peerId, ping))).toBe('P2P_PEER_UNREACHABLE')
    expect(await failureCode(hostX.host.request(b.peerId, ping))).toBe('P2P_PEER_UNREACHABLE')
    expect(await failureCode(hostC.host.request(outsider.peerId, ping))).toBe('P2P_PEER_UNREACHABLE')

    await hostX.host.publish('txs', encode('from-outsider'))
    await hostB.host.publish('txs', encode('barrier'))
    await waitFor('A and C received the barrier', () => hostA.texts('txs').includes('barrier') && hostC.texts('txs').includes('barrier'))

    expect(hostX.host.connectedPeers()).toEqual([])
    for (const member of members3) {
      expect(member.host.connectedPeers()).not.toContain(outsider.peerId)
      expect(member.validated.map((m) => m.text)).not.toContain('from-outsider')
      expect(member.validated.map((m) => m.from)).not.toContain(outsider.peerId)
    }
  })

  it('reevaluatePeers disconnects a peer that lost membership and keeps it out', async () => {
    const [a, b, c] = await Promise.all([newIdentity(), newIdentity(), newIdentity()])
    const membersOfA = new Set([a.peerId, b.peerId, c.peerId])
    const everyone = new Set(membersOfA)
    const hostA = await hosts.start(a, { members: membersOfA })
    const hostB = await hosts.start(b, { members: everyone, bootstrap: hostA.host.addresses() })
    const hostC = await hosts.start(c, { members: everyone, bootstrap: hostA.host.addresses() })
    await waitFor('A connected to B and C', () => hostA.host.connectedPeers().length === 2)

    membersOfA.delete(c.peerId)
    await hostA.host.reevaluatePeers()

    await waitFor('C disconnected from A', () => !hostA.host.connectedPeers().includes(c.peerId) && hostC.host.connectedPeers().length === 0)
    expect(hostA.host.connectedPeers()).toEqual([b.peerId])
    // C keeps redialing A (bootstrap) and is refused; its requests cannot get through either.
    expect(await failureCode(hostC.host.request(a.peerId, ping))).toBe('P2P_PEER_UNREACHABLE')
    expect(await failureCode(hostA.host.request(c.peerId, ping))).toBe('P2P_PEER_UNREACHABLE')
    expect(hostA.host.connectedPeers()).toEqual([b.peerId])
    expect(hostB.host.connectedPeers()).toEqual([a.peerId])
  })

  it('disconnect with ban keeps the peer out although it is a member', async () => {
    const [a, b] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([a.peerId, b.peerId])
    const hostA = await hosts.start(a, { members })
    const hostB = await hosts.start(b, { members, bootstrap: hostA.host.addresses() })
    await waitFor('A and B connected', () => hostA.host.connectedPeers().includes(b.peerId))

    await hostA.host.disconnect(b.peerId, { ban: true })

    await waitFor('B disconnected', () => hostA.host.connectedPeers().length === 0 && hostB.host.connectedPeers().length === 0)
    expect(await failureCode(hostB.host.request(a.peerId, ping))).toBe('P2P_PEER_UNREACHABLE')
    expect(await failureCode(hostA.host.request(b.peerId, ping))).toBe('P2P_PEER_UNREACHABLE')
    expect(hostA.host.connectedPeers()).toEqual([])
  })

  it('disconnect without ban lets the peer reconnect', async () => {
    const [a, b] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([a.peerId, b.peerId])
    const hostA = await hosts.start(a, { members })
    const hostB = await hosts.start(b, { members, bootstrap: hostA.host.addresses() })
    await waitFor('A and B connected', () => hostA.host.connectedPeers().includes(b.peerId))

    await hostA.host.disconnect(b.peerId)
    expect(hostA.host.connectedPeers()).toEqual([])

    // B's bootstrap dialer notices and reconnects; A lets it in.
    await waitFor('B back at A', () => hostA.host.connectedPeers().includes(b.peerId) && hostB.host.connectedPeers().includes(a.peerId))
    await expect(hostB.host.request(a.peerId, ping)).resolves.toBeInstanceOf(Uint8Array)
  })
})
