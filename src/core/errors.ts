/**
 * Every error a user or a peer can cause carries a stable code. Codes are part of the public
 * API (RPC bodies, CLI output, tests pin them): never rename one, only add.
 */
export const ErrorCodes = {
  // Encoding and shape of bytes
  TX_TOO_LARGE: 413,
  MALFORMED_ENCODING: 400,
  NON_CANONICAL_ENCODING: 400,
  MALFORMED_TX: 400,
  MALFORMED_BLOCK: 400,
  /** A peer's answer to a sync request that is not the answer's shape. */
  MALFORMED_SYNC_RESPONSE: 400,
  // Signatures
  BAD_SIGNATURE: 400,
  // Transaction rules
  TX_EXPIRED: 422,
  TX_EXPIRY_TOO_FAR: 422,
  DUPLICATE_TX: 409,
  UNKNOWN_ISSUER: 422,
  ISSUER_INACTIVE: 422,
  ISSUER_KEY_MISMATCH: 422,
  UNKNOWN_CERT_TYPE: 422,
  ISSUER_NOT_AUTHORIZED_FOR_TYPE: 422,
  RECORD_ISSUER_MISMATCH: 422,
  INVALID_VALIDITY: 422,
  TOO_MANY_RECORDS: 422,
  EMPTY_BATCH: 422,
  DUPLICATE_CERTIFICATE: 409,
  UNKNOWN_CERTIFICATE: 422,
  NOT_AUTHORIZED: 403,
  INVALID_REASON: 422,
  NOTE_TOO_LONG: 422,
  ALREADY_REVOKED: 409,
  ALREADY_SUSPENDED: 409,
  NOT_SUSPENDED: 409,
  // Issuer keys
  ISSUER_KEY_RETIRED: 422,
  UNKNOWN_KEY: 422,
  KEY_TAKEN: 409,
  KEY_RETIRED: 409,
  KEY_ALREADY_COMPROMISED: 409,
  COMPROMISED_KEY_SIGNED: 403,
  LAST_ISSUER_KEY: 422,
  // Governance
  NOT_A_VALIDATOR: 403,
  VALIDATOR_JAILED: 403,
  UNKNOWN_PROPOSAL: 422,
  PROPOSAL_CLOSED: 409,
  ALREADY_VOTED: 409,
  ID_TAKEN: 409,
  PEER_ID_TAKEN: 409,
  UNKNOWN_VALIDATOR: 422,
  UNKNOWN_MEMBER: 422,
  LAST_VALIDATOR: 422,
  NOT_JAILED: 409,
  INVALID_EVIDENCE: 422,
  EVIDENCE_ALREADY_COMMITTED: 409,
  /** A report of an offence that a pending report already proves (mempool). */
  DUPLICATE_EVIDENCE: 409,
  /** A validator with 16 evidence reports pending (mempool, MAX_PENDING_REPORTS_PER_SIGNER). */
  TOO_MANY_REPORTS: 409,
  TOO_MANY_PROPOSALS: 409,
  TOO_MANY_KEYS: 422,
  // Mempool
  MEMPOOL_FULL: 503,
  // Gossip of transaction bundles (txbundle topic)
  TX_BUNDLE_TOO_LARGE: 413,
  MALFORMED_TX_BUNDLE: 400,
  // Node and store
  DATA_DIR_LOCKED: 500,
  GENESIS_MISMATCH: 500,
  INVALID_GENESIS: 400,
  INVALID_CONFIG: 400,
  INVALID_KEY_FILE: 400,
  INVALID_IDENTITY: 400,
  INVALID_CERTIFICATE_FILE: 400,
  STORE_FORMAT_MISMATCH: 500,
  // Proofs and status as of a time
  INVALID_PROOF: 400,
  INVALID_AT: 400,
  AT_AFTER_HEAD: 422,
  // Presentations
  INVALID_PRESENTATION: 400,
  NONCE_UNKNOWN: 422,
  NONCE_USED: 409,
  REQUEST_EXPIRED: 422,
  TYPE_NOT_REQUESTED: 422,
  NOT_HOLDER_BOUND: 422,
  HOLDER_MISMATCH: 422,
  BAD_HOLDER_SIGNATURE: 422,
  TOO_MANY_REQUESTS: 503,
  // Local files and ports (CLI and node start; never answered by the RPC)
  FILE_NOT_FOUND: 400,
  FILE_UNREADABLE: 400,
  FILE_TOO_LARGE: 413,
  KEY_FILE_INSECURE: 400,
  PORT_IN_USE: 500,
  // RPC
  INVALID_REQUEST: 400,
  MALFORMED_JSON: 400,
  INVALID_BASE64: 400,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  CERTIFICATE_NOT_FOUND: 404,
  BLOCK_NOT_FOUND: 404,
  TX_NOT_FOUND: 404,
  UNAVAILABLE: 503,
  INTERNAL: 500,
  RATE_LIMITED: 429,
  TOO_MANY_CONNECTIONS: 503,
  TOO_MANY_WAITERS: 503,
  RPC_BUSY: 503,
  REQUEST_TIMEOUT: 408,
  JSON_TOO_DEEP: 400,
  TOO_MANY_TXS: 413,
  DUPLICATE_IN_BATCH: 409,
  ISSUER_NOT_FOUND: 404,
  PROPOSAL_NOT_FOUND: 404,
  // Pruning and state sync
  BLOCK_PRUNED: 410,
  SNAPSHOT_INVALID: 400,
  STATE_SYNC_FAILED: 503,
} as const

export type ErrorCode = keyof typeof ErrorCodes

export class CertchainError extends Error {
  override readonly name = 'CertchainError'
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }

  /** HTTP status the RPC answers with for this code. */
  get status(): number {
    return ErrorCodes[this.code]
  }
}

/** Throws the error of `code`; for rules written as `value ?? reject(code, why)`. */
export function reject(code: ErrorCode, message: string): never {
  throw new CertchainError(code, message)
}

export function isCertchainError(err: unknown, code?: ErrorCode): err is CertchainError {
  return err instanceof CertchainError && (code === undefined || err.code === code)
}
