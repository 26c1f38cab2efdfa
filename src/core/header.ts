import { bytesEqual, isBytes, type Bytes } from './bytes.js'
import { encode } from './encoding.js'
import { CertchainError } from './errors.js'
import { voteSignBytes } from './vote.js'
import { CHAIN_FORMAT_VERSION, type BlockHeader, type Commit } from './types.js'

// Pure (browser-safe) part of the block format: shapes of headers and commits. The light verifier
// parses headers and commits with these same rules; block.ts adds hashing and bodies.

/** Canonical bytes of a header: the block hash is their SHA-256. */
export function headerBytes(header: BlockHeader): Bytes {
  return encode(header)
}

export function malformed(message: string): never {
  throw new CertchainError('MALFORMED_BLOCK', message)
}

type Obj = Record<string, unknown>

export function exactMap(value: unknown, what: string, fields: readonly string[]): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) malformed(`${what} must be a map`)
  const keys = Object.keys(value)
  if (keys.length !== fields.length || !fields.every((k) => k in value)) malformed(`${what} must have exactly the fields ${fields.join(', ')}`)
  return value as Obj
}

export const HEADER_FIELDS = [
  'version',
  'chainId',
  'height',
  'time',
  'prevHash',
  'txRoot',
  'txCount',
  'stateRoot',
  'proposer',
  'validatorsHash',
  'nextValidatorsHash',
] as const

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0

export function parseHeader(value: unknown): BlockHeader {
  const h = exactMap(value, 'header', HEADER_FIELDS)
  if (h.version !== CHAIN_FORMAT_VERSION) malformed(`header version must be ${CHAIN_FORMAT_VERSION}`)
  if (![h.height, h.time, h.txCount].every(isCount)) malformed('height, time and txCount must be non-negative integers')
  if (![h.prevHash, h.txRoot, h.stateRoot, h.validatorsHash, h.nextValidatorsHash].every((b) => isBytes(b, 32))) {
    malformed('prevHash, txRoot, stateRoot, validatorsHash and nextValidatorsHash must be 32 bytes')
  }
  if (typeof h.chainId !== 'string' || typeof h.proposer !== 'string') malformed('chainId and proposer must be strings')
  return h as unknown as BlockHeader
}

export function parseCommit(value: unknown): Commit {
  const c = exactMap(value, 'commit', ['height', 'round', 'blockHash', 'signatures'])
  if (!isCount(c.height) || !isCount(c.round)) malformed('commit height and round must be non-negative integers')
  if (!isBytes(c.blockHash, 32)) malformed('commit blockHash must be 32 bytes')
  if (!Array.isArray(c.signatures)) malformed('commit signatures must be a list')
  for (const sig of c.signatures) {
    const s = exactMap(sig, 'commit signature', ['validator', 'sig'])
    if (typeof s.validator !== 'string' || !isBytes(s.sig, 64)) malformed('a commit signature is {validator, sig (64 bytes)}')
  }
  return c as unknown as Commit
}


/**
 * More than two thirds of `validators` signed precommits for `hash` at the commit's height and
 * round, each validator once: what is wrong, or undefined. `verify` is the caller's Ed25519 (the
 * node's OpenSSL, the light verifier's noble), so both judge commits by this one rule.
 */
export function commitProblem(
  chainId: string,
  validators: readonly { readonly id: string; readonly publicKey: Bytes }[],
  hash: Bytes,
  height: number,
  commit: Commit,
  verify: (publicKey: Bytes, message: Bytes, signature: Bytes) => boolean,
): string | undefined {
  if (commit.height !== height) return 'commit height differs from the block'
  if (!bytesEqual(commit.blockHash, hash)) return 'commit is for another block'
  const signBytes = voteSignBytes(chainId, 'precommit', commit.height, commit.round, hash)
  const signers = new Set<string>()
  for (const { validator, sig } of commit.signatures) {
    const info = validators.find((v) => v.id === validator)
    if (!info) return `"${validator}" is not a validator at height ${commit.height}`
    if (signers.has(validator)) return `"${validator}" signed twice`
    if (!verify(info.publicKey, signBytes, sig)) return `bad precommit signature from "${validator}"`
    signers.add(validator)
  }
  if (signers.size < Math.floor((2 * validators.length) / 3) + 1) return `only ${signers.size} of ${validators.length} validators signed`
  return undefined
}

/**
 * Canonical bytes of a validator set as headers commit to it (`validatorsHash` is their SHA-256):
 * ids and keys in proposer order (by public key). Names and peer ids are not part of it.
 */
export function validatorSetBytes(validators: readonly { readonly id: string; readonly publicKey: Bytes }[]): Bytes {
  return encode(validators.map(({ id, publicKey }) => ({ id, publicKey })))
}
