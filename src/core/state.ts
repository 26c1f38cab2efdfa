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
  return directStatusLeafBytes(leaf) ?? encode(pruneUndefined(leaf))
}

const utf8 = new TextEncoder()

/**
 * Writes canonical DAG-CBOR pieces into one reused buffer: the leaf writer below runs once per
 * certificate in every block, and pushing bytes into arrays was most of its cost.
 */
class LeafWriter {
  private buffer = new Uint8Array(512)
  at = 0

  /** A head: major type and a minimal-length argument (safe integers only). */
  head(major: number, n: number): void {
    this.room(9)
    const out = this.buffer
    const m = major << 5
    if (n < 24) out[this.at++] = m | n
    else if (n < 0x100) {
      out[this.at++] = m | 24
      out[this.at++] = n
    } else if (n < 0x10000) {
      out[this.at++] = m | 25
      out[this.at++] = n >> 8
      out[this.at++] = n & 0xff
    } else if (n < 0x100000000) {
      out[this.at++] = m | 26
      this.u32(n)
    } else {
      out[this.at++] = m | 27
      this.u32(Math.floor(n / 0x100000000))
      this.u32(n >>> 0)
    }
  }

  bytes(value: Bytes): void {
    this.head(2, value.length)
    this.raw(value)
  }

  text(value: string): void {
    // ASCII (every key and state, the reasons) needs no TextEncoder call.
    let ascii = true
    for (let i = 0; i < value.length && ascii; i++) ascii = value.charCodeAt(i) < 0x80
    if (!ascii) {
      const encoded = utf8.encode(value)
      this.head(3, encoded.length)
      this.raw(encoded)
      return
    }
    this.head(3, value.length)
    this.room(value.length)
    for (let i = 0; i < value.length; i++) this.buffer[this.at++] = value.charCodeAt(i)
  }

  /** A copy of what was written, and the writer emptied for the next value. */
  take(): Bytes {
    const out = this.buffer.slice(0, this.at)
    this.at = 0
    return out
  }

  private raw(value: Bytes): void {
    this.room(value.length)
    this.buffer.set(value, this.at)
    this.at += value.length
  }

  private u32(n: number): void {
    const out = this.buffer
    out[this.at++] = (n >>> 24) & 0xff
    out[this.at++] = (n >> 16) & 0xff
    out[this.at++] = (n >> 8) & 0xff
    out[this.at++] = n & 0xff
  }

  private room(n: number): void {
    if (this.at + n <= this.buffer.length) return
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.at + n))
    grown.set(this.buffer.subarray(0, this.at))
    this.buffer = grown
  }
}

const leafWriter = new LeafWriter()

/**
 * The same bytes as the generic encoder for the usual leaf (every status-tree update hashes one
 * per certificate, and the generic encoder sorts keys and builds tokens for each): keys in DAG-CBOR
 * order (shorter first, then bytewise). Undefined for anything unusual, which the generic encoder
 * handles (pinned equal by test/unit/core/state.test.ts).
 */
function directStatusLeafBytes(leaf: StatusLeafValue): Bytes | undefined {
  const { id, tx, key, issuedHeight, issuedTime, state, since, sinceTime, reason } = leaf
  if (!(safeNat(issuedHeight) && safeNat(issuedTime) && safeNat(since) && safeNat(sinceTime))) return undefined
  if (!(id instanceof Uint8Array && tx instanceof Uint8Array && key instanceof Uint8Array) || typeof state !== 'string') return undefined
  if (reason !== undefined && typeof reason !== 'string') return undefined
  let fields = 0
  for (const k in leaf) if ((leaf as unknown as Record<string, unknown>)[k] !== undefined) fields++
  if (fields !== (reason === undefined ? 8 : 9)) return undefined
  const w = leafWriter
  w.at = 0
  w.head(5, fields)
  w.text('id')
  w.bytes(id)
  w.text('tx')
  w.bytes(tx)
  w.text('key')
  w.bytes(key)
  w.text('since')
  w.head(0, since)
  w.text('state')
  w.text(state)
  if (reason !== undefined) {
    w.text('reason')
    w.text(reason)
  }
  w.text('sinceTime')
  w.head(0, sinceTime)
  w.text('issuedTime')
  w.head(0, issuedTime)
  w.text('issuedHeight')
  w.head(0, issuedHeight)
  return w.take()
}

function safeNat(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0
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
