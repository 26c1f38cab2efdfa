import type { Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from 'pino'
import { P2PError } from './errors.js'

const RECONNECT_BASE_DELAY_MS = 500
const RECONNECT_MAX_DELAY_MS = 30_000
/** A dial that hangs (blackholed address) must not stall the loop past the backoff cap. */
const DIAL_TIMEOUT_MS = 10_000
/** A connection that outlived the backoff cap was a real one: the next outage starts afresh. */
const STABLE_CONNECTION_MS = RECONNECT_MAX_DELAY_MS

export interface BootstrapTarget {
  readonly peerId: PeerId
  readonly address: Multiaddr
}

/** Parses a full bootstrap address; it must name the peer (`/p2p/<id>`) so the gater can judge it. */
export function parseBootstrapAddress(address: string): BootstrapTarget {
  let target: BootstrapTarget | undefined
  try {
    const parsed = multiaddr(address)
    const id = parsed.getComponents().findLast((component) => component.code === CODE_P2P)?.value
    if (id !== undefined) target = { peerId: peerIdFromString(id), address: parsed }
  } catch (err) {
    throw new P2PError('P2P_INVALID_OPTIONS', `bootstrap address "${address}" is not a valid multiaddr`, { cause: err })
  }
  if (target === undefined) throw new P2PError('P2P_INVALID_OPTIONS', `bootstrap address "${address}" has no /p2p/<peerId>`)
  return target
}

/**
 * Wait before dial attempt `attempts + 1`: exponential, capped, with ±10% jitter so that nodes
 * cut off together do not redial in lockstep.
 */
function reconnectDelayMs(attempts: number): number {
  const base = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** Math.max(0, attempts - 1))
  return base * (0.9 + 0.2 * Math.random())
}

/**
 * Keeps this node connected to its bootstrap peers: dials each at start, and whenever it is not
 * connected redials with exponential backoff until it is, for as long as the host runs. A peer
 * the gater refuses (not a member, banned) just keeps failing at the capped rate, so it is picked
 * up again if governance admits it later.
 */
type DialerNode = Pick<Libp2p, 'dial' | 'getConnections' | 'addEventListener' | 'removeEventListener'>

export class BootstrapDialer {
  readonly #node: DialerNode
  readonly #logger: Logger
  readonly #targets: readonly BootstrapTarget[]
  #running: { controller: AbortController; loops: Promise<void>[] } | undefined

  constructor(
    components: { node: DialerNode; logger: Logger },
    targets: readonly BootstrapTarget[],
  ) {
    this.#node = components.node
    this.#logger = components.logger
    this.#targets = targets
  }

  start(): void {
    const controller = new AbortController()
    this.#running = { controller, loops: this.#targets.map((target) => this.#keepConnected(target, controller.signal)) }
  }

  async stop(): Promise<void> {
    const running = this.#running
    this.#running = undefined
    running?.controller.abort()
    await Promise.all(running?.loops ?? [])
  }

  async #keepConnected(target: BootstrapTarget, signal: AbortSignal): Promise<void> {
    const peer = target.peerId.toString()
    // Dial attempts since the last stable connection. Every dial but the first after a stable
    // connection waits its backoff, so a peer that accepts and then hangs up at once (or refuses
    // us) is retried at a decreasing rate, never in a tight loop.
    let attempts = 0
    while (!signal.aborted) {
      if (this.#node.getConnections(target.peerId).length > 0) {
        const connectedAt = Date.now()
        await this.#disconnected(target.peerId, signal)
        if (Date.now() - connectedAt >= STABLE_CONNECTION_MS) attempts = 0
        continue
      }
      if (attempts > 0) await sleep(reconnectDelayMs(attempts), signal)
      if (signal.aborted) return
      attempts += 1
      try {
        await this.#node.dial(target.address, { signal: AbortSignal.any([signal, AbortSignal.timeout(DIAL_TIMEOUT_MS)]) })
      } catch (err) {
        if (!signal.aborted) this.#logger.debug({ peer, attempts, err: String(err) }, 'bootstrap dial failed')
      }
    }
  }

  /** Resolves when the last connection to `peerId` closes, or when `signal` aborts. */
  #disconnected(peerId: PeerId, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#node.removeEventListener('peer:disconnect', onDisconnect)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const onDisconnect = (event: CustomEvent<PeerId>): void => {
        if (event.detail.equals(peerId)) done()
      }
      this.#node.addEventListener('peer:disconnect', onDisconnect)
      signal.addEventListener('abort', done, { once: true })
    })
  }
}

/** Waits `ms`, or less if `signal` aborts; never rejects. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
