import { toHex, type Bytes } from '../core/bytes.js'
import { CertchainError, type ErrorCode } from '../core/errors.js'
import { sha256 } from '../core/hash.js'
import { badSignature, type DecodedTx } from '../core/tx.js'
import type { Millis } from '../core/types.js'
import { Pacer, type Ledger } from '../ledger/index.js'
import type { Mempool } from './mempool.js'

export interface Admitted {
  readonly tx: DecodedTx
  readonly id: string
  /** False when the same transaction was already pending (resubmission is harmless). */
  readonly added: boolean
}

/** Refusals that hold on every node whatever its state: the bytes themselves are bad. */
export const INVALID_EVERYWHERE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TX_TOO_LARGE',
  'MALFORMED_ENCODING',
  'NON_CANONICAL_ENCODING',
  'MALFORMED_TX',
  'BAD_SIGNATURE',
  'EMPTY_BATCH',
  'TOO_MANY_RECORDS',
  'INVALID_VALIDITY',
  'INVALID_REASON',
  'NOTE_TOO_LONG',
])

/** Not verdicts on the bytes: a full mempool empties, an expiry too far ahead comes into range as time passes. */
const NOT_REMEMBERED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['MEMPOOL_FULL', 'TX_EXPIRY_TOO_FAR'])

/** An entry past its byte-level checks: decoded, its expiry and signer checked, not pending yet. */
interface Candidate {
  readonly digest: string
  readonly tx: DecodedTx
}

/**
 * Admission: decode, run every ledger rule once against committed state, then queue. The order
 * keeps a forgery cheap: the exact bytes are looked up among recent refusals first, expiry and the
 * signer's key are checked before an issuance's records are hashed, and the signature before
 * anything is read from storage. A refused transaction leaves nothing behind except the
 * remembered refusal (by its bytes; by its id too when it decoded).
 */
export async function admitTx(ledger: Ledger, mempool: Mempool, bytes: Bytes, now: Millis): Promise<Admitted> {
  const screened = screen(ledger, mempool, bytes, now)
  return 'digest' in screened ? await settle(ledger, mempool, screened, now) : screened
}

/**
 * {@link admitTx} of many transactions, with the same checks in the same order and the same
 * answers as admitting them one after the other, but every signature verified in one batch (on
 * worker threads in a node) between the cheap checks of all entries and the state rules of each,
 * which run in entry order. Answers each entry in order: admitted, or the refusal (a
 * CertchainError; anything else is thrown). `onAdmitted` hears each admitted entry as soon as it
 * is, before the next entry's state rules run (a commit wait starts there).
 */
export async function admitBatch(
  ledger: Ledger,
  mempool: Mempool,
  entries: readonly Bytes[],
  now: Millis,
  onAdmitted?: (index: number, admitted: Admitted) => void,
): Promise<(Admitted | CertchainError)[]> {
  const results: (Admitted | CertchainError)[] = []
  const candidates: { index: number; candidate: Candidate }[] = []
  const answer = async (index: number, step: () => Admitted | Candidate | Promise<Admitted>): Promise<Admitted | Candidate | undefined> => {
    try {
      const outcome = await step()
      if (!('digest' in outcome)) {
        results[index] = outcome
        onAdmitted?.(index, outcome)
      }
      return outcome
    } catch (err) {
      if (!(err instanceof CertchainError)) throw err
      results[index] = err
      return undefined
    }
  }
  // Decoding a thousand entries is tens of milliseconds: other requests get turns meanwhile.
  const pacer = new Pacer()
  for (const [index, bytes] of entries.entries()) {
    const outcome = await answer(index, () => screen(ledger, mempool, bytes, now))
    if (outcome && 'digest' in outcome) candidates.push({ index, candidate: outcome })
    await pacer.pause()
  }
  const verdicts = await ledger.verifySignatures(candidates.map((c) => c.candidate.tx))
  for (const [k, { index, candidate }] of candidates.entries()) {
    await answer(index, () => settle(ledger, mempool, candidate, now, verdicts[k]))
  }
  return results
}

/** The checks that need neither the signature nor storage: remembered refusals, pending copies, decoding, expiry and signer. */
function screen(ledger: Ledger, mempool: Mempool, bytes: Bytes, now: Millis): Admitted | Candidate {
  const digest = toHex(sha256(bytes))
  const known = mempool.knownFailure(digest)
  if (known) throw known
  const pending = mempool.pendingByDigest(digest)
  if (pending) return { tx: pending, id: toHex(pending.id), added: false }
  let tx: DecodedTx
  try {
    tx = ledger.decodeTx(bytes, now)
  } catch (err) {
    throw refused(mempool, digest, undefined, err)
  }
  const id = toHex(tx.id)
  if (mempool.has(id)) return { tx, id, added: false }
  return { digest, tx }
}

/**
 * The rest, for a screened transaction: the signature (given by a batch's verdict, else verified
 * now through the ledger's verifier, where the node's pool groups the signatures of transactions
 * arriving together), every state rule, then the mempool. The pending and refusal lookups are
 * asked again: in a batch, an earlier entry may have been admitted or refused with the same id or
 * bytes since this one was screened.
 */
async function settle(ledger: Ledger, mempool: Mempool, { digest, tx }: Candidate, now: Millis, verdict?: boolean): Promise<Admitted> {
  const known = mempool.knownFailure(digest)
  if (known) throw known
  const id = toHex(tx.id)
  if (mempool.has(id)) return { tx, id, added: false }
  try {
    // A second report of an offence is refused before its votes' signatures are verified.
    mempool.checkReport(tx)
    const signature = verdict ?? (await ledger.verifySignatures([tx]))[0]
    if (signature === false) throw badSignature()
    await ledger.checkTx(tx, now)
    return { tx, id, added: mempool.add(tx, digest) === 'added' }
  } catch (err) {
    throw refused(mempool, digest, tx, err)
  }
}

/** Remembers a refusal (what it says about the bytes and the id) and gives it back to be thrown. */
function refused(mempool: Mempool, digest: string, tx: DecodedTx | undefined, err: unknown): unknown {
  if (!(err instanceof CertchainError)) return err
  if (!NOT_REMEMBERED.has(err.code)) mempool.rememberFailure(digest, err, !INVALID_EVERYWHERE.has(err.code))
  // A bad signature says nothing about the transaction with this id (anyone can attach a broken
  // signature to a copy of someone else's), and a full mempool is not a verdict: neither marks the id.
  if (tx && err.code !== 'BAD_SIGNATURE' && err.code !== 'MEMPOOL_FULL') mempool.recordRejection(toHex(tx.id), err)
  return err
}
