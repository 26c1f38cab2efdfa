import * as dagCbor from '@ipld/dag-cbor'
import type { FastifyPluginCallback, FastifyReply } from 'fastify'
import { fromBase64, toHex, type Bytes } from '../core/bytes.js'
import { CertchainError, ErrorCodes, type ErrorCode } from '../core/errors.js'
import { sha256 } from '../core/hash.js'
import type { RpcBackend, TxOutcome } from './backend.js'
import { FAILURE_COST, type RateLimiter } from './limits.js'
import { responses, TX_BATCH, TX_COMMITTED, TX_PENDING } from './responses.js'
import { queryParams } from './schemas.js'

export interface TxRoutesOptions {
  readonly backend: RpcBackend
  readonly limiter: RateLimiter
  readonly maxWaiters: number
  readonly maxBatchTxs: number
  readonly waitTimeoutMs: number
  /** Answers a refusal by a limit (counted in certchain_rpc_refused_total). */
  readonly refuse: (reply: FastifyReply, code: ErrorCode, message: string) => FastifyReply
}

/** What the node says about one submitted transaction: the single answer, or one entry of a batch's. */
export type TxAnswer =
  | { readonly id: string; readonly status: 'pending' }
  | { readonly id: string; readonly status: 'committed'; readonly height: number; readonly index: number }
  | { readonly id?: string; readonly status: 'rejected'; readonly code: ErrorCode; readonly message: string }

const rejected = (err: CertchainError, id?: string): TxAnswer => ({ ...(id === undefined ? {} : { id }), status: 'rejected', code: err.code, message: err.message })

const waitQuery = queryParams({ wait: { type: 'string', enum: ['commit', 'none'] } })

/**
 * Number of entries a CBOR body declares in its head, read before anything is decoded: a body
 * announcing more transactions than a batch may hold costs one byte's look.
 */
export function cborArrayLength(body: Uint8Array): number {
  const first = body[0]
  if (first === undefined || first >> 5 !== 4) throw new CertchainError('INVALID_REQUEST', 'the body must be a CBOR array of transaction byte strings')
  const info = first & 0x1f
  if (info < 24) return info
  const width = { 24: 1, 25: 2, 26: 4, 27: 8 }[info]
  if (width === undefined || body.length < 1 + width) throw new CertchainError('MALFORMED_ENCODING', 'not valid DAG-CBOR: bad array length (indefinite lengths are not DAG-CBOR)')
  let n = 0
  for (let i = 1; i <= width; i++) n = n * 256 + body[i]!
  return n
}

/**
 * `POST /v1/txs` and `POST /v1/txs/batch`. Both admit through the mempool's admission rules
 * (`backend.submitTx`, `backend.submitBatch`: the same checks in the same order, relay, metrics)
 * and wait for commits the same way; the batch only adds what a batch needs: a count cap checked
 * before decoding, a rate budget charged per transaction, its signatures verified together, and
 * one answer per entry in order.
 */
export const txRoutes: FastifyPluginCallback<TxRoutesOptions> = (app, options, done) => {
  const { backend, limiter, refuse } = options
  let waiting = 0

  const tooManyTxs = (n: number) => new CertchainError('TOO_MANY_TXS', `a batch holds at most ${options.maxBatchTxs} transactions, not ${n}`)

  /** Admission of one transaction; a refusal by a rule is an answer, anything else a failure. */
  const admit = async (bytes: Bytes): Promise<TxAnswer> => {
    try {
      const admitted = await backend.submitTx(bytes)
      return { id: admitted.id, status: 'pending' }
    } catch (err) {
      if (err instanceof CertchainError) return rejected(err)
      throw err
    }
  }

  /** What a commit wait ended with; pending when the timeout came first. */
  const settled = (id: string, outcome: TxOutcome | undefined): TxAnswer => {
    if (outcome === undefined) return { id, status: 'pending' }
    if (outcome.status === 'rejected') return { id, status: 'rejected', code: outcome.code, message: outcome.message }
    return { id, status: 'committed', height: outcome.height, index: outcome.index }
  }

  /** A waiting request holds its slot from before admission until its answer. */
  const takeWaiterSlot = (): boolean => {
    if (waiting >= options.maxWaiters) return false
    waiting++
    return true
  }
  const waiterRefusal = (reply: FastifyReply) =>
    refuse(reply, 'TOO_MANY_WAITERS', `${waiting} requests already wait for a commit; submit without ?wait=commit and poll GET /v1/txs/:id`)

  app.post(
    '/v1/txs',
    {
      schema: {
        operationId: 'submitTx',
        summary: 'Submit a signed transaction',
        description: 'Answers 202 once admitted to the mempool; with ?wait=commit, 200 once in a block, 202 if still pending at the timeout, or the refusal of the block (403/409/422 with id and status "rejected").',
        body: {
          type: 'object',
          properties: { tx: { type: 'string', minLength: 1, description: 'base64 of the canonical signed transaction' } },
          required: ['tx'],
          additionalProperties: false,
        },
        querystring: waitQuery,
        response: responses({ 200: TX_COMMITTED, 202: TX_PENDING }, [403, 409, 422], { body: true }),
      },
    },
    async (request, reply) => {
      const { tx } = request.body as { tx: string }
      const { wait } = request.query as { wait?: string }
      // Refused before anything is admitted: the client may send it again without waiting.
      if (wait === 'commit' && !takeWaiterSlot()) return waiterRefusal(reply)
      try {
        const admitted = await admit(fromBase64(tx, 'tx'))
        if (admitted.status === 'rejected') return reply.status(ErrorCodes[admitted.code]).send({ code: admitted.code, message: admitted.message })
        if (wait !== 'commit') return reply.status(202).send(admitted)
        const answer = settled(admitted.id, await backend.waitForCommit(admitted.id, options.waitTimeoutMs))
        if (answer.status === 'rejected') return reply.status(ErrorCodes[answer.code]).send(answer)
        return reply.status(answer.status === 'pending' ? 202 : 200).send(answer)
      } finally {
        if (wait === 'commit') waiting--
      }
    },
  )

  // Its own context, so the CBOR parser serves this route only.
  app.register((batchContext, _options, registered) => {
    // Binary batches only: elsewhere (single submission included) the RPC takes JSON alone.
    batchContext.addContentTypeParser('application/cbor', { parseAs: 'buffer' }, (_request, body, parsed) => {
      try {
        const bytes = body as Buffer
        const n = cborArrayLength(bytes)
        if (n > options.maxBatchTxs) throw tooManyTxs(n)
        let value: unknown
        try {
          value = dagCbor.decode(bytes)
        } catch (err) {
          throw new CertchainError('MALFORMED_ENCODING', `not valid DAG-CBOR: ${(err as Error).message}`)
        }
        const entries = value as unknown[]
        const bad = entries.findIndex((e) => !(e instanceof Uint8Array))
        if (bad >= 0) throw new CertchainError('INVALID_REQUEST', `entry ${bad} of the batch is not a byte string`)
        parsed(null, entries)
      } catch (err) {
        parsed(err as Error, undefined)
      }
    })

    batchContext.post(
      '/v1/txs/batch',
      {
        schema: {
          operationId: 'submitTxBatch',
          summary: `Submit up to ${options.maxBatchTxs} signed transactions in one request`,
          description:
            'Body: application/cbor (a DAG-CBOR array of transaction byte strings) or JSON {"txs": [base64, ...]}. Answers 200 with one result per entry, in order: ' +
            'pending (admitted), committed (with ?wait=commit) or rejected with the code single submission would give; DUPLICATE_IN_BATCH for a repeated entry, ' +
            'RATE_LIMITED for entries past the client\'s rate budget (one request per transaction). A malformed body is refused whole and nothing is admitted.',
          body: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: { txs: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, description: 'base64 of a canonical signed transaction' } } },
                  required: ['txs'],
                  additionalProperties: false,
                },
              },
              'application/cbor': { schema: { type: 'array', minItems: 1, description: 'DAG-CBOR array of canonical signed transactions (byte strings)' } },
            },
          },
          querystring: waitQuery,
          response: responses({ 200: TX_BATCH }, [], { body: true }),
        },
      },
      async (request, reply) => {
        const entries: readonly (string | Bytes)[] = Array.isArray(request.body) ? (request.body as Bytes[]) : (request.body as { txs: string[] }).txs
        const { wait } = request.query as { wait?: string }
        if (entries.length > options.maxBatchTxs) throw tooManyTxs(entries.length)
        if (wait === 'commit' && !takeWaiterSlot()) return waiterRefusal(reply)
        try {
          return { results: await submitBatch(entries, request.ip, reply, wait === 'commit') }
        } finally {
          if (wait === 'commit') waiting--
        }
      },
    )
    registered()
  })

  /**
   * Every entry the rate budget covers, admitted in one call (the mempool's batch admission:
   * cheap checks of each, all signatures verified at once, then the state rules in entry order),
   * then every admitted one waited for at once.
   */
  const submitBatch = async (entries: readonly (string | Bytes)[], client: string, reply: FastifyReply, wait: boolean): Promise<TxAnswer[]> => {
    backend.metrics.rpcBatchTxs.observe(entries.length)
    // The request itself paid for its first transaction; what the budget does not cover is not decoded.
    const granted = 1 + limiter.takeUpTo(client, entries.length - 1)
    const results: TxAnswer[] = []
    const waits = new Map<number, Promise<TxOutcome | undefined>>()
    const seen = new Map<string, number>()
    const repeats: { index: number; first: number }[] = []
    const admitting: { index: number; bytes: Bytes }[] = []
    for (const [index, entry] of entries.entries()) {
      if (index >= granted) break
      try {
        const bytes = typeof entry === 'string' ? fromBase64(entry, `txs[${index}]`) : entry
        const digest = toHex(sha256(bytes))
        const first = seen.get(digest)
        if (first === undefined) {
          seen.set(digest, index)
          admitting.push({ index, bytes })
        } else repeats.push({ index, first })
      } catch (err) {
        results[index] = rejected(err as CertchainError)
      }
    }
    const admitted = await backend.submitBatch(
      admitting.map((a) => a.bytes),
      // Waiting starts at admission, as for a single submission: a block may commit it before the batch is done.
      (k, { id }) => {
        if (wait) waits.set(admitting[k]!.index, backend.waitForCommit(id, options.waitTimeoutMs))
      },
    )
    admitted.forEach((outcome, k) => {
      results[admitting[k]!.index] = outcome instanceof CertchainError ? rejected(outcome) : { id: outcome.id, status: 'pending' }
    })
    for (const { index, first } of repeats) {
      results[index] = rejected(new CertchainError('DUPLICATE_IN_BATCH', `entry ${index} repeats entry ${first} of this batch; see the answer there`), results[first]!.id)
    }
    // Failing entries spend the budget as failing single submissions do (down to empty, whatever is left).
    const failures = results.filter((r) => r.status === 'rejected').length
    if (failures > 0) limiter.takeUpTo(client, failures * FAILURE_COST)
    if (granted < entries.length) {
      const after = limiter.retryAfter(client)
      reply.header('retry-after', String(after))
      const limited = rejected(new CertchainError('RATE_LIMITED', `past this client's rate budget (one request per transaction); send entries ${granted} and later again in ${after} s`))
      for (let i = granted; i < entries.length; i++) results.push(limited)
    }
    const outcomes = await Promise.all(waits.values())
    let k = 0
    for (const i of waits.keys()) results[i] = settled(results[i]!.id!, outcomes[k++])
    return results
  }

  done()
}
