import type { Bytes } from './bytes.js'
import { encode, pruneUndefined } from './encoding.js'
import type { CertificateState, Millis } from './types.js'

// Pure (browser-safe) byte layouts of the state a header commits to. The node hashes them with
// OpenSSL, the light verifier with noble: one layout, two hashers (README, "State root").

/** What the state root commits to (its preimage: stateRoot = SHA-256(stateRootBytes(roots))). */
export interface StateRoots {
  readonly certificateCount: number
  /** Root of the status tree (sparse, leaf i = status of the i-th certificate issued). */
  readonly certificates: Bytes
  /** Root of the height history (sparse, leaf h = {height h, its time, its state root}) over the heights before this block. */
  readonly history: Bytes
  readonly proposals: Bytes
  /** Root of the registry's section tree (README, "Registry proofs"). */
  readonly registry: Bytes
}

export function stateRootBytes(roots: StateRoots): Bytes {
  const { certificateCount, certificates, history, proposals, registry } = roots
  return encode({ certificateCount, certificates, history, proposals, registry })
}

/** One status-tree leaf: a certificate's issuance and its current status. */
export interface StatusLeafValue {
  readonly id: Bytes
  /** The issuance transaction and the key that signed it. */
  readonly tx: Bytes
  readonly key: Bytes
  readonly issuedHeight: number
  readonly issuedTime: Millis
  readonly state: CertificateState
  /** Height and time of the last status change (the issuance while it never changed). */
  readonly since: number
  readonly sinceTime: Millis
  readonly reason?: string
}

export function statusLeafBytes(leaf: StatusLeafValue): Bytes {
  return encode(pruneUndefined(leaf))
}

/** Leaf h of the height history: the state after block h (h = 0: genesis) and that block's time. */
export interface HeightRecord {
  readonly height: number
  readonly time: Millis
  readonly stateRoot: Bytes
}

export function heightRecordBytes(record: HeightRecord): Bytes {
  const { height, time, stateRoot } = record
  return encode({ height, time, stateRoot })
}

/* The registry's issuer entries, as stored and as proven to a light verifier. */
/** One key of an issuer, with the heights it was usable: from after `addedHeight` until `retiredHeight`. */
export interface IssuerKey {
  readonly publicKey: Bytes
  readonly addedHeight: number
  /** Height of the block that retired it: it signs nothing new from the next block on. */
  readonly retiredHeight?: number
  /** Certificates this key signed at or after this time read as revoked (key_compromised). */
  readonly compromisedSince?: Millis
  readonly compromisedHeight?: number
}

export interface IssuerRecord {
  readonly id: string
  readonly name: string
  readonly types: readonly string[]
  readonly active: boolean
  readonly keys: readonly IssuerKey[]
  readonly addedHeight: number
  readonly deactivatedHeight?: number
}

/**
 * The registry root is the RFC 6962 root over these sections' hashes, in this order. `types` and
 * `issuers` hash to SHA-256({count, root}) with root the RFC 6962 root over their entries (sorted by
 * id, each entry's canonical encoding a leaf), so one entry is proven by two short paths; the other
 * sections are hashed whole.
 */
export const REGISTRY_SECTIONS = ['params', 'types', 'issuers', 'validators', 'members', 'evidence'] as const
export type RegistrySection = (typeof REGISTRY_SECTIONS)[number]

/**
 * What the `types` and `issuers` sections hash: the number of entries with their RFC 6962 root, so
 * a proof's entry count is bound too (an audit path alone fits more than one tree size).
 */
export function registrySectionBytes(count: number, root: Bytes): Bytes {
  return encode({ count, root })
}

/** Canonical bytes of one registry entry or section (a leaf of its section tree, or what a whole section hashes). */
export function registryValueBytes(value: unknown): Bytes {
  return encode(pruneUndefined(value))
}
