import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Logger } from 'pino'
import type { Gauge } from 'prom-client'
import { concatBytes } from '../core/bytes.js'
import { P2PError } from './errors.js'
import { InboundSlots, PeerAccess, connectionGater } from './gater.js'
import { GossipChannel, MAX_GOSSIP_MESSAGE_BYTES, gossipService, type GossipHandlers, type GossipMetrics, type GossipTopic } from './gossip.js'
import { DEFAULT_PENALTY_OPTIONS, PeerPenalties, type PenaltyOptions } from './penalties.js'
import { BootstrapDialer, parseBootstrapAddress, type BootstrapTarget } from './reconnect.js'
import { DEFAULT_SYNC_SERVE_LIMITS, ReqResp, snapshotProtocol, type RequestOptions, type SyncHandler, type SyncServeLimits } from './reqresp.js'

export interface P2POptions {
  /** Part of every topic and protocol name: nodes of different chains never exchange a byte. */
  readonly chainId: string
  /** Multiaddrs to listen on, e.g. /ip4/0.0.0.0/tcp/26656 (tcp/0 picks a free port). */
  readonly listen: readonly string[]
  /** Full multiaddrs with /p2p/<peerId>; kept connected with exponential backoff. Our own is skipped. */
  readonly bootstrap: readonly string[]
  /** Persistent node identity: raw Ed25519 secret and public key (32 bytes each). */
  readonly nodeKey: { readonly secretKey: Uint8Array; readonly publicKey: Uint8Array }
  /** Membership: genesis validators and members. Consulted on every connection; may change at runtime. */
  isAllowedPeer(peerId: string): boolean
  /** Largest gossip message, sync request and sync response payload, in bytes. */
  readonly maxMessageBytes: number
  /** Limits on connections and per-peer work; absent fields take DEFAULT_PEER_LIMITS. */
  readonly limits?: Partial<PeerLimits>
}

export interface PeerLimits {
  /**
   * Addresses (multiaddrs such as /ip4/10.1.0.0/ipcidr/16) whose inbound connections bypass the
   * pending-connection limits: the members' known networks, so unknown addresses can never take
   * the slots they need.
   */
  readonly allow: readonly string[]
  /** Inbound connections still in their handshake, from any one address. */
  readonly maxPendingInboundPerHost: number
  /** Inbound connections still in their handshake, in total (libp2p's maxIncomingPendingConnections). */
  readonly maxPendingInbound: number
  /** Time an inbound connection has to finish its handshake (libp2p's inboundUpgradeTimeout). */
  readonly inboundUpgradeTimeoutMs: number
  readonly penalties: PenaltyOptions
  readonly sync: SyncServeLimits
  /** What one peer may take from the snapshot server (manifests and chunks). */
  readonly snapshots: SyncServeLimits
}

export const DEFAULT_PEER_LIMITS: PeerLimits = Object.freeze({
  allow: [],
  maxPendingInboundPerHost: 4,
  maxPendingInbound: 64,
  // A noise handshake and muxer negotiation take milliseconds, a second or so across continents.
  inboundUpgradeTimeoutMs: 3000,
  penalties: DEFAULT_PENALTY_OPTIONS,
  sync: DEFAULT_SYNC_SERVE_LIMITS,
  // A joining node fetches a few chunks at once, each at most a few MiB.
  snapshots: DEFAULT_SYNC_SERVE_LIMITS,
})

export interface P2PDeps extends GossipHandlers {
  readonly logger: Logger
  readonly metrics?: { readonly peers: Pick<Gauge, 'set'> } & Partial<GossipMetrics & PeerMetrics>
  readonly sync: SyncHandler
  /** Serves snapshot manifests and chunks on `/certchain/<chainId>/snapshot/1` (state sync). */
  readonly snapshots?: SyncHandler
}

export interface PeerMetrics {
  readonly peerDisconnects: { inc(labels: { reason: string }): void }
}

/**
 * The node's network: a libp2p host (TCP, noise, yamux, identify, gossipsub, nothing else) that
 * only ever connects to members, gossips on the chain's three topics, and serves the sync
 * request/response protocol. Bytes only: what they mean is for chain logic (`deps`).
 */
export class P2PHost {
  readonly peerId: string
  readonly #node: Libp2pNode
  readonly #access: PeerAccess
  readonly #gossip: GossipChannel
  readonly #reqresp: ReqResp
  readonly #snapshots: ReqResp
  readonly #dialer: BootstrapDialer
  readonly #logger: Logger
  readonly #metrics: P2PDeps['metrics']
  /** One account per peer for gossip and sync alike. */
  readonly #penalties: PeerPenalties
  readonly #banMs: number
  #started = false

  private constructor(node: Libp2pNode, access: PeerAccess, targets: BootstrapTarget[], options: P2POptions, limits: PeerLimits, deps: P2PDeps) {
    this.#node = node
    this.#access = access
    this.peerId = node.peerId.toString()
    this.#logger = deps.logger.child({ module: 'p2p', self: this.peerId })
    this.#metrics = deps.metrics
    const settings = { chainId: options.chainId, maxMessageBytes: options.maxMessageBytes }
    const metrics = deps.metrics
    const gossipMetrics = metrics?.gossipMessages && metrics.peerPenaltyPoints && metrics.peerPenalty && metrics.gossipRepeatedFailures ? (metrics as GossipMetrics) : undefined
    this.#penalties = new PeerPenalties(limits.penalties)
    this.#banMs = limits.penalties.banMs
    this.#gossip = new GossipChannel(
      {
        pubsub: node.services.pubsub,
        access,
        handlers: deps,
        logger: this.#logger,
        penalties: this.#penalties,
        metrics: gossipMetrics,
        onOverLimit: (peer, reason) => this.#cutOff(peer, reason),
      },
      settings,
    )
    this.#reqresp = new ReqResp({ node, handler: deps.sync, logger: this.#logger }, { ...settings, limits: limits.sync })
    this.#snapshots = new ReqResp(
      { node, handler: deps.snapshots ?? { handle: () => Promise.reject(new Error('this node serves no snapshots')) }, logger: this.#logger },
      { ...settings, limits: limits.snapshots, protocol: snapshotProtocol(settings.chainId) },
    )
    // One bootstrap list for the whole network is convenient; our own entry is skipped.
    const others = targets.filter((target) => !target.peerId.equals(node.peerId))
    this.#dialer = new BootstrapDialer({ node, logger: this.#logger }, others)
  }

  static async create(options: P2POptions, deps: P2PDeps): Promise<P2PHost> {
    const { maxMessageBytes } = options
    if (!Number.isSafeInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > MAX_GOSSIP_MESSAGE_BYTES) {
      const range = `an integer from 1 to ${MAX_GOSSIP_MESSAGE_BYTES}`
      throw new P2PError('P2P_INVALID_OPTIONS', `maxMessageBytes must be ${range}, got ${maxMessageBytes}`)
    }
    const targets = options.bootstrap.map(parseBootstrapAddress)
    const access = new PeerAccess((peerId) => options.isAllowedPeer(peerId))
    const limits: PeerLimits = { ...DEFAULT_PEER_LIMITS, ...options.limits }
    return new P2PHost(await createNode(options, access, limits), access, targets, options, limits, deps)
  }

  /** Opens the listeners and starts dialing. If any part fails (port taken), stops what started. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#node.addEventListener('peer:connect', this.#onPeerConnect)
    this.#node.addEventListener('peer:disconnect', this.#onPeerDisconnect)
    try {
      await this.#node.start()
      this.#gossip.start()
      await this.#reqresp.start()
      await this.#snapshots.start()
      this.#dialer.start()
    } catch (err) {
      await this.stop()
      throw err
    }
    this.#updatePeerCount()
    this.#logger.info({ addresses: this.addresses() }, 'p2p started')
  }

  /** Stops in reverse order; aborts pending reconnects and requests in flight. */
  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#dialer.stop()
    await this.#reqresp.stop()
    await this.#snapshots.stop()
    this.#gossip.stop()
    await this.#node.stop()
    this.#node.removeEventListener('peer:connect', this.#onPeerConnect)
    this.#node.removeEventListener('peer:disconnect', this.#onPeerDisconnect)
    this.#updatePeerCount()
    this.#logger.info('p2p stopped')
  }

  /** Listen addresses, each ending in /p2p/<our id>, ready for another node's bootstrap list. */
  addresses(): string[] {
    return this.#node.getMultiaddrs().map(String)
  }

  /** Gossips `data` to the network. Resolves (delivering to nobody) while no peer is subscribed. */
  async publish(topic: GossipTopic, data: Uint8Array): Promise<void> {
    this.#assertStarted()
    await this.#gossip.publish(topic, data)
  }

  /** One snapshot request (state sync), one response. Fails with a P2PError. */
  requestSnapshot(peerId: string, request: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
    return this.#snapshots.request(peerId, request, options)
  }

  /** One sync request, one response, on `/certchain/<chainId>/sync/1`. Fails with a P2PError. */
  request(peerId: string, request: Uint8Array, options?: RequestOptions): Promise<Uint8Array> {
    return this.#reqresp.request(peerId, request, options)
  }

  connectedPeers(): string[] {
    return this.#node.getPeers().map(String)
  }

  /** Peers subscribed to `topic`, i.e. reached by a publish now. */
  topicPeers(topic: GossipTopic): string[] {
    return this.#gossip.subscribers(topic)
  }

  /** The gossipsub score we give `peerId`: 0 for a well-behaved member, negative after rejected messages. */
  peerScore(peerId: string): number {
    return this.#gossip.score(peerId)
  }

  /** Closes every connection to `peerId`; with `ban`, refuses it in both directions until restart. */
  async disconnect(peerId: string, options: { ban?: boolean } = {}): Promise<void> {
    if (options.ban === true) {
      this.#access.ban(peerId)
      this.#logger.warn({ peer: peerId }, 'peer banned')
    }
    await this.#hangUp(peerIdFromString(peerId))
  }

  /**
   * Charges `peer` for an answer to our request that no honest peer sends (sync's malformed
   * responses, `code` says what was wrong): the points of a rejected gossip message of `bytes`
   * bytes, on the peer's one account, so at the limit it is disconnected and refused for
   * `penalties.banMs` as a gossip offender is.
   */
  penalize(peer: string, code: string, bytes: number): void {
    const points = this.#penalties.cost({ result: 'reject', code }, bytes)
    this.#metrics?.peerPenaltyPoints?.inc({ topic: 'sync', reason: code }, points)
    const over = this.#penalties.charge(peer, points)
    this.#metrics?.peerPenalty?.set({ peer }, this.#penalties.points(peer))
    if (!over) return
    this.#logger.warn({ peer, reason: code, points: this.#penalties.points(peer) }, 'peer over its penalty limit for sync answers; disconnecting')
    this.#penalties.forget(peer)
    this.#metrics?.peerPenalty?.remove({ peer })
    this.#cutOff(peer, 'sync')
  }

  #cutOff(peer: string, reason: 'gossip_penalty' | 'gossip_score' | 'sync'): void {
    this.#metrics?.peerDisconnects?.inc({ reason })
    this.#access.ban(peer, this.#banMs)
    this.#hangUp(peerIdFromString(peer)).catch((err: unknown) => this.#logger.warn({ err, peer }, 'cannot disconnect peer'))
  }

  /** Call after the membership behind `isAllowedPeer` changed: drops connected peers no longer allowed. */
  async reevaluatePeers(): Promise<void> {
    const disallowed = this.#node.getPeers().filter((peer) => !this.#access.allows(peer.toString()))
    for (const peer of disallowed) this.#logger.info({ peer: peer.toString() }, 'peer no longer allowed; disconnecting')
    await Promise.all(disallowed.map((peer) => this.#hangUp(peer)))
  }

  async #hangUp(peer: PeerId): Promise<void> {
    if (!this.#started) return
    await this.#node.hangUp(peer)
  }

  #assertStarted(): void {
    if (!this.#started) throw new P2PError('P2P_NOT_STARTED', 'p2p host is not started')
  }

  readonly #onPeerConnect = (event: CustomEvent<PeerId>): void => {
    this.#logger.info({ peer: event.detail.toString(), peers: this.#updatePeerCount() }, 'peer connected')
  }

  readonly #onPeerDisconnect = (event: CustomEvent<PeerId>): void => {
    this.#logger.info({ peer: event.detail.toString(), peers: this.#updatePeerCount() }, 'peer disconnected')
  }

  #updatePeerCount(): number {
    const peers = this.#node.getPeers().length
    this.#metrics?.peers.set(peers)
    return peers
  }
}

type Libp2pNode = Awaited<ReturnType<typeof createNode>>

/** Built stopped: `P2PHost.start()` decides when sockets open. */
function createNode(options: P2POptions, access: PeerAccess, limits: PeerLimits) {
  return createLibp2p({
    connectionManager: {
      allow: [...limits.allow],
      maxIncomingPendingConnections: limits.maxPendingInbound,
      inboundUpgradeTimeout: limits.inboundUpgradeTimeoutMs,
    },
    start: false,
    privateKey: privateKeyFromRaw(concatBytes(options.nodeKey.secretKey, options.nodeKey.publicKey)),
    addresses: { listen: [...options.listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: connectionGater(access, new InboundSlots(limits.maxPendingInboundPerHost)),
    services: {
      identify: identify(),
      pubsub: gossipService({ chainId: options.chainId, maxMessageBytes: options.maxMessageBytes }),
    },
  })
}
