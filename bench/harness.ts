import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'
import * as dagCbor from '@ipld/dag-cbor'
import { prepareIssuance, toBase64, type IssuerIdentity, type NodeStatus, type PreparedIssuance } from '../src/index.js'
import type { HttpClient } from './http.js'
import { round, sleep, type Call } from './load.js'

/** What the benches share: node processes, readiness, pre-signed load, cleanup. */

const benchStarted = performance.now()
const DAY_MS = 24 * 60 * 60 * 1000

export function progress(message: string): void {
  process.stderr.write(`[bench +${((performance.now() - benchStarted) / 1000).toFixed(2)}s] ${message}\n`)
}

/** Everything to undo on exit, error or Ctrl-C, newest first; runs once. */
export class Cleanup {
  private readonly steps: (() => void | Promise<void>)[] = []
  private running: Promise<void> | undefined

  add(step: () => void | Promise<void>): void {
    this.steps.push(step)
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step()
        } catch (err) {
          progress(`cleanup: ${(err as Error).message}`)
        }
      }
    })()
    return this.running
  }
}

/** Stops a child with SIGTERM (it shuts down cleanly and writes its CPU profile), SIGKILL after 15 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}

/** Spawns a node process with its output on our stderr, stopped by `cleanup`. */
export function spawnNode(
  args: readonly string[],
  cleanup: Cleanup,
  label: string,
): { child: ChildProcessByStdio<null, Readable, Readable>; died: Promise<never> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(`[${label}] ${chunk.toString()}`))
  cleanup.add(() => stopChild(child))
  // Rejects if the child exits on its own; races every phase so a crash ends the bench at once.
  const died = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`${label} exited unexpectedly (code ${code}, signal ${signal})`)))
  })
  died.catch(() => undefined)
  return { child, died }
}

export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('cannot find a free port')
  return address.port
}

export async function status(client: HttpClient): Promise<NodeStatus> {
  const res = await client.get('/v1/status')
  if (res.status !== 200) throw new Error(`GET /v1/status: HTTP ${res.status}`)
  return JSON.parse(res.body.toString()) as NodeStatus
}

export async function waitUntilReady(client: HttpClient): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      if ((await client.get('/healthz')).status === 200) return
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error('node did not answer /healthz within 30 s')
    await sleep(100)
  }
}

/** Pre-signed issuances of `recordsPerTx` residence certificates each (signing is not measured). */
export function issue(chainId: string, identity: IssuerIdentity, txs: number, recordsPerTx: number): PreparedIssuance[] {
  const now = Date.now()
  // Long enough for a slow full run, within the chain's one-hour limit on expiry.
  const expiresAt = now + 50 * 60 * 1000
  return Array.from({ length: txs }, (_, t) =>
    prepareIssuance(
      chainId,
      identity,
      Array.from({ length: recordsPerTx }, (_, r) => ({
        type: 'kr.residence',
        document: Buffer.from(`bench document ${t}/${r}`),
        validFrom: now,
        validUntil: now + 90 * DAY_MS,
      })),
      { expiresAt },
    ),
  )
}

/** A ratio of a measured rate to the ceiling that bounds it. */
export const ratio = (value: number, ceiling: number): number => round(value / ceiling, 4)

/**
 * A bench's entry point: runs `run`, prints its report as one JSON document on stdout, and undoes
 * everything in `cleanup` on success, failure, Ctrl-C or SIGTERM.
 */
export function benchMain(run: (cleanup: Cleanup) => Promise<Record<string, unknown>>): void {
  const cleanup = new Cleanup()
  const interrupted = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping`)
    void cleanup.run().finally(() => process.exit(130))
  }
  process.once('SIGINT', interrupted)
  process.once('SIGTERM', interrupted)
  run(cleanup)
    .then((report) => process.stdout.write(JSON.stringify(report, null, 2) + '\n'))
    .finally(() => cleanup.run())
    .catch((err: unknown) => {
      progress(`failed: ${(err as Error).stack ?? String(err)}`)
      process.exitCode = 1
    })
}

/**
 * The two lookup loads over `ids` (shuffled in place, so consecutive calls hit unrelated parts of
 * the store): GET /v1/certificates/:id, and POST /v1/certificates/status with `idsPerRequest` ids
 * (64 distinct bodies, built once).
 */
export function lookupCalls(client: HttpClient, ids: string[], idsPerRequest: number): { single: Call; statusBatch: Call } {
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[ids[i], ids[j]] = [ids[j]!, ids[i]!]
  }
  const paths = ids.map((id) => `/v1/certificates/${id}`)
  const bodies = Array.from({ length: 64 }, (_, b) =>
    Buffer.from(JSON.stringify({ ids: Array.from({ length: idsPerRequest }, (_, k) => ids[(b * idsPerRequest + k) % ids.length]) })),
  )
  return {
    single: async (i) => (await client.get(paths[i % paths.length]!)).status === 200,
    statusBatch: async (i) => (await client.post('/v1/certificates/status', bodies[i % bodies.length]!)).status === 200,
  }
}

/** A reader of positive integer options from parseArgs' values: `int('certs', 5_000_000)`. */
export function intOptions<K extends string>(values: Partial<Record<K, string | boolean | undefined>>): (name: K, fallback: number) => number {
  return (name, fallback) => {
    const raw = values[name]
    if (raw === undefined) return fallback
    const n = Number(raw)
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`)
    return n
  }
}

/**
 * How a load generator submits pre-signed transactions: one `POST /v1/txs` each, or
 * `POST /v1/txs/batch` with `perRequest` of them in one DAG-CBOR body (how agencies submit).
 */
export type Submission = { readonly route: '/v1/txs' } | { readonly route: '/v1/txs/batch'; readonly perRequest: number }

export interface PreparedRequests {
  readonly bodies: readonly Buffer[]
  /** Sends body `i`: how many of its transactions the node admitted, and why one was not. */
  send(client: HttpClient, i: number): Promise<{ admitted: number; refusal?: string }>
}

/** Request bodies for `txs` (built before timing) and how to send one and count what it admitted. */
export function prepareRequests(txs: readonly { readonly bytes: Uint8Array }[], submission: Submission): PreparedRequests {
  if (submission.route === '/v1/txs') {
    const bodies = txs.map((t) => Buffer.from(JSON.stringify({ tx: toBase64(t.bytes) })))
    return {
      bodies,
      send: async (client, i) => {
        const res = await client.post('/v1/txs', bodies[i]!)
        return res.status === 202 ? { admitted: 1 } : { admitted: 0, refusal: `HTTP ${res.status}: ${res.body.toString().slice(0, 200)}` }
      },
    }
  }
  const bodies: Buffer[] = []
  for (let i = 0; i < txs.length; i += submission.perRequest) bodies.push(Buffer.from(dagCbor.encode(txs.slice(i, i + submission.perRequest).map((t) => t.bytes))))
  return {
    bodies,
    send: async (client, i) => {
      const res = await client.post('/v1/txs/batch', bodies[i]!, 'application/cbor')
      if (res.status !== 200) return { admitted: 0, refusal: `HTTP ${res.status}: ${res.body.toString().slice(0, 200)}` }
      const { results } = JSON.parse(res.body.toString()) as { results: { status: string; code?: string; message?: string }[] }
      const refused = results.find((r) => r.status !== 'pending')
      const admitted = results.filter((r) => r.status === 'pending').length
      return refused ? { admitted, refusal: `${refused.code}: ${refused.message}` } : { admitted }
    },
  }
}
