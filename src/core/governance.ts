import { isBytes, type Bytes } from './bytes.js'
import { CertchainError } from './errors.js'
import { MAX_TIME_MS, type Millis } from './types.js'

/**
 * Chain parameters governance may change, with the bounds a proposal must respect. Consensus
 * timing parameters are absent from a genesis that does not set them: each node then uses its
 * own configuration, and the first governance change makes them chain-wide.
 */
export const GOVERNABLE_PARAMS = {
  maxBlockBytes: { min: 64 * 1024, max: 3 * 1024 * 1024 },
  maxBlockTxs: { min: 1, max: 100_000 },
  txMaxTtlMs: { min: 10_000, max: 24 * 60 * 60 * 1000 },
  proposalTtlBlocks: { min: 10, max: 10_000_000 },
  evidenceMaxAgeBlocks: { min: 100, max: 10_000_000 },
  timeoutProposeMs: { min: 100, max: 120_000 },
  timeoutPrevoteMs: { min: 50, max: 120_000 },
  timeoutPrecommitMs: { min: 50, max: 120_000 },
  heartbeatIntervalMs: { min: 100, max: 3_600_000 },
} as const
export type GovernableParam = keyof typeof GOVERNABLE_PARAMS

/** What a governance proposal does when it passes. Every kind names exactly the fields it touches. */
export type GovAction =
  | { readonly type: 'addValidator'; readonly id: string; readonly name: string; readonly publicKey: Bytes; readonly peerId: string }
  | { readonly type: 'removeValidator'; readonly id: string }
  | { readonly type: 'unjailValidator'; readonly id: string }
  | { readonly type: 'addMember'; readonly id: string; readonly name: string; readonly peerId: string }
  | { readonly type: 'removeMember'; readonly id: string }
  | { readonly type: 'addIssuer'; readonly id: string; readonly name: string; readonly publicKey: Bytes; readonly types: readonly string[] }
  | {
      readonly type: 'updateIssuer'
      readonly id: string
      readonly name?: string
      readonly types?: readonly string[]
      /** A new key: how an issuer whose every key was declared compromised gets one again. */
      readonly publicKey?: Bytes
    }
  | { readonly type: 'deactivateIssuer'; readonly id: string }
  | { readonly type: 'compromiseIssuerKey'; readonly id: string; readonly key: Bytes; readonly since: Millis }
  | {
      readonly type: 'addType'
      readonly id: string
      readonly nameKo: string
      readonly nameEn: string
      readonly validityDays: number
      readonly authorities: readonly string[]
    }
  | {
      readonly type: 'updateType'
      readonly id: string
      readonly nameKo?: string
      readonly nameEn?: string
      readonly validityDays?: number
      readonly authorities?: readonly string[]
    }
  | { readonly type: 'setParams'; readonly params: Readonly<Partial<Record<GovernableParam, number>>> }

export type GovActionType = GovAction['type']

export const GOV_ACTION_TYPES: readonly GovActionType[] = [
  'addValidator',
  'removeValidator',
  'unjailValidator',
  'addMember',
  'removeMember',
  'addIssuer',
  'updateIssuer',
  'deactivateIssuer',
  'compromiseIssuerKey',
  'addType',
  'updateType',
  'setParams',
]

/** Ids of chains, issuers, types, validators and members: short, lowercase, stable. */
export const ENTITY_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/
const MAX_NAME = 200
const MAX_PEER_ID = 128
const MAX_LIST = 1000

function malformed(message: string): never {
  throw new CertchainError('MALFORMED_TX', `action: ${message}`)
}

type Obj = Record<string, unknown>

function fields(value: unknown, required: readonly string[], optional: readonly string[] = []): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) malformed('must be a map')
  const o = value as Obj
  for (const k of Object.keys(o)) if (k !== 'type' && !required.includes(k) && !optional.includes(k)) malformed(`unknown field "${k}"`)
  for (const k of required) if (!(k in o)) malformed(`missing "${k}"`)
  return o
}

function id(v: unknown, what: string): string {
  if (typeof v !== 'string' || !ENTITY_ID.test(v)) malformed(`${what} must match ${ENTITY_ID.source}`)
  return v
}

function text(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) malformed(`${what} must be a string of 1 to ${max} characters`)
  return v
}

function key(v: unknown, what: string): Bytes {
  if (!isBytes(v, 32)) malformed(`${what} must be a 32-byte public key`)
  return v
}

function ids(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_LIST) malformed(`${what} must be a list of at most ${MAX_LIST} ids`)
  const out = v.map((x, i) => id(x, `${what}[${i}]`))
  if (new Set(out).size !== out.length) malformed(`${what} lists an id twice`)
  return out
}

function positive(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) malformed(`${what} must be a positive integer`)
  return v
}

/** Optional fields of an update: present ones are parsed, absent ones stay absent. */
function some<T>(o: Obj, k: string, parse: (v: unknown, what: string) => T): Record<string, T> {
  return o[k] === undefined ? {} : { [k]: parse(o[k], k) }
}

/** Parses a decoded governance action: exact fields per kind, ids, lengths and bounds. */
export function parseGovAction(value: unknown): GovAction {
  const type = (value as Obj | null)?.type
  if (typeof type !== 'string' || !(GOV_ACTION_TYPES as readonly string[]).includes(type)) {
    malformed(`type must be one of: ${GOV_ACTION_TYPES.join(', ')}`)
  }
  const t = type as GovActionType
  const name = (v: unknown, what: string): string => text(v, what, MAX_NAME)
  switch (t) {
    case 'addValidator': {
      const o = fields(value, ['id', 'name', 'publicKey', 'peerId'])
      return { type: t, id: id(o.id, 'id'), name: name(o.name, 'name'), publicKey: key(o.publicKey, 'publicKey'), peerId: text(o.peerId, 'peerId', MAX_PEER_ID) }
    }
    case 'addMember': {
      const o = fields(value, ['id', 'name', 'peerId'])
      return { type: t, id: id(o.id, 'id'), name: name(o.name, 'name'), peerId: text(o.peerId, 'peerId', MAX_PEER_ID) }
    }
    case 'removeValidator':
    case 'unjailValidator':
    case 'removeMember':
    case 'deactivateIssuer': {
      const o = fields(value, ['id'])
      return { type: t, id: id(o.id, 'id') }
    }
    case 'addIssuer': {
      const o = fields(value, ['id', 'name', 'publicKey', 'types'])
      return { type: t, id: id(o.id, 'id'), name: name(o.name, 'name'), publicKey: key(o.publicKey, 'publicKey'), types: ids(o.types, 'types') }
    }
    case 'updateIssuer': {
      const o = fields(value, ['id'], ['name', 'types', 'publicKey'])
      if (o.name === undefined && o.types === undefined && o.publicKey === undefined) malformed('updateIssuer must change name, types or add a key')
      return { type: t, id: id(o.id, 'id'), ...some(o, 'name', name), ...some(o, 'types', ids), ...some(o, 'publicKey', key) }
    }
    case 'compromiseIssuerKey': {
      const o = fields(value, ['id', 'key', 'since'])
      if (typeof o.since !== 'number' || !Number.isSafeInteger(o.since) || o.since < 0 || o.since > MAX_TIME_MS) {
        malformed(`since must be a time in milliseconds, at most ${MAX_TIME_MS}`)
      }
      return { type: t, id: id(o.id, 'id'), key: key(o.key, 'key'), since: o.since }
    }
    case 'addType': {
      const o = fields(value, ['id', 'nameKo', 'nameEn', 'validityDays', 'authorities'])
      return {
        type: t,
        id: id(o.id, 'id'),
        nameKo: name(o.nameKo, 'nameKo'),
        nameEn: name(o.nameEn, 'nameEn'),
        validityDays: positive(o.validityDays, 'validityDays'),
        authorities: ids(o.authorities, 'authorities'),
      }
    }
    case 'updateType': {
      const o = fields(value, ['id'], ['nameKo', 'nameEn', 'validityDays', 'authorities'])
      if (Object.keys(o).length <= 2) malformed('updateType must change at least one field')
      return {
        type: t,
        id: id(o.id, 'id'),
        ...some(o, 'nameKo', name),
        ...some(o, 'nameEn', name),
        ...some(o, 'validityDays', positive),
        ...some(o, 'authorities', ids),
      }
    }
    case 'setParams': {
      const o = fields(value, ['params'])
      const p = o.params
      if (p === null || typeof p !== 'object' || Array.isArray(p) || p instanceof Uint8Array) malformed('params must be a map')
      const entries = Object.entries(p as Obj)
      if (entries.length === 0) malformed('setParams must change at least one parameter')
      const params: Partial<Record<GovernableParam, number>> = {}
      for (const [k, v] of entries) {
        // Own properties only: "toString" or "constructor" must not pass for parameters.
        const bounds = Object.hasOwn(GOVERNABLE_PARAMS, k) ? GOVERNABLE_PARAMS[k as GovernableParam] : undefined
        if (!bounds) malformed(`params.${k} is not a governable parameter (${Object.keys(GOVERNABLE_PARAMS).join(', ')})`)
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < bounds.min || v > bounds.max) {
          malformed(`params.${k} must be an integer from ${bounds.min} to ${bounds.max}`)
        }
        params[k as GovernableParam] = v
      }
      return { type: t, params }
    }
  }
}
