import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as dagCbor from '@ipld/dag-cbor'

export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly body: unknown
}

/** Answers for `METHOD /path` (query string ignored): a status (0: drop the connection) and a JSON body, or a function of the request. */
export type FakeRoutes = Record<string, { status?: number; body: unknown } | ((request: RecordedRequest) => { status?: number; body: unknown })>

/**
 * A stand-in for a node's RPC on loopback, for what a real node cannot be made to do on cue:
 * answer "pending", send hostile text, or show exactly what the CLI sent it.
 */
export async function startFakeRpc(routes: FakeRoutes): Promise<{ url: string; requests: RecordedRequest[]; close: () => Promise<void> }> {
  const requests: RecordedRequest[] = []
  /** JSON, or for application/cbor (a batch of transactions) the decoded value. */
  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks)
    if (raw.length === 0) return undefined
    return req.headers['content-type'] === 'application/cbor' ? dagCbor.decode(raw) : JSON.parse(raw.toString())
  }
  const server: Server = createServer((req, res) => {
    void readBody(req).then((body) => {
      const request = { method: req.method ?? 'GET', url: req.url ?? '/', body }
      requests.push(request)
      const route = routes[`${request.method} ${request.url.split('?')[0]}`]
      const answer = typeof route === 'function' ? route(request) : (route ?? { status: 404, body: { code: 'NOT_FOUND', message: 'no such route' } })
      // status 0: the node goes away without answering
      if (answer.status === 0) return void req.socket.destroy()
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(answer.body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
