import fastifySwagger from '@fastify/swagger'
import Fastify, { LogController, type FastifyError } from 'fastify'
import { fromBase64, fromHex } from '../core/bytes.js'
import { certificateFileFromJson } from '../core/certificate.js'
import { CertchainError, ErrorCodes, type ErrorCode } from '../core/errors.js'
import { certificateStatus, verifyCertificate } from '../ledger/index.js'
import type { RpcDeps, StatusResponse } from './backend.js'
import { presentationRoutes } from './presentation-routes.js'
import { AT, proofRoutes, resolveAt } from './proof-routes.js'
import { registryRoutes } from './registry-routes.js'
import { HEX32, UINT, pathParams, queryParams } from './schemas.js'
import { blockView, certificateView } from './views.js'
import { webRoutes } from './web-routes.js'

export interface RpcOptions {
  readonly host: string
  readonly port: number
  readonly bodyLimitBytes: number
  readonly waitTimeoutMs: number
}

export interface RpcServer {
  /** Base URL, e.g. http://127.0.0.1:26657 */
  readonly address: string
  close(): Promise<void>
}

export const MAX_STATUS_BATCH = 1000

const idParams = pathParams({ id: HEX32 })

// Fastify's own errors, mapped to our stable codes.
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
}

function toErrorBody(err: FastifyError | Error): { status: number; code: ErrorCode; message: string } {
  if (err instanceof CertchainError) return { status: err.status, code: err.code, message: err.message }
  const fe = err as FastifyError
  if (fe.validation) return { status: 400, code: 'INVALID_REQUEST', message: `request ${fe.validationContext ?? ''} ${fe.message}`.replace(/\s+/g, ' ') }
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined
  if (mapped) return { status: ErrorCodes[mapped], code: mapped, message: fe.message }
  if (err instanceof SyntaxError && (fe.statusCode ?? 0) === 400) return { status: 400, code: 'MALFORMED_JSON', message: err.message }
  return { status: 500, code: 'INTERNAL', message: 'internal error; see the node log' }
}

/**
 * The HTTP API. Schemas validate every input (unknown fields refused); one error handler turns any
 * thrown error into `{ code, message }`, and an unknown error into a bare 500 with the detail
 * only in the log.
 */
export async function createRpcServer(options: RpcOptions, { backend, logger, metrics }: RpcDeps): Promise<RpcServer> {
  const app = Fastify({
    loggerInstance: logger,
    // Request durations go to metrics; one log line per request would drown the useful ones.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    // Refuse unknown fields instead of silently dropping them; never coerce types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
  })
  // JSON only: without this, fastify's built-in text/plain parser would pass strings to the schemas.
  app.removeContentTypeParser('text/plain')
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'certchain node RPC', version: '1', description: 'Verification and submission API of a certchain node' },
    },
  })

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const body = toErrorBody(err)
    if (body.status >= 500) request.log.error({ err }, 'request failed')
    return reply.status(body.status).send({ code: body.code, message: body.message })
  })
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  )
  app.addHook('onResponse', (request, reply, done) => {
    metrics.rpcDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    )
    done()
  })

  const { ledger, mempool } = backend

  app.get('/healthz', { schema: { hide: true } }, () => ({ ok: true, height: ledger.head.height }))

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType)
    return metrics.registry.metrics()
  })

  app.get('/v1/openapi.json', { schema: { hide: true } }, () => app.swagger())

  app.get('/v1/status', { schema: { summary: 'Node and chain status' } }, (): StatusResponse => {
    const status = backend.status()
    return { ...status, validators: ledger.validators(status.height + 1).length, openProposals: ledger.proposals.open.length }
  })

  app.post(
    '/v1/txs',
    {
      schema: {
        summary: 'Submit a signed transaction',
        body: {
          type: 'object',
          properties: { tx: { type: 'string', minLength: 1, description: 'base64 of the canonical signed transaction' } },
          required: ['tx'],
          additionalProperties: false,
        },
        querystring: queryParams({ wait: { type: 'string', enum: ['commit', 'none'] } }),
      },
    },
    async (request, reply) => {
      const { tx } = request.body as { tx: string }
      const { wait } = request.query as { wait?: string }
      const admitted = await backend.submitTx(fromBase64(tx, 'tx'))
      if (wait !== 'commit') return reply.status(202).send({ id: admitted.id, status: 'pending' })
      const outcome = await backend.waitForCommit(admitted.id, options.waitTimeoutMs)
      if (outcome === undefined) return reply.status(202).send({ id: admitted.id, status: 'pending' })
      if (outcome.status === 'rejected') {
        return reply.status(ErrorCodes[outcome.code]).send({ id: admitted.id, status: 'rejected', code: outcome.code, message: outcome.message })
      }
      return { id: admitted.id, status: 'committed', height: outcome.height, index: outcome.index }
    },
  )

  app.get('/v1/txs/:id', { schema: { summary: 'Status of a transaction', params: idParams } }, async (request) => {
    const { id } = request.params as { id: string }
    const idHex = id.toLowerCase()
    const location = await ledger.getTxLocation(fromHex(idHex, 'id', 32))
    if (location) return { id: idHex, status: 'committed', height: location.height, index: location.index }
    if (mempool.has(idHex)) return { id: idHex, status: 'pending' }
    const rejection = mempool.rejection(idHex)
    if (rejection) return { id: idHex, status: 'rejected', code: rejection.code, message: rejection.message }
    return { id: idHex, status: 'unknown' }
  })

  app.get(
    '/v1/certificates/:id',
    { schema: { summary: 'A certificate and its current status (or as of a height or time)', params: idParams, querystring: queryParams({ at: AT }) } },
    async (request) => {
      const { id } = request.params as { id: string }
      const { at } = request.query as { at?: string }
      const idHex = id.toLowerCase()
      const certificateId = fromHex(idHex, 'id', 32)
      if (at === undefined) {
        const [entry] = await ledger.getCertificates([certificateId])
        if (!entry) throw new CertchainError('CERTIFICATE_NOT_FOUND', `certificate ${idHex} is not on this chain`)
        return certificateView(idHex, entry, ledger.registry, backend.now())
      }
      const point = await resolveAt(ledger, at)
      const past = await ledger.certificateAsOf(certificateId, point.height)
      if (!past) throw new CertchainError('CERTIFICATE_NOT_FOUND', `certificate ${idHex} is not on this chain`)
      const asOf = { height: point.height, time: new Date(point.time).toISOString() }
      if (!past.issued) return { id: idHex, status: 'not_yet_issued', asOf }
      return { ...certificateView(idHex, past.entry, await ledger.registryAt(point.height), point.time), asOf }
    },
  )

  app.post(
    '/v1/certificates/status',
    {
      schema: {
        summary: `Statuses of up to ${MAX_STATUS_BATCH} certificates`,
        body: {
          type: 'object',
          properties: { ids: { type: 'array', items: HEX32, minItems: 1, maxItems: MAX_STATUS_BATCH } },
          required: ['ids'],
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const { ids } = request.body as { ids: string[] }
      const lower = ids.map((i) => i.toLowerCase())
      const entries = await ledger.getCertificates(lower.map((i) => fromHex(i, 'id', 32)))
      const now = backend.now()
      return {
        height: ledger.head.height,
        results: entries.map((entry, i) =>
          entry
            ? { id: lower[i], status: certificateStatus(entry, now), type: entry.record.type, issuer: entry.record.issuer }
            : { id: lower[i], status: 'unknown' },
        ),
      }
    },
  )

  app.post(
    '/v1/verify',
    {
      schema: {
        summary: 'Verify a certificate file against a document (or its salted hash)',
        body: {
          type: 'object',
          properties: {
            certificate: { type: 'object', description: 'the certificate file (certchain/certificate@1)' },
            document: { type: 'string', description: 'base64 of the document' },
            documentHash: { ...HEX32, description: 'hex of SHA-256(salt || document)' },
            at: { ...AT, description: 'verify as of a block height or an ISO-8601 time instead of now' },
          },
          required: ['certificate'],
          oneOf: [{ required: ['document'] }, { required: ['documentHash'] }],
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const body = request.body as { certificate: unknown; document?: string; documentHash?: string; at?: string }
      const file = certificateFileFromJson(body.certificate)
      const evidence =
        body.document !== undefined
          ? { document: fromBase64(body.document, 'document') }
          : { documentHash: fromHex(body.documentHash!, 'documentHash', 32) }
      const point = body.at === undefined ? undefined : await resolveAt(ledger, body.at)
      const result = await verifyCertificate(ledger, file, evidence, backend.now(), point)
      const { entry, ...rest } = result
      const registry = point ? await ledger.registryAt(point.height) : ledger.registry
      return {
        ...rest,
        height: ledger.head.height,
        ...(point ? { asOf: { height: point.height, time: new Date(point.time).toISOString() } } : {}),
        certificate: entry ? certificateView(result.certificateId, entry, registry, point?.time ?? backend.now()) : null,
      }
    },
  )

  await app.register(registryRoutes, { backend })
  await app.register(proofRoutes, { backend })
  await app.register(presentationRoutes, { backend })
  await app.register(webRoutes, {})

  const sendBlock = async (height: number) => {
    const block = height > 0 ? await ledger.getBlock(height) : undefined
    if (!block) throw new CertchainError('BLOCK_NOT_FOUND', height === 0 ? 'no block committed yet' : `no block at height ${height}`)
    return blockView(block, (bytes) => ledger.decodeTx(bytes))
  }

  app.get('/v1/blocks/latest', { schema: { summary: 'The latest committed block' } }, () => sendBlock(ledger.head.height))

  app.get(
    '/v1/blocks/:height',
    {
      schema: {
        summary: 'The block at a height',
        params: pathParams({ height: UINT }),
      },
    },
    (request) => sendBlock(Number((request.params as { height: string }).height)),
  )

  await app.listen({ host: options.host, port: options.port })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : options.port
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  return { address: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`, close: () => app.close() }
}
