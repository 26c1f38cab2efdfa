import { ENTITY_ID } from '../core/governance.js'

/**
 * JSON schema pieces shared by the routes. Path and query values arrive as strings and are never
 * coerced (see the ajv options in server.ts), so numbers are matched as digit strings.
 */
export const HEX32 = { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } as const
/** A block height or a proposal number. */
export const UINT = { type: 'string', pattern: '^[0-9]{1,15}$' } as const
/** Issuer, type, validator and member ids. */
export const ENTITY = { type: 'string', pattern: ENTITY_ID.source } as const

/** Path parameters `{ name: schema }`, all required, nothing else. */
export function pathParams<S extends object>(properties: Record<string, S>) {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false } as const
}

/** Optional query parameters `{ name: schema }`, nothing else. */
export function queryParams<S extends object>(properties: Record<string, S>) {
  return { type: 'object', properties, additionalProperties: false } as const
}
