/**
 * Issue 10 items 7 and 8 (JSON depth): what one RPC client can hold or spend is capped, and every
 * refusal is a JSON `{code, message}` with its status. Limits are set small here and asserted
 * as enforced (a socket closed, a request refused), not timed.
 */
import { request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { expectError, holdCommitWaits, httpGet, httpPost, issueOne, postTx, type HttpResult } from './helpers.js'
import { toHex } from '../../../src/core/index.js'
import { FAILURE_COST, MAX_JSON_DEPTH } from '../../../src/rpc/index.js'

const LIMITS = { maxConnections: 6, requestTimeoutMs: 400, idleTimeoutMs: 300, maxWaiters: 2, maxBodyBytesInFlight: 256 * 1024, bodyLimitBytes: 128 * 1024 }

let node: TestNode
let limited: TestNode

beforeAll(async () => {
  ;[node, limited] = await Promise.all([
    startTestNode({ rpc: { ...LIMITS, rateLimitPerSecond: 0 } }),
    startTestNode({ rpc: { rateLimitPerSecond: 1, rateLimitBurst: 5, rateLimitExempt: [] } }),
  ])
})
afterAll(async () => {
  await Promise.all([node?.stop(), limited?.stop()])
})

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Everything the server sends until it closes the socket (a safety net of 10 s, not a timing assertion). */
function untilClosed(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error('the server kept the socket open')), 10_000)
    socket.on('data', (d) => (text += d.toString()))
    socket.on('error', () => undefined)
    socket.once('close', () => {
      clearTimeout(timer)
      resolve(text)
    })
  })
}

function jsonOf(raw: string): { status: number; body: unknown } {
  const status = Number(raw.split(' ')[1])
  return { status, body: JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) }
}

describe('connections', () => {
  it(`TOO_MANY_CONNECTIONS (503): the connection past rpc.maxConnections is answered and closed; slots free up when sockets close`, async () => {
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnections }, () => open(node.url)))
    try {
      const extra = await open(node.url)
      const refused = jsonOf(await untilClosed(extra))
      expect(refused).toEqual({ status: 503, body: { code: 'TOO_MANY_CONNECTIONS', message: expect.stringContaining(String(LIMITS.maxConnections)) } })
    } finally {
      for (const s of held) s.destroy()
    }
    await new Promise((r) => setTimeout(r, 50))
    expect((await httpGet(node.url, '/healthz')).status).toBe(200)
  })

  it('REQUEST_TIMEOUT (408): a silent socket and a slow body are cut off after rpc.requestTimeoutMs', async () => {
    const silent = await open(node.url)
    const slow = await open(node.url)
    slow.write('POST /v1/txs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{"tx":"')
    const [silentText, slowText] = await Promise.all([untilClosed(silent), untilClosed(slow)])
    for (const text of [silentText, slowText]) {
      // Node may close a socket mid-request without an answer; when it answers, it is our JSON.
      if (text.length > 0) expect(jsonOf(text).body).toMatchObject({ code: expect.stringMatching(/^(REQUEST_TIMEOUT|INVALID_REQUEST)$/) })
    }
  })

  it('an idle kept-alive connection is closed after rpc.idleTimeoutMs', async () => {
    const socket = await open(node.url)
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n')
    const text = await untilClosed(socket)
    expect(text).toMatch(/^HTTP\/1.1 200/)
  })

  it('RPC_BUSY (503): bodies being received are capped in total by rpc.maxBodyBytesInFlight', async () => {
    // Two partial bodies of the largest size take the whole budget...
    const held = await Promise.all([open(node.url), open(node.url)])
    for (const s of held) s.write(`POST /v1/txs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${LIMITS.bodyLimitBytes}\r\n\r\n{"tx":"`)
    await new Promise((r) => setTimeout(r, 50))
    try {
      // ...so a third is refused before its body is read.
      expectError(await httpPost(node.url, '/v1/txs', { tx: 'AAAA' }), 'RPC_BUSY')
    } finally {
      for (const s of held) s.destroy()
    }
    await new Promise((r) => setTimeout(r, 50))
    expectError(await httpPost(node.url, '/v1/txs', { tx: 'AAAA' }), 'MALFORMED_ENCODING')
  })

  it('the body budget is given back after every answer, refusals on kept-alive connections included (found by the fuzzer)', async () => {
    const body = JSON.stringify({ tx: 'A'.repeat(100 * 1024) })
    const tooLarge = JSON.stringify({ tx: 'A'.repeat(200 * 1024) })
    // Each of these alone takes 40% or 50% of the budget: had any kept its share, the next would be refused.
    for (const [payload, contentType] of [
      [body, 'application/json'],
      [body, 'text/plain'],
      [tooLarge, 'application/json'],
      [body, 'application/octet-stream'],
      [tooLarge, 'application/json'],
      [body, 'application/json'],
    ] as const) {
      const res = await httpPost(node.url, '/v1/txs', payload, { raw: true, contentType })
      expect(res.body.code, res.text).not.toBe('RPC_BUSY')
    }
    expectError(await httpPost(node.url, '/v1/txs', { tx: 'AAAA' }), 'MALFORMED_ENCODING')
  })
})

describe('?wait=commit waiters', () => {
  it('TOO_MANY_WAITERS (503): waiters past rpc.maxWaiters are refused before their transaction is admitted', async () => {
    const chainId = node.manifest.chainId
    const mois = await node.identity('kr.mois')
    const { release, restore } = holdCommitWaits(node.node)
    try {
      const waiting = Array.from({ length: LIMITS.maxWaiters }, () => postTx(node.url, issueOne(chainId, mois, 'kr.residence').bytes, 'commit'))
      await new Promise((r) => setTimeout(r, 200))
      const extra = issueOne(chainId, mois, 'kr.residence')
      expectError(await postTx(node.url, extra.bytes, 'commit'), 'TOO_MANY_WAITERS')
      expect((await httpGet(node.url, `/v1/txs/${toHex(extra.id)}`)).body.status).toBe('unknown')
      // Without waiting, the same transaction is accepted.
      expect((await postTx(node.url, extra.bytes)).status).toBe(202)
      release()
      const answers: HttpResult[] = await Promise.all(waiting)
      expect(answers.map((a) => (a.body as { status: string }).status)).toEqual(['committed', 'committed'])
    } finally {
      restore()
    }
  })
})

describe('per-client rate limit', () => {
  /** GET from a given loopback address, so each test is its own client. */
  function getFrom(localAddress: string, path: string): Promise<{ status: number; retryAfter: string | undefined; body: unknown }> {
    const { hostname, port } = new URL(limited.url)
    return new Promise((resolve, reject) => {
      const req = request({ host: hostname, port: Number(port), path, localAddress, agent: false }, (res) => {
        let text = ''
        res.on('data', (d: Buffer) => (text += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body: JSON.parse(text) }))
      })
      req.on('error', reject)
      req.end()
    })
  }

  it('RATE_LIMITED (429): past rpc.rateLimitBurst a client is refused with Retry-After; other clients are not', async () => {
    const answers = []
    for (let i = 0; i < 6; i++) answers.push(await getFrom('127.0.0.2', '/v1/status'))
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 429])
    expect(answers[5]!.retryAfter).toMatch(/^[1-9]\d*$/)
    expect(answers[5]!.body).toEqual({ code: 'RATE_LIMITED', message: expect.any(String) })
    expect((await getFrom('127.0.0.3', '/v1/status')).status).toBe(200)
    const metrics = await (await fetch(node.url + '/metrics')).text()
    expect(metrics).toMatch(/certchain_rpc_refused_total\{code="TOO_MANY_CONNECTIONS"\} [1-9]/)
  })

  it(`a refused request costs ${1 + FAILURE_COST} requests of the budget`, async () => {
    // Burst 5: one refused request (404) spends it all.
    expect((await getFrom('127.0.0.4', '/v1/nope')).status).toBe(404)
    expect((await getFrom('127.0.0.4', '/v1/status')).status).toBe(429)
  })
})

describe('JSON bodies', () => {
  // The body object is one level, the certificate's arrays the rest.
  const nested = (depth: number) => ({ certificate: JSON.parse('['.repeat(depth - 1) + ']'.repeat(depth - 1)), documentHash: '00'.repeat(32) })

  it(`JSON_TOO_DEEP (400): a body nested deeper than ${MAX_JSON_DEPTH} levels is refused before it is parsed`, async () => {
    expectError(await httpPost(node.url, '/v1/verify', nested(MAX_JSON_DEPTH + 1)), 'JSON_TOO_DEEP')
    // At the limit the body is parsed and reaches the schema.
    expectError(await httpPost(node.url, '/v1/verify', nested(MAX_JSON_DEPTH)), 'INVALID_REQUEST')
    // A hundred thousand levels (what a 128 KiB body allows) cost one scan.
    const deep = '{"certificate":' + '['.repeat(60_000) + ']'.repeat(60_000) + '}'
    expectError(await httpPost(node.url, '/v1/verify', deep, { raw: true }), 'JSON_TOO_DEEP')
    // Brackets inside strings are not nesting.
    expectError(await httpPost(node.url, '/v1/txs', { tx: '['.repeat(1000) }), 'INVALID_BASE64')
  })
})
