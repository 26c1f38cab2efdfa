/**
 * Stable codes for everything the p2p layer can fail with. Callers (sync, consensus) branch on
 * `code`, never on messages: never rename one, only add.
 */
export type P2PErrorCode =
  /** The request did not get a response within its time limit. */
  | 'P2P_TIMEOUT'
  /** The caller's AbortSignal fired, or the host stopped, before the response arrived. */
  | 'P2P_ABORTED'
  /** A request, response or gossip message is larger than `maxMessageBytes` (ours or the remote's). */
  | 'P2P_FRAME_TOO_LARGE'
  /** No connection could be made (not allowed, banned, refused by the remote, no address, offline). */
  | 'P2P_PEER_UNREACHABLE'
  /** The remote answered but broke the protocol (missing or truncated frame, unknown status). */
  | 'P2P_PROTOCOL_ERROR'
  /** The remote's request handler failed; the detail stays in the remote's log. */
  | 'P2P_REMOTE_ERROR'
  /** The remote refused the request: this peer is over its budget there (streams at once, bytes per second). */
  | 'P2P_BUSY'
  /** publish/request on a host that is not started. */
  | 'P2P_NOT_STARTED'
  /** P2POptions cannot be used (unparsable multiaddr, bootstrap address without /p2p/<id>, size limit out of range). */
  | 'P2P_INVALID_OPTIONS'

export class P2PError extends Error {
  override readonly name = 'P2PError'
  constructor(
    readonly code: P2PErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export function isP2PError(err: unknown, code?: P2PErrorCode): err is P2PError {
  return err instanceof P2PError && (code === undefined || err.code === code)
}
