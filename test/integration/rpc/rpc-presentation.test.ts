/**
 * The verifier's desk over real HTTP: requests with their QR code, presentations checked by the
 * node (valid once), and the refusals a client can cause.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateFiles, prepareIssuance, type IssuerIdentity } from '../../../src/client/index.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { toHex } from '../../../src/core/bytes.js'
import type { CertificateFile } from '../../../src/core/certificate.js'
import { proofFromJson } from '../../../src/light/index.js'
import { preparePresentation, presentationToJson, requestFromJson } from '../../../src/wallet/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { expectError, httpGet, httpPost, postTx, randomDocument, randomId } from './helpers.js'

let node: TestNode
let url: string
let jongno: IssuerIdentity
const holder = generateKeyPair()

beforeAll(async () => {
  node = await startTestNode({ heartbeatIntervalMs: 600_000 })
  url = node.url
  jongno = await node.identity('kr.seoul.jongno')
})
afterAll(async () => {
  await node?.stop()
})

async function boundCertificate(document: Uint8Array): Promise<CertificateFile> {
  const chainId = node.manifest.chainId
  const now = Date.now()
  const issuance = prepareIssuance(chainId, jongno, [{ type: 'kr.residence', document, holderKey: holder.publicKey, validFrom: now, validUntil: now + 86_400_000 }])
  const res = await postTx(url, issuance.bytes, 'commit')
  expect(res.status, res.text).toBe(200)
  return certificateFiles(chainId, issuance, (res.body as { height: number }).height)[0]!
}

describe('POST /v1/presentation-requests', () => {
  it('answers the request, its link and its QR code; the audience names this node', async () => {
    const res = await httpPost(url, '/v1/presentation-requests', { types: ['kr.residence'], purpose: '주택담보대출', ttlSeconds: 120 })
    expect(res.status, res.text).toBe(200)
    const request = requestFromJson(res.body.request)
    expect(request).toMatchObject({ chainId: node.manifest.chainId, types: ['kr.residence'], purpose: '주택담보대출' })
    expect(request.audience.node).toBe(node.manifest.nodes[0]!.peerId)
    expect(request.expiresAt - request.createdAt).toBe(120_000)
    expect(res.body.uri).toMatch(/^certchain:\/\/present\?request=[A-Za-z0-9_-]+$/)
    expect(JSON.parse(Buffer.from(res.body.uri.split('request=')[1], 'base64url').toString('utf8'))).toEqual(res.body.request)
    expect(res.body.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>\s*$/)
  })

  it('refuses a ttl over 600 s, unknown fields, bad types (400 INVALID_REQUEST)', async () => {
    expectError(await httpPost(url, '/v1/presentation-requests', { ttlSeconds: 601 }), 'INVALID_REQUEST')
    expectError(await httpPost(url, '/v1/presentation-requests', { nonce: 'mine' }), 'INVALID_REQUEST')
    expectError(await httpPost(url, '/v1/presentation-requests', { types: ['not a type!'] }), 'INVALID_REQUEST')
  })
})

describe('POST /v1/presentations/verify', () => {
  it('valid once: the second submission is NONCE_USED; a wrong document fails document_hash', async () => {
    const document = randomDocument()
    const file = await boundCertificate(document)
    const made = await httpPost(url, '/v1/presentation-requests', { types: ['kr.residence'] })
    const proof = proofFromJson((await httpGet(url, `/v1/certificates/${toHex(file.certificateId)}/proof`)).body)
    const presentation = presentationToJson(preparePresentation(requestFromJson(made.body.request), file, proof, holder.secretKey))
    const wrong = await httpPost(url, '/v1/presentations/verify', { presentation, documentHash: randomId() })
    expect(wrong.body.verdict).toBe('invalid')
    expect(wrong.body.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(['document_hash'])
    // a failed attempt does not use the request up
    const first = await httpPost(url, '/v1/presentations/verify', { presentation, documentHash: toHex(file.record.docHash) })
    expect(first.status, first.text).toBe(200)
    expect(first.body.checks.filter((c: { ok: boolean }) => !c.ok)).toEqual([])
    expect(first.body.verdict).toBe('valid')
    const replay = await httpPost(url, '/v1/presentations/verify', { presentation, documentHash: toHex(file.record.docHash) })
    expect(replay.body.verdict).toBe('invalid')
    expect(replay.body.checks.find((c: { name: string }) => c.name === 'request')).toMatchObject({ ok: false, code: 'NONCE_USED' })
    const metrics = (await httpGet(url, '/metrics')).text
    expect(metrics).toMatch(/certchain_presentations_verified_total\{verdict="valid"\} 1/)
    expect(metrics).toMatch(/certchain_presentation_requests_total [1-9]/)
  })

  it('400 for what is not a presentation, naming the part; documentHash or document required', async () => {
    expectError(await httpPost(url, '/v1/presentations/verify', { presentation: { format: 'certchain/presentation@1' }, documentHash: randomId() }), 'INVALID_PRESENTATION')
    expectError(await httpPost(url, '/v1/presentations/verify', { presentation: {} }), 'INVALID_REQUEST')
  })

  it('GET /v1/genesis serves the genesis document the page verifies against', async () => {
    const res = await httpGet(url, '/v1/genesis')
    expect(res.body.chainId).toBe(node.manifest.chainId)
    expect(res.body.validators[0].publicKey).toMatch(/^[0-9a-f]{64}$/)
  })
})
