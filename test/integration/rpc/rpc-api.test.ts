/**
 * The HTTP API of a running node, from outside, over real HTTP: every endpoint's happy path and
 * the documented answers for unknown ids, with the exact stable error codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  certificateFiles,
  prepareReinstatement,
  prepareRevocation,
  prepareSuspension,
  type IssuerIdentity,
  type PreparedIssuance,
} from '../../../src/client/index.js'
import { verifyCommit, voteSignBytes } from '../../../src/consensus/index.js'
import { certificateFileToJson, documentHash, fromHex, toBase64, toHex, verify, type CertificateFileJson } from '../../../src/core/index.js'
import { MAX_STATUS_BATCH, type TxStatus, type VerifyResponse } from '../../../src/rpc/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { expectError, httpGet, httpPost, issueOne, postTx, randomDocument, randomId, until, type HttpResult } from './helpers.js'

const HEX64 = /^[0-9a-f]{64}$/
const CHECK_NAMES = ['chain', 'certificate_id', 'document_hash', 'issuer_signature', 'on_chain', 'issuer_authorized', 'status', 'validity_period']

let node: TestNode
let url: string
let chainId: string
let jongno: IssuerIdentity
let mois: IssuerIdentity
let land: IssuerIdentity

beforeAll(async () => {
  node = await startTestNode({ heartbeatIntervalMs: 600_000 })
  url = node.url
  chainId = node.manifest.chainId
  ;[jongno, mois, land] = await Promise.all([node.identity('kr.seoul.jongno'), node.identity('kr.mois'), node.identity('kr.seoul.land')])
})

afterAll(async () => {
  await node?.stop()
})

/** Submits with ?wait=commit and returns the committed height (fails on anything else). */
async function commit(bytes: Uint8Array): Promise<{ height: number; index: number; id: string }> {
  const res = await postTx(url, bytes, 'commit')
  expect(res.status, res.text).toBe(200)
  expect(res.body).toEqual({ id: expect.stringMatching(HEX64), status: 'committed', height: expect.any(Number), index: expect.any(Number) })
  return res.body as { height: number; index: number; id: string }
}

async function issueCommitted(identity: IssuerIdentity, type = 'kr.residence', document = randomDocument()) {
  const issuance = issueOne(chainId, identity, type, { document })
  const { height, index } = await commit(issuance.bytes)
  return { issuance, height, index, document, id: toHex(issuance.certificateIds[0]!) }
}

const certificate = (id: string): Promise<HttpResult> => httpGet(url, `/v1/certificates/${id}`)

describe('GET /v1/status', () => {
  it('reports the chain, the node and its role', async () => {
    const res = await httpGet(url, '/v1/status')
    expect(res.status).toBe(200)
    expect(res.contentType).toMatch(/^application\/json/)
    const s = res.body
    expect(s.chainId).toBe('certchain-test')
    expect(s.chainId).toBe(chainId)
    // the hash operators compare with the coordinator's (genesis ceremony)
    expect(s.genesisHash).toBe(node.manifest.genesisHash)
    expect(s.nodeId).toBe(node.manifest.nodes[0]!.peerId)
    expect(s.nodeId).toMatch(/^12D3KooW/)
    expect(Number.isSafeInteger(s.height) && s.height >= 0).toBe(true)
    expect(s.latestBlockHash).toMatch(HEX64)
    expect(Number.isNaN(Date.parse(s.latestBlockTime))).toBe(false)
    expect(new Date(s.latestBlockTime).toISOString()).toBe(s.latestBlockTime)
    expect(s.stateRoot).toMatch(HEX64)
    expect(s.catchingUp).toBe(false)
    expect(s.validator).toBe(true)
    expect(typeof s.validatorId).toBe('string')
    expect(s.peers).toBe(0)
    expect(s.mempool).toEqual({ txs: expect.any(Number), bytes: expect.any(Number) })
    expect(typeof s.certificates).toBe('number')
    expect(typeof s.transactions).toBe('number')
  })
})

describe('POST /v1/txs and GET /v1/txs/:id', () => {
  it('without wait: 202 pending, then committed with a height', async () => {
    const before = (await httpGet(url, '/v1/status')).body
    const issuance = issueOne(chainId, jongno, 'kr.residence')
    const id = toHex(issuance.id)
    const res = await postTx(url, issuance.bytes)
    expect(res.status, res.text).toBe(202)
    expect(res.body).toEqual({ id, status: 'pending' })

    const first = await httpGet(url, `/v1/txs/${id}`)
    expect(first.status).toBe(200)
    expect(['pending', 'committed']).toContain(first.body.status)

    const committed = await until(async () => {
      const r = await httpGet(url, `/v1/txs/${id}`)
      return r.body.status === 'committed' ? (r.body as Extract<TxStatus, { status: 'committed' }>) : undefined
    }, 'the transaction to commit')
    expect(committed).toEqual({ id, status: 'committed', height: expect.any(Number), index: expect.any(Number) })
    expect(committed.height).toBeGreaterThan(before.height)

    // The block at that height carries it at that index.
    const block = await httpGet(url, `/v1/blocks/${committed.height}`)
    expect(block.status).toBe(200)
    expect(block.body.txs[committed.index].id).toBe(id)

    const after = (await httpGet(url, '/v1/status')).body
    expect(after.transactions).toBe(before.transactions + 1)
    expect(after.certificates).toBe(before.certificates + 1)
  })

  it('?wait=commit: 200 committed with height and index, and GET agrees', async () => {
    const issuance = issueOne(chainId, jongno, 'kr.residence')
    const id = toHex(issuance.id)
    const res = await postTx(url, issuance.bytes, 'commit')
    expect(res.status, res.text).toBe(200)
    expect(res.body).toEqual({ id, status: 'committed', height: expect.any(Number), index: expect.any(Number) })
    expect(res.body.height).toBeGreaterThan(0)

    const get = await httpGet(url, `/v1/txs/${id}`)
    expect(get.status).toBe(200)
    expect(get.body).toEqual(res.body)
    // Upper-case ids are accepted and answered in lower case.
    const upper = await httpGet(url, `/v1/txs/${id.toUpperCase()}`)
    expect(upper.body).toEqual(res.body)
  })

  it('?wait=none behaves like no wait', async () => {
    const issuance = issueOne(chainId, jongno, 'kr.residence')
    const res = await postTx(url, issuance.bytes, 'none')
    expect(res.status, res.text).toBe(202)
    expect(res.body).toEqual({ id: toHex(issuance.id), status: 'pending' })
  })

  it('an unknown transaction id has status unknown', async () => {
    const id = randomId()
    const res = await httpGet(url, `/v1/txs/${id}`)
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ id, status: 'unknown' })
  })

  it('a refused transaction answers with its code, and GET then reports it rejected with that code', async () => {
    const { issuance } = await issueCommitted(jongno)
    // kr.seoul.land neither issued it nor is an authority for kr.residence.
    const revoke = prepareRevocation(chainId, land, [issuance.certificateIds[0]!], 'fraud')
    const res = await postTx(url, revoke.bytes)
    expectError(res, 'NOT_AUTHORIZED', 'revoke by the wrong issuer')
    expect(res.status).toBe(403)

    const get = await httpGet(url, `/v1/txs/${toHex(revoke.id)}`)
    expect(get.status).toBe(200)
    expect(get.body).toEqual({ id: toHex(revoke.id), status: 'rejected', code: 'NOT_AUTHORIZED', message: res.body.message })

    // And with ?wait=commit the same refusal comes back at once.
    const again = prepareRevocation(chainId, land, [issuance.certificateIds[0]!], 'other')
    expectError(await postTx(url, again.bytes, 'commit'), 'NOT_AUTHORIZED', 'revoke by the wrong issuer, wait=commit')
    // The certificate is untouched.
    expect((await certificate(toHex(issuance.certificateIds[0]!))).body.status).toBe('valid')
  })
})

describe('GET /v1/certificates/:id', () => {
  it('valid, then revoked with the status change, and 404 for an unknown id', async () => {
    const { issuance, height, id } = await issueCommitted(jongno)
    const res = await certificate(id)
    expect(res.status).toBe(200)
    const record = issuance.records[0]!
    expect(res.body).toEqual({
      id,
      status: 'valid',
      type: 'kr.residence',
      typeName: 'Resident registration certificate (full copy)',
      issuer: 'kr.seoul.jongno',
      issuerName: 'Jongno-gu Office, Seoul (서울특별시 종로구청)',
      documentHash: toHex(record.docHash),
      holder: null,
      validFrom: new Date(record.validFrom).toISOString(),
      validUntil: new Date(record.validUntil).toISOString(),
      issued: { height, time: expect.any(String), txId: toHex(issuance.id), key: toHex(jongno.key.publicKey) },
      statusChange: null,
    })
    // Upper-case id works too.
    expect((await certificate(id.toUpperCase())).body.id).toBe(id)

    // kr.mois is the genesis authority for kr.residence: it may revoke what Jongno issued.
    const revoke = prepareRevocation(chainId, mois, [issuance.certificateIds[0]!], 'court_order', { note: 'order 2026-123' })
    const revoked = await commit(revoke.bytes)
    const after = await certificate(id)
    expect(after.status).toBe(200)
    expect(after.body.status).toBe('revoked')
    expect(after.body.statusChange).toEqual({
      state: 'revoked',
      height: revoked.height,
      time: expect.any(String),
      by: 'kr.mois',
      key: toHex(mois.key.publicKey),
      reason: 'court_order',
      note: 'order 2026-123',
    })
    expect(after.body.issued.height).toBe(height)

    const unknown = randomId()
    const missing = await certificate(unknown)
    expectError(missing, 'CERTIFICATE_NOT_FOUND', 'unknown certificate')
    expect(missing.body.message).toContain(unknown)
  })

  it('suspended, then reinstated', async () => {
    const { issuance, id } = await issueCommitted(jongno)
    const suspend = prepareSuspension(chainId, jongno, issuance.certificateIds[0]!, 'under_investigation', { note: 'case 7' })
    const suspended = await commit(suspend.bytes)
    const s = await certificate(id)
    expect(s.body.status).toBe('suspended')
    expect(s.body.statusChange).toEqual({
      state: 'suspended',
      height: suspended.height,
      time: expect.any(String),
      by: 'kr.seoul.jongno',
      key: toHex(jongno.key.publicKey),
      reason: 'under_investigation',
      note: 'case 7',
    })

    const reinstate = prepareReinstatement(chainId, mois, issuance.certificateIds[0]!)
    const reinstated = await commit(reinstate.bytes)
    const r = await certificate(id)
    expect(r.body.status).toBe('valid')
    expect(r.body.statusChange).toEqual({
      state: 'active',
      height: reinstated.height,
      time: expect.any(String),
      by: 'kr.mois',
      key: toHex(mois.key.publicKey),
      reason: null,
      note: null,
    })
  })
})

describe('POST /v1/certificates/status', () => {
  it('answers known and unknown ids in request order', async () => {
    const a = await issueCommitted(jongno)
    const b = await issueCommitted(land, 'kr.land')
    const c = await issueCommitted(mois)
    await commit(prepareRevocation(chainId, mois, [c.issuance.certificateIds[0]!], 'issued_in_error').bytes)
    const unknown = randomId()
    const ids = [a.id, unknown, b.id.toUpperCase(), c.id]
    const res = await httpPost(url, '/v1/certificates/status', { ids })
    expect(res.status, res.text).toBe(200)
    const status = (await httpGet(url, '/v1/status')).body
    expect(res.body).toEqual({
      height: status.height,
      results: [
        { id: a.id, status: 'valid', type: 'kr.residence', issuer: 'kr.seoul.jongno' },
        { id: unknown, status: 'unknown' },
        { id: b.id, status: 'valid', type: 'kr.land', issuer: 'kr.seoul.land' },
        { id: c.id, status: 'revoked', type: 'kr.residence', issuer: 'kr.mois' },
      ],
    })
  })

  it(`accepts exactly ${MAX_STATUS_BATCH} ids and refuses ${MAX_STATUS_BATCH + 1} with INVALID_REQUEST`, async () => {
    const ids = Array.from({ length: MAX_STATUS_BATCH }, randomId)
    const ok = await httpPost(url, '/v1/certificates/status', { ids })
    expect(ok.status).toBe(200)
    expect(ok.body.results).toHaveLength(MAX_STATUS_BATCH)
    expect(ok.body.results.every((r: { status: string }) => r.status === 'unknown')).toBe(true)

    expectError(await httpPost(url, '/v1/certificates/status', { ids: [...ids, randomId()] }), 'INVALID_REQUEST', '1001 ids')
    expectError(await httpPost(url, '/v1/certificates/status', { ids: [] }), 'INVALID_REQUEST', 'no ids')
    expectError(await httpPost(url, '/v1/certificates/status', { ids: ['abc'] }), 'INVALID_REQUEST', 'short id')
  })
})

describe('POST /v1/verify', () => {
  let issued: { issuance: PreparedIssuance; height: number; document: Uint8Array; id: string }
  let file: CertificateFileJson

  beforeAll(async () => {
    issued = await issueCommitted(jongno)
    file = certificateFileToJson(certificateFiles(chainId, issued.issuance, issued.height)[0]!)
  })

  const expectAllOk = (body: VerifyResponse): void => {
    expect(body.verdict).toBe('valid')
    expect(body.certificateId).toBe(issued.id)
    expect(body.status).toBe('valid')
    expect(body.checks.map((c: { name: string }) => c.name)).toEqual(CHECK_NAMES)
    for (const c of body.checks) expect(c, c.name).toEqual({ name: c.name, ok: true, detail: expect.any(String) })
    expect(body.certificate?.id).toBe(issued.id)
    expect(body.certificate?.status).toBe('valid')
    expect(typeof body.height).toBe('number')
  }

  it('with the document (base64): valid, every check ok', async () => {
    const res = await httpPost(url, '/v1/verify', { certificate: file, document: toBase64(issued.document) })
    expect(res.status, res.text).toBe(200)
    expectAllOk(res.body)
  })

  it('with the salted document hash (hex): valid, every check ok', async () => {
    const hash = documentHash(issued.issuance.salts[0]!, issued.document)
    const res = await httpPost(url, '/v1/verify', { certificate: file, documentHash: toHex(hash) })
    expect(res.status, res.text).toBe(200)
    expectAllOk(res.body)
  })

  it('with the wrong document: invalid, document_hash fails and nothing else', async () => {
    const res = await httpPost(url, '/v1/verify', { certificate: file, document: toBase64(randomDocument()) })
    expect(res.status, res.text).toBe(200)
    expect(res.body.verdict).toBe('invalid')
    const failed = res.body.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)
    expect(failed).toEqual(['document_hash'])

    const byHash = await httpPost(url, '/v1/verify', { certificate: file, documentHash: toHex(documentHash(issued.issuance.salts[0]!, randomDocument())) })
    expect(byHash.body.verdict).toBe('invalid')
    expect(byHash.body.checks.find((c: { name: string }) => c.name === 'document_hash').ok).toBe(false)
  })

  it('a revoked certificate is invalid on the status check', async () => {
    const other = await issueCommitted(jongno)
    const otherFile = certificateFileToJson(certificateFiles(chainId, other.issuance, other.height)[0]!)
    await commit(prepareRevocation(chainId, jongno, [other.issuance.certificateIds[0]!], 'superseded').bytes)
    const res = await httpPost(url, '/v1/verify', { certificate: otherFile, document: toBase64(other.document) })
    expect(res.status).toBe(200)
    expect(res.body.verdict).toBe('invalid')
    expect(res.body.status).toBe('revoked')
    expect(res.body.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(['status'])
  })

  it('a certificate file the chain does not know: invalid, on_chain fails, certificate null', async () => {
    // Signed by a registered issuer but never submitted.
    const ghost = issueOne(chainId, jongno, 'kr.residence')
    const ghostFile = certificateFileToJson(certificateFiles(chainId, ghost, 1)[0]!)
    const res = await httpPost(url, '/v1/verify', { certificate: ghostFile, documentHash: toHex(ghost.records[0]!.docHash) })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ verdict: 'invalid', status: 'unknown', certificate: null })
    expect(res.body.checks.find((c: { name: string }) => c.name === 'on_chain').ok).toBe(false)
  })

  it('both or neither of document and documentHash: 400 INVALID_REQUEST', async () => {
    const hash = toHex(documentHash(issued.issuance.salts[0]!, issued.document))
    expectError(await httpPost(url, '/v1/verify', { certificate: file, document: toBase64(issued.document), documentHash: hash }), 'INVALID_REQUEST', 'both')
    expectError(await httpPost(url, '/v1/verify', { certificate: file }), 'INVALID_REQUEST', 'neither')
  })

  it('a malformed certificate file: 400 INVALID_CERTIFICATE_FILE', async () => {
    const doc = toBase64(issued.document)
    expectError(await httpPost(url, '/v1/verify', { certificate: { format: 'nope' }, document: doc }), 'INVALID_CERTIFICATE_FILE', 'bad format')
    const noSalt = { ...file, salt: 'zz' }
    expectError(await httpPost(url, '/v1/verify', { certificate: noSalt, document: doc }), 'INVALID_CERTIFICATE_FILE', 'bad salt')
    const shortSalt = { ...file, salt: 'abcd' }
    expectError(await httpPost(url, '/v1/verify', { certificate: shortSalt, document: doc }), 'INVALID_CERTIFICATE_FILE', 'short salt')
    const badRecord = { ...file, record: { ...file.record, validFrom: -1 } }
    expectError(await httpPost(url, '/v1/verify', { certificate: badRecord, document: doc }), 'INVALID_CERTIFICATE_FILE', 'negative validFrom')
    const badProof = { ...file, issuance: { ...file.issuance, proof: ['00'] } }
    expectError(await httpPost(url, '/v1/verify', { certificate: badProof, document: doc }), 'INVALID_CERTIFICATE_FILE', 'short proof hash')
  })
})

describe('GET /v1/blocks', () => {
  it('latest and by height: header fields and transaction summaries', async () => {
    const { issuance, height, id } = await issueCommitted(jongno)
    const status = (await httpGet(url, '/v1/status')).body
    const latest = await httpGet(url, '/v1/blocks/latest')
    expect(latest.status).toBe(200)
    expect(latest.body.height).toBe(status.height)
    expect(latest.body.hash).toBe(status.latestBlockHash)
    expect(latest.body.header.stateRoot).toBe(status.stateRoot)

    const res = await httpGet(url, `/v1/blocks/${height}`)
    expect(res.status).toBe(200)
    const b = res.body
    expect(b).toEqual({
      height,
      hash: expect.stringMatching(HEX64),
      header: {
        version: 2,
        chainId,
        height,
        time: expect.any(String),
        prevHash: expect.stringMatching(HEX64),
        txRoot: expect.stringMatching(HEX64),
        txCount: b.txs.length,
        stateRoot: expect.stringMatching(HEX64),
        proposer: status.validatorId,
        validatorsHash: expect.stringMatching(HEX64),
        nextValidatorsHash: expect.stringMatching(HEX64),
      },
      commit: {
        round: expect.any(Number),
        signatures: [{ validator: status.validatorId, sig: expect.stringMatching(/^[0-9a-f]{128}$/) }],
      },
      txs: expect.any(Array),
    })
    expect(new Date(b.header.time).toISOString()).toBe(b.header.time)
    // The commit shown is the stored one, and it proves this block final (a real precommit).
    const stored = (await node.node.ledger.getBlock(height))!
    expect(b.commit.round).toBe(stored.commit.round)
    expect(b.hash).toBe(toHex(stored.commit.blockHash))
    const commitSig = b.commit.signatures[0] as { validator: string; sig: string }
    const validators = await node.node.ledger.validatorsAt(height)
    const signBytes = voteSignBytes(chainId, 'precommit', height, b.commit.round as number, fromHex(b.hash as string))
    expect(verify(validators.find((v) => v.id === commitSig.validator)!.publicKey, signBytes, fromHex(commitSig.sig))).toBe(true)
    expect(verifyCommit(chainId, validators, stored.block, stored.commit)).toBeUndefined()
    const summary = b.txs.find((t: { id: string }) => t.id === toHex(issuance.id))
    expect(summary).toEqual({
      id: toHex(issuance.id),
      kind: 'IssueCertificates',
      signer: 'kr.seoul.jongno',
      expiresAt: new Date(issuance.tx.body.expiresAt).toISOString(),
      certificates: [id],
    })

    // Blocks chain: each prevHash is the previous block's hash.
    if (height > 1) {
      const prev = await httpGet(url, `/v1/blocks/${height - 1}`)
      expect(prev.status).toBe(200)
      expect(b.header.prevHash).toBe(prev.body.hash)
    }
  })

  it('a revocation block summarises the revocation', async () => {
    const { issuance, id } = await issueCommitted(jongno)
    const revoke = prepareRevocation(chainId, jongno, [issuance.certificateIds[0]!], 'holder_request', { note: 'asked' })
    const { height } = await commit(revoke.bytes)
    const b = (await httpGet(url, `/v1/blocks/${height}`)).body
    expect(b.txs.find((t: { id: string }) => t.id === toHex(revoke.id))).toEqual({
      id: toHex(revoke.id),
      kind: 'RevokeCertificates',
      signer: 'kr.seoul.jongno',
      expiresAt: expect.any(String),
      certificates: [id],
      reason: 'holder_request',
      note: 'asked',
    })
  })

  it('an unknown height: 404 BLOCK_NOT_FOUND', async () => {
    expectError(await httpGet(url, '/v1/blocks/999999'), 'BLOCK_NOT_FOUND', '/v1/blocks/999999')
    expectError(await httpGet(url, '/v1/blocks/0'), 'BLOCK_NOT_FOUND', '/v1/blocks/0')
  })
})

describe('operational endpoints', () => {
  it('/healthz', async () => {
    const res = await httpGet(url, '/healthz')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ ok: true, height: expect.any(Number) })
  })

  it('/metrics exposes the chain, mempool and RPC metrics', async () => {
    await httpGet(url, '/v1/status') // at least one observed request on a named route
    const status = (await httpGet(url, '/v1/status')).body
    const res = await httpGet(url, '/metrics')
    expect(res.status).toBe(200)
    expect(res.contentType).toMatch(/^text\/plain/)
    for (const name of [
      'certchain_height',
      'certchain_chain_transactions',
      'certchain_chain_certificates',
      'certchain_mempool_transactions',
      'certchain_rpc_request_duration_seconds',
    ]) {
      expect(res.text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'))
    }
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(res.text)?.[1])
    expect(value('certchain_height')).toBe(status.height)
    expect(value('certchain_chain_transactions')).toBe(status.transactions)
    expect(value('certchain_chain_certificates')).toBe(status.certificates)
    expect(res.text).toMatch(/certchain_rpc_request_duration_seconds_count\{[^}]*route="\/v1\/status"[^}]*\} [1-9]/)
  })

  it('/v1/types lists the genesis certificate types, sorted by id as the registry keeps them', async () => {
    const res = await httpGet(url, '/v1/types')
    expect(res.status).toBe(200)
    expect(res.body.types.map((t: { id: string }) => t.id)).toEqual(['kr.building', 'kr.family', 'kr.land', 'kr.residence'])
    expect(res.body.types.find((t: { id: string }) => t.id === 'kr.residence')).toEqual({
      id: 'kr.residence',
      nameKo: '주민등록표 등본',
      nameEn: 'Resident registration certificate (full copy)',
      validityDays: 90,
      authorities: ['kr.mois'],
    })
  })

  it('/v1/issuers lists the genesis issuers, sorted by id, with their testnet keys', async () => {
    const res = await httpGet(url, '/v1/issuers')
    expect(res.status).toBe(200)
    const issuers = res.body.issuers as { id: string; types: string[] }[]
    expect(issuers.map((i) => i.id)).toEqual(node.manifest.issuers.map((i) => i.id).sort())
    expect(issuers.find((i) => i.id === 'kr.seoul.jongno')).toEqual({
      id: 'kr.seoul.jongno',
      name: 'Jongno-gu Office, Seoul (서울특별시 종로구청)',
      types: ['kr.residence'],
      active: true,
      addedHeight: 0,
      deactivatedHeight: null,
      keys: [
        { publicKey: toHex(jongno.key.publicKey), current: true, addedHeight: 0, retiredHeight: null, compromisedSince: null, compromisedHeight: null },
      ],
    })
    expect(issuers.find((i) => i.id === 'kr.court.seoul-family')?.types).toEqual(['kr.family'])
  })
})
