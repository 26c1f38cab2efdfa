import { afterEach, describe, expect, it } from 'vitest'
import { DEFAULT_REQUEST_TIMEOUT_MS, MAX_GOSSIP_MESSAGE_BYTES, isP2PError, type P2PErrorCode, type SyncHandler } from '../../../src/p2p/index.js'
import { Hosts, decode, encode, newIdentity, unreachableAddress, waitFor, type HostOptions, type TestHost } from './helpers.js'

const hosts = new Hosts()
afterEach(() => hosts.stopAll())

async function failureCode(promise: Promise<unknown>): Promise<P2PErrorCode | undefined> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  return isP2PError(error) ? error.code : undefined
}

/** A handler result that only settles when the test releases it (in finally, so nothing dangles). */
function stalled(): { promise: Promise<Uint8Array>; release(): void } {
  let release = (): void => {}
  const promise = new Promise<Uint8Array>((resolve) => {
    release = () => resolve(new Uint8Array(0))
  })
  return { promise, release }
}

/** A client and a server with the given options, connected. */
async function pair(server: Partial<HostOptions>, client: Partial<HostOptions> = {}): Promise<{ client: TestHost; server: TestHost }> {
  const [s, c] = await Promise.all([newIdentity(), newIdentity()])
  const members = new Set([s.peerId, c.peerId])
  const serverHost = await hosts.start(s, { members, ...server })
  const clientHost = await hosts.start(c, { members, bootstrap: serverHost.host.addresses(), ...client })
  await waitFor('client connected to server', () => clientHost.host.connectedPeers().includes(s.peerId))
  return { client: clientHost, server: serverHost }
}

describe('p2p request/response', () => {
  it('round-trips a request and tells the handler who asked', async () => {
    const askedBy: string[] = []
    const sync: SyncHandler = {
      handle: (request, from) => {
        askedBy.push(from)
        return Promise.resolve(encode(`blocks after ${decode(request)}`))
      },
    }
    const { client, server } = await pair({ sync })
    const response = await client.host.request(server.peerId, encode('height 41'))
    expect(decode(response)).toBe('blocks after height 41')
    // Concurrent requests each get their own stream and answer.
    const many = await Promise.all([1, 2, 3].map((n) => client.host.request(server.peerId, encode(`height ${n}`))))
    expect(many.map(decode)).toEqual(['blocks after height 1', 'blocks after height 2', 'blocks after height 3'])
    expect(new Set(askedBy)).toEqual(new Set([client.peerId]))
  })

  it('answers an empty request with an empty response', async () => {
    const { client, server } = await pair({ sync: { handle: () => Promise.resolve(new Uint8Array(0)) } })
    expect(await client.host.request(server.peerId, new Uint8Array(0))).toEqual(new Uint8Array(0))
  })

  it('P2P_FRAME_TOO_LARGE: refuses to send a request over its own limit', async () => {
    const { client, server } = await pair({}, { maxMessageBytes: 1024 })
    expect(await failureCode(client.host.request(server.peerId, new Uint8Array(1025)))).toBe('P2P_FRAME_TOO_LARGE')
    expect(await client.host.request(server.peerId, new Uint8Array(1024))).toBeInstanceOf(Uint8Array)
  })

  it("P2P_FRAME_TOO_LARGE: the server refuses a request over the server's limit", async () => {
    let handled = 0
    const sync: SyncHandler = { handle: () => Promise.resolve(encode(`handled ${++handled}`)) }
    const { client, server } = await pair({ sync, maxMessageBytes: 1024 }, { maxMessageBytes: MAX_GOSSIP_MESSAGE_BYTES })
    expect(await failureCode(client.host.request(server.peerId, new Uint8Array(MAX_GOSSIP_MESSAGE_BYTES)))).toBe('P2P_FRAME_TOO_LARGE')
    expect(handled).toBe(0)
    expect(decode(await client.host.request(server.peerId, new Uint8Array(1024)))).toBe('handled 1')
  })

  it("P2P_FRAME_TOO_LARGE: the client refuses a response over the client's limit", async () => {
    const sync: SyncHandler = { handle: (request) => Promise.resolve(new Uint8Array(request[0] === 1 ? 4096 : 16)) }
    const { client, server } = await pair({ sync, maxMessageBytes: 1024 * 1024 }, { maxMessageBytes: 1024 })
    expect(await failureCode(client.host.request(server.peerId, Uint8Array.of(1)))).toBe('P2P_FRAME_TOO_LARGE')
    expect(await client.host.request(server.peerId, Uint8Array.of(0))).toHaveLength(16)
  })

  it('P2P_REMOTE_ERROR: the handler failed, and the client learns nothing more', async () => {
    const sync: SyncHandler = { handle: () => Promise.reject(new Error('database is on fire at /var/lib/secret')) }
    const { client, server } = await pair({ sync })
    const error: unknown = await client.host.request(server.peerId, encode('x')).catch((err: unknown) => err)
    expect(isP2PError(error, 'P2P_REMOTE_ERROR')).toBe(true)
    expect(String(error)).not.toContain('secret')
  })

  it('P2P_TIMEOUT: no response within timeoutMs', async () => {
    const never = stalled()
    try {
      const { client, server } = await pair({ sync: { handle: () => never.promise } })
      const startedAt = Date.now()
      expect(await failureCode(client.host.request(server.peerId, encode('x'), { timeoutMs: 300 }))).toBe('P2P_TIMEOUT')
      expect(Date.now() - startedAt).toBeLessThan(DEFAULT_REQUEST_TIMEOUT_MS)
    } finally {
      never.release()
    }
  })

  it("P2P_ABORTED: the caller's signal ends the request", async () => {
    const never = stalled()
    try {
      const { client, server } = await pair({ sync: { handle: () => never.promise } })
      const controller = new AbortController()
      const pending = failureCode(client.host.request(server.peerId, encode('x'), { signal: controller.signal }))
      controller.abort()
      expect(await pending).toBe('P2P_ABORTED')
      expect(await failureCode(client.host.request(server.peerId, encode('x'), { signal: AbortSignal.abort() }))).toBe('P2P_ABORTED')
    } finally {
      never.release()
    }
  })

  it('P2P_PEER_UNREACHABLE: nobody listens at the peer address, or the peer is unknown', async () => {
    const [self, other] = await Promise.all([newIdentity(), newIdentity()])
    const nowhere = await unreachableAddress()
    const members = new Set([self.peerId, other.peerId, nowhere.peerId])
    const host = await hosts.start(self, { members, bootstrap: [nowhere.address] })
    expect(await failureCode(host.host.request(nowhere.peerId, encode('x')))).toBe('P2P_PEER_UNREACHABLE')
    expect(await failureCode(host.host.request(other.peerId, encode('x')))).toBe('P2P_PEER_UNREACHABLE')
    expect(await failureCode(host.host.request('not-a-peer-id', encode('x')))).toBe('P2P_PEER_UNREACHABLE')
  })

  it('P2P_NOT_STARTED: a stopped host neither requests nor publishes', async () => {
    const { client, server } = await pair({})
    await client.host.stop()
    expect(await failureCode(client.host.request(server.peerId, encode('x')))).toBe('P2P_NOT_STARTED')
    expect(await failureCode(client.host.publish('txs', encode('x')))).toBe('P2P_NOT_STARTED')
  })
})
