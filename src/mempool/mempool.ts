import { toHex } from '../core/bytes.js'
import { sha256 } from '../core/hash.js'
import { CertchainError, type ErrorCode } from '../core/errors.js'
import { touchedCertificateIds, type DecodedTx } from '../core/tx.js'
import type { Vote } from '../core/vote.js'

export interface MempoolOptions {
  /** Most transactions held at once. */
  readonly maxTxs: number
  /**
   * Most memory held at once, estimated: each transaction's encoding plus
   * {@link HELD_BYTES_PER_CERTIFICATE} per certificate it issues or changes.
   */
  readonly maxBytes: number
  /** How many recent rejections `GET /v1/txs/:id` can still report. */
  readonly rejectionMemory: number
  /** How many recently refused byte strings are refused again without decoding (see {@link knownFailure}). */
  readonly failureMemory: number
}

export const DEFAULT_MEMPOOL_OPTIONS: MempoolOptions = Object.freeze({
  maxTxs: 100_000,
  maxBytes: 512 * 1024 * 1024,
  rejectionMemory: 100_000,
  failureMemory: 10_000,
})

export type AddResult = 'added' | 'duplicate'

/**
 * Memory a pending transaction holds per certificate it issues or changes, beyond its encoding:
 * the decoded record, its id, and the hex keys of the reservation and by-certificate indexes.
 * Measured at about 1.35 KB (ten 5,000-record issuances: 5.75 MB encoded, 56 MB of heap and
 * 17 MB external), ten times a record's encoding; counting encoded bytes alone let a full
 * mempool of large issuances hold some 6 GB.
 */
export const HELD_BYTES_PER_CERTIFICATE = 1400

/**
 * The pending transactions touching one certificate: almost always one, kept without a Set (an
 * issuance of 1,000 records would otherwise allocate 1,000 of them).
 */
type Touching = DecodedTx | Set<DecodedTx>

/** Hex keys of one pending transaction in the indexes, and what it counts against the limits. */
interface Derived {
  readonly digest: string
  readonly reserved: readonly string[]
  readonly touched: readonly string[]
  readonly held: number
}

/** What {@link MempoolOptions.maxBytes} counts for one transaction. */
export function heldBytes(tx: DecodedTx): number {
  return tx.bytes.length + touchedCertificateIds(tx).length * HELD_BYTES_PER_CERTIFICATE
}

/**
 * Pending evidence reports one validator may have signed: every honest validator that sees an
 * equivocation reports it, once per offence, and the first report that commits jails the
 * offender, so an honest validator has a few pending at most (as proposals, 16 per validator).
 */
export const MAX_PENDING_REPORTS_PER_SIGNER = 16

/** An offence: one validator's conflicting votes at one (height, round, type). */
export function offenceKey(vote: Pick<Vote, 'height' | 'round' | 'type' | 'validator'>): string {
  return `${vote.height}/${vote.round}/${vote.type}/${vote.validator}`
}

/**
 * Transactions that passed admission and wait for a block, in arrival order. Bounded in count and
 * bytes; a pending issuance reserves its certificate ids so a second issuance of the same
 * certificate is refused at once rather than failing later in a block.
 */
export class Mempool {
  private readonly txs = new Map<string, DecodedTx>()
  /** What add derived from each pending transaction, so remove need not derive it again. */
  private readonly derived = new WeakMap<DecodedTx, Derived>()
  /** The same transactions by SHA-256 of their exact bytes (see {@link known}). */
  private readonly byDigest = new Map<string, DecodedTx>()
  private readonly reservedCertificates = new Set<string>()
  /** Pending transactions by each certificate they issue or change the status of. */
  private readonly byCertificate = new Map<string, Touching>()
  /**
   * The one pending report of each offence (see {@link offenceKey}): each validator signs its
   * own report of the same equivocation, and only one can commit (the rest would be refused
   * EVIDENCE_ALREADY_COMMITTED), so the others are refused here and not forwarded.
   */
  private readonly reports = new Map<string, DecodedTx>()
  /** Pending reports by the validator that signed them. */
  private readonly reportsBySigner = new Map<string, number>()
  private readonly rejections = new Map<string, { code: ErrorCode; message: string }>()
  /** Refusals by SHA-256 of the refused bytes; `state` ones may change with the next block. */
  private readonly failures = new Map<string, { error: CertchainError; state: boolean }>()
  /** Encoded bytes pending (what blocks will carry). */
  private totalBytes = 0
  /** The estimate {@link MempoolOptions.maxBytes} bounds. */
  private totalHeld = 0
  private readonly listeners = new Set<() => void>()

  constructor(readonly options: MempoolOptions = DEFAULT_MEMPOOL_OPTIONS) {}

  get size(): number {
    return this.txs.size
  }

  /** Encoded bytes pending. */
  get bytes(): number {
    return this.totalBytes
  }

  /** Memory held by pending transactions, as {@link MempoolOptions.maxBytes} estimates it. */
  get heldBytes(): number {
    return this.totalHeld
  }

  has(idHex: string): boolean {
    return this.txs.has(idHex)
  }

  /**
   * Adds an admitted transaction. Throws MEMPOOL_FULL or DUPLICATE_CERTIFICATE. `digestHex` is the
   * SHA-256 of its bytes when the caller has it (admission hashes them first), else computed here.
   */
  add(tx: DecodedTx, digestHex?: string): AddResult {
    const id = toHex(tx.id)
    if (this.txs.has(id)) return 'duplicate'
    const held = heldBytes(tx)
    if (this.txs.size >= this.options.maxTxs || this.totalHeld + held > this.options.maxBytes) {
      throw new CertchainError('MEMPOOL_FULL', `mempool is full (${this.txs.size} transactions, about ${this.totalHeld} bytes held); retry later`)
    }
    const certIds = tx.certificateIds.map(toHex)
    const touched = tx.tx.kind === 'IssueCertificates' ? certIds : touchedCertificateIds(tx).map(toHex)
    const taken = certIds.find((c) => this.reservedCertificates.has(c))
    if (taken !== undefined) {
      throw new CertchainError('DUPLICATE_CERTIFICATE', `certificate ${taken} is already being issued by a pending transaction`)
    }
    this.checkReport(tx)
    if (tx.tx.kind === 'ReportEquivocation') {
      this.reports.set(offenceKey(tx.tx.body.first), tx)
      this.reportsBySigner.set(tx.tx.signer, (this.reportsBySigner.get(tx.tx.signer) ?? 0) + 1)
    }
    for (const c of certIds) this.reservedCertificates.add(c)
    for (const c of touched) {
      const others = this.byCertificate.get(c)
      if (others === undefined) this.byCertificate.set(c, tx)
      else if (others instanceof Set) others.add(tx)
      else this.byCertificate.set(c, new Set([others, tx]))
    }
    const digest = digestHex ?? toHex(sha256(tx.bytes))
    this.txs.set(id, tx)
    this.byDigest.set(digest, tx)
    this.derived.set(tx, { digest, reserved: certIds, touched, held })
    this.totalBytes += tx.bytes.length
    this.totalHeld += held
    for (const listener of this.listeners) listener()
    return 'added'
  }

  /**
   * The pending transaction with exactly these bytes, already decoded and checked: a block
   * proposed by another validator mostly carries transactions this node admitted from gossip,
   * and executing it need not decode them or verify their signatures again.
   */
  known(bytes: Uint8Array): DecodedTx | undefined {
    return this.byDigest.get(toHex(sha256(bytes)))
  }

  /**
   * Throws DUPLICATE_EVIDENCE for an evidence report of an offence already reported by a pending
   * one, TOO_MANY_REPORTS when its signer has {@link MAX_PENDING_REPORTS_PER_SIGNER} pending.
   * Admission asks before it verifies the report's votes; {@link add} asks again.
   */
  checkReport(tx: DecodedTx): void {
    if (tx.tx.kind !== 'ReportEquivocation') return
    const offence = offenceKey(tx.tx.body.first)
    if (this.reports.has(offence)) throw new CertchainError('DUPLICATE_EVIDENCE', `offence ${offence} is already reported by a pending transaction`)
    const signed = this.reportsBySigner.get(tx.tx.signer) ?? 0
    if (signed >= MAX_PENDING_REPORTS_PER_SIGNER) {
      throw new CertchainError('TOO_MANY_REPORTS', `validator "${tx.tx.signer}" already has ${signed} evidence reports pending`)
    }
  }

  /** Whether a report of this offence is pending (a validator need not sign its own). */
  hasReport(vote: Pick<Vote, 'height' | 'round' | 'type' | 'validator'>): boolean {
    return this.reports.has(offenceKey(vote))
  }

  /** The oldest transactions, up to the given count and byte budget. They stay until removed. */
  reap(maxTxs: number, maxBytes: number): DecodedTx[] {
    const out: DecodedTx[] = []
    let bytes = 0
    for (const tx of this.txs.values()) {
      if (out.length >= maxTxs || bytes + tx.bytes.length > maxBytes) break
      out.push(tx)
      bytes += tx.bytes.length
    }
    return out
  }

  /** Drops transactions (by id) that were committed or refused by block execution. */
  remove(ids: readonly Uint8Array[]): void {
    for (const id of ids) {
      const key = toHex(id)
      const tx = this.txs.get(key)
      if (!tx) continue
      const { digest, reserved, touched, held } = this.derived.get(tx)!
      this.txs.delete(key)
      this.byDigest.delete(digest)
      this.totalBytes -= tx.bytes.length
      this.totalHeld -= held
      for (const c of reserved) this.reservedCertificates.delete(c)
      if (tx.tx.kind === 'ReportEquivocation') {
        this.reports.delete(offenceKey(tx.tx.body.first))
        const left = (this.reportsBySigner.get(tx.tx.signer) ?? 1) - 1
        if (left > 0) this.reportsBySigner.set(tx.tx.signer, left)
        else this.reportsBySigner.delete(tx.tx.signer)
      }
      for (const c of touched) {
        const others = this.byCertificate.get(c)
        if (others === tx) this.byCertificate.delete(c)
        else if (others instanceof Set) {
          others.delete(tx)
          if (others.size === 0) this.byCertificate.delete(c)
        }
      }
    }
  }

  /** Drops a pending transaction that can no longer be included, remembering why. */
  evict(tx: DecodedTx, error: CertchainError): void {
    this.remove([tx.id])
    this.recordRejection(toHex(tx.id), error)
  }

  /** Every pending transaction, oldest first. */
  pending(): DecodedTx[] {
    return [...this.txs.values()]
  }

  /** Pending transactions that issue or change the status of any of these certificates (hex ids). */
  touching(certificates: Iterable<string>): DecodedTx[] {
    const out = new Set<DecodedTx>()
    for (const c of certificates) {
      const found = this.byCertificate.get(c)
      if (found instanceof Set) for (const tx of found) out.add(tx)
      else if (found !== undefined) out.add(found)
    }
    return [...out]
  }

  /** Remembers why a transaction was refused, for status queries (bounded, oldest forgotten first). */
  recordRejection(idHex: string, error: CertchainError): void {
    if (this.rejections.size >= this.options.rejectionMemory) {
      const oldest = this.rejections.keys().next().value
      if (oldest !== undefined) this.rejections.delete(oldest)
    }
    this.rejections.set(idHex, { code: error.code, message: error.message })
  }

  rejection(idHex: string): { code: ErrorCode; message: string } | undefined {
    return this.rejections.get(idHex)
  }

  /**
   * Remembers that these exact bytes (by their SHA-256 `digestHex`) were refused, so sending them
   * again costs a hash instead of a decode and a signature check. `state`: the refusal depends on
   * the committed state and is forgotten after the next block. Bounded, oldest forgotten first.
   */
  rememberFailure(digestHex: string, error: CertchainError, state: boolean): void {
    if (this.failures.size >= this.options.failureMemory) {
      const oldest = this.failures.keys().next().value
      if (oldest !== undefined) this.failures.delete(oldest)
    }
    this.failures.set(digestHex, { error, state })
  }

  knownFailure(digestHex: string): CertchainError | undefined {
    return this.failures.get(digestHex)?.error
  }

  /** After a block: state-dependent refusals no longer hold; with `all`, the chain's rules changed too. */
  forgetFailures(all: boolean): void {
    if (all) this.failures.clear()
    else for (const [digest, f] of this.failures) if (f.state) this.failures.delete(digest)
  }

  /** The pending transaction with exactly these bytes, by their SHA-256 digest in hex. */
  pendingByDigest(digestHex: string): DecodedTx | undefined {
    return this.byDigest.get(digestHex)
  }

  /** Called after every added transaction (the block producer wakes up on it). */
  onAdded(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

