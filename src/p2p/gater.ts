import type { ConnectionGater, MultiaddrConnection, PeerId } from '@libp2p/interface'

/**
 * Who may talk to this node: the chain's membership rule (`isAllowedPeer`, which governance may
 * change at runtime) minus the peers this process has banned. Bans are in memory only, on
 * purpose: a restart forgives, membership is the durable decision.
 */
export class PeerAccess {
  readonly #isAllowedPeer: (peerId: string) => boolean
  readonly #now: () => number
  /** Banned peers and when their ban ends (Infinity: until restart). */
  readonly #banned = new Map<string, number>()

  constructor(isAllowedPeer: (peerId: string) => boolean, now: () => number = Date.now) {
    this.#isAllowedPeer = isAllowedPeer
    this.#now = now
  }

  allows(peerId: string): boolean {
    const until = this.#banned.get(peerId)
    if (until !== undefined && until <= this.#now()) this.#banned.delete(peerId)
    else if (until !== undefined) return false
    return this.#isAllowedPeer(peerId)
  }

  /** Refuses `peerId` for `forMs` (default: until restart). */
  ban(peerId: string, forMs = Infinity): void {
    this.#banned.set(peerId, Math.max(this.#banned.get(peerId) ?? 0, this.#now() + forMs))
  }
}

/**
 * Refuses every connection to or from a peer that `access` does not allow, at the earliest point
 * libp2p knows the remote peer id, so that a non-member never gets a muxed connection and thus can
 * never open a gossip or sync stream.
 */
export function connectionGater(access: PeerAccess, slots: InboundSlots): ConnectionGater {
  const deny = (peerId: PeerId): boolean => !access.allows(peerId.toString())
  return {
    // A fresh socket, before any handshake: one address may hold only a few unproven connections.
    denyInboundConnection: (maConn) => !slots.admit(maConn),
    // Dials by peer id, or by a multiaddr ending in /p2p/<id>: refused before any socket is opened.
    denyDialPeer: deny,
    // Outbound socket open, peer id taken from the dialed multiaddr: refused before the handshake.
    denyOutboundConnection: deny,
    // Inbound: the remote's identity is only proven by the noise handshake, so this is the first
    // point where we can decide; the connection is closed before the muxer is negotiated.
    denyInboundEncryptedConnection: (peerId, maConn) => {
      // The handshake is done: the connection is no longer unadmitted, whatever we decide.
      slots.release(maConn)
      return deny(peerId)
    },
    // Outbound dial to a multiaddr without /p2p/: the handshake tells us who answered.
    denyOutboundEncryptedConnection: deny,
  }
}

/** The remote host of a connection (IP address), or its whole address when it has none. */
function remoteHost(maConn: MultiaddrConnection): string {
  const ip = maConn.remoteAddr.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')
  return ip?.value ?? maConn.remoteAddr.toString()
}

/**
 * Inbound connections that have not finished their handshake, per remote address. libp2p has
 * one global limit on such connections (maxIncomingPendingConnections); silent sockets from one
 * address could fill it and delay every member's connection until they time out. Each address
 * gets at most `perHost` of them; the slot is released once the handshake completes or the
 * socket closes.
 */
export class InboundSlots {
  readonly #perHost: number
  readonly #pending = new Map<MultiaddrConnection, string>()
  readonly #byHost = new Map<string, number>()

  constructor(perHost: number) {
    this.#perHost = perHost
  }

  admit(maConn: MultiaddrConnection): boolean {
    const host = remoteHost(maConn)
    const used = this.#byHost.get(host) ?? 0
    if (used >= this.#perHost) return false
    this.#byHost.set(host, used + 1)
    this.#pending.set(maConn, host)
    maConn.addEventListener('close', () => this.release(maConn), { once: true })
    return true
  }

  release(maConn: MultiaddrConnection): void {
    const host = this.#pending.get(maConn)
    if (host === undefined) return
    this.#pending.delete(maConn)
    const left = (this.#byHost.get(host) ?? 1) - 1
    if (left <= 0) this.#byHost.delete(host)
    else this.#byHost.set(host, left)
  }

  /** Unadmitted connections from `host` now. */
  pendingFrom(host: string): number {
    return this.#byHost.get(host) ?? 0
  }
}
