/**
 * Per-peer work accounting for gossip. gossipsub's own score only sees REJECT, and its seen-cache
 * forgets a message within a second, so a member could make a validator decode and check the
 * same failing bytes again and again for free. Here every message that cost work and failed is
 * charged to the peer that sent it, in points that grow with its size; points decay over time;
 * a peer over the limit is disconnected and refused for a while. The exact bytes of recent
 * failures are remembered, so a repeat is answered (and charged) without validating it again.
 */

export interface PenaltyOptions {
  /** Points at which a peer is disconnected and refused for `banMs`. */
  readonly disconnectAt: number
  /** Points forgiven per second (an honest peer's occasional failure is forgotten). */
  readonly decayPerSecond: number
  /** Points for a REJECT (invalid for everyone). */
  readonly rejectPoints: number
  /** Points for a charged IGNORE (failed a check that depends on state, or cannot be checked yet). */
  readonly chargePoints: number
  /** One more point per this many bytes of the failing message: work grows with size. */
  readonly bytesPerPoint: number
  readonly banMs: number
  /** Failed messages remembered by exact bytes (their SHA-256), at most this many... */
  readonly rememberFailures: number
  /** ...for this long. */
  readonly rememberFailuresMs: number
}

export const DEFAULT_PENALTY_OPTIONS: PenaltyOptions = Object.freeze({
  disconnectAt: 100,
  decayPerSecond: 1,
  // Three rejects reach the limit: gossipsub graylists a peer at its third rejected message
  // (P4, see TOPIC_SCORE) and then drops its messages unseen, so later ones could not add up.
  rejectPoints: 34,
  chargePoints: 2,
  bytesPerPoint: 64 * 1024,
  banMs: 10 * 60_000,
  rememberFailures: 4096,
  rememberFailuresMs: 10 * 60_000,
})

/** The outcome of a failed validation, remembered by message id. */
export interface Failure {
  readonly result: 'ignore' | 'reject'
  readonly code: string
  /** Failures in the one message (a transaction bundle's refused transactions); 1 when absent. */
  readonly units?: number
}

interface Account {
  points: number
  at: number
}

export class PeerPenalties {
  readonly #options: PenaltyOptions
  readonly #now: () => number
  readonly #accounts = new Map<string, Account>()
  /** Insertion order is age order: the oldest entry is the first evicted. */
  readonly #failures = new Map<string, { failure: Failure; at: number }>()

  constructor(options: PenaltyOptions, now: () => number = Date.now) {
    this.#options = options
    this.#now = now
  }

  /** Current points of `peer` after decay. */
  points(peer: string): number {
    const account = this.#accounts.get(peer)
    if (!account) return 0
    const now = this.#now()
    const points = Math.max(0, account.points - ((now - account.at) / 1000) * this.#options.decayPerSecond)
    if (points === 0) this.#accounts.delete(peer)
    else Object.assign(account, { points, at: now })
    return points
  }

  /** Points a failed message of `bytes` bytes costs its sender: each failure it holds, and its size. */
  cost(failure: Failure, bytes: number): number {
    const base = failure.result === 'reject' ? this.#options.rejectPoints : this.#options.chargePoints
    return base * (failure.units ?? 1) + Math.floor(bytes / this.#options.bytesPerPoint)
  }

  /** Charges `points` to `peer`; true when the peer is now over the limit (disconnect it). */
  charge(peer: string, points: number): boolean {
    const total = this.points(peer) + points
    this.#accounts.set(peer, { points: total, at: this.#now() })
    return total >= this.#options.disconnectAt
  }

  /** Forgets a peer's account (it was disconnected). */
  forget(peer: string): void {
    this.#accounts.delete(peer)
  }

  remember(id: string, failure: Failure): void {
    this.#failures.delete(id)
    this.#failures.set(id, { failure, at: this.#now() })
    while (this.#failures.size > this.#options.rememberFailures) this.#failures.delete(this.#failures.keys().next().value!)
  }

  recall(id: string): Failure | undefined {
    const entry = this.#failures.get(id)
    if (!entry) return undefined
    if (this.#now() - entry.at > this.#options.rememberFailuresMs) {
      this.#failures.delete(id)
      return undefined
    }
    return entry.failure
  }
}
