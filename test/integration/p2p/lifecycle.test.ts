import { afterEach, describe, expect, it } from 'vitest'
import { isP2PError } from '../../../src/p2p/index.js'
import { Hosts, newIdentity, recordingLogger, unreachableAddress, waitFor } from './helpers.js'

const hosts = new Hosts()
afterEach(() => hosts.stopAll())

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  )
}

describe('p2p host lifecycle', () => {
  it('start and stop are idempotent, and stop cuts the backoff to an unreachable bootstrap peer short', async () => {
    const self = await newIdentity()
    const nowhere = await unreachableAddress()
    const { logger, lines } = recordingLogger()
    const test = await hosts.start(self, { members: new Set([self.peerId, nowhere.peerId]), bootstrap: [nowhere.address], logger })
    await test.host.start()
    expect(test.host.addresses().every((address) => address.endsWith(`/p2p/${self.peerId}`))).toBe(true)

    // After the third failure the dialer waits ~2 s (0.5 s doubled twice) before trying again.
    const failures = () => lines.filter((line) => line.msg === 'bootstrap dial failed' && line.peer === nowhere.peerId)
    await waitFor('three failed dials', () => failures().length >= 3)
    expect(failures().map((line) => line.attempts)).toEqual([1, 2, 3])
    const stopping = Date.now()
    await Promise.all([test.host.stop(), test.host.stop()])
    expect(Date.now() - stopping).toBeLessThan(1000)
    await test.host.stop()
    expect(test.host.connectedPeers()).toEqual([])
    expect(failures()).toHaveLength(3)
  })

  it('a start that fails (port taken) leaves nothing running and can be retried elsewhere', async () => {
    const [first, second] = await Promise.all([newIdentity(), newIdentity()])
    const members = new Set([first.peerId, second.peerId])
    const holder = await hosts.start(first, { members })
    const taken = holder.host.addresses()[0]!.replace(/\/p2p\/.*$/, '')
    const error = await rejection(hosts.start(second, { members, listen: [taken] }))
    expect(error).toBeInstanceOf(Error)
    await expect(hosts.start(second, { members })).resolves.toBeDefined()
  })

  it('P2P_INVALID_OPTIONS: a bootstrap address without a peer id, or an unusable size limit', async () => {
    const self = await newIdentity()
    for (const bootstrap of ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/1/p2p/not-a-peer-id', 'not a multiaddr']) {
      expect(isP2PError(await rejection(hosts.start(self, { members: () => true, bootstrap: [bootstrap] })), 'P2P_INVALID_OPTIONS')).toBe(true)
    }
    for (const maxMessageBytes of [0, 1.5, 64 * 1024 * 1024]) {
      expect(isP2PError(await rejection(hosts.start(self, { members: () => true, maxMessageBytes })), 'P2P_INVALID_OPTIONS')).toBe(true)
    }
  })
})
