/**
 * Real libp2p hosts on 127.0.0.1 for the p2p integration tests, with recorders for what chain
 * logic would see (every validation, every accepted message), and polling with a deadline.
 */
import { pino, type Logger } from 'pino'
import { generateKeyPair, type KeyPair } from '../../../src/core/crypto.js'
import { peerIdOf } from '../../../src/node/keys.js'
import { GOSSIP_TOPICS, P2PHost, type GossipTopic, type P2PDeps, type PeerLimits, type SyncHandler, type Verdict } from '../../../src/p2p/index.js'

export const CHAIN_ID = 'certchain-p2p-test'
export const LOCAL = '/ip4/127.0.0.1/tcp/0'

export interface Identity {
  readonly key: KeyPair
  readonly peerId: string
}

export async function newIdentity(): Promise<Identity> {
  const key = generateKeyPair()
  return { key, peerId: await peerIdOf(key) }
}

export interface Gossip {
  readonly topic: GossipTopic
  readonly text: string
  readonly from: string
}

export interface TestHost {
  readonly host: P2PHost
  readonly peerId: string
  /** Every message chain logic was asked to validate. */
  readonly validated: Gossip[]
  /** Every message delivered to onMessage (accepted ones). */
  readonly received: Gossip[]
  /** The texts received on `topic`. */
  texts(topic?: GossipTopic): string[]
}

export interface HostOptions {
  /** isAllowedPeer; a Set is read live, so tests can change membership at runtime. */
  readonly members: ReadonlySet<string> | ((peerId: string) => boolean)
  readonly bootstrap?: readonly string[]
  readonly listen?: readonly string[]
  readonly maxMessageBytes?: number
  readonly sync?: SyncHandler
  readonly metrics?: P2PDeps['metrics']
  readonly logger?: Logger
  readonly limits?: Partial<PeerLimits>
}

export const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** Chain logic stand-in: the verdict is the payload's prefix ("reject:…", "ignore:…", "charge:…", else accept). */
export function verdictOf(text: string): Verdict {
  if (text.startsWith('reject:')) return { result: 'reject', code: 'test_reject', reason: 'test says reject' }
  if (text.startsWith('charge:')) return { result: 'ignore', code: 'test_charge', reason: 'test says ignore, charged', charge: true }
  if (text.startsWith('ignore:')) return { result: 'ignore', reason: 'test says ignore' }
  return { result: 'accept' }
}

/** Creates and starts hosts, and stops every one of them in `stopAll` (call it in afterEach). */
export class Hosts {
  readonly #hosts: P2PHost[] = []

  async start(identity: Identity, options: HostOptions): Promise<TestHost> {
    const validated: Gossip[] = []
    const received: Gossip[] = []
    const members = options.members
    const host = await P2PHost.create(
      {
        chainId: CHAIN_ID,
        listen: options.listen ?? [LOCAL],
        bootstrap: options.bootstrap ?? [],
        nodeKey: identity.key,
        isAllowedPeer: typeof members === 'function' ? members : (peerId) => members.has(peerId),
        maxMessageBytes: options.maxMessageBytes ?? 64 * 1024,
        ...(options.limits ? { limits: options.limits } : {}),
      },
      {
        logger: options.logger ?? pino({ level: 'silent' }),
        ...(options.metrics ? { metrics: options.metrics } : {}),
        validate: (topic, data, from) => {
          const text = decode(data)
          validated.push({ topic, text, from })
          return verdictOf(text)
        },
        onMessage: (topic, data, from) => {
          received.push({ topic, text: decode(data), from })
        },
        sync: options.sync ?? { handle: () => Promise.resolve(encode('no sync here')) },
      },
    )
    this.#hosts.push(host)
    await host.start()
    return {
      host,
      peerId: host.peerId,
      validated,
      received,
      texts: (topic) => received.filter((m) => topic === undefined || m.topic === topic).map((m) => m.text),
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#hosts.splice(0).map((host) => host.stop()))
  }
}

/** A debug logger that keeps every line, parsed, for tests that wait on what the host logs. */
export function recordingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) })
  return { logger, lines }
}

/** Polls `condition` until it holds; fails with `what` after the deadline. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Waits until each host sees every other listed host subscribed to every topic. */
export async function waitForGossipMesh(hosts: readonly TestHost[], topics: readonly GossipTopic[] = GOSSIP_TOPICS): Promise<void> {
  await waitFor('every host subscribed at every other', () =>
    hosts.every((a) => topics.every((topic) => hosts.every((b) => a === b || a.host.topicPeers(topic).includes(b.peerId)))),
  )
}

/** A peer id and an address where nobody listens (port 1 refuses connections). */
export async function unreachableAddress(): Promise<{ peerId: string; address: string }> {
  const { peerId } = await newIdentity()
  return { peerId, address: `/ip4/127.0.0.1/tcp/1/p2p/${peerId}` }
}
