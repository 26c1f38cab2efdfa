import { randomBytes } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { Level } from 'level'
import type { Bytes } from '../core/bytes.js'
import { encode, pruneUndefined } from '../core/encoding.js'
import { CertchainError } from '../core/errors.js'
import {
  DEFAULT_REQUEST_TTL_SECONDS,
  MAX_REQUEST_TTL_SECONDS,
  NONCE_BYTES,
  type Audience,
  type NonceStore,
  type PresentationRequest,
} from './presentation.js'

/**
 * Keys (first byte is the bucket; never renumber):
 *   REQUEST  nonce (32 bytes)                     -> encoded {request, used}
 *   EXPIRY   expiresAt (u64 BE) + nonce            -> empty; to forget expired requests oldest first
 */
const REQUEST = 1
const EXPIRY = 2

/** Expired requests are kept this long, so a late answer reads "expired" rather than "unknown". */
const EXPIRED_KEPT_MS = 60 * 60 * 1000

export interface RequestOptions {
  readonly types?: readonly string[]
  readonly purpose?: string
  readonly ttlSeconds?: number
}

function u64(n: number): Bytes {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

const requestKey = (nonce: Bytes): Bytes => Buffer.concat([Uint8Array.of(REQUEST), nonce])
const expiryKey = (expiresAt: number, nonce: Bytes): Bytes => Buffer.concat([Uint8Array.of(EXPIRY), u64(expiresAt), nonce])

/**
 * The presentation requests this verifier issued, in their own LevelDB (node-local, not chain
 * state). Every write is fsynced: a restart neither forgets an outstanding nonce nor makes a used
 * one usable again. Outstanding requests are capped, so issuing requests cannot grow the store
 * without bound.
 */
export class PresentationRequests implements NonceStore {
  /** Nonces being marked used right now: two answers to one request cannot both win. */
  private readonly claiming = new Set<string>()

  private constructor(
    private readonly db: Level<Bytes, Bytes>,
    private readonly maxOutstanding: number,
    private outstanding: number,
  ) {}

  static async open(dir: string, maxOutstanding: number): Promise<PresentationRequests> {
    const db = new Level<Bytes, Bytes>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      throw new CertchainError('INTERNAL', `cannot open the presentation request store ${dir}: ${(err as Error).message}`, { cause: err })
    }
    let count = 0
    for await (const _ of db.keys({ gte: Uint8Array.of(REQUEST), lt: Uint8Array.of(REQUEST + 1) })) count++
    return new PresentationRequests(db, maxOutstanding, count)
  }

  async create(chainId: string, audience: Audience, options: RequestOptions, now: number): Promise<PresentationRequest> {
    const ttl = options.ttlSeconds ?? DEFAULT_REQUEST_TTL_SECONDS
    if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_REQUEST_TTL_SECONDS) {
      throw new CertchainError('INVALID_REQUEST', `ttlSeconds must be 1..${MAX_REQUEST_TTL_SECONDS}`)
    }
    await this.forgetExpired(now)
    if (this.outstanding >= this.maxOutstanding) {
      throw new CertchainError('TOO_MANY_REQUESTS', `${this.maxOutstanding} presentation requests are outstanding; try again when some expire`)
    }
    const request: PresentationRequest = {
      chainId,
      audience,
      nonce: new Uint8Array(randomBytes(NONCE_BYTES)),
      createdAt: now,
      expiresAt: now + ttl * 1000,
      ...(options.types && options.types.length > 0 ? { types: [...options.types] } : {}),
      ...(options.purpose ? { purpose: options.purpose } : {}),
    }
    await this.db.batch(
      [
        { type: 'put', key: requestKey(request.nonce), value: encode(pruneUndefined({ request, used: false })) },
        { type: 'put', key: expiryKey(request.expiresAt, request.nonce), value: new Uint8Array(0) },
      ],
      { sync: true },
    )
    this.outstanding++
    return request
  }

  async lookup(nonce: Bytes): Promise<{ request: PresentationRequest; used: boolean } | undefined> {
    if (nonce.length !== NONCE_BYTES) return undefined
    const bytes = await this.db.get(requestKey(nonce))
    return bytes === undefined ? undefined : dagCbor.decode<{ request: PresentationRequest; used: boolean }>(bytes)
  }

  async markUsed(nonce: Bytes): Promise<boolean> {
    const id = Buffer.from(nonce).toString('hex')
    if (this.claiming.has(id)) return false
    this.claiming.add(id)
    try {
      const entry = await this.lookup(nonce)
      if (!entry || entry.used) return false
      await this.db.put(requestKey(nonce), encode(pruneUndefined({ request: entry.request, used: true })), { sync: true })
      return true
    } finally {
      this.claiming.delete(id)
    }
  }

  get size(): number {
    return this.outstanding
  }

  close(): Promise<void> {
    return this.db.close()
  }

  /** Deletes requests expired more than an hour ago, oldest first, a bounded number per call. */
  private async forgetExpired(now: number): Promise<void> {
    const ops: { type: 'del'; key: Bytes }[] = []
    for await (const key of this.db.keys({ gte: Uint8Array.of(EXPIRY), lt: expiryKey(Math.max(0, now - EXPIRED_KEPT_MS), new Uint8Array(0)), limit: 1000 })) {
      ops.push({ type: 'del', key }, { type: 'del', key: requestKey(key.subarray(9)) })
    }
    if (ops.length === 0) return
    await this.db.batch(ops, { sync: true })
    this.outstanding -= ops.length / 2
  }
}
