/**
 * Response schemas of every route, for the OpenAPI document. They describe what the views in
 * views.ts build; the server serializes with plain JSON.stringify (see server.ts), so a schema
 * never drops or reshapes a field, and a test checks real answers against these schemas.
 */

type Schema = Record<string, unknown>

const str = { type: 'string' } as const
const int = { type: 'integer', minimum: 0 } as const
const bool = { type: 'boolean' } as const
const hex = { type: 'string', pattern: '^[0-9a-f]*$' } as const
const hash = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const
const time = { type: 'string', format: 'date-time' } as const
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] })
const list = (items: Schema): Schema => ({ type: 'array', items })

/** An object with exactly these fields, all present. */
function exact(properties: Record<string, Schema>, description?: string): Schema {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false, ...(description ? { description } : {}) }
}

export const ERROR = {
  type: 'object',
  description: 'A refusal: a stable `code` (see README) and a message for people. A refused `?wait=commit` also carries the transaction `id` and `status: "rejected"`.',
  properties: { code: str, message: str, id: hash, status: { const: 'rejected' } },
  required: ['code', 'message'],
  additionalProperties: false,
} as const

/** Statuses every route may answer: rate limit, a node shutting down or busy, an internal error. */
const ANY_ROUTE = [429, 500, 503] as const
/** Statuses a route with a JSON body may answer besides its own. */
const WITH_BODY = [400, 408, 413, 415] as const

/** `responses` of a route: its successes plus the {code, message} error under each error status. */
export function responses(ok: Record<number, Schema>, errors: readonly number[] = [], options: { body?: boolean } = {}): Record<number, Schema> {
  const all = new Set<number>([...errors, ...ANY_ROUTE, ...(options.body ? WITH_BODY : [])])
  const out: Record<number, Schema> = { ...ok }
  for (const status of [...all].sort()) out[status] = ERROR
  return out
}

const mempool = exact({ txs: int, bytes: int })

export const STATUS = exact({
  chainId: str,
  genesisHash: hash,
  nodeId: str,
  moniker: str,
  height: int,
  latestBlockHash: hex,
  latestBlockTime: time,
  stateRoot: hash,
  catchingUp: bool,
  targetHeight: int,
  validator: bool,
  validatorId: nullable(str),
  peers: int,
  mempool,
  certificates: int,
  transactions: int,
  baseHeight: int,
  stateSync: exact({
    phase: { enum: ['off', 'discovering', 'verifying', 'fetching', 'restoring', 'done', 'failed'] },
    height: int,
    chunksDone: int,
    chunksTotal: int,
    peer: nullable(str),
  }),
  validators: int,
  openProposals: int,
})

export const TX_PENDING = exact({ id: hash, status: { const: 'pending' } }, 'accepted into the mempool, not yet in a block')
export const TX_COMMITTED = exact({ id: hash, status: { const: 'committed' }, height: int, index: int })
export const TX_STATUS = {
  oneOf: [
    TX_COMMITTED,
    TX_PENDING,
    exact({ id: hash, status: { const: 'rejected' }, code: str, message: str }),
    exact({ id: hash, status: { const: 'unknown' } }),
  ],
}
/** One entry of a batch's answer: as a single submission would answer it (the id only once the transaction decoded). */
const TX_BATCH_ENTRY = {
  oneOf: [
    TX_COMMITTED,
    TX_PENDING,
    { type: 'object', properties: { id: hash, status: { const: 'rejected' }, code: str, message: str }, required: ['status', 'code', 'message'], additionalProperties: false },
  ],
}
export const TX_BATCH = exact({ results: list(TX_BATCH_ENTRY) }, 'one result per entry of the batch, in order')

const certificateFields = {
  id: hash,
  status: { enum: ['valid', 'revoked', 'suspended', 'expired', 'not_yet_valid'] },
  type: str,
  typeName: nullable(str),
  issuer: str,
  issuerName: nullable(str),
  documentHash: hash,
  holder: nullable(hash),
  validFrom: time,
  validUntil: time,
  issued: exact({ height: int, time, txId: hash, key: hash }),
  statusChange: nullable(
    exact({ state: str, height: int, time, by: str, key: nullable(hash), reason: nullable(str), note: nullable(str) }),
  ),
}
export const CERTIFICATE = exact(certificateFields)

/** The state after a height, judged at a time: what `?at=` and `"at"` answer for. */
const asOf = exact({ height: int, time })

/** `GET /v1/certificates/:id`: now, or as of a height or time (`not_yet_issued` before issuance). */
export const CERTIFICATE_AT = {
  anyOf: [CERTIFICATE, exact({ ...certificateFields, asOf }), exact({ id: hash, status: { const: 'not_yet_issued' }, asOf })],
}

export const CERTIFICATE_STATUSES = exact({
  height: int,
  results: list({
    type: 'object',
    properties: { id: hash, status: str, type: str, issuer: str },
    required: ['id', 'status'],
    additionalProperties: false,
  }),
})

export const VERIFICATION = {
  type: 'object',
  properties: {
    verdict: { enum: ['valid', 'invalid'] },
    certificateId: hash,
    status: str,
    checks: list(exact({ name: str, ok: bool, detail: str })),
    height: int,
    asOf,
    certificate: nullable(CERTIFICATE),
  },
  required: ['verdict', 'certificateId', 'status', 'checks', 'height', 'certificate'],
  additionalProperties: false,
}

/** A JSON document of its own format, described in README (its parser checks every field exactly). */
const document = (format: string, description: string): Schema => ({
  type: 'object',
  description,
  properties: { format: { const: format } },
  required: ['format'],
  additionalProperties: true,
})

export const PROOF = document('certchain/proof@1', 'a proof bundle (README, "The bundle")')
export const CHECKPOINT = exact({ format: { const: 'certchain/checkpoint@1' }, chainId: str, height: int, headerHash: hash, validators: list(exact({ id: str, publicKey: hash })) })
export const GENESIS = { type: 'object', description: 'the genesis document this node follows', additionalProperties: true }
export const PRESENTATION_REQUEST = exact({
  request: document('certchain/presentation-request@1', 'the request (README, "Presentations")'),
  uri: str,
  qrSvg: str,
})
export const PRESENTATION_RESULT = exact({
  verdict: { enum: ['valid', 'invalid'] },
  certificateId: hash,
  status: str,
  checks: list({ type: 'object', properties: { name: str, ok: bool, detail: str, code: str }, required: ['name', 'ok', 'detail'], additionalProperties: false }),
  height: int,
})

const validator = exact({ id: str, name: str, publicKey: hash, peerId: str })
const registeredValidator = exact({ id: str, name: str, publicKey: hash, peerId: str, addedHeight: int, jailedHeight: nullable(int) })

export const VALIDATORS = exact({ height: int, validators: list(validator), registered: list(registeredValidator) })
export const MEMBERS = exact({ members: list(exact({ id: str, name: str, peerId: str })) })
export const TYPES = exact({ types: list(exact({ id: str, nameKo: str, nameEn: str, validityDays: int, authorities: list(str) })) })

export const ISSUER = exact({
  id: str,
  name: str,
  types: list(str),
  active: bool,
  addedHeight: int,
  deactivatedHeight: nullable(int),
  keys: list(
    exact({ publicKey: hash, current: bool, addedHeight: int, retiredHeight: nullable(int), compromisedSince: nullable(time), compromisedHeight: nullable(int) }),
  ),
})
export const ISSUERS = exact({ issuers: list(ISSUER) })

/** A governance action as proposed (keys in hex, times in ISO 8601); its fields depend on `type`. */
const action = { type: 'object', properties: { type: str }, required: ['type'] }

export const PROPOSAL = exact({
  id: int,
  status: { enum: ['open', 'passed', 'rejected', 'expired', 'failed'] },
  action,
  note: nullable(str),
  proposer: str,
  txId: hash,
  height: int,
  deadline: int,
  closedHeight: nullable(int),
  failure: nullable(exact({ code: str, message: str })),
  votes: list(exact({ validator: str, approve: bool, height: int })),
  tally: exact({ yes: int, no: int, of: int, needed: int }),
})
export const PROPOSALS = exact({
  height: int,
  proposals: list(PROPOSAL),
  next: { ...nullable(int), description: 'pass as `before` for the following page; null when there is none' },
})

const signedVote = exact({ blockHash: nullable(hash), sig: hex })
const voteType = { enum: ['prevote', 'precommit'] }
export const EVIDENCE = exact({
  evidence: list(exact({ kind: { const: 'duplicate_vote' }, validator: str, height: int, round: int, type: voteType, first: signedVote, second: signedVote })),
  committed: list(exact({ validator: str, height: int, round: int, type: voteType, committedHeight: int })),
})

/** A transaction summary: these fields always, and those of its kind (certificates, reason, action, ...). */
const txSummary = { type: 'object', properties: { id: hash, kind: str, signer: str, expiresAt: time }, required: ['id', 'kind', 'signer', 'expiresAt'] }

export const BLOCK = exact({
  height: int,
  hash,
  header: exact({
    version: int,
    chainId: str,
    height: int,
    time,
    prevHash: hex,
    txRoot: hash,
    txCount: int,
    stateRoot: hash,
    proposer: str,
    validatorsHash: hash,
    nextValidatorsHash: hash,
  }),
  commit: exact({ round: int, signatures: list(exact({ validator: str, sig: hex })) }),
  txs: list(txSummary),
})

export const HEALTH = exact({ ok: bool, height: int })
export const METRICS = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: str } } }
export const OPENAPI = { type: 'object', description: 'this document', additionalProperties: true }
