/**
 * Helpers for the RPC integration tests: raw HTTP against a running node (no RpcClient, so every
 * status code and body is visible), error-body assertions and transaction builders on top of
 * src/client.
 */
import { randomBytes } from 'node:crypto'
import { expect } from 'vitest'
import {
  prepareIssuance,
  type IssuerIdentity,
  type NewCertificate,
  type PreparedIssuance,
  type SignedTransaction,
} from '../../../src/client/index.js'
import {
  createSigner,
  encodeTx,
  ErrorCodes,
  sha256,
  signedContent,
  signTx,
  toBase64,
  toHex,
  txSignBytes,
  type Bytes,
  type ErrorCode,
  type UnsignedTx,
} from '../../../src/core/index.js'

export const DAY = 24 * 60 * 60 * 1000

export interface HttpResult {
  readonly status: number
  readonly contentType: string
  readonly text: string
  /** Parsed JSON body, or undefined when the body is not JSON (loosely typed: tests probe it field by field). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any
}

async function toResult(response: Response): Promise<HttpResult> {
  const text = await response.text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', text, body }
}

export async function httpGet(url: string, path: string): Promise<HttpResult> {
  return toResult(await fetch(url + path, { signal: AbortSignal.timeout(30_000) }))
}

/** POSTs a JSON value (or a raw string body with the given content type). */
export async function httpPost(
  url: string,
  path: string,
  body: unknown,
  options: { raw?: boolean; contentType?: string } = {},
): Promise<HttpResult> {
  const payload = options.raw ? (body as string | Uint8Array) : JSON.stringify(body)
  return toResult(
    await fetch(url + path, {
      method: 'POST',
      body: payload,
      headers: { 'content-type': options.contentType ?? 'application/json' },
      signal: AbortSignal.timeout(60_000),
    }),
  )
}

export function postTx(url: string, bytes: Bytes, wait?: string): Promise<HttpResult> {
  return httpPost(url, `/v1/txs${wait === undefined ? '' : `?wait=${wait}`}`, { tx: toBase64(bytes) })
}

/** Asserts a stable error answer: the code's HTTP status and a JSON body of exactly {code, message}. */
export function expectError(res: HttpResult, code: ErrorCode, context = ''): void {
  const where = `${context} -> HTTP ${res.status} ${res.text.slice(0, 300)}`
  expect(res.status, where).toBe(ErrorCodes[code])
  expect(res.contentType, where).toMatch(/^application\/json/)
  expect(res.body, where).toEqual({ code, message: expect.any(String) })
  expect((res.body as { message: string }).message.length, where).toBeGreaterThan(0)
}

/**
 * Holds every `?wait=commit` of a node until `release()`, as if no block came (the commits still
 * happen and are answered once released); `restore()` puts the node's own wait back.
 */
export function holdCommitWaits(node: object): { release: () => void; restore: () => void } {
  const backend = node as { waitForCommit: (id: string, ms: number) => Promise<unknown> }
  const original = backend.waitForCommit.bind(node)
  let release!: () => void
  const released = new Promise<void>((r) => (release = r))
  backend.waitForCommit = (id, ms) => {
    const outcome = original(id, ms)
    return released.then(() => outcome)
  }
  return {
    release,
    restore: () => {
      release()
      backend.waitForCommit = original
    },
  }
}

/** Polls until `fn` returns a defined value; fails after `timeoutMs` (a safety net, not an assertion on speed). */
export async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

export const randomDocument = (): Bytes => new Uint8Array(randomBytes(64))
export const randomId = (): string => randomBytes(32).toString('hex')

/** One certificate of `type`, valid from yesterday for 90 days, with a random document. */
export function newCertificate(type: string, document: Bytes = randomDocument()): NewCertificate {
  const now = Date.now()
  return { type, document, validFrom: now - DAY, validUntil: now + 90 * DAY }
}

export function issueOne(chainId: string, identity: IssuerIdentity, type: string, options: { expiresAt?: number; document?: Bytes } = {}): PreparedIssuance {
  return prepareIssuance(chainId, identity, [newCertificate(type, options.document)], options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt })
}

/** Signs any unsigned transaction (including ones the builders would never produce). */
export function signRaw(chainId: string, secretKey: Bytes, unsigned: UnsignedTx): SignedTransaction {
  const signer = createSigner(secretKey)
  const tx = signTx(chainId, unsigned, (message) => signer.sign(message))
  const id = sha256(txSignBytes(chainId, tx.kind, tx.signer, signedContent(tx)))
  return { tx, bytes: encodeTx(tx), id }
}

export const hex = toHex

// ---- a tiny CBOR writer for hand-made non-canonical encodings ------------------------------

/** A CBOR map whose entries are written in exactly this order. */
export class OrderedMap {
  constructor(readonly entries: readonly (readonly [string, CborValue])[]) {}
}
/** A number written as a 64-bit float even when it is an integer. */
export class Float64 {
  constructor(readonly value: number) {}
}
/** A non-negative integer written with a wider head than necessary (8-byte argument). */
export class WideInt {
  constructor(readonly value: number) {}
}
export type CborValue = string | number | Bytes | readonly CborValue[] | OrderedMap | Float64 | WideInt

function head(major: number, n: number, forceWide = false): number[] {
  const m = major << 5
  if (!forceWide) {
    if (n < 24) return [m | n]
    if (n < 0x100) return [m | 24, n]
    if (n < 0x10000) return [m | 25, n >> 8, n & 0xff]
    if (n < 0x100000000) return [m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
  }
  const out = [m | 27]
  const big = BigInt(n)
  for (let i = 7; i >= 0; i--) out.push(Number((big >> BigInt(i * 8)) & 0xffn))
  return out
}

function write(value: CborValue, out: number[]): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new TypeError('only non-negative integers')
    out.push(...head(0, value))
  } else if (typeof value === 'string') {
    const utf8 = Buffer.from(value, 'utf8')
    out.push(...head(3, utf8.length), ...utf8)
  } else if (value instanceof Uint8Array) {
    out.push(...head(2, value.length), ...value)
  } else if (value instanceof OrderedMap) {
    out.push(...head(5, value.entries.length))
    for (const [k, v] of value.entries) {
      write(k, out)
      write(v, out)
    }
  } else if (value instanceof Float64) {
    const b = Buffer.alloc(8)
    b.writeDoubleBE(value.value)
    out.push(0xfb, ...b)
  } else if (value instanceof WideInt) {
    out.push(...head(0, value.value, true))
  } else {
    out.push(...head(4, value.length))
    for (const v of value) write(v, out)
  }
}

export function cbor(value: CborValue): Bytes {
  const out: number[] = []
  write(value, out)
  return new Uint8Array(out)
}

/** DAG-CBOR key order: shorter keys first, then bytewise. */
export function canonicalOrder(keys: readonly string[]): string[] {
  return [...keys].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
}
