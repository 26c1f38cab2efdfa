import { gossipsub, StrictNoSign, TopicValidatorResult, type GossipSub, type GossipsubMessage, type GossipsubOpts } from '@libp2p/gossipsub'
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import type { PeerId } from '@libp2p/interface'
import type { Logger } from 'pino'
import { toHex } from '../core/bytes.js'
import { sha256 } from '../core/hash.js'
import { P2PError } from './errors.js'
import type { PeerAccess } from './gater.js'
import type { Failure, PeerPenalties } from './penalties.js'

/** What gossip reports about the work it did for each peer (prom-client counters and gauges fit). */
export interface GossipMetrics {
  readonly gossipMessages: { inc(labels: { topic: string; result: string; reason: string }): void }
  readonly peerPenaltyPoints: { inc(labels: { topic: string; reason: string }, value: number): void }
  readonly peerPenalty: { set(labels: { peer: string }, value: number): void; remove(labels: { peer: string }): void }
  readonly gossipRepeatedFailures: { inc(labels: { topic: string }): void }
}

/**
 * `txbundle` carries transactions in bundles (src/mempool/bundle.ts); `txs`, one transaction per
 * message, is what nodes before bundles publish, still subscribed and validated so a network can
 * upgrade one node at a time.
 */
export const GOSSIP_TOPICS = ['txs', 'txbundle', 'consensus', 'blocks'] as const
export type GossipTopic = (typeof GOSSIP_TOPICS)[number]

/**
 * What chain logic decides about a gossip message (Lodestar's split: validation is chain logic,
 * the network only maps the verdict). `accept`: deliver and forward. `ignore`: drop without
 * blame, for anything that depends on local state (stale, future, already known). `reject`:
 * drop and penalise the peer that sent it, only for messages that are invalid for everyone
 * (bad signature, malformed): an honest peer that forwarded it must have broken a rule.
 */
export type Verdict =
  | { result: 'accept' }
  | {
      result: 'ignore' | 'reject'
      reason: string
      /** Stable reason code (metrics label); absent counts as "other". */
      code?: string
      /** An ignore charged to the sender: it cost work and failed (see PeerPenalties). */
      charge?: boolean
      /** Failures the message holds (a bundle's refused transactions), each charged; 1 when absent. */
      units?: number
    }

export interface GossipHandlers {
  validate(topic: GossipTopic, data: Uint8Array, from: string): Promise<Verdict> | Verdict
  onMessage(topic: GossipTopic, data: Uint8Array, from: string): void
}

export function gossipTopicName(chainId: string, topic: GossipTopic): string {
  return `/certchain/${chainId}/${topic}/1`
}

/**
 * Room in an RPC frame beyond the message data: protobuf tags, the topic string, and control
 * messages (IHAVE/IWANT/GRAFT/PRUNE) that gossipsub piggybacks on message RPCs.
 */
const RPC_ENVELOPE_BYTES = 64 * 1024

/**
 * The largest `maxMessageBytes` gossip can carry: gossipsub frames outbound RPCs with
 * it-length-prefixed's default 4 MiB limit and offers no option to raise it, so a larger RPC
 * would fail to send (silently, in gossipsub's log).
 */
/** Shorter than consensus's re-send interval (`consensus.gossipIntervalMs`, 1 s by default). */
export const SEEN_TTL_MS = 800

export const MAX_GOSSIP_MESSAGE_BYTES = 4 * 1024 * 1024 - RPC_ENVELOPE_BYTES

/**
 * Per-RPC protobuf decode limits. An RPC over any limit is dropped whole, so each limit must stay
 * above what an honest certchain router sends, and the frame limit bounds memory anyway.
 */
const DECODE_RPC_LIMITS = {
  // Four topics; room for a resubscription in the same RPC.
  maxSubscriptions: 8,
  // Publishing and forwarding send one message per RPC, but an IWANT answer bundles every
  // message asked for, and an answer we fail to decode counts against the honest peer that sent
  // it (a broken IWANT promise, P7). IWANTs are rare here (flood publishing, small meshes).
  maxMessages: 256,
  // Not small on purpose: the router itself emits and requests up to 5000 ids per heartbeat
  // (GossipsubMaxIHaveLength); a lower limit here would drop honest RPCs under load.
  maxIhaveMessageIDs: 5000,
  maxIwantMessageIDs: 5000,
  // The router's own per-heartbeat IDONTWANT budget (GossipsubIdontwantMaxMessages).
  maxIdontwantMessageIDs: 512,
  // At most one IHAVE/IWANT/GRAFT/PRUNE entry per topic per RPC in practice.
  maxControlMessages: 16,
  // Peer exchange is off on every certchain node (doPX: false): peers come from configuration
  // and membership, never from other peers, so a PRUNE carrying peer records is malformed.
  maxPeerInfos: 0,
}

/** The per-interval decay factor that takes a counter from 1 to `decayToZero` (then 0) in `durationMs`. */
function decayOver(durationMs: number, decayIntervalMs: number, decayToZero: number): number {
  return decayToZero ** (decayIntervalMs / durationMs)
}

const DECAY_INTERVAL_MS = 1000
/** gossipsub's default graylist threshold (we keep the default thresholds). */
const GRAYLIST_THRESHOLD = -80
const SCORE_CHECK_MS = 1000
const DECAY_TO_ZERO = 0.1

/**
 * Peer scoring for a permissioned network: every peer is an authenticated member, so only
 * misbehaviour counts. The positive terms (P1 time in mesh, P2 first deliveries) only serve
 * opportunistic grafting and peer exchange, which a small all-member network does not need, and
 * the mesh-delivery deficit terms (P3, P3b) would punish honest members whenever a topic is quiet
 * (blocks and votes only flow while there is work). What remains is P4: each rejected message
 * costs -10·n² in its topic, forgotten over ten minutes. With the default thresholds one rejected
 * message puts a peer at the gossip threshold (-10), two stop gossip exchange with it, three
 * graylist it (-90 < -80, its RPCs are ignored) until the counter decays.
 */
const TOPIC_SCORE: TopicScoreParams = createTopicScoreParams({
  topicWeight: 1,
  timeInMeshWeight: 0,
  firstMessageDeliveriesWeight: 0,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -10,
  invalidMessageDeliveriesDecay: decayOver(10 * 60_000, DECAY_INTERVAL_MS, DECAY_TO_ZERO),
})

/**
 * The gossipsub service for libp2p's `services`, configured for a small permissioned network.
 *
 * Delivery in small networks: `floodPublish` (our own messages go straight to every subscribed
 * peer whose score is above the publish threshold, not only to the mesh) plus the normal mesh
 * forwarding, so with 4 fully connected nodes a message reaches everyone in one hop even before
 * the mesh has formed. We do not use `directPeers`: direct peers bypass scoring and graylisting
 * (gossipsub always accepts their RPCs), need every node to list every other symmetrically, and
 * the bootstrap dialer already keeps configured peers connected.
 */
export function gossipService(options: { chainId: string; maxMessageBytes: number }) {
  const init: Partial<GossipsubOpts> = {
    globalSignaturePolicy: StrictNoSign,
    // Content addressed: the same bytes are the same message whoever relays them, so duplicates
    // from several peers are recognised and publishing twice is a no-op.
    msgIdFn: (message) => sha256(message.data),
    ignoreDuplicatePublishError: true,
    // How long a message id counts as seen. gossipsub's default (2 min) would swallow consensus's
    // periodic re-sends, which are the same bytes on purpose: a vote published while a peer was
    // not yet connected, or across a partition, would never reach it, and the round would never
    // complete (seen in the cluster tests). Our networks deliver in well under this, so it still
    // suppresses relay duplicates; a later copy is re-validated and ignored as already known.
    seenTTL: SEEN_TTL_MS,
    allowPublishToZeroTopicPeers: true,
    allowedTopics: GOSSIP_TOPICS.map((topic) => gossipTopicName(options.chainId, topic)),
    maxInboundDataLength: options.maxMessageBytes + RPC_ENVELOPE_BYTES,
    decodeRpcLimits: DECODE_RPC_LIMITS,
    floodPublish: true,
    fallbackToFloodsub: false,
    doPX: false,
    scoreParams: {
      topics: Object.fromEntries(GOSSIP_TOPICS.map((topic) => [gossipTopicName(options.chainId, topic), TOPIC_SCORE])),
      decayInterval: DECAY_INTERVAL_MS,
      decayToZero: DECAY_TO_ZERO,
      // Members are authenticated by key; several validators behind one NAT (or in one test
      // process) share an IP legitimately, so IP colocation is no signal here.
      IPColocationFactorWeight: 0,
    },
  }
  return gossipsub(init)
}

/** The router's score accessor exists on the class but is missing from the exported interface. */
type ScoredGossipSub = GossipSub & { getScore(peerId: string): number }

function hasScore(pubsub: GossipSub): pubsub is ScoredGossipSub {
  return typeof (pubsub as Partial<ScoredGossipSub>).getScore === 'function'
}

const TO_ROUTER_RESULT = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
} as const

/**
 * Our three topics on top of a started gossipsub router: subscribes, routes every inbound message
 * through chain logic's verdict before gossipsub delivers or forwards it, and hands accepted
 * messages to `onMessage`. `from` is the peer that relayed the message to us (StrictNoSign
 * messages carry no author; the author is whoever signed the payload, which chain logic checks).
 *
 * Verdicts go through topic validators, not `asyncValidation`: gossipsub awaits the validator and
 * then applies the verdict itself (deliver, forward, or drop with the P4 penalty), whereas
 * asyncValidation would have us replay that bookkeeping through reportMessageValidationResult.
 * gossipsub asks validators to be fast because slow ones cost mesh-delivery score (P3); P3 is off
 * (see TOPIC_SCORE), so a slow validation (a block) costs no one anything.
 */
export class GossipChannel {
  readonly #pubsub: ScoredGossipSub
  readonly #access: PeerAccess
  readonly #penalties: PeerPenalties
  readonly #metrics: GossipMetrics | undefined
  readonly #onOverLimit: (peer: string, reason: 'gossip_penalty' | 'gossip_score') => void
  #scoreTimer: NodeJS.Timeout | undefined
  readonly #handlers: GossipHandlers
  readonly #logger: Logger
  readonly #maxMessageBytes: number
  readonly #names: ReadonlyMap<GossipTopic, string>
  readonly #topics: ReadonlyMap<string, GossipTopic>
  readonly #onGossipMessage = (event: CustomEvent<GossipsubMessage>): void => this.#deliver(event.detail)

  constructor(
    components: {
      pubsub: GossipSub
      access: PeerAccess
      handlers: GossipHandlers
      logger: Logger
      penalties: PeerPenalties
      metrics?: GossipMetrics | undefined
      /** A peer's penalty points reached the limit, or gossipsub graylisted it: disconnect and refuse it. */
      onOverLimit: (peer: string, reason: 'gossip_penalty' | 'gossip_score') => void
    },
    options: { chainId: string; maxMessageBytes: number },
  ) {
    if (!hasScore(components.pubsub)) throw new TypeError('the gossipsub router has no getScore(); check the @libp2p/gossipsub version')
    this.#pubsub = components.pubsub
    this.#access = components.access
    this.#penalties = components.penalties
    this.#metrics = components.metrics
    this.#onOverLimit = components.onOverLimit
    this.#handlers = components.handlers
    this.#logger = components.logger
    this.#maxMessageBytes = options.maxMessageBytes
    this.#names = new Map(GOSSIP_TOPICS.map((topic) => [topic, gossipTopicName(options.chainId, topic)]))
    this.#topics = new Map(GOSSIP_TOPICS.map((topic) => [gossipTopicName(options.chainId, topic), topic]))
  }

  /** Call after the router started (it refuses subscriptions before, and forgets them on stop). */
  start(): void {
    this.#pubsub.addEventListener('gossipsub:message', this.#onGossipMessage)
    // gossipsub ignores a graylisted peer's messages unseen (no validation, so no penalty points
    // either) but keeps it connected: cut it off instead, it has only sent invalid messages.
    this.#scoreTimer = setInterval(() => this.#dropGraylisted(), SCORE_CHECK_MS)
    this.#scoreTimer.unref()
    for (const [topic, name] of this.#names) {
      this.#pubsub.topicValidators.set(name, (peer, message) => this.#validate(topic, peer, message.data))
      this.#pubsub.subscribe(name)
    }
  }

  stop(): void {
    clearInterval(this.#scoreTimer)
    this.#pubsub.removeEventListener('gossipsub:message', this.#onGossipMessage)
    for (const name of this.#names.values()) this.#pubsub.topicValidators.delete(name)
  }

  async publish(topic: GossipTopic, data: Uint8Array): Promise<void> {
    if (data.length > this.#maxMessageBytes) {
      throw new P2PError('P2P_FRAME_TOO_LARGE', `${topic} message of ${data.length} bytes exceeds the ${this.#maxMessageBytes}-byte limit`)
    }
    await this.#pubsub.publish(this.#name(topic), data)
  }

  /** Peers known to be subscribed to `topic` (those a publish would reach). */
  subscribers(topic: GossipTopic): string[] {
    return this.#pubsub.getSubscribers(this.#name(topic)).map(String)
  }

  score(peerId: string): number {
    return this.#pubsub.getScore(peerId)
  }

  #name(topic: GossipTopic): string {
    // Every GossipTopic has a name: the map is built from GOSSIP_TOPICS.
    return this.#names.get(topic)!
  }

  async #validate(topic: GossipTopic, peer: PeerId, data: Uint8Array): Promise<TopicValidatorResult> {
    const from = peer.toString()
    // Membership may have changed since the connection was gated; reevaluatePeers() closes the
    // connection, this covers the messages already in flight.
    if (!this.#access.allows(from)) return TopicValidatorResult.Ignore
    // The RPC frame limit leaves room for the envelope; the message itself must fit our limit,
    // which honest publishers check before sending.
    if (data.length > this.#maxMessageBytes) {
      this.#logger.debug({ topic, from, bytes: data.length }, 'gossip message over size limit rejected')
      this.#fail(topic, from, data.length, { result: 'reject', code: 'oversize' })
      return TopicValidatorResult.Reject
    }
    // The same id gossipsub gives the message (msgIdFn): its exact bytes.
    const id = toHex(sha256(data))
    const known = this.#penalties.recall(id)
    if (known) {
      // Failed here before: answered and charged again without validating it again.
      this.#metrics?.gossipRepeatedFailures.inc({ topic })
      this.#fail(topic, from, data.length, known)
      return TO_ROUTER_RESULT[known.result]
    }
    let verdict: Verdict
    try {
      verdict = await this.#handlers.validate(topic, data, from)
    } catch (err) {
      // A bug in our own validation must not count against the peer.
      this.#logger.error({ err, topic, from }, 'gossip validation threw; ignoring the message')
      return TopicValidatorResult.Ignore
    }
    if (verdict.result === 'accept') {
      this.#metrics?.gossipMessages.inc({ topic, result: 'accept', reason: 'ok' })
      return TopicValidatorResult.Accept
    }
    this.#logger.debug({ topic, from, result: verdict.result, reason: verdict.reason }, 'gossip message not accepted')
    const failure: Failure = { result: verdict.result, code: verdict.code ?? 'other', ...(verdict.units === undefined ? {} : { units: verdict.units }) }
    if (verdict.result === 'reject' || verdict.charge === true) {
      this.#penalties.remember(id, failure)
      this.#fail(topic, from, data.length, failure)
    } else {
      this.#metrics?.gossipMessages.inc({ topic, result: failure.result, reason: failure.code })
    }
    return TO_ROUTER_RESULT[verdict.result]
  }

  #dropGraylisted(): void {
    for (const peer of this.#pubsub.getPeers()) {
      const id = peer.toString()
      const score = this.#pubsub.getScore(id)
      if (score >= GRAYLIST_THRESHOLD) continue
      this.#logger.warn({ peer: id, score }, 'peer graylisted by gossipsub for rejected messages; disconnecting')
      this.#penalties.forget(id)
      this.#metrics?.peerPenalty.remove({ peer: id })
      this.#onOverLimit(id, 'gossip_score')
    }
  }

  /** Counts a failed message and charges its sender; past the limit, the sender is cut off. */
  #fail(topic: GossipTopic, from: string, bytes: number, failure: Failure): void {
    const points = this.#penalties.cost(failure, bytes)
    this.#metrics?.gossipMessages.inc({ topic, result: failure.result, reason: failure.code })
    this.#metrics?.peerPenaltyPoints.inc({ topic, reason: failure.code }, points)
    const over = this.#penalties.charge(from, points)
    this.#metrics?.peerPenalty.set({ peer: from }, this.#penalties.points(from))
    if (over) {
      this.#logger.warn({ peer: from, topic, reason: failure.code, points: this.#penalties.points(from) }, 'peer over its gossip penalty limit; disconnecting')
      this.#penalties.forget(from)
      this.#metrics?.peerPenalty.remove({ peer: from })
      this.#onOverLimit(from, 'gossip_penalty')
    }
  }

  /** gossipsub dispatches this only for messages our validator accepted, on subscribed topics. */
  #deliver({ msg, propagationSource }: GossipsubMessage): void {
    const topic = this.#topics.get(msg.topic)
    // Always found: we subscribe to our topics only. The check narrows the type.
    if (topic === undefined) return
    try {
      this.#handlers.onMessage(topic, msg.data, propagationSource.toString())
    } catch (err) {
      this.#logger.error({ err, topic }, 'gossip message handler threw')
    }
  }
}
