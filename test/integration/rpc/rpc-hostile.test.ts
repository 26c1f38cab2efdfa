/**
 * Hostile input over real HTTP: every bad request gets a 4xx JSON `{code, message}` with its
 * stable code, the node stays up after each, and nothing any of them sent is stored (the status
 * after all of them equals the status before).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  prepareIssuance,
  prepareReinstatement,
  prepareRevocation,
  prepareSuspension,
  type IssuerIdentity,
  type PreparedIssuance,
  type SignedTransaction,
} from '../../../src/client/index.js'
import {
  certificateFileToJson,
  encode,
  ErrorCodes,
  generateKeyPair,
  toBase64,
  toHex,
  type ErrorCode,
  type RevocationReason,
  type SignedTx,
} from '../../../src/core/index.js'
import { certificateFiles } from '../../../src/client/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import {
  canonicalOrder,
  cbor,
  DAY,
  expectError,
  Float64,
  httpGet,
  httpPost,
  issueOne,
  newCertificate,
  OrderedMap,
  postTx,
  randomDocument,
  randomId,
  signRaw,
  until,
  type CborValue,
  type HttpResult,
} from './helpers.js'

const BODY_LIMIT = 64 * 1024

let node: TestNode
let url: string
let chainId: string
let jongno: IssuerIdentity
let mois: IssuerIdentity
let land: IssuerIdentity

/** Committed in setup: an active, a revoked and a suspended certificate. */
let active: PreparedIssuance
let revoked: PreparedIssuance
let suspended: PreparedIssuance
let snapshot: Record<string, unknown>
/** Certificate ids of every issuance the node refused; all must still be unknown at the end. */
const refusedCertificates: string[] = []

const STORED_FIELDS = ['chainId', 'height', 'latestBlockHash', 'latestBlockTime', 'stateRoot', 'certificates', 'transactions', 'mempool'] as const

async function storedState(): Promise<Record<string, unknown>> {
  const res = await httpGet(url, '/v1/status')
  expect(res.status).toBe(200)
  return Object.fromEntries(STORED_FIELDS.map((k) => [k, res.body[k]]))
}

async function commit(tx: SignedTransaction): Promise<number> {
  const res = await postTx(url, tx.bytes, 'commit')
  expect(res.status, res.text).toBe(200)
  expect(res.body.status).toBe('committed')
  return res.body.height as number
}

/** A valid transaction nobody has submitted (used as the payload of requests that must be refused before admission). */
function freshTx(): PreparedIssuance {
  const tx = issueOne(chainId, jongno, 'kr.residence')
  refusedCertificates.push(...tx.certificateIds.map(toHex))
  return tx
}

async function expectTxUnknown(id: Uint8Array | string): Promise<void> {
  const hexId = typeof id === 'string' ? id : toHex(id)
  const res = await httpGet(url, `/v1/txs/${hexId}`)
  expect(res.status).toBe(200)
  expect(res.body).toEqual({ id: hexId, status: 'unknown' })
}

beforeAll(async () => {
  node = await startTestNode({ rpc: { bodyLimitBytes: BODY_LIMIT }, heartbeatIntervalMs: 600_000 })
  url = node.url
  chainId = node.manifest.chainId
  ;[jongno, mois, land] = await Promise.all([node.identity('kr.seoul.jongno'), node.identity('kr.mois'), node.identity('kr.seoul.land')])

  active = issueOne(chainId, jongno, 'kr.residence')
  revoked = issueOne(chainId, jongno, 'kr.residence')
  suspended = issueOne(chainId, jongno, 'kr.residence')
  await Promise.all([commit(active), commit(revoked), commit(suspended)])
  await commit(prepareRevocation(chainId, jongno, [revoked.certificateIds[0]!], 'superseded'))
  await commit(prepareSuspension(chainId, jongno, suspended.certificateIds[0]!, 'under_investigation'))
  snapshot = await storedState()
  expect(snapshot.certificates).toBe(3)
  expect(snapshot.transactions).toBe(5)
  expect(snapshot.mempool).toEqual({ txs: 0, bytes: 0 })
})

afterAll(async () => {
  await node?.stop()
})

// The node answers after every hostile request group.
afterEach(async () => {
  const res = await httpGet(url, '/healthz')
  expect(res.status).toBe(200)
  expect(res.body.ok).toBe(true)
})

describe('request bodies', () => {
  it('malformed JSON: 400 MALFORMED_JSON', async () => {
    for (const raw of ['{"tx":', '{tx: "AAAA"}', "{'tx':'AAAA'}", '{"tx":"AAAA"} trailing', '{"tx":"AAAA",}', '\u0000', '']) {
      expectError(await httpPost(url, '/v1/txs', raw, { raw: true }), 'MALFORMED_JSON', JSON.stringify(raw))
    }
    // Prototype poisoning is refused by the JSON parser.
    expectError(await httpPost(url, '/v1/txs', '{"tx":"AAAA","__proto__":{"polluted":1}}', { raw: true }), 'MALFORMED_JSON', '__proto__')
    expectError(
      await httpPost(url, '/v1/txs', '{"tx":"AAAA","constructor":{"prototype":{"polluted":1}}}', { raw: true }),
      'MALFORMED_JSON',
      'constructor.prototype',
    )
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expectError(await httpPost(url, '/v1/certificates/status', '{"ids":[', { raw: true }), 'MALFORMED_JSON', 'status batch')
    expectError(await httpPost(url, '/v1/verify', '{', { raw: true }), 'MALFORMED_JSON', 'verify')
  })

  it('wrong types and missing fields: 400 INVALID_REQUEST', async () => {
    for (const body of [{ tx: 5 }, { tx: null }, { tx: true }, { tx: ['AAAA'] }, { tx: { b64: 'AAAA' } }, { tx: '' }, {}, [], 'AAAA', 42, null]) {
      expectError(await httpPost(url, '/v1/txs', body), 'INVALID_REQUEST', `POST /v1/txs ${JSON.stringify(body)}`)
    }
    for (const body of [{ ids: 'ab' }, { ids: [5] }, { ids: [null] }, {}, { ids: [randomId() + '00'] }, { ids: ['g'.repeat(64)] }]) {
      expectError(await httpPost(url, '/v1/certificates/status', body), 'INVALID_REQUEST', `status ${JSON.stringify(body)}`)
    }
    for (const body of [{ certificate: 'file', document: 'AAAA' }, { certificate: [], document: 'AAAA' }, { certificate: {}, document: 5 }, { document: 'AAAA' }]) {
      expectError(await httpPost(url, '/v1/verify', body), 'INVALID_REQUEST', `verify ${JSON.stringify(body)}`)
    }
    expectError(await httpPost(url, '/v1/verify', { certificate: {}, documentHash: 'ab' }), 'INVALID_REQUEST', 'verify short documentHash')
  })

  it('unknown fields are refused, not dropped: 400 INVALID_REQUEST, and the transaction is not admitted', async () => {
    const tx = freshTx()
    expectError(await httpPost(url, '/v1/txs', { tx: toBase64(tx.bytes), x: 1 }), 'INVALID_REQUEST', 'tx + x')
    expectError(await httpPost(url, '/v1/txs?wait=commit', { tx: toBase64(tx.bytes), wait: 'commit' }), 'INVALID_REQUEST', 'tx + wait in body')
    await expectTxUnknown(tx.id)
    expectError(await httpPost(url, '/v1/certificates/status', { ids: [randomId()], all: true }), 'INVALID_REQUEST', 'status + all')
    expectError(await httpPost(url, '/v1/verify', { certificate: {}, document: 'AAAA', trust: true }), 'INVALID_REQUEST', 'verify + trust')
  })

  it('a body over the limit: 413 BODY_TOO_LARGE (with and without a content-length)', async () => {
    const big = { tx: 'A'.repeat(BODY_LIMIT + 1024) }
    expectError(await httpPost(url, '/v1/txs', big), 'BODY_TOO_LARGE', 'POST /v1/txs over the limit')
    expectError(await httpPost(url, '/v1/txs', { tx: 'A'.repeat(8 * BODY_LIMIT) }), 'BODY_TOO_LARGE', 'POST /v1/txs 8x the limit')
    expectError(await httpPost(url, '/v1/verify', { certificate: {}, document: 'A'.repeat(BODY_LIMIT * 2) }), 'BODY_TOO_LARGE', 'verify')
    expectError(
      await httpPost(url, '/v1/certificates/status', { ids: Array.from({ length: 1000 }, randomId) }),
      'BODY_TOO_LARGE',
      'status batch of 1000 ids (66 KB) over a 64 KiB limit',
    )

    // Chunked upload, no content-length: the limit still holds.
    const chunk = new TextEncoder().encode('A'.repeat(16 * 1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent === 0) controller.enqueue(new TextEncoder().encode('{"tx":"'))
        if (sent >= 8) {
          controller.enqueue(new TextEncoder().encode('"}'))
          controller.close()
          return
        }
        sent++
        controller.enqueue(chunk)
      },
    })
    const response = await fetch(url + '/v1/txs', {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'content-type': 'application/json' },
    })
    const text = await response.text()
    expectError({ status: response.status, contentType: response.headers.get('content-type') ?? '', text, body: JSON.parse(text) }, 'BODY_TOO_LARGE', 'chunked')
  })

  it('other media types: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    for (const contentType of ['application/octet-stream', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'application/cbor']) {
      expectError(
        await httpPost(url, '/v1/txs', '{"tx":"AAAA"}', { raw: true, contentType }),
        'UNSUPPORTED_MEDIA_TYPE',
        `POST /v1/txs as ${contentType}`,
      )
    }
  })

  // Fails today: fastify's built-in text/plain parser is still registered, so the string body
  // reaches schema validation and is answered 400 INVALID_REQUEST instead of 415.
  it('text/plain: 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    const tx = freshTx()
    expectError(
      await httpPost(url, '/v1/txs', JSON.stringify({ tx: toBase64(tx.bytes) }), { raw: true, contentType: 'text/plain' }),
      'UNSUPPORTED_MEDIA_TYPE',
      'POST /v1/txs as text/plain',
    )
    expectError(
      await httpPost(url, '/v1/certificates/status', JSON.stringify({ ids: [randomId()] }), { raw: true, contentType: 'text/plain; charset=utf-8' }),
      'UNSUPPORTED_MEDIA_TYPE',
      'POST /v1/certificates/status as text/plain',
    )
    await expectTxUnknown(tx.id)
  })
})

describe('routes, parameters and query strings', () => {
  it('unknown routes and methods: 404 NOT_FOUND', async () => {
    const cases: [string, string][] = [
      ['GET', '/index.html'],
      ['GET', '/v1'],
      ['GET', '/v1/nope'],
      ['GET', '/v2/status'],
      ['GET', '/v1/txs'],
      ['POST', '/v1/status'],
      ['DELETE', `/v1/txs/${randomId()}`],
      ['PUT', '/v1/txs'],
      ['GET', '/v1/certificates'],
      ['GET', '/../../etc/passwd'],
      ['GET', '/v1/status/../../x'],
    ]
    for (const [method, path] of cases) {
      const response = await fetch(url + path, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{}', headers: { 'content-type': 'application/json' } }) })
      const text = await response.text()
      const res: HttpResult = { status: response.status, contentType: response.headers.get('content-type') ?? '', text, body: JSON.parse(text) }
      expectError(res, 'NOT_FOUND', `${method} ${path}`)
    }
  })

  it('ids that are not 64 hex characters: 400 INVALID_REQUEST', async () => {
    const id = randomId()
    for (const bad of ['xyz', id.slice(0, 63), id + '0', 'g'.repeat(64), `${id.slice(0, 62)}%20`, '0x' + id.slice(2)]) {
      expectError(await httpGet(url, `/v1/txs/${bad}`), 'INVALID_REQUEST', `/v1/txs/${bad}`)
      expectError(await httpGet(url, `/v1/certificates/${bad}`), 'INVALID_REQUEST', `/v1/certificates/${bad}`)
    }
    for (const bad of ['abc', '-1', '1.5', '1e3', '1234567890123456', '0x10']) {
      expectError(await httpGet(url, `/v1/blocks/${bad}`), 'INVALID_REQUEST', `/v1/blocks/${bad}`)
    }
  })

  it('bad ?wait= values and unknown query parameters: 400 INVALID_REQUEST, and the transaction is not admitted', async () => {
    const tx = freshTx()
    for (const query of ['wait=yes', 'wait=', 'wait=COMMIT', 'wait=commit&wait=commit', 'wait=true', 'timeout=1', 'wait=commit&x=1']) {
      expectError(await httpPost(url, `/v1/txs?${query}`, { tx: toBase64(tx.bytes) }), 'INVALID_REQUEST', `?${query}`)
    }
    await expectTxUnknown(tx.id)
  })
})

/** Re-encodes a signed transaction with this CBOR writer: maps in the given key order. */
function txAsCbor(tx: SignedTx, order: (keys: readonly string[]) => string[], expiresAt: (n: number) => CborValue = (n) => n): Uint8Array {
  if (tx.kind !== 'IssueCertificates') throw new TypeError('issuance only')
  const map = (obj: Record<string, CborValue>): OrderedMap => new OrderedMap(order(Object.keys(obj)).map((k) => [k, obj[k]!] as const))
  const records = tx.body.records.map((r) =>
    map({ type: r.type, issuer: r.issuer, docHash: r.docHash, validFrom: r.validFrom, validUntil: r.validUntil }),
  )
  return cbor(
    map({
      kind: tx.kind,
      signer: tx.signer,
      key: tx.key,
      sig: tx.sig,
      body: map({ records, expiresAt: expiresAt(tx.body.expiresAt) }),
    }),
  )
}

describe('transaction bytes', () => {
  it('bad base64: 400 INVALID_BASE64', async () => {
    for (const tx of ['!!!!', 'a-_b', 'AAAAA', 'AA=A', 'AA AA', '====', '=', 'AAAA\n', 'ÄÄÄÄ']) {
      expectError(await httpPost(url, '/v1/txs', { tx }), 'INVALID_BASE64', JSON.stringify(tx))
    }
    const file = certificateFileToJson(certificateFiles(chainId, active, 1)[0]!)
    expectError(await httpPost(url, '/v1/verify', { certificate: file, document: '!!not base64!!' }), 'INVALID_BASE64', 'verify document')
  })

  it('garbage bytes: 400 MALFORMED_ENCODING', async () => {
    for (const bytes of [Buffer.from('hello world'), Buffer.from([0xff]), Buffer.from([0x1c]), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(64, 0xa5)]) {
      expectError(await postTx(url, bytes), 'MALFORMED_ENCODING', `garbage ${bytes.toString('hex').slice(0, 20)}`)
    }
  })

  it('valid CBOR of the wrong shape: 400 MALFORMED_TX', async () => {
    const tx = freshTx()
    const cases: [string, Uint8Array][] = [
      ['integer 0', Uint8Array.of(0)],
      ['empty map', encode({})],
      ['a list', encode([1, 2, 3])],
      ['extra field', encode({ ...tx.tx, extra: 1 })],
      ['unknown kind', encode({ ...tx.tx, kind: 'MintCoins' })],
      ['short sig', encode({ ...tx.tx, sig: tx.tx.sig.slice(0, 63) })],
      ['missing body', encode({ kind: tx.tx.kind, signer: tx.tx.signer, key: tx.tx.key, sig: tx.tx.sig })],
    ]
    for (const [what, bytes] of cases) expectError(await postTx(url, bytes), 'MALFORMED_TX', what)
    await expectTxUnknown(tx.id)
  })

  it('a truncated valid transaction: 400 MALFORMED_ENCODING', async () => {
    const tx = freshTx()
    for (const n of [1, 2, 10, Math.floor(tx.bytes.length / 2), tx.bytes.length - 1]) {
      expectError(await postTx(url, tx.bytes.slice(0, n)), 'MALFORMED_ENCODING', `first ${n} of ${tx.bytes.length} bytes`)
    }
    // Trailing bytes after a complete transaction
    expectError(await postTx(url, Uint8Array.from([...tx.bytes, 0])), 'MALFORMED_ENCODING', 'trailing byte')
    expectError(await postTx(url, Uint8Array.from([...tx.bytes, ...tx.bytes])), 'MALFORMED_ENCODING', 'twice')
    await expectTxUnknown(tx.id)
  })

  it('non-canonical re-encodings of a valid transaction: 400 NON_CANONICAL_ENCODING', async () => {
    const tx = freshTx()
    // Precondition: this writer reproduces the canonical bytes exactly when keys are in DAG-CBOR order.
    expect(toHex(txAsCbor(tx.tx, canonicalOrder))).toBe(toHex(tx.bytes))

    const reversed = txAsCbor(tx.tx, (keys) => canonicalOrder(keys).reverse())
    expectError(await postTx(url, reversed), 'NON_CANONICAL_ENCODING', 'map keys in reverse order')
    const alphabetical = txAsCbor(tx.tx, (keys) => [...keys].sort())
    expectError(await postTx(url, alphabetical), 'NON_CANONICAL_ENCODING', 'map keys sorted bytewise, not length-first')
    const floatExpiry = txAsCbor(tx.tx, canonicalOrder, (n) => new Float64(n))
    expectError(await postTx(url, floatExpiry), 'NON_CANONICAL_ENCODING', 'expiresAt as a 64-bit float')
    await expectTxUnknown(tx.id)
  })

  it('a non-minimal integer (the map length) is refused by the strict decoder: 400 MALFORMED_ENCODING', async () => {
    // DAG-CBOR strict mode refuses these while decoding (pinned in test/unit/core/encoding.test.ts),
    // so they never reach the re-encoding comparison that answers NON_CANONICAL_ENCODING.
    const tx = freshTx()
    expect(tx.bytes[0]).toBe(0xa5) // map of 5
    const wide = Uint8Array.from([0xb8, 0x05, ...tx.bytes.slice(1)]) // map, 1-byte length argument 5
    expectError(await postTx(url, wide), 'MALFORMED_ENCODING', 'map length 5 in a 1-byte argument')
    await expectTxUnknown(tx.id)
  })

  it('a flipped signature byte, another chain, another key: 400 BAD_SIGNATURE', async () => {
    // Not freshTx(): the genuine transaction is accepted at the end, so its certificate is not a refused one.
    const tx = issueOne(chainId, jongno, 'kr.residence')
    for (const i of [0, 31, 63]) {
      const sig = Uint8Array.from(tx.tx.sig)
      sig[i]! ^= 0x01
      const res = await postTx(url, encode({ ...tx.tx, sig }))
      expectError(res, 'BAD_SIGNATURE', `signature byte ${i} flipped`)
    }
    // ...but not remembered under the transaction id: a broken copy says nothing about the genuine one.
    const get = await httpGet(url, `/v1/txs/${toHex(tx.id)}`)
    expect(get.body).toMatchObject({ status: 'unknown' })
    // The genuine transaction is still accepted afterwards. It is the only one this file stores
    // after setup: the block that commits it holds nothing else, and the snapshot moves past it.
    const before = await storedState()
    expect(before).toEqual(snapshot)
    expect((await postTx(url, tx.bytes)).status).toBe(202)
    await until(async () => ((await httpGet(url, `/v1/txs/${toHex(tx.id)}`)).body.status === 'committed' ? true : undefined), 'the genuine transaction to commit')
    const after = await storedState()
    expect(after).toMatchObject({
      height: (before.height as number) + 1,
      certificates: (before.certificates as number) + 1,
      transactions: (before.transactions as number) + 1,
      mempool: { txs: 0, bytes: 0 },
    })
    snapshot = after

    const otherChain = prepareIssuance('certchain-other', jongno, [newCertificate('kr.residence')])
    refusedCertificates.push(...otherChain.certificateIds.map(toHex))
    expectError(await postTx(url, otherChain.bytes), 'BAD_SIGNATURE', 'signed for another chain id')

    // Signed by kr.mois's key but carrying Jongno's registered public key.
    const forged = signRaw(chainId, mois.key.secretKey, { ...freshTx().tx, key: jongno.key.publicKey })
    expectError(await postTx(url, forged.bytes), 'BAD_SIGNATURE', 'signed with another key')
  })
})

interface RuleCase {
  readonly code: ErrorCode
  readonly what: string
  readonly tx: () => SignedTransaction
  /**
   * Refused after its id was computed, so GET /v1/txs/:id reports it. Decode-time refusals, and
   * expiry and signer checks (made before an issuance's records are hashed), leave nothing by id.
   */
  readonly remembered: boolean
}

function issuance(identity: IssuerIdentity, type: string, options: { expiresAt?: number } = {}): PreparedIssuance {
  const tx = issueOne(chainId, identity, type, options)
  refusedCertificates.push(...tx.certificateIds.map(toHex))
  return tx
}

describe('ledger rules through the RPC', () => {
  const now = Date.now()
  const cases: RuleCase[] = [
    { code: 'UNKNOWN_CERT_TYPE', what: 'a type not in genesis', remembered: true, tx: () => issuance(mois, 'kr.passport') },
    { code: 'ISSUER_NOT_AUTHORIZED_FOR_TYPE', what: 'kr.seoul.land issuing kr.residence', remembered: true, tx: () => issuance(land, 'kr.residence') },
    { code: 'TX_EXPIRED', what: 'expiresAt a minute ago', remembered: false, tx: () => issuance(jongno, 'kr.residence', { expiresAt: now - 60_000 }) },
    { code: 'TX_EXPIRY_TOO_FAR', what: 'expiresAt in two hours', remembered: false, tx: () => issuance(jongno, 'kr.residence', { expiresAt: Date.now() + 2 * 3600_000 }) },
    {
      code: 'DUPLICATE_CERTIFICATE',
      what: 'a new transaction re-issuing a committed record',
      remembered: true,
      tx: () =>
        signRaw(chainId, jongno.key.secretKey, {
          kind: 'IssueCertificates',
          signer: 'kr.seoul.jongno',
          key: jongno.key.publicKey,
          body: { records: active.records, expiresAt: Date.now() + 5 * 60_000 },
        }),
    },
    { code: 'NOT_AUTHORIZED', what: 'kr.seoul.land revoking a Jongno residence certificate', remembered: true, tx: () => prepareRevocation(chainId, land, [active.certificateIds[0]!], 'fraud') },
    { code: 'NOT_AUTHORIZED', what: 'kr.seoul.land suspending it', remembered: true, tx: () => prepareSuspension(chainId, land, active.certificateIds[0]!, 'court_order') },
    { code: 'UNKNOWN_CERTIFICATE', what: 'revoking an id not on chain', remembered: true, tx: () => prepareRevocation(chainId, jongno, [Buffer.from(randomId(), 'hex')], 'other') },
    { code: 'UNKNOWN_CERTIFICATE', what: 'reinstating an id not on chain', remembered: true, tx: () => prepareReinstatement(chainId, jongno, Buffer.from(randomId(), 'hex')) },
    {
      code: 'UNKNOWN_ISSUER',
      what: 'a signer not in genesis',
      remembered: false,
      tx: () => {
        const key = generateKeyPair()
        return prepareIssuance(chainId, { issuer: 'kr.nobody', key }, [newCertificate('kr.residence')])
      },
    },
    {
      code: 'ISSUER_KEY_MISMATCH',
      what: 'kr.mois signing with its own key but claiming Jongno',
      remembered: false,
      tx: () => prepareRevocation(chainId, { issuer: 'kr.seoul.jongno', key: mois.key }, [active.certificateIds[0]!], 'other'),
    },
    {
      code: 'RECORD_ISSUER_MISMATCH',
      what: 'Jongno signing a record that names kr.mois as issuer',
      remembered: true,
      tx: () =>
        signRaw(chainId, jongno.key.secretKey, {
          kind: 'IssueCertificates',
          signer: 'kr.seoul.jongno',
          key: jongno.key.publicKey,
          body: { records: [{ ...issuance(jongno, 'kr.residence').records[0]!, issuer: 'kr.mois' }], expiresAt: Date.now() + 60_000 },
        }),
    },
    { code: 'ALREADY_REVOKED', what: 'revoking a revoked certificate', remembered: true, tx: () => prepareRevocation(chainId, jongno, [revoked.certificateIds[0]!], 'other') },
    { code: 'ALREADY_REVOKED', what: 'reinstating a revoked certificate', remembered: true, tx: () => prepareReinstatement(chainId, mois, revoked.certificateIds[0]!) },
    { code: 'ALREADY_SUSPENDED', what: 'suspending a suspended certificate', remembered: true, tx: () => prepareSuspension(chainId, mois, suspended.certificateIds[0]!, 'other') },
    { code: 'NOT_SUSPENDED', what: 'reinstating an active certificate', remembered: true, tx: () => prepareReinstatement(chainId, jongno, active.certificateIds[0]!) },
    {
      code: 'MALFORMED_TX',
      what: 'revoking the same id twice in one transaction',
      remembered: true,
      tx: () => prepareRevocation(chainId, jongno, [active.certificateIds[0]!, active.certificateIds[0]!], 'other'),
    },
    {
      code: 'INVALID_VALIDITY',
      what: 'validUntil before validFrom',
      remembered: false,
      tx: () => {
        const t = Date.now()
        return prepareIssuance(chainId, jongno, [{ type: 'kr.residence', document: randomDocument(), validFrom: t, validUntil: t - DAY }])
      },
    },
    {
      code: 'EMPTY_BATCH',
      what: 'an issuance of no records',
      remembered: false,
      tx: () => signRaw(chainId, jongno.key.secretKey, { kind: 'IssueCertificates', signer: 'kr.seoul.jongno', key: jongno.key.publicKey, body: { records: [], expiresAt: Date.now() + 60_000 } }),
    },
    {
      code: 'INVALID_REASON',
      what: 'a revocation reason outside the list',
      remembered: false,
      tx: () => prepareRevocation(chainId, jongno, [active.certificateIds[0]!], 'because' as RevocationReason),
    },
    { code: 'NOTE_TOO_LONG', what: 'a 281-character note', remembered: false, tx: () => prepareRevocation(chainId, jongno, [active.certificateIds[0]!], 'other', { note: 'x'.repeat(281) }) },
  ]

  for (const c of cases) {
    it(`${c.code} (${ErrorCodes[c.code]}): ${c.what}`, async () => {
      const tx = c.tx()
      const res = await postTx(url, tx.bytes)
      expectError(res, c.code, c.what)
      const get = await httpGet(url, `/v1/txs/${toHex(tx.id)}`)
      expect(get.status).toBe(200)
      if (c.remembered) expect(get.body).toEqual({ id: toHex(tx.id), status: 'rejected', code: c.code, message: res.body.message })
      else expect(get.body).toEqual({ id: toHex(tx.id), status: 'unknown' })
      // ?wait=commit gets the same refusal at once instead of waiting.
      expectError(await postTx(url, tx.bytes, 'commit'), c.code, `${c.what} (wait=commit)`)
    })
  }

  it('DUPLICATE_TX (409): resubmitting a committed transaction, with and without wait', async () => {
    for (const wait of [undefined, 'commit', 'none']) {
      expectError(await postTx(url, active.bytes, wait), 'DUPLICATE_TX', `resubmit committed, wait=${wait}`)
    }
    // It stays committed.
    const get = await httpGet(url, `/v1/txs/${toHex(active.id)}`)
    expect(get.body).toMatchObject({ status: 'committed' })
  })
})

describe('after every refused request', () => {
  it('nothing was stored: status, certificates and mempool are unchanged', async () => {
    expect(await storedState()).toEqual(snapshot)
    expect(refusedCertificates.length).toBeGreaterThan(10)
    const res = await httpPost(url, '/v1/certificates/status', { ids: refusedCertificates })
    expect(res.status, res.text).toBe(200)
    const statuses = new Set(res.body.results.map((r: { status: string }) => r.status))
    expect([...statuses]).toEqual(['unknown'])
    // The three setup certificates are exactly as setup left them.
    const known = await httpPost(url, '/v1/certificates/status', { ids: [active, revoked, suspended].map((t) => toHex(t.certificateIds[0]!)) })
    expect(known.body.results.map((r: { status: string }) => r.status)).toEqual(['valid', 'revoked', 'suspended'])
  })

  it('refusals are counted by code in /metrics', async () => {
    const metrics = await httpGet(url, '/metrics')
    for (const code of ['NOT_AUTHORIZED', 'DUPLICATE_TX', 'BAD_SIGNATURE', 'UNKNOWN_CERT_TYPE']) {
      expect(metrics.text, code).toMatch(new RegExp(`^certchain_tx_rejected_total\\{code="${code}"\\} [1-9]`, 'm'))
    }
  })
})
