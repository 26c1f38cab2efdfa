import fastifySwagger from '@fastify/swagger'
import Fastify, { LogController, type FastifyError, type FastifyReply } from 'fastify'
import { fromBase64, fromHex, type Bytes } from '../core/bytes.js'
import { certificateFileFromJson } from '../core/certificate.js'
import { CertchainError, ErrorCodes, type ErrorCode } from '../core/errors.js'
import { verifyCertificate } from '../ledger/index.js'
import type { RpcDeps, StatusResponse } from './backend.js'
import { presentationRoutes } from './presentation-routes.js'
import { AT, proofRoutes, resolveAt } from './proof-routes.js'
import { BodyBudget, capConnections, FAILURE_COST, jsonDepthExceeds, MAX_JSON_DEPTH, RateLimiter, rawReply, type RpcLimits } from './limits.js'
import { BlockViews } from './block-views.js'
import {
  BLOCK,
  CERTIFICATE_AT,
  CERTIFICATE_STATUSES,
  HEALTH,
  METRICS,
  OPENAPI,
  responses,
  STATUS,
  TX_STATUS,
  VERIFICATION,
} from './responses.js'
import { registryRoutes } from './registry-routes.js'
import { txRoutes } from './tx-routes.js'
import { HEX32, UINT, pathParams, queryParams } from './schemas.js'
import { blockView, certificateStatusesJson, certificateView, certificateViewJson } from './views.js'
import { webRoutes } from './web-routes.js'

export interface RpcOptions extends RpcLimits {
  readonly host: string
  readonly port: number
  readonly bodyLimitBytes: number
  readonly waitTimeoutMs: number
}

export interface RpcServer {
  /** Base URL, e.g. http://127.0.0.1:26657 */
  readonly address: string
  /**
   * Answers one request in process, without a socket (so without the connection limits): the
   * fuzzing harness sends hundreds of thousands of bodies through every other layer this way.
   */
  inject(request: { method: 'GET' | 'POST'; url: string; body?: string | Uint8Array; contentType?: string }): Promise<{ status: number; body: string }>
  close(): Promise<void>
}

export const MAX_STATUS_BATCH = 1000
/** JSON of block views kept (characters, about bytes): a few of the largest blocks, many small ones. */
const BLOCK_VIEWS_CHARS = 32 * 1024 * 1024

const idParams = pathParams({ id: HEX32 })
const JSON_CONTENT = 'application/json; charset=utf-8'

/**
 * The bytes of an id its route's schema already checked against HEX32 (64 hex digits, either
 * case): Node's hex decoder without checking again, which was a tenth of a status batch's time.
 */
const checkedId = (hex: string): Bytes => Buffer.from(hex, 'hex')

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
  const headersTimeout = Math.min(10_000, options.requestTimeoutMs)
  const app = Fastify({
    loggerInstance: logger,
    // Request durations go to metrics; one log line per request would drown the useful ones.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    // Refuse unknown fields instead of silently dropping them; never coerce types.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    return503OnClosing: true,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.idleTimeoutMs,
    // Node checks the timeouts above every 30 s by default: a slow sender would keep its slot that long.
    http: { headersTimeout, connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headersTimeout / 4))) },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy()
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
        metrics.rpcRefused.inc({ code: 'REQUEST_TIMEOUT' })
        return rawReply(socket, 'REQUEST_TIMEOUT', `the request did not arrive within ${options.requestTimeoutMs} ms`)
      }
      rawReply(socket, 'INVALID_REQUEST', 'malformed HTTP request')
    },
  })
  capConnections(app.server, options.maxConnections, () => metrics.rpcRefused.inc({ code: 'TOO_MANY_CONNECTIONS' }))
  // Response schemas document the API (OpenAPI) and a test holds every answer to them; they do not
  // serialize, so a field missing from a schema is caught by that test instead of silently dropped.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data))
  // JSON only: without this, fastify's built-in text/plain parser would pass strings to the schemas.
  app.removeContentTypeParser('text/plain')
  // Fastify's JSON parser (prototype-poisoning checks included), behind a nesting-depth limit.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonDepthExceeds(body as string, MAX_JSON_DEPTH)) {
      return done(new CertchainError('JSON_TOO_DEEP', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`), undefined)
    }
    // Fastify's parser is callback style; it returns nothing to wait for.
    void parseJson(request, body as string, done)
  })

  const limiter = new RateLimiter(options.rateLimitPerSecond, options.rateLimitBurst, options.rateLimitExempt)
  const bodies = new BodyBudget(options.maxBodyBytesInFlight, options.bodyLimitBytes)
  const refuse = (reply: FastifyReply, code: ErrorCode, message: string) => {
    metrics.rpcRefused.inc({ code })
    return reply.status(ErrorCodes[code]).send({ code, message })
  }
  // Every hook runs on every request: callback style, so none costs a promise and a microtask turn
  // (a single-id lookup is only tens of microseconds of JavaScript). A refusal sends the reply
  // and does not call `done`.
  app.addHook('onRequest', (request, reply, done) => {
    if (!limiter.take(request.ip)) {
      reply.header('retry-after', String(limiter.retryAfter(request.ip)))
      void refuse(reply, 'RATE_LIMITED', `more than ${options.rateLimitPerSecond} requests per second from ${request.ip}; retry later`)
      return
    }
    if (request.method === 'POST' && !bodies.reserve(request.raw, reply.raw)) {
      void refuse(reply, 'RPC_BUSY', `request bodies being received would exceed ${options.maxBodyBytesInFlight} bytes; retry later`)
      return
    }
    done()
  })
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
    const status = reply.statusCode
    // A refused request spends more of its client's budget than an answered one.
    if (status >= 400 && status < 500 && status !== 429) limiter.take(request.ip, FAILURE_COST)
    metrics.rpcDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(status) },
      reply.elapsedTime / 1000,
    )
    done()
  })

  const { ledger, mempool } = backend

  app.get('/healthz', { schema: { operationId: 'health', summary: 'Liveness: the node answers and its height', response: responses({ 200: HEALTH }) } }, () => ({ ok: true, height: ledger.head.height }))

  app.get('/metrics', { schema: { operationId: 'metrics', summary: 'Prometheus metrics', response: responses({ 200: METRICS }) } }, async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType)
    return metrics.registry.metrics()
  })

  app.get('/v1/openapi.json', { schema: { operationId: 'openapi', summary: 'This OpenAPI document', response: responses({ 200: OPENAPI }) } }, () => app.swagger())

  app.get('/v1/status', { schema: { operationId: 'getStatus', summary: 'Node and chain status', response: responses({ 200: STATUS }) } }, (): StatusResponse => {
    const status = backend.status()
    return { ...status, validators: ledger.validators(status.height + 1).length, openProposals: ledger.proposals.open.length }
  })

  await app.register(txRoutes, { backend, limiter, refuse, maxWaiters: options.maxWaiters, maxBatchTxs: options.maxBatchTxs, waitTimeoutMs: options.waitTimeoutMs })

  app.get('/v1/txs/:id', { schema: { operationId: 'getTx', summary: 'Status of a transaction', params: idParams, response: responses({ 200: TX_STATUS }, [400]) } }, async (request) => {
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
    {
      schema: {
        operationId: 'getCertificate',
        summary: 'A certificate and its current status (or as of a height or time)',
        params: idParams,
        querystring: queryParams({ at: AT }),
        response: responses({ 200: CERTIFICATE_AT }, [400, 404, 422]),
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      const { at } = request.query as { at?: string }
      const idHex = id.toLowerCase()
      const certificateId = checkedId(id)
      if (at === undefined) {
        const [entry] = await ledger.getCertificates([certificateId])
        if (!entry) throw new CertchainError('CERTIFICATE_NOT_FOUND', `certificate ${idHex} is not on this chain`)
        return reply.type(JSON_CONTENT).send(certificateViewJson(idHex, entry, ledger.registry, backend.now()))
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
        operationId: 'getCertificateStatuses',
        summary: `Statuses of up to ${MAX_STATUS_BATCH} certificates`,
        response: responses({ 200: CERTIFICATE_STATUSES }, [], { body: true }),
        body: {
          type: 'object',
          properties: { ids: { type: 'array', items: HEX32, minItems: 1, maxItems: MAX_STATUS_BATCH } },
          required: ['ids'],
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const { ids } = request.body as { ids: string[] }
      const entries = await ledger.getCertificates(ids.map(checkedId))
      const json = certificateStatusesJson(ledger.head.height, ids, entries, backend.now())
      return reply.type(JSON_CONTENT).send(json)
    },
  )

  app.post(
    '/v1/verify',
    {
      schema: {
        operationId: 'verifyCertificate',
        summary: 'Verify a certificate file against a document (or its salted hash)',
        response: responses({ 200: VERIFICATION }, [], { body: true }),
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
      // With the salted hash, the file may come without its salt (certchain verify sends it so).
      const file = certificateFileFromJson(body.certificate, { withoutSalt: body.documentHash !== undefined })
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

  const blockViews = new BlockViews(BLOCK_VIEWS_CHARS)
  const sendBlock = async (height: number, reply: FastifyReply) => {
    if (height < 1 || height > ledger.head.height) {
      throw new CertchainError('BLOCK_NOT_FOUND', height === 0 ? 'no block committed yet' : `no block at height ${height}`)
    }
    if (height < ledger.base) {
      throw new CertchainError('BLOCK_PRUNED', `block ${height} was pruned here (bodies kept from height ${ledger.base}); ask an archival node`)
    }
    const json = await blockViews.get(height, async () => {
      const block = await ledger.getBlock(height)
      if (!block) throw new CertchainError('BLOCK_NOT_FOUND', `no block at height ${height}`)
      return JSON.stringify(blockView(block, (bytes) => ledger.decodeTx(bytes)))
    })
    return reply.type(JSON_CONTENT).send(json)
  }

  app.get('/v1/blocks/latest', { schema: { operationId: 'getLatestBlock', summary: 'The latest committed block', response: responses({ 200: BLOCK }, [404]) } }, (_request, reply) => sendBlock(ledger.head.height, reply))

  app.get(
    '/v1/blocks/:height',
    {
      schema: {
        operationId: 'getBlock',
        summary: 'The block at a height',
        params: pathParams({ height: UINT }),
        response: responses({ 200: BLOCK }, [400, 404, 410]),
      },
    },
    (request, reply) => sendBlock(Number((request.params as { height: string }).height), reply),
  )

  await app.listen({ host: options.host, port: options.port })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : options.port
  const host = options.host.includes(':') ? `[${options.host}]` : options.host
  return {
    address: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    async inject({ method, url, body, contentType }) {
      const res = await app.inject({ method, url, ...(body === undefined ? {} : { payload: Buffer.from(body), headers: { 'content-type': contentType ?? 'application/json' } }) })
      return { status: res.statusCode, body: res.body }
    },
    close: () => app.close(),
  }
}
