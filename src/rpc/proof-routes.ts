import type { FastifyPluginCallback } from 'fastify'
import { blockHash } from '../core/block.js'
import { fromHex } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
import type { Ledger, PointInTime } from '../ledger/index.js'
import { checkpointToJson, proofToJson } from '../light/index.js'
import type { RpcBackend } from './backend.js'
import { CHECKPOINT, PROOF, responses } from './responses.js'
import { HEX32, UINT, pathParams, queryParams } from './schemas.js'

/** `at`: a height (digits) or an ISO-8601 time. */
export const AT = { type: 'string', minLength: 1, maxLength: 40 } as const

/**
 * Resolves `?at=` to the state it names: a height, or the newest block at or before a time (then
 * judged at that time). Beyond the head is refused: the chain cannot answer for what it has not
 * decided yet.
 */
export async function resolveAt(ledger: Ledger, at: string): Promise<PointInTime> {
  const head = ledger.head
  if (/^[0-9]{1,15}$/.test(at)) {
    const height = Number(at)
    if (height > head.height) throw new CertchainError('AT_AFTER_HEAD', `height ${height} is after the head (${head.height})`)
    return { height, time: (await ledger.stateAt(height)).time }
  }
  const time = /^\d{4}-\d{2}-\d{2}/.test(at) ? Date.parse(at) : Number.NaN
  if (Number.isNaN(time)) throw new CertchainError('INVALID_AT', `at must be a block height or an ISO-8601 time, not "${at}"`)
  if (time > head.time) {
    throw new CertchainError('AT_AFTER_HEAD', `${new Date(time).toISOString()} is after the head's time (${new Date(head.time).toISOString()}, height ${head.height})`)
  }
  return { height: await ledger.heightAtTime(time), time }
}

/** Proof bundles and checkpoints: what light verifiers take away (README, "Proof bundles"). */
export const proofRoutes: FastifyPluginCallback<{ backend: RpcBackend }> = (app, { backend }, done) => {
  const { ledger } = backend

  app.get(
    '/v1/certificates/:id/proof',
    {
      schema: {
        operationId: 'getCertificateProof',
        summary: 'A certchain/proof@1 bundle: the certificate\'s status proven against a recent signed header',
        params: pathParams({ id: HEX32 }),
        querystring: queryParams({ from: UINT }),
        response: responses({ 200: PROOF }, [400, 404]),
      },
    },
    async (request) => {
      const idHex = (request.params as { id: string }).id.toLowerCase()
      const from = Number((request.query as { from?: string }).from ?? 0)
      const bundle = await ledger.proof(fromHex(idHex, 'id', 32), from)
      if (!bundle) throw new CertchainError('CERTIFICATE_NOT_FOUND', `certificate ${idHex} is not on this chain`)
      return proofToJson(bundle)
    },
  )

  app.get(
    '/v1/checkpoint',
    {
      schema: {
        operationId: 'getCheckpoint',
        summary: 'A trust checkpoint: a header hash and the validator set that signs the next height',
        querystring: queryParams({ height: UINT }),
        response: responses({ 200: CHECKPOINT }, [400, 404, 410]),
      },
    },
    async (request) => {
      const q = (request.query as { height?: string }).height
      const height = q === undefined ? ledger.head.height : Number(q)
      if (height > ledger.head.height) throw new CertchainError('BLOCK_NOT_FOUND', `no block at height ${height} yet`)
      // The header is kept when the body is pruned: checkpoints of pruned heights stay available.
      const signed = height === 0 ? undefined : await ledger.getSignedHeader(height)
      if (height > 0 && !signed) throw new CertchainError('BLOCK_PRUNED', `height ${height} is below what this node holds (it joined by state sync at ${ledger.base - 1})`)
      const hash = signed ? blockHash(signed.header) : ledger.genesis.hash
      const validators = (await ledger.validatorsAt(height + 1)).map(({ id, publicKey }) => ({ id, publicKey }))
      return checkpointToJson({ chainId: ledger.chainId, height, headerHash: hash, validators })
    },
  )
  done()
}
