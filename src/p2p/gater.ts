import type { ConnectionGater, PeerId } from '@libp2p/interface'

/**
 * Who may talk to this node: the chain's membership rule (`isAllowedPeer`, which governance may
 * change at runtime) minus the peers this process has banned. Bans are in memory only, on
 * purpose: a restart forgives, membership is the durable decision.
 */
export class PeerAccess {
  readonly #isAllowedPeer: (peerId: string) => boolean
  readonly #banned = new Set<string>()

  constructor(isAllowedPeer: (peerId: string) => boolean) {
    this.#isAllowedPeer = isAllowedPeer
  }

  allows(peerId: string): boolean {
    return !this.#banned.has(peerId) && this.#isAllowedPeer(peerId)
  }

  ban(peerId: string): void {
    this.#banned.add(peerId)
  }
}

/**
 * Refuses every connection to or from a peer that `access` does not allow, at the earliest point
 * libp2p knows the remote peer id, so that a non-member never gets a muxed connection and thus can
 * never open a gossip or sync stream.
 */
export function connectionGater(access: PeerAccess): ConnectionGater {
  const deny = (peerId: PeerId): boolean => !access.allows(peerId.toString())
  return {
    // Dials by peer id, or by a multiaddr ending in /p2p/<id>: refused before any socket is opened.
    denyDialPeer: deny,
    // Outbound socket open, peer id taken from the dialed multiaddr: refused before the handshake.
    denyOutboundConnection: deny,
    // Inbound: the remote's identity is only proven by the noise handshake, so this is the first
    // point where we can decide; the connection is closed before the muxer is negotiated.
    denyInboundEncryptedConnection: deny,
    // Outbound dial to a multiaddr without /p2p/: the handshake tells us who answered.
    denyOutboundEncryptedConnection: deny,
  }
}
