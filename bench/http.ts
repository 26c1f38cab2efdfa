import { connect, type Socket } from 'node:net'

export interface HttpResponse {
  readonly status: number
  readonly body: Buffer
}

const HEADER_END = Buffer.from('\r\n\r\n')
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i

interface Pending {
  resolve(response: HttpResponse): void
  reject(err: Error): void
}

/** One keep-alive connection carrying one request at a time (no pipelining). */
class Connection {
  private readonly socket: Socket
  private received: Buffer | undefined
  private pending: Pending | undefined
  closed = false
  /** Whether a request was answered on it: a reused connection may have been closed idle by the server. */
  answered = false

  constructor(host: string, port: number) {
    this.socket = connect({ host, port, noDelay: true })
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('error', (err) => this.fail(err))
    this.socket.on('close', () => this.fail(new Error('connection closed by the server')))
  }

  send(request: Buffer, pending: Pending): void {
    this.pending = pending
    this.socket.write(request)
  }

  destroy(): void {
    this.closed = true
    this.socket.destroy()
  }

  private onData(chunk: Buffer): void {
    const data = this.received ? Buffer.concat([this.received, chunk]) : chunk
    const headerEnd = data.indexOf(HEADER_END)
    if (headerEnd < 0) {
      this.received = data
      return
    }
    // Every answer of the node (and of the bare ceiling server) carries a content-length.
    const head = data.toString('latin1', 0, headerEnd)
    const length = CONTENT_LENGTH.exec(head)?.[1]
    if (length === undefined) return this.fail(new Error(`response without content-length: ${head.split('\r\n')[0]}`))
    const end = headerEnd + HEADER_END.length + Number(length)
    if (data.length < end) {
      this.received = data
      return
    }
    this.received = undefined
    this.answered = true
    const pending = this.pending
    this.pending = undefined
    pending?.resolve({ status: Number(head.slice(9, 12)), body: data.subarray(headerEnd + HEADER_END.length, end) })
  }

  private fail(err: Error): void {
    this.closed = true
    const pending = this.pending
    this.pending = undefined
    pending?.reject(err)
  }
}

/**
 * A lean keep-alive HTTP/1.1 client over raw sockets, up to `maxConnections` requests in flight.
 * The load generator shares this two-core machine with the validator, so what it spends per request
 * is taken from the node under test: node:http's client costs more CPU per request than a bare
 * node:http server does to answer it, and fetch costs more still. This one writes one buffer per
 * request and parses only the status line and content-length.
 */
export class HttpClient {
  private readonly host: string
  private readonly port: number
  private readonly idle: Connection[] = []
  private readonly waiting: (() => void)[] = []
  private open = 0

  constructor(
    baseUrl: string,
    private readonly maxConnections: number,
  ) {
    const url = new URL(baseUrl)
    this.host = url.hostname
    this.port = Number(url.port)
  }

  get(path: string): Promise<HttpResponse> {
    return this.send(Buffer.from(`GET ${path} HTTP/1.1\r\nhost: ${this.host}\r\n\r\n`, 'latin1'))
  }

  /** `body` is JSON (or CBOR, for a batch of transactions), prepared before timing so serialization does not count against the node. */
  post(path: string, body: Buffer, contentType = 'application/json'): Promise<HttpResponse> {
    const head = `POST ${path} HTTP/1.1\r\nhost: ${this.host}\r\ncontent-type: ${contentType}\r\ncontent-length: ${body.length}\r\n\r\n`
    return this.send(Buffer.concat([Buffer.from(head, 'latin1'), body]))
  }

  close(): void {
    for (const connection of this.idle.splice(0)) connection.destroy()
  }

  private async send(request: Buffer, retried = false): Promise<HttpResponse> {
    const connection = await this.acquire()
    const sent = performance.now()
    try {
      const response = await new Promise<HttpResponse>((resolve, reject) => connection.send(request, { resolve, reject }))
      this.release(connection)
      return response
    } catch (err) {
      connection.destroy()
      this.open--
      this.waiting.shift()?.()
      // The node closes keep-alive connections idle for rpc.idleTimeoutMs (5 s); one closed while
      // this process was busy signing is noticed only when it is reused: send once more on a new one.
      if (connection.answered && !retried) return this.send(request, true)
      const line = request.toString('latin1', 0, Math.min(request.length, 80)).split('\r\n')[0]
      throw new Error(`${line}: ${(err as Error).message} after ${Math.round(performance.now() - sent)} ms${retried ? ' (second try, new connection)' : ''}`, { cause: err })
    }
  }

  private async acquire(): Promise<Connection> {
    for (;;) {
      const connection = this.idle.pop()
      if (connection && !connection.closed) return connection
      if (connection) {
        this.open--
        continue
      }
      if (this.open < this.maxConnections) {
        this.open++
        return new Connection(this.host, this.port)
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    }
  }

  private release(connection: Connection): void {
    this.idle.push(connection)
    this.waiting.shift()?.()
  }
}
