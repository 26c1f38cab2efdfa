import { fromHex, toHex } from '../core/bytes.js'
import { CertchainError, type ErrorCode } from '../core/errors.js'

/**
 * A small schema for the JSON forms of signed and hashed values (proof bundles and what they
 * quote). Parsing is exact: unknown fields, missing fields, wrong types and over-long lists are
 * refused with the path of the bad field, and bytes are lowercase hex of a fixed length. So the
 * value a verifier re-encodes is exactly the one the node hashed, or nothing.
 */
export type Schema =
  /** Any JSON value, parsed later by its own parser. */
  | 'any'
  | 'bytes32'
  | 'bytes64'
  | 'uint'
  | 'string'
  | 'bool'
  | { readonly enum: readonly string[] }
  | { readonly list: Schema; readonly max: number }
  | { readonly fields: Readonly<Record<string, Schema>>; readonly optional?: readonly string[] }

const MAX_STRING = 4096

export function parseJson<T>(json: unknown, schema: Schema, path: string, code: ErrorCode): T {
  const bad = (why: string): never => {
    throw new CertchainError(code, `${path}: ${why}`)
  }
  if (schema === 'any') return json as T
  if (schema === 'bytes32' || schema === 'bytes64') {
    if (typeof json !== 'string') bad('must be a hex string')
    const length = schema === 'bytes32' ? 32 : 64
    if ((json as string).length !== length * 2) bad(`must be ${length} bytes of hex`)
    try {
      return fromHex(json as string, path, length) as T
    } catch {
      return bad('is not valid hex')
    }
  }
  if (schema === 'uint') {
    if (typeof json !== 'number' || !Number.isSafeInteger(json) || json < 0) bad('must be a non-negative integer')
    return json as T
  }
  if (schema === 'string') {
    if (typeof json !== 'string' || json.length === 0 || json.length > MAX_STRING) bad(`must be a non-empty string of at most ${MAX_STRING} characters`)
    return json as T
  }
  if (schema === 'bool') {
    if (typeof json !== 'boolean') bad('must be true or false')
    return json as T
  }
  if ('enum' in schema) {
    if (typeof json !== 'string' || !schema.enum.includes(json)) bad(`must be one of ${schema.enum.join(', ')}`)
    return json as T
  }
  if ('list' in schema) {
    if (!Array.isArray(json)) bad('must be a list')
    const list = json as unknown[]
    if (list.length > schema.max) bad(`has more than ${schema.max} entries`)
    return list.map((item, i) => parseJson(item, schema.list, `${path}[${i}]`, code)) as T
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) bad('must be an object')
  const object = json as Record<string, unknown>
  const optional = schema.optional ?? []
  for (const key of Object.keys(object)) if (!(key in schema.fields)) bad(`unknown field "${key}"`)
  const out: Record<string, unknown> = {}
  for (const [key, fieldSchema] of Object.entries(schema.fields)) {
    if (object[key] === undefined) {
      if (!optional.includes(key)) bad(`field "${key}" is missing`)
      continue
    }
    out[key] = parseJson(object[key], fieldSchema, `${path}.${key}`, code)
  }
  return out as T
}

/** The JSON form of a value: bytes as lowercase hex, absent optional fields left out. */
export function toJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value)
  if (Array.isArray(value)) return value.map(toJson)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = toJson(v)
  return out
}
