import { CertchainError } from '../core/errors.js'
import type { Bytes } from '../core/bytes.js'
import { parseJson, toJson, type Schema } from './json.js'
import type { Trust } from './verify.js'

/** `certchain/checkpoint@1`: a trusted header hash and the validator set that signs the height after it. */
export const CHECKPOINT_FORMAT = 'certchain/checkpoint@1'

const MEMBER: Schema = { list: { fields: { id: 'string', publicKey: 'bytes32' } }, max: 1024 }

/**
 * The trust anchor of a genesis document: its chain id, height 0, and its validators (they sign
 * heights 1 and 2). Only those fields are read; the node that made the proof checked the rest.
 */
export function trustFromGenesis(json: unknown): Trust {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CertchainError('INVALID_GENESIS', 'genesis must be a JSON object')
  const g = json as Record<string, unknown>
  const chainId = parseJson<string>(g.chainId, 'string', 'genesis.chainId', 'INVALID_GENESIS')
  const members = Array.isArray(g.validators) ? g.validators.map((v: unknown) => pick(v)) : g.validators
  const validators = parseJson<{ id: string; publicKey: Bytes }[]>(members, MEMBER, 'genesis.validators', 'INVALID_GENESIS')
  if (validators.length === 0) throw new CertchainError('INVALID_GENESIS', 'genesis.validators: at least one validator is required')
  return { chainId, height: 0, validators }
}

function pick(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v
  const { id, publicKey } = v as Record<string, unknown>
  return { id, publicKey }
}

const CHECKPOINT: Schema = {
  fields: { format: { enum: [CHECKPOINT_FORMAT] }, chainId: 'string', height: 'uint', headerHash: 'bytes32', validators: MEMBER },
}

/** A checkpoint file (already JSON-parsed), as `GET /v1/checkpoint` serves it. */
export function trustFromCheckpoint(json: unknown): Trust {
  const { format: _format, ...trust } = parseJson<Trust & { format: string }>(json, CHECKPOINT, 'checkpoint', 'INVALID_PROOF')
  if (trust.validators.length === 0) throw new CertchainError('INVALID_PROOF', 'checkpoint.validators: at least one validator is required')
  return trust
}

export function checkpointToJson(trust: Required<Trust>): Record<string, unknown> {
  return { format: CHECKPOINT_FORMAT, ...(toJson(trust) as Record<string, unknown>) }
}

/** A trust anchor from either file: a genesis document or a checkpoint. */
export function trustFromJson(json: unknown): Trust {
  const format = (json as { format?: unknown } | null)?.format
  return format === CHECKPOINT_FORMAT ? trustFromCheckpoint(json) : trustFromGenesis(json)
}
