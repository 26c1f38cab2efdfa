import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import * as lp from 'it-length-prefixed'
import type { Logger } from 'pino'
import { P2PError, isP2PError } from './errors.js'

export function syncProtocol(chainId: string): string {
  return `/certchain/${chainId}/sync/1`
}

/** State sync's snapshot manifests and chunks: the same wire format as block sync, its own budget. */
export function snapshotProtocol(chainId: string): string {
  return `/certchain/${chainId}/snapshot/1`
}

/** Default time for a whole request: dial, send, remote handling, response. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
/** Time a server gives a peer to send its request and itself to answer it. */
export const SERVE_TIMEOUT_MS = 10_000

/**
 * Wire format, one stream per exchange: the client sends one length-prefixed request frame and
 * closes its write side; the server answers with one length-prefixed frame holding a status byte
 * and, on success, the response. The status lets the client tell "the server refused or failed"
 * apart from a broken stream, without the server revealing why (the detail stays in its log).
 */
const STATUS = { ok: 0, frameTooLarge: 1, serverError: 2, busy: 3 } as const

/**
 * What one peer may take from this node's sync server. Honest sync is one request at a time
 * per peer (plus a status poll), a response at most a few MiB: these leave room for that and
 * stop one member from pulling gigabytes over parallel streams.
 */
export interface SyncServeLimits {
  /** Requests served at once to one peer; more are answered "busy" without reading them. */
  readonly maxConcurrentPerPeer: number
  /** Response bytes per second one peer may receive (token bucket)... */
  readonly bytesPerSecondPerPeer: number
  /** ...with bursts up to this many bytes. */
  readonly burstBytesPerPeer: number
}

export const DEFAULT_SYNC_SERVE_LIMITS: SyncServeLimits = Object.freeze({
  maxConcurrentPerPeer: 4,
  bytesPerSecondPerPeer: 8 * 1024 * 1024,
  burstBytesPerPeer: 16 * 1024 * 1024,
})

/** Per-peer serving budget: streams in flight and a byte bucket refilled over time. */
export class ServeBudget {
  readonly #limits: SyncServeLimits
  readonly #now: () => number
  readonly #peers = new Map<string, { active: number; tokens: number; at: number }>()

  constructor(limits: SyncServeLimits, now: () => number = Date.now) {
    this.#limits = limits
    this.#now = now
  }

  /** Takes a stream slot for `peer` if it has one and bytes left; call `end` with the bytes sent. */
  begin(peer: string): boolean {
    const state = this.#state(peer)
    if (state.active >= this.#limits.maxConcurrentPerPeer || state.tokens <= 0) return false
    state.active++
    return true
  }

  end(peer: string, bytesSent: number): void {
    const state = this.#state(peer)
    state.active = Math.max(0, state.active - 1)
    state.tokens -= bytesSent
    if (state.active === 0 && state.tokens >= this.#limits.burstBytesPerPeer) this.#peers.delete(peer)
  }

  #state(peer: string): { active: number; tokens: number; at: number } {
    const now = this.#now()
    let state = this.#peers.get(peer)
    if (!state) this.#peers.set(peer, (state = { active: 0, tokens: this.#limits.burstBytesPerPeer, at: now }))
    state.tokens = Math.min(this.#limits.burstBytesPerPeer, state.tokens + ((now - state.at) / 1000) * this.#limits.bytesPerSecondPerPeer)
    state.at = now
    return state
  }
}

export interface SyncHandler {
  handle(request: Uint8Array, from: string): Promise<Uint8Array>
}

export interface RequestOptions {
  signal?: AbortSignal
  timeoutMs?: number
}

/** The request/response protocol (sync's transport): serves `handler` and sends requests. */
export class ReqResp {
  readonly #node: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  readonly #handler: SyncHandler
  readonly #logger: Logger
  readonly #protocol: string
  readonly #maxFrameBytes: number
  readonly #budget: ServeBudget
  #running: AbortController | undefined

  constructor(
    components: { node: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>; handler: SyncHandler; logger: Logger },
    options: { chainId: string; maxMessageBytes: number; limits?: SyncServeLimits; protocol?: string },
  ) {
    this.#node = components.node
    this.#handler = components.handler
    this.#logger = components.logger
    this.#protocol = options.protocol ?? syncProtocol(options.chainId)
    this.#maxFrameBytes = options.maxMessageBytes
    this.#budget = new ServeBudget(options.limits ?? DEFAULT_SYNC_SERVE_LIMITS)
  }

  async start(): Promise<void> {
    this.#running = new AbortController()
    await this.#node.handle(this.#protocol, (stream, connection) => this.#serve(stream, connection))
  }

  /** Stops serving and aborts every request in flight, in both directions. */
  async stop(): Promise<void> {
    this.#running?.abort(new P2PError('P2P_ABORTED', 'p2p host stopped'))
    this.#running = undefined
    await this.#node.unhandle(this.#protocol)
  }

  async request(peerId: string, request: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    if (this.#running === undefined) throw new P2PError('P2P_NOT_STARTED', 'p2p host is not started')
    if (request.length > this.#maxFrameBytes) {
      throw new P2PError('P2P_FRAME_TOO_LARGE', `request of ${request.length} bytes exceeds the ${this.#maxFrameBytes}-byte limit`)
    }
    const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS)
    const signal = AbortSignal.any([timeout, this.#running.signal, ...(options.signal ? [options.signal] : [])])
    const failure = (err: unknown): P2PError => {
      if (signal.aborted) {
        return signal.reason === timeout.reason
          ? new P2PError('P2P_TIMEOUT', `no response from ${peerId} in time`, { cause: err })
          : new P2PError('P2P_ABORTED', `request to ${peerId} aborted`, { cause: signal.reason })
      }
      return isP2PError(err) ? err : new P2PError('P2P_PROTOCOL_ERROR', `request to ${peerId} failed: ${String(err)}`, { cause: err })
    }

    let stream: Stream
    try {
      stream = await this.#node.dialProtocol(peerIdFromString(peerId), this.#protocol, { signal })
    } catch (err) {
      if (signal.aborted) throw failure(err)
      throw new P2PError('P2P_PEER_UNREACHABLE', `cannot open a sync stream to ${peerId}: ${String(err)}`, { cause: err })
    }
    try {
      stream.send(encodeFrame(request))
      await stream.close({ signal })
      // The status byte is one past the payload limit.
      const frame = await readFrame(stream, this.#maxFrameBytes + 1, signal)
      return decodeResponse(frame, peerId)
    } catch (err) {
      const error = failure(err)
      stream.abort(error)
      throw error
    }
  }

  async #serve(stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    // A stream that races with stop() finds no running signal and is dropped at once.
    const signal = AbortSignal.any([AbortSignal.timeout(SERVE_TIMEOUT_MS), this.#running?.signal ?? AbortSignal.abort()])
    if (!this.#budget.begin(from)) {
      this.#logger.debug({ from }, 'sync request refused: peer over its budget')
      try {
        await stream.closeRead({ signal })
        await respond(stream, STATUS.busy, signal)
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      }
      return
    }
    let sent = 0
    try {
      let request: Uint8Array
      try {
        request = await readFrame(stream, this.#maxFrameBytes, signal)
      } catch (err) {
        if (!isP2PError(err, 'P2P_FRAME_TOO_LARGE')) throw err
        this.#logger.debug({ from }, 'sync request over size limit refused')
        // Discard the rest of the frame as it arrives instead of buffering it (the stream would
        // reset once its read buffer overflows, and the client would never see our answer).
        await stream.closeRead({ signal })
        await respond(stream, STATUS.frameTooLarge, signal)
        return
      }
      // One request per stream: anything after it is discarded, not buffered.
      await stream.closeRead({ signal })
      let response: Uint8Array
      try {
        response = await raceSignal(this.#handler.handle(request, from), signal)
      } catch (err) {
        if (signal.aborted) throw err
        this.#logger.warn({ err, from }, 'sync handler failed')
        await respond(stream, STATUS.serverError, signal)
        return
      }
      if (response.length > this.#maxFrameBytes) {
        this.#logger.error({ from, bytes: response.length, limit: this.#maxFrameBytes }, 'sync handler produced an oversize response')
        await respond(stream, STATUS.serverError, signal)
        return
      }
      sent = response.length
      await respond(stream, STATUS.ok, signal, response)
    } catch (err) {
      this.#logger.debug({ err, from }, 'sync request dropped')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      this.#budget.end(from, sent)
    }
  }
}

function decodeResponse(frame: Uint8Array, peerId: string): Uint8Array {
  switch (frame[0]) {
    case STATUS.ok:
      return frame.subarray(1)
    case STATUS.frameTooLarge:
      throw new P2PError('P2P_FRAME_TOO_LARGE', `${peerId} refused the request as too large`)
    case STATUS.serverError:
      throw new P2PError('P2P_REMOTE_ERROR', `${peerId} failed to handle the request`)
    case STATUS.busy:
      throw new P2PError('P2P_BUSY', `${peerId} refused the request: over this node's budget there, retry later`)
    default:
      throw new P2PError('P2P_PROTOCOL_ERROR', `${peerId} answered with an unknown status`)
  }
}

async function respond(stream: Stream, status: number, signal: AbortSignal, payload?: Uint8Array): Promise<void> {
  const frame = new Uint8Array(1 + (payload?.length ?? 0))
  frame[0] = status
  if (payload !== undefined) frame.set(payload, 1)
  stream.send(encodeFrame(frame))
  await stream.close({ signal })
}

/** Sizes are checked against our limits before this; lift the library's own 4 MiB default. */
function encodeFrame(bytes: Uint8Array) {
  return lp.encode.single(bytes, { maxDataLength: bytes.length })
}

/**
 * Reads exactly one length-prefixed frame of at most `maxBytes`. Refuses a larger frame as soon as
 * its length prefix arrives, before buffering it. Does not wait for the end of the stream.
 */
async function readFrame(stream: Stream, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  // Streams take no signal: aborting the stream ends the iteration below with the abort reason.
  const onAbort = (): void => stream.abort(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
  if (signal.aborted) onAbort()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    // A copy: the decoder's chunks are views into the socket's pooled buffers.
    for await (const frame of lp.decode(stream, { maxDataLength: maxBytes })) return new Uint8Array(frame.subarray())
    throw new P2PError('P2P_PROTOCOL_ERROR', 'stream ended without a frame')
  } catch (err) {
    if (err instanceof Error && err.name === 'InvalidDataLengthError') {
      throw new P2PError('P2P_FRAME_TOO_LARGE', `frame exceeds the ${maxBytes}-byte limit`, { cause: err })
    }
    if (err instanceof Error && err.name === 'UnexpectedEOFError') {
      throw new P2PError('P2P_PROTOCOL_ERROR', 'stream ended inside a frame', { cause: err })
    }
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: Error) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}
