import * as dagCbor from '@ipld/dag-cbor'
import { toHex, type Bytes } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
import type { ChainParams } from '../core/genesis.js'
import { sha256 } from '../core/hash.js'

/**
 * Transaction bundles: how nodes relay transactions to each other (topic
 * `/certchain/<chainId>/txbundle/1`). Gossipsub's cost is per message (encryption, framing, a
 * message id, the seen cache, a validation call, forwarding), so a node gossips the transactions
 * its clients submitted within a short window as one message.
 *
 * Format: the canonical DAG-CBOR array of the transactions' canonical bytes, `[tx, tx, ...]`,
 * at least one, no two alike. A bundle's id is its hash, like every gossip message.
 */

/** What a receiver accepts in one bundle. */
export interface BundleLimits {
  readonly maxTxs: number
  /** Of the encoded bundle. */
  readonly maxBytes: number
}

/** Encoded length of a CBOR head carrying `argument` (minimal, as DAG-CBOR requires). */
function headBytes(argument: number): number {
  return argument < 24 ? 1 : argument < 0x100 ? 2 : argument < 0x10000 ? 3 : argument < 0x100000000 ? 5 : 9
}

/** Bytes one transaction of `length` bytes adds to a bundle. */
export function bundleEntryBytes(length: number): number {
  return headBytes(length) + length
}

/** Encoded size of a bundle of `txs` entries whose entries take `entryBytes` in all. */
export function bundleBytes(txs: number, entryBytes: number): number {
  return headBytes(txs) + entryBytes
}

/**
 * A bundle holds no more than a block could: at most `maxBlockTxs` transactions, and
 * `maxBlockBytes` of them plus their CBOR heads. Honest publishers stay within this (see
 * {@link TxBundler}), so anything beyond is malformed everywhere.
 */
export function bundleLimits(params: Pick<ChainParams, 'maxBlockTxs' | 'maxBlockBytes'>): BundleLimits {
  return { maxTxs: params.maxBlockTxs, maxBytes: bundleBytes(params.maxBlockTxs, params.maxBlockBytes + params.maxBlockTxs * headBytes(params.maxBlockBytes)) }
}

export function encodeTxBundle(txs: readonly Bytes[]): Bytes {
  return dagCbor.encode(txs)
}

/** One CBOR head at `offset`: major type, argument and where the content starts. */
function readHead(bytes: Bytes, offset: number, what: string): { major: number; argument: number; next: number } {
  const initial = bytes[offset]
  if (initial === undefined) throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: ${what} is missing (bundle truncated)`)
  const info = initial & 0x1f
  if (info < 24) return { major: initial >> 5, argument: info, next: offset + 1 }
  if (info > 27) throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: ${what} has an indefinite or reserved length`)
  const width = 2 ** (info - 24)
  if (offset + 1 + width > bytes.length) throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: ${what} is truncated`)
  let argument = 0
  for (let i = 1; i <= width; i++) argument = argument * 256 + bytes[offset + i]!
  // Non-minimal heads would give the same bundle a second encoding (and a second message id).
  if (headBytes(argument) !== 1 + width) throw new CertchainError('NON_CANONICAL_ENCODING', `${what} has a non-minimal length`)
  return { major: initial >> 5, argument, next: offset + 1 + width }
}

/**
 * Decodes a bundle, cheapest check first: its size, then the count its first bytes declare,
 * then each entry's head (zero-copy: the entries are views of `bytes`), then duplicates (one
 * hash per entry). The walk proves the encoding canonical (an array of byte strings with minimal
 * heads and nothing after it), so no re-encoding is needed. Every refusal is a coded error.
 */
export function decodeTxBundle(bytes: Bytes, limits: BundleLimits): Bytes[] {
  if (bytes.length > limits.maxBytes) throw new CertchainError('TX_BUNDLE_TOO_LARGE', `a bundle of ${bytes.length} bytes exceeds the limit of ${limits.maxBytes} bytes`)
  const array = readHead(bytes, 0, 'the bundle')
  if (array.major !== 4) throw new CertchainError('MALFORMED_TX_BUNDLE', 'a bundle must be a CBOR array of transaction byte strings')
  if (array.argument === 0) throw new CertchainError('MALFORMED_TX_BUNDLE', 'a bundle holds at least one transaction')
  if (array.argument > limits.maxTxs) throw new CertchainError('TOO_MANY_TXS', `a bundle holds at most ${limits.maxTxs} transactions, not ${array.argument}`)
  // Every entry takes at least one byte: a count beyond the bytes left is a lie, refused before the walk.
  if (array.argument > bytes.length - array.next) throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: ${array.argument} entries announced in ${bytes.length} bytes`)
  const txs: Bytes[] = []
  let offset = array.next
  for (let i = 0; i < array.argument; i++) {
    const entry = readHead(bytes, offset, `entry ${i}`)
    if (entry.major !== 2) throw new CertchainError('MALFORMED_TX_BUNDLE', `entry ${i} of the bundle is not a byte string`)
    if (entry.argument > bytes.length - entry.next) throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: entry ${i} is truncated`)
    offset = entry.next + entry.argument
    txs.push(bytes.subarray(entry.next, offset))
  }
  if (offset !== bytes.length) throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: ${bytes.length - offset} bytes after the bundle`)
  const seen = new Map<string, number>()
  for (const [i, tx] of txs.entries()) {
    const digest = toHex(sha256(tx))
    const first = seen.get(digest)
    if (first !== undefined) throw new CertchainError('DUPLICATE_IN_BATCH', `entry ${i} of the bundle repeats entry ${first}`)
    seen.set(digest, i)
  }
  return txs
}

export interface TxBundlerOptions {
  /** How long the first transaction of a bundle waits for others (0: only those admitted in the same turn). */
  readonly windowMs: number
  /** Caps of one published bundle, read at each transaction (chain parameters may change). */
  readonly limits: () => BundleLimits
}

/**
 * Collects transactions for one bundle and publishes it when the window closes or a cap is
 * reached, whichever comes first. While the event loop is busy the window's timer fires late, so
 * bundles grow with load and the per-message cost falls when it matters most.
 */
export class TxBundler {
  readonly #options: TxBundlerOptions
  readonly #publish: (txs: readonly Bytes[], bundle: Bytes) => void
  #txs: Bytes[] = []
  /** Encoded bytes of the entries collected so far (their heads included). */
  #entryBytes = 0
  #timer: NodeJS.Timeout | undefined

  constructor(options: TxBundlerOptions, publish: (txs: readonly Bytes[], bundle: Bytes) => void) {
    this.#options = options
    this.#publish = publish
  }

  /** Transactions waiting for the window to close. */
  get pending(): number {
    return this.#txs.length
  }

  add(tx: Bytes): void {
    const { maxTxs, maxBytes } = this.#options.limits()
    const size = bundleEntryBytes(tx.length)
    // A transaction that would take the bundle past a cap starts the next one. One larger than
    // the byte cap travels alone (it fits a block, so it fits the receivers' limit).
    if (this.#txs.length > 0 && bundleBytes(this.#txs.length + 1, this.#entryBytes + size) > maxBytes) this.flush()
    this.#txs.push(tx)
    this.#entryBytes += size
    if (this.#txs.length >= maxTxs || bundleBytes(this.#txs.length, this.#entryBytes) >= maxBytes) this.flush()
    else this.#timer ??= setTimeout(() => this.flush(), this.#options.windowMs)
  }

  /** Publishes what was collected now (the window closed, a cap was reached, or the node stops). */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#txs.length === 0) return
    const txs = this.#txs
    this.#txs = []
    this.#entryBytes = 0
    this.#publish(txs, encodeTxBundle(txs))
  }
}
