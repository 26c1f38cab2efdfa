import type { FastifyPluginCallback } from 'fastify'
import QRCode from 'qrcode'
import { fromBase64, fromHex, toBase64Url } from '../core/bytes.js'
import { ENTITY_ID } from '../core/governance.js'
import { trustFromGenesis } from '../light/index.js'
import {
  DEFAULT_REQUEST_TTL_SECONDS,
  MAX_REQUEST_TTL_SECONDS,
  presentationFromJson,
  requestToJson,
  verifyPresentation,
} from '../wallet/presentation.js'
import type { RpcBackend } from './backend.js'
import { GENESIS, PRESENTATION_REQUEST, PRESENTATION_RESULT, responses } from './responses.js'
import { HEX32 } from './schemas.js'

/** How old a presentation's proof may be when this node checks it (the holder fetches a fresh one per request). */
export const PRESENTATION_PROOF_MAX_AGE_MS = 24 * 60 * 60 * 1000

/** The link a wallet opens (and the QR code shows): the request itself, base64url JSON. */
export function requestUri(request: Record<string, unknown>): string {
  return `certchain://present?request=${toBase64Url(new TextEncoder().encode(JSON.stringify(request)))}`
}

/** Presentation requests and checks: the verifier's desk (README, "Presentations"). */
export const presentationRoutes: FastifyPluginCallback<{ backend: RpcBackend }> = (app, { backend }, done) => {
  const { ledger } = backend
  const trust = trustFromGenesis(backend.genesisDocument)

  app.get(
    '/v1/genesis',
    { schema: { operationId: 'getGenesis', summary: 'The genesis document this node follows: the trust anchor of light verifiers', response: responses({ 200: GENESIS }) } },
    () => backend.genesisDocument,
  )

  app.post(
    '/v1/presentation-requests',
    {
      schema: {
        operationId: 'createPresentationRequest',
        summary: 'Issue a single-use presentation request (nonce kept durably until it expires)',
        response: responses({ 200: PRESENTATION_REQUEST }, [], { body: true }),
        body: {
          type: 'object',
          properties: {
            types: { type: 'array', items: { type: 'string', pattern: ENTITY_ID.source }, maxItems: 64, uniqueItems: true },
            purpose: { type: 'string', minLength: 1, maxLength: 280 },
            ttlSeconds: { type: 'integer', minimum: 1, maximum: MAX_REQUEST_TTL_SECONDS, default: DEFAULT_REQUEST_TTL_SECONDS },
          },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const body = (request.body ?? {}) as { types?: string[]; purpose?: string; ttlSeconds?: number }
      const issued = await backend.presentations.create(ledger.chainId, backend.audience(), body, backend.now())
      const json = requestToJson(issued)
      const uri = requestUri(json)
      const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
      backend.metrics.presentationRequests.inc()
      return { request: json, uri, qrSvg }
    },
  )

  app.post(
    '/v1/presentations/verify',
    {
      schema: {
        operationId: 'verifyPresentation',
        summary: 'Check a holder-bound presentation and the document (or its salted hash); a valid answer uses up the request',
        response: responses({ 200: PRESENTATION_RESULT }, [], { body: true }),
        body: {
          type: 'object',
          properties: {
            presentation: { type: 'object', description: 'certchain/presentation@1' },
            document: { type: 'string', description: 'base64 of the document' },
            documentHash: { ...HEX32, description: 'hex of SHA-256(salt || document)' },
            allowUnbound: { type: 'boolean', description: 'accept a certificate not bound to a wallet (default false)' },
          },
          required: ['presentation'],
          oneOf: [{ required: ['document'] }, { required: ['documentHash'] }],
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const body = request.body as { presentation: unknown; document?: string; documentHash?: string; allowUnbound?: boolean }
      const presentation = presentationFromJson(body.presentation)
      const result = await verifyPresentation(presentation, {
        trust,
        now: backend.now(),
        maxAgeMs: PRESENTATION_PROOF_MAX_AGE_MS,
        nonces: backend.presentations,
        ...(body.document !== undefined ? { document: fromBase64(body.document, 'document') } : { documentHash: fromHex(body.documentHash!, 'documentHash', 32) }),
        ...(body.allowUnbound ? { allowUnbound: true } : {}),
      })
      backend.metrics.presentationsVerified.inc({ verdict: result.verdict })
      return { ...result, height: ledger.head.height }
    },
  )
  done()
}
