/**
 * Issue 12 Part B item 6: `/v1/openapi.json` is a valid OpenAPI 3.1 document that declares every
 * route with an operation id, its response schemas and the statuses it answers; every real answer
 * of every route (successes and refusals) matches the schema the document declares for it.
 */
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certificateFiles, type PreparedIssuance } from '../../../src/client/index.js'
import { certificateFileToJson, encode, toBase64, toHex } from '../../../src/core/index.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { httpGet, httpPost, issueOne, postTx, randomDocument, randomId, type HttpResult } from './helpers.js'

type Operation = { operationId?: string; responses: Record<string, { content?: Record<string, { schema: object }> }> }
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> }

let node: TestNode
let doc: Doc

beforeAll(async () => {
  node = await startTestNode()
  doc = (await httpGet(node.url, '/v1/openapi.json')).body as Doc
})
afterAll(() => node?.stop())

const methods = (d: Doc) => Object.entries(d.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })))

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator()
    const result = await validator.validate(structuredClone(doc))
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(doc.openapi).toBe('3.1.0')
  })

  it('declares every route, each with a unique operation id, a success and the {code, message} error on each error status', () => {
    const ops = methods(doc)
    expect(ops.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort()).toEqual(
      [
        'GET /healthz',
        'GET /metrics',
        'GET /v1/openapi.json',
        'GET /v1/status',
        'POST /v1/txs',
        'POST /v1/txs/batch',
        'GET /v1/txs/{id}',
        'GET /v1/certificates/{id}',
        'POST /v1/certificates/status',
        'POST /v1/verify',
        'GET /v1/validators',
        'GET /v1/members',
        'GET /v1/types',
        'GET /v1/issuers',
        'GET /v1/issuers/{id}',
        'GET /v1/governance/proposals',
        'GET /v1/governance/proposals/{id}',
        'GET /v1/evidence',
        'GET /v1/blocks/latest',
        'GET /v1/blocks/{height}',
        'GET /v1/certificates/{id}/proof',
        'GET /v1/checkpoint',
        'GET /v1/genesis',
        'POST /v1/presentation-requests',
        'POST /v1/presentations/verify',
      ].sort(),
    )
    const ids = ops.map((o) => o.op.operationId)
    expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    for (const { path, method, op } of ops) {
      const statuses = Object.keys(op.responses)
      expect(statuses, `${method} ${path}`).not.toContain('default')
      expect(statuses.some((s) => s.startsWith('2')), `${method} ${path}`).toBe(true)
      for (const s of statuses.filter((x) => Number(x) >= 400)) {
        const schema = op.responses[s]!.content?.['application/json']?.schema as { required?: string[] }
        expect(schema?.required, `${method} ${path} ${s}`).toEqual(['code', 'message'])
      }
    }
    expect(Object.keys(doc.paths['/v1/txs']!.post!.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '409', '422', '429', '503']))
    expect(Object.keys(doc.paths['/v1/txs/batch']!.post!.responses)).toEqual(expect.arrayContaining(['200', '400', '413', '415', '429', '503']))
    const batchBody = (doc.paths['/v1/txs/batch']!.post as { requestBody?: { content: Record<string, unknown> } }).requestBody
    expect(Object.keys(batchBody?.content ?? {}).sort()).toEqual(['application/cbor', 'application/json'])
  })
})

describe('every route answers as its document says', () => {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true })
  const seen = new Set<string>()

  /** Checks an answer against the schema declared for (route, method, status). */
  function conforms(route: string, method: string, res: HttpResult): void {
    const op = doc.paths[route]?.[method]
    expect(op, `${method} ${route} is in the document`).toBeDefined()
    const declared = op!.responses[String(res.status)]
    expect(declared, `${method.toUpperCase()} ${route} answered ${res.status}, which it does not declare: ${res.text.slice(0, 200)}`).toBeDefined()
    const [type, media] = Object.entries(declared!.content ?? {})[0] ?? []
    expect(res.contentType.split(';')[0]).toBe(type)
    if (type === 'application/json') {
      const validate = ajv.compile(media!.schema)
      expect(validate(res.body), `${method.toUpperCase()} ${route} ${res.status}: ${ajv.errorsText(validate.errors)}`).toBe(true)
    }
    seen.add(`${method} ${route}`)
  }

  let issued: PreparedIssuance
  let height: number

  it('with real successes and refusals on every route', async () => {
    const url = node.url
    const chainId = node.manifest.chainId
    const mois = await node.identity('kr.mois')
    const document = randomDocument()
    issued = issueOne(chainId, mois, 'kr.residence', { document })
    const committed = await postTx(url, issued.bytes, 'commit')
    conforms('/v1/txs', 'post', committed)
    height = committed.body.height as number
    conforms('/v1/txs', 'post', await postTx(url, issueOne(chainId, mois, 'kr.residence').bytes))
    conforms('/v1/txs', 'post', await postTx(url, issued.bytes, 'commit')) // DUPLICATE_TX 409
    conforms('/v1/txs', 'post', await postTx(url, issueOne(chainId, mois, 'kr.residence', { expiresAt: Date.now() - 1 }).bytes)) // 422
    conforms('/v1/txs', 'post', await httpPost(url, '/v1/txs', { tx: '!' })) // 400
    conforms('/v1/txs', 'post', await httpPost(url, '/v1/txs', 'x', { raw: true, contentType: 'text/plain' })) // 415
    const batch = [issueOne(chainId, mois, 'kr.residence').bytes, issued.bytes, Uint8Array.from([0])]
    conforms('/v1/txs/batch', 'post', await httpPost(url, '/v1/txs/batch', encode(batch), { raw: true, contentType: 'application/cbor' }))
    conforms('/v1/txs/batch', 'post', await httpPost(url, '/v1/txs/batch?wait=commit', { txs: [toBase64(issueOne(chainId, mois, 'kr.residence').bytes)] }))
    conforms('/v1/txs/batch', 'post', await httpPost(url, '/v1/txs/batch', Uint8Array.from([0x9f]), { raw: true, contentType: 'application/cbor' })) // 400
    conforms('/v1/txs/batch', 'post', await httpPost(url, '/v1/txs/batch', Uint8Array.from([0x9a, 0xff, 0xff, 0xff, 0xff]), { raw: true, contentType: 'application/cbor' })) // 413

    for (const path of ['/healthz', '/metrics', '/v1/openapi.json', '/v1/status', '/v1/members', '/v1/types', '/v1/issuers', '/v1/evidence', '/v1/blocks/latest']) {
      conforms(path, 'get', await httpGet(url, path))
    }
    conforms('/v1/txs/{id}', 'get', await httpGet(url, `/v1/txs/${toHex(issued.id)}`))
    conforms('/v1/txs/{id}', 'get', await httpGet(url, `/v1/txs/${randomId()}`))
    conforms('/v1/txs/{id}', 'get', await httpGet(url, '/v1/txs/zz'))
    const certId = toHex(issued.certificateIds[0]!)
    conforms('/v1/certificates/{id}', 'get', await httpGet(url, `/v1/certificates/${certId}`))
    conforms('/v1/certificates/{id}', 'get', await httpGet(url, `/v1/certificates/${randomId()}`))
    conforms('/v1/certificates/status', 'post', await httpPost(url, '/v1/certificates/status', { ids: [certId, randomId()] }))
    conforms('/v1/certificates/status', 'post', await httpPost(url, '/v1/certificates/status', { ids: [] }))
    const file = certificateFileToJson(certificateFiles(chainId, issued, height)[0]!)
    conforms('/v1/verify', 'post', await httpPost(url, '/v1/verify', { certificate: file, document: toBase64(document) }))
    conforms('/v1/verify', 'post', await httpPost(url, '/v1/verify', { certificate: { nope: 1 }, documentHash: randomId() }))
    conforms('/v1/verify', 'post', await httpPost(url, '/v1/verify', '{', { raw: true }))
    conforms('/v1/validators', 'get', await httpGet(url, '/v1/validators'))
    conforms('/v1/validators', 'get', await httpGet(url, '/v1/validators?height=0'))
    conforms('/v1/issuers/{id}', 'get', await httpGet(url, '/v1/issuers/kr.mois'))
    conforms('/v1/issuers/{id}', 'get', await httpGet(url, '/v1/issuers/kr.nobody'))
    conforms('/v1/governance/proposals', 'get', await httpGet(url, '/v1/governance/proposals'))
    conforms('/v1/governance/proposals', 'get', await httpGet(url, '/v1/governance/proposals?limit=0'))
    conforms('/v1/governance/proposals/{id}', 'get', await httpGet(url, '/v1/governance/proposals/1'))
    conforms('/v1/governance/proposals/{id}', 'get', await httpGet(url, '/v1/governance/proposals/x'))
    conforms('/v1/blocks/{height}', 'get', await httpGet(url, `/v1/blocks/${height}`))
    conforms('/v1/blocks/{height}', 'get', await httpGet(url, '/v1/blocks/999999'))
    conforms('/v1/blocks/{height}', 'get', await httpGet(url, '/v1/blocks/x'))
    conforms('/v1/certificates/{id}', 'get', await httpGet(url, `/v1/certificates/${certId}?at=${height}`))
    conforms('/v1/certificates/{id}', 'get', await httpGet(url, `/v1/certificates/${certId}?at=0`))
    conforms('/v1/certificates/{id}', 'get', await httpGet(url, `/v1/certificates/${certId}?at=999999`))
    conforms('/v1/certificates/{id}', 'get', await httpGet(url, `/v1/certificates/${certId}?at=soon`))
    conforms('/v1/verify', 'post', await httpPost(url, '/v1/verify', { certificate: file, document: toBase64(document), at: String(height) }))
    conforms('/v1/certificates/{id}/proof', 'get', await httpGet(url, `/v1/certificates/${certId}/proof`))
    conforms('/v1/certificates/{id}/proof', 'get', await httpGet(url, `/v1/certificates/${randomId()}/proof`))
    conforms('/v1/checkpoint', 'get', await httpGet(url, '/v1/checkpoint'))
    conforms('/v1/checkpoint', 'get', await httpGet(url, '/v1/checkpoint?height=999999'))
    conforms('/v1/genesis', 'get', await httpGet(url, '/v1/genesis'))
    const made = await httpPost(url, '/v1/presentation-requests', { purpose: 'openapi', ttlSeconds: 60 })
    conforms('/v1/presentation-requests', 'post', made)
    conforms('/v1/presentation-requests', 'post', await httpPost(url, '/v1/presentation-requests', { ttlSeconds: 601 }))
    conforms('/v1/presentations/verify', 'post', await httpPost(url, '/v1/presentations/verify', { presentation: { format: 'x' }, documentHash: randomId() }))
    const proof = (await httpGet(url, `/v1/certificates/${certId}/proof`)).body
    const unsigned = { format: 'certchain/presentation@1', request: made.body.request, certificate: file, proof, holderKey: randomId(), signature: randomId() + randomId() }
    conforms('/v1/presentations/verify', 'post', await httpPost(url, '/v1/presentations/verify', { presentation: unsigned, documentHash: randomId() }))

    // Every declared operation was exercised.
    expect([...seen].sort()).toEqual(methods(doc).map((o) => `${o.method} ${o.path}`).sort())
  })
})
