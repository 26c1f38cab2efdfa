/**
 * Proof bundles, checkpoints and status as of a time over real HTTP: what a light verifier takes
 * away from a node, and every documented refusal.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateFiles, prepareReinstatement, prepareSuspension, type IssuerIdentity } from '../../../src/client/index.js'
import { certificateFileToJson, toHex, type CertificateFile } from '../../../src/core/index.js'
import { proofFromJson, trustFromCheckpoint, trustFromGenesis, verifyProof, type Trust } from '../../../src/light/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { expectError, httpGet, httpPost, issueOne, postTx, randomDocument, randomId } from './helpers.js'

let node: TestNode
let url: string
let chainId: string
let jongno: IssuerIdentity
let genesis: Trust

beforeAll(async () => {
  node = await startTestNode({ heartbeatIntervalMs: 600_000 })
  url = node.url
  chainId = node.manifest.chainId
  jongno = await node.identity('kr.seoul.jongno')
  genesis = trustFromGenesis(JSON.parse(await readFile(join(node.dir, 'genesis.json'), 'utf8')))
})

afterAll(async () => {
  await node?.stop()
})

async function committed(bytes: Uint8Array): Promise<number> {
  const res = await postTx(url, bytes, 'commit')
  expect(res.status, res.text).toBe(200)
  return (res.body as { height: number }).height
}

async function issued(): Promise<{ file: CertificateFile; document: Uint8Array; height: number }> {
  const document = randomDocument()
  const issuance = issueOne(chainId, jongno, 'kr.residence', { document })
  const height = await committed(issuance.bytes)
  return { file: certificateFiles(chainId, issuance, height)[0]!, document, height }
}

const offline = (file: CertificateFile, json: unknown, document: Uint8Array, trust = genesis) =>
  verifyProof(file, proofFromJson(json), { trust, now: Date.now(), maxAgeMs: 3_600_000, document })

describe('GET /v1/certificates/:id/proof', () => {
  it('serves a certchain/proof@1 bundle that verifies offline against the genesis', async () => {
    const { file, document } = await issued()
    const res = await httpGet(url, `/v1/certificates/${toHex(file.certificateId)}/proof`)
    expect(res.status, res.text).toBe(200)
    expect(res.body.format).toBe('certchain/proof@1')
    expect(res.body.certificateId).toBe(toHex(file.certificateId))
    // nothing personal: neither the salt nor the document hash's preimage travels in a proof
    expect(res.text).not.toContain(toHex(file.salt))
    const result = offline(file, res.body, document)
    expect(result.checks.filter((c) => !c.ok)).toEqual([])
    expect(result.verdict).toBe('valid')
  })

  it('404 CERTIFICATE_NOT_FOUND for an unknown id, 400 INVALID_REQUEST for a malformed one', async () => {
    expectError(await httpGet(url, `/v1/certificates/${randomId()}/proof`), 'CERTIFICATE_NOT_FOUND')
    expectError(await httpGet(url, '/v1/certificates/abc/proof'), 'INVALID_REQUEST')
    expectError(await httpGet(url, `/v1/certificates/${randomId()}/proof?from=-1`), 'INVALID_REQUEST')
    expectError(await httpGet(url, `/v1/certificates/${randomId()}/proof?extra=1`), 'INVALID_REQUEST')
  })
})

describe('POST /v1/verify without the salt', () => {
  it('verifies from the salted hash alone; a document without the salt to hash it is INVALID_CERTIFICATE_FILE', async () => {
    const { file, document } = await issued()
    const { salt: _salt, ...withoutSalt } = certificateFileToJson(file)
    const ok = await httpPost(url, '/v1/verify', { certificate: withoutSalt, documentHash: toHex(file.record.docHash) })
    expect(ok.status, ok.text).toBe(200)
    expect(ok.body.verdict).toBe('valid')
    expectError(await httpPost(url, '/v1/verify', { certificate: withoutSalt, document: Buffer.from(document).toString('base64') }), 'INVALID_CERTIFICATE_FILE')
  })
})

describe('GET /v1/checkpoint', () => {
  it('at the head: a checkpoint that proofs verify against', async () => {
    const { file, document } = await issued()
    const proof = await httpGet(url, `/v1/certificates/${toHex(file.certificateId)}/proof`)
    const res = await httpGet(url, '/v1/checkpoint')
    expect(res.status, res.text).toBe(200)
    expect(res.body).toMatchObject({ format: 'certchain/checkpoint@1', chainId, height: proof.body.header.height })
    const result = offline(file, proof.body, document, trustFromCheckpoint(res.body))
    expect(result.verdict).toBe('valid')
    expect(result.checks.find((c) => c.name === 'commit')?.detail).toContain('trusted checkpoint')
  })

  it('at height 0 names the genesis hash; beyond the head is 404 BLOCK_NOT_FOUND', async () => {
    const res = await httpGet(url, '/v1/checkpoint?height=0')
    expect(res.body).toMatchObject({ height: 0, headerHash: node.manifest.genesisHash })
    expectError(await httpGet(url, '/v1/checkpoint?height=999999'), 'BLOCK_NOT_FOUND')
    expectError(await httpGet(url, '/v1/checkpoint?height=x'), 'INVALID_REQUEST')
  })
})

describe('status as of a height or a time (?at=)', () => {
  it('answers every status transition as it stood, and not_yet_issued before issuance', async () => {
    const before = (await httpGet(url, '/v1/status')).body as { height: number; latestBlockTime: string }
    const { file } = await issued()
    const id = toHex(file.certificateId)
    const h1 = (await httpGet(url, '/v1/status')).body.height as number
    const suspended = await committed(prepareSuspension(chainId, jongno, file.certificateId, 'under_investigation').bytes)
    const reinstated = await committed(prepareReinstatement(chainId, jongno, file.certificateId).bytes)
    const at = async (q: string) => httpGet(url, `/v1/certificates/${id}?at=${encodeURIComponent(q)}`)

    expect((await at(String(before.height))).body).toEqual({ id, status: 'not_yet_issued', asOf: { height: before.height, time: expect.any(String) } })
    expect((await at(String(h1))).body).toMatchObject({ id, status: 'valid', statusChange: null, asOf: { height: h1 } })
    expect((await at(String(suspended))).body).toMatchObject({ status: 'suspended', statusChange: { state: 'suspended', height: suspended, reason: 'under_investigation' } })
    expect((await at(String(reinstated))).body).toMatchObject({ status: 'valid', statusChange: { state: 'active', height: reinstated } })
    // without ?at= the current status, as before
    expect((await httpGet(url, `/v1/certificates/${id}`)).body).not.toHaveProperty('asOf')

    // a time: the block at or before it decides
    const suspendedAt = ((await at(String(suspended))).body as { asOf: { time: string } }).asOf.time
    expect((await at(suspendedAt)).body).toMatchObject({ status: 'suspended', asOf: { height: suspended, time: suspendedAt } })
    expect((await at(before.latestBlockTime)).body).toMatchObject({ status: 'not_yet_issued' })

    // POST /v1/verify with at: the verdict as it stood
    const verify = (q: string) => httpPost(url, '/v1/verify', { certificate: certificateFileToJson(file), documentHash: toHex(file.record.docHash), at: q })
    const then = await verify(String(suspended))
    expect(then.body).toMatchObject({ verdict: 'invalid', status: 'suspended', asOf: { height: suspended } })
    expect((await verify(String(reinstated))).body).toMatchObject({ verdict: 'valid', status: 'valid' })
    const early = await verify(String(before.height))
    expect(early.body).toMatchObject({ verdict: 'invalid', status: 'not_yet_issued' })
    expect(early.body.checks.find((c: { name: string }) => c.name === 'on_chain').detail).toMatch(/not yet issued/)
  })

  it('422 AT_AFTER_HEAD past the head, 400 INVALID_AT for what is neither a height nor a time', async () => {
    const { file } = await issued()
    const id = toHex(file.certificateId)
    const head = (await httpGet(url, '/v1/status')).body as { height: number }
    expectError(await httpGet(url, `/v1/certificates/${id}?at=${head.height + 1000}`), 'AT_AFTER_HEAD')
    expectError(await httpGet(url, `/v1/certificates/${id}?at=2999-01-01T00:00:00Z`), 'AT_AFTER_HEAD')
    expectError(await httpGet(url, `/v1/certificates/${id}?at=yesterday`), 'INVALID_AT')
    expectError(await httpGet(url, `/v1/certificates/${id}?at=2026-13-45`), 'INVALID_AT')
    expectError(await httpGet(url, `/v1/certificates/${randomId()}?at=0`), 'CERTIFICATE_NOT_FOUND')
    const bad = await httpPost(url, '/v1/verify', { certificate: certificateFileToJson(file), documentHash: toHex(file.record.docHash), at: 'soon' })
    expectError(bad, 'INVALID_AT')
  })
})
