import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { ErrorCodes, type ErrorCode } from '../core/errors.js'

/** What one RPC client (an address) and all of them together may cost a node. */
export interface RpcLimits {
  /** Open connections at once; the next one is answered 503 TOO_MANY_CONNECTIONS and closed. */
  readonly maxConnections: number
  /** A request's headers and body must have arrived within this long (slow senders are cut off). */
  readonly requestTimeoutMs: number
  /** A kept-alive connection with no request for this long is closed. */
  readonly idleTimeoutMs: number
  /** Request bodies being received at once, in bytes (declared length, or the body limit when unknown). */
  readonly maxBodyBytesInFlight: number
  /** `?wait=commit` requests waiting at once (a batch is one); more are answered 503 TOO_MANY_WAITERS. */
  readonly maxWaiters: number
  /** Transactions in one `POST /v1/txs/batch`; more are refused (413 TOO_MANY_TXS) before any is decoded. */
  readonly maxBatchTxs: number
  /** Requests per second and client address, refilled continuously; 0 turns the limit off. */
  readonly rateLimitPerSecond: number
  /** Requests a client may make at once before the rate applies. */
  readonly rateLimitBurst: number
  /** Addresses never rate limited (the node's own host by default: its operator's CLI). */
  readonly rateLimitExempt: readonly string[]
}

/** A refused request costs its client this many requests more: failing inputs spend the sender's budget. */
export const FAILURE_COST = 4
/** Clients tracked by the rate limiter; the longest idle is forgotten first (it has a full bucket anyway). */
const MAX_TRACKED_CLIENTS = 10_000
/** Deepest JSON nesting accepted in a body; the deepest real one (a certificate file) has 4 levels. */
export const MAX_JSON_DEPTH = 32

export function errorJson(code: ErrorCode, message: string): string {
  return JSON.stringify({ code, message })
}

/** Writes a whole HTTP response on a raw socket (before or outside fastify) and closes it. */
export function rawReply(socket: Socket, code: ErrorCode, message: string): void {
  const body = errorJson(code, message)
  const status = ErrorCodes[code]
  const reason = status === 503 ? 'Service Unavailable' : status === 408 ? 'Request Timeout' : 'Bad Request'
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroySoon()
}

/**
 * Caps open connections: one past the cap gets a 503 and is closed at once, before anything is
 * parsed, so neither slow nor silent sockets can take every slot for long (the timeouts end those).
 */
export function capConnections(server: Server, max: number, onRefused: () => void): void {
  let open = 0
  server.on('connection', (socket: Socket) => {
    if (open >= max) {
      onRefused()
      rawReply(socket, 'TOO_MANY_CONNECTIONS', `the node serves at most ${max} connections at once; retry later`)
      return
    }
    open++
    socket.once('close', () => open--)
  })
}

/** Per-client token buckets: a request takes one token, a refused one {@link FAILURE_COST} more. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private readonly exempt: ReadonlySet<string>

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    exempt: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    this.exempt = new Set(exempt)
  }

  /** Takes `cost` tokens from the client's bucket; false (nothing taken) when it has less than one. */
  take(client: string, cost = 1): boolean {
    const bucket = this.refill(client)
    if (!bucket) return true
    if (bucket.tokens < 1) return false
    bucket.tokens = Math.max(0, bucket.tokens - cost)
    return true
  }

  /**
   * Takes up to `wanted` whole tokens and says how many it took: a batch of transactions is
   * charged one token per transaction, and what the budget does not cover is not done.
   */
  takeUpTo(client: string, wanted: number): number {
    const bucket = this.refill(client)
    if (!bucket) return wanted
    const granted = Math.max(0, Math.min(wanted, Math.floor(bucket.tokens)))
    bucket.tokens -= granted
    return granted
  }

  /** The client's bucket, refilled up to now; undefined when the client is not limited. */
  private refill(client: string): { tokens: number; at: number } | undefined {
    if (this.perSecond === 0 || this.exempt.has(client)) return undefined
    const now = this.now()
    let bucket = this.buckets.get(client)
    if (bucket) {
      this.buckets.delete(client)
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000)
      bucket.at = now
    } else {
      if (this.buckets.size >= MAX_TRACKED_CLIENTS) this.buckets.delete(this.buckets.keys().next().value!)
      bucket = { tokens: this.burst, at: now }
    }
    // Most recently seen last, so the first entry is the longest idle.
    this.buckets.set(client, bucket)
    return bucket
  }

  /** Seconds until the client has a token again. */
  retryAfter(client: string): number {
    const bucket = this.buckets.get(client)
    return bucket ? Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond)) : 1
  }
}

/** Bytes of request bodies being received, against one budget for the whole server. */
export class BodyBudget {
  private used = 0

  constructor(
    private readonly max: number,
    private readonly bodyLimit: number,
  ) {}

  /**
   * Reserves the body of `request` (its declared length, or the body limit when it has none)
   * until its response is over; false when that would exceed the budget.
   */
  reserve(request: IncomingMessage, response: ServerResponse): boolean {
    const declared = Number(request.headers['content-length'])
    const bytes = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, this.bodyLimit) : this.bodyLimit
    if (bytes === 0) return true
    if (this.used + bytes > this.max) return false
    this.used += bytes
    // A request's own 'close' waits for its body to be read, which a refusal never does on a
    // kept-alive socket: the response's 'close' comes in every case (sent, or the socket gone).
    response.once('close', () => (this.used -= bytes))
    return true
  }

  get inFlight(): number {
    return this.used
  }
}

/**
 * Nesting depth of a JSON text, counted without parsing (brackets outside strings), stopping as
 * soon as it passes `max`: a body nested a million levels deep costs one linear scan, not a parse.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}
