import { fromHex, type Bytes } from './bytes.js'
import { PUBLIC_KEY_LENGTH } from './crypto.js'
import { encode } from './encoding.js'
import { CertchainError } from './errors.js'
import { ENTITY_ID, GOVERNABLE_PARAMS, type GovernableParam } from './governance.js'
import { sha256 } from './hash.js'
import type { TxLimits } from './tx.js'
import type { Millis } from './types.js'

export interface ChainParams extends TxLimits, ConsensusTiming {
  readonly maxBlockBytes: number
  readonly maxBlockTxs: number
  /** How far in the future a transaction's expiresAt may be (bounds the replay window). */
  readonly txMaxTtlMs: number
  /** A governance proposal not decided within this many blocks after the one that made it expires. */
  readonly proposalTtlBlocks: number
  /** Equivocation evidence about votes older than this many blocks is refused. */
  readonly evidenceMaxAgeBlocks: number
}

/**
 * Consensus timing the chain may set for every node (genesis or governance). Absent ones come
 * from each node's own configuration.
 */
export interface ConsensusTiming {
  readonly timeoutProposeMs?: number
  readonly timeoutPrevoteMs?: number
  readonly timeoutPrecommitMs?: number
  readonly heartbeatIntervalMs?: number
}

/**
 * Upper bounds on the parameters governance cannot change; the others are bounded by
 * GOVERNABLE_PARAMS' maxima. No lower bounds beyond "positive": small chains in tests use tiny ones.
 */
const FIXED_PARAM_MAX = {
  maxTxBytes: 2 * 1024 * 1024,
  maxRecordsPerTx: 100_000,
  maxNoteLength: 4096,
  maxIdLength: 256,
} as const

const TIMING_PARAMS: readonly (keyof ConsensusTiming)[] = ['timeoutProposeMs', 'timeoutPrevoteMs', 'timeoutPrecommitMs', 'heartbeatIntervalMs']

export const DEFAULT_CHAIN_PARAMS: ChainParams = Object.freeze({
  maxTxBytes: 1024 * 1024,
  maxRecordsPerTx: 5000,
  maxNoteLength: 280,
  maxIdLength: 64,
  // A proposal carries the whole block in one gossip message (at most ~4 MiB in gossipsub).
  maxBlockBytes: 3 * 1024 * 1024,
  maxBlockTxs: 20_000,
  txMaxTtlMs: 60 * 60 * 1000,
  // About eleven days at the default 10 s heartbeat: institutions decide in days, not seconds.
  proposalTtlBlocks: 100_000,
  evidenceMaxAgeBlocks: 100_000,
})

export interface CertificateType {
  readonly id: string
  readonly nameKo: string
  readonly nameEn: string
  readonly validityDays: number
  /** Issuers that may revoke, suspend or reinstate any certificate of this type, besides its issuer. */
  readonly authorities: readonly string[]
}

export interface IssuerInfo {
  readonly id: string
  readonly name: string
  readonly publicKey: Bytes
  readonly types: readonly string[]
  readonly active: boolean
}

export interface ValidatorInfo {
  readonly id: string
  readonly name: string
  readonly publicKey: Bytes
  readonly peerId: string
}

export interface MemberInfo {
  readonly id: string
  readonly name: string
  readonly peerId: string
}

export interface Genesis {
  readonly chainId: string
  readonly genesisTime: Millis
  readonly params: ChainParams
  readonly certificateTypes: readonly CertificateType[]
  readonly issuers: readonly IssuerInfo[]
  readonly validators: readonly ValidatorInfo[]
  readonly members: readonly MemberInfo[]
  /** SHA-256 of the canonical encoding of the genesis JSON; the parent hash of block 1. */
  readonly hash: Bytes
}

const ID = ENTITY_ID

/** A production chain tolerates f faulty validators only with n >= 3f + 1, so f = 1 needs 4. */
export const MIN_PRODUCTION_VALIDATORS = 4

export interface GenesisCheck {
  /** Present when there are no problems. */
  readonly genesis?: Genesis
  /** Each makes the genesis unusable. */
  readonly problems: readonly string[]
  /** Legal but probably not what a production chain wants. */
  readonly warnings: readonly string[]
}

/**
 * Validates a genesis document (parsed JSON) and returns it typed and frozen. Every problem found
 * is listed in one error, so an operator fixes them in one pass.
 */
export function parseGenesis(json: unknown): Genesis {
  const { genesis, problems } = checkGenesis(json)
  if (!genesis) throw new CertchainError('INVALID_GENESIS', `invalid genesis:\n  - ${problems.join('\n  - ')}`)
  return genesis
}

/** Every problem and warning of a genesis document, for `certchain genesis validate`. */
export function checkGenesis(json: unknown): GenesisCheck {
  const problems: string[] = []
  const fail = (msg: string): void => void problems.push(msg)
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { problems: ['genesis must be a JSON object'], warnings: [] }
  }
  const g = json as Record<string, unknown>
  const list = (name: string): Record<string, unknown>[] => {
    const v = g[name]
    if (!Array.isArray(v)) {
      fail(`${name} must be a list`)
      return []
    }
    return v.filter((e, i): e is Record<string, unknown> => {
      const ok = e !== null && typeof e === 'object' && !Array.isArray(e)
      if (!ok) fail(`${name}[${i}] must be an object`)
      return ok
    })
  }
  const text = (o: Record<string, unknown>, key: string, where: string): string => {
    const v = o[key]
    if (typeof v !== 'string' || v.length === 0) {
      fail(`${where}.${key} must be a non-empty string`)
      return ''
    }
    return v
  }
  const id = (o: Record<string, unknown>, where: string): string => {
    const v = text(o, 'id', where)
    if (v && !ID.test(v)) fail(`${where}.id "${v}" must match ${ID.source}`)
    return v
  }
  const key = (o: Record<string, unknown>, where: string): Bytes => {
    try {
      return fromHex(text(o, 'publicKey', where), `${where}.publicKey`, PUBLIC_KEY_LENGTH)
    } catch (err) {
      fail((err as Error).message)
      return new Uint8Array(PUBLIC_KEY_LENGTH)
    }
  }
  const strings = (o: Record<string, unknown>, k: string, where: string): string[] => {
    const v = o[k] ?? []
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
      fail(`${where}.${k} must be a list of strings`)
      return []
    }
    return v
  }
  const unique = (what: string, values: string[]): void => {
    const seen = new Set<string>()
    for (const v of values) {
      if (seen.has(v)) fail(`duplicate ${what} "${v}"`)
      seen.add(v)
    }
  }

  const chainId = typeof g.chainId === 'string' && ID.test(g.chainId) ? g.chainId : (fail('chainId must be a short lowercase id'), '')
  const genesisTime = typeof g.genesisTime === 'string' ? Date.parse(g.genesisTime) : NaN
  if (Number.isNaN(genesisTime)) fail('genesisTime must be an ISO 8601 date')

  const paramsIn = (g.params ?? {}) as Record<string, unknown>
  const params: Record<string, number> = { ...DEFAULT_CHAIN_PARAMS }
  for (const [k, v] of Object.entries(paramsIn)) {
    if (!Object.hasOwn(DEFAULT_CHAIN_PARAMS, k) && !(TIMING_PARAMS as readonly string[]).includes(k)) fail(`params.${k} is not a known parameter`)
    else if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(`params.${k} must be a positive integer`)
    else {
      const max = Object.hasOwn(GOVERNABLE_PARAMS, k) ? GOVERNABLE_PARAMS[k as GovernableParam].max : FIXED_PARAM_MAX[k as keyof typeof FIXED_PARAM_MAX]
      if (v > max) {
        // maxBlockBytes' maximum is what one gossip message carries: a proposal holds the whole block.
        fail(`params.${k} must be at most ${max}${k === 'maxBlockBytes' ? ' (a proposal carries the whole block in one gossip message)' : ''}`)
      } else params[k] = v
    }
  }
  if (params.maxTxBytes! > params.maxBlockBytes!) {
    fail(`params.maxTxBytes (${params.maxTxBytes}) must not exceed params.maxBlockBytes (${params.maxBlockBytes}): every transaction must fit in a block`)
  }

  const certificateTypes = list('certificateTypes').map((t, i): CertificateType => {
    const where = `certificateTypes[${i}]`
    const validityDays = t.validityDays
    if (typeof validityDays !== 'number' || !Number.isSafeInteger(validityDays) || validityDays <= 0) {
      fail(`${where}.validityDays must be a positive integer`)
    }
    return Object.freeze({
      id: id(t, where),
      nameKo: text(t, 'nameKo', where),
      nameEn: text(t, 'nameEn', where),
      validityDays: validityDays as number,
      authorities: Object.freeze(strings(t, 'authorities', where)),
    })
  })
  const typeIds = new Set(certificateTypes.map((t) => t.id))
  const issuers = list('issuers').map((o, i): IssuerInfo => {
    const where = `issuers[${i}]`
    const types = strings(o, 'types', where)
    for (const t of types) if (!typeIds.has(t)) fail(`${where}.types names unknown certificate type "${t}"`)
    if (o.active !== undefined && typeof o.active !== 'boolean') fail(`${where}.active must be true or false`)
    return Object.freeze({ id: id(o, where), name: text(o, 'name', where), publicKey: key(o, where), types: Object.freeze(types), active: o.active !== false })
  })
  const issuerIds = new Set(issuers.map((i) => i.id))
  for (const t of certificateTypes) {
    for (const a of t.authorities) if (!issuerIds.has(a)) fail(`certificate type "${t.id}" names unknown authority "${a}"`)
  }
  const validators = list('validators').map((o, i): ValidatorInfo => {
    const where = `validators[${i}]`
    return Object.freeze({ id: id(o, where), name: text(o, 'name', where), publicKey: key(o, where), peerId: text(o, 'peerId', where) })
  })
  if (validators.length === 0) fail('at least one validator is required')
  const members = list('members').map((o, i): MemberInfo => {
    const where = `members[${i}]`
    return Object.freeze({ id: id(o, where), name: text(o, 'name', where), peerId: text(o, 'peerId', where) })
  })

  unique('certificate type id', certificateTypes.map((t) => t.id))
  unique('issuer id', issuers.map((i) => i.id))
  unique('node id', [...validators.map((v) => v.id), ...members.map((m) => m.id)])
  unique('peer id', [...validators.map((v) => v.peerId), ...members.map((m) => m.peerId)])
  unique('validator public key', validators.map((v) => Buffer.from(v.publicKey).toString('hex')))
  // A key names one issuer: key updates and verification look issuers up by key.
  unique('issuer public key', issuers.map((i) => Buffer.from(i.publicKey).toString('hex')))

  const warnings: string[] = []
  if (validators.length > 0 && validators.length < MIN_PRODUCTION_VALIDATORS) {
    warnings.push(
      `only ${validators.length} validator(s): a chain that must survive one faulty validator needs at least ${MIN_PRODUCTION_VALIDATORS}`,
    )
  }
  for (const t of certificateTypes) {
    if (!issuers.some((i) => i.types.includes(t.id))) warnings.push(`no issuer may issue certificate type "${t.id}"`)
  }
  if (problems.length > 0) return { problems, warnings }
  const genesis: Genesis = Object.freeze({
    chainId,
    genesisTime,
    params: Object.freeze(params as unknown as ChainParams),
    certificateTypes: Object.freeze(certificateTypes),
    issuers: Object.freeze(issuers),
    validators: Object.freeze(validators),
    members: Object.freeze(members),
    hash: sha256(encode(json)),
  })
  return { genesis, problems, warnings }
}
