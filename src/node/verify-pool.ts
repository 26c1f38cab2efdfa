import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { verifyAll, type SignatureBatchVerifier, type SignatureCheck } from '../core/crypto.js'
import type { Metrics } from './metrics.js'
import { packChecks } from './verify-batch.js'

export interface VerifyPoolOptions {
  /** Worker threads (0: every signature on the calling thread). */
  readonly threads: number
  /** Batches smaller than this are verified on the calling thread: the round trip costs more than the work. */
  readonly minWorkerBatch: number
  /** The worker's module; default {@link defaultWorkerUrl}. */
  readonly workerUrl?: URL
}

/**
 * One Ed25519 verification costs ~60-100 µs, a round trip to a worker tens of µs of the main
 * thread's time plus a wake-up: below a handful of signatures, inline is cheaper.
 */
export const DEFAULT_MIN_WORKER_BATCH = 8

/** A worker that dies this many times in a row without answering (a broken install) is not started again. */
const MAX_FAILURES_IN_A_ROW = 3

/** Worker threads when the config says `"auto"`: every core but the main thread's, at least one. */
export function defaultVerifyThreads(): number {
  return Math.max(1, availableParallelism() - 1)
}

/**
 * The worker's module: beside this one once compiled (dist/src/node/). Run from its TypeScript
 * source (vitest), the sources' `.js` imports do not resolve under plain Node, so the compiled
 * worker is used: the test setup builds dist/ before any test file runs.
 */
export function defaultWorkerUrl(): URL {
  const here = new URL(import.meta.url)
  return here.pathname.endsWith('.ts') ? new URL('../../dist/src/node/verify-worker.js', here) : new URL('./verify-worker.js', here)
}

export type VerifyPoolMetrics = Pick<Metrics, 'signatureBatches' | 'signaturesVerified' | 'verifyWorkerRestarts' | 'verifyThreads'>

/** A small batch waiting for the end of this event-loop turn, to travel with the others of the turn. */
interface Gathered {
  readonly checks: readonly SignatureCheck[]
  readonly resolve: (verdicts: boolean[]) => void
}

interface Job {
  readonly checks: readonly SignatureCheck[]
  readonly resolve: (verdicts: boolean[]) => void
}

interface Thread {
  readonly worker: Worker
  readonly jobs: Map<number, Job>
  /** Signatures sent and not answered yet: the next batch goes to the least loaded thread. */
  pending: number
}

/**
 * Ed25519 verification on worker threads (`node:worker_threads`), a batch at a time: each worker
 * runs the one verification rule ({@link verify} of src/core/crypto.ts, through node:crypto) on a
 * packed batch and answers a verdict per signature. A large batch is split over the workers; small
 * ones of one event-loop turn travel together, or are verified inline when they stay small. A
 * worker that dies is replaced (started again at the next batch) and the batches it held are
 * verified inline: a dead worker never loses or changes a verdict. Workers start on first use and
 * keep the process alive only while they hold a batch.
 */
export class VerifyPool implements SignatureBatchVerifier {
  private readonly threads: (Thread | undefined)[]
  private nextJob = 0
  private failuresInARow = 0
  private closed = false
  private gathered: Gathered[] = []

  constructor(
    private readonly options: VerifyPoolOptions,
    private readonly deps: { readonly logger: Logger; readonly metrics: VerifyPoolMetrics },
  ) {
    this.threads = Array.from({ length: options.threads }, () => undefined)
    deps.metrics.verifyThreads.set(options.threads)
  }

  /**
   * A batch smaller than minWorkerBatch waits for the end of this event-loop turn: the small
   * batches of one turn (single submissions, gossiped transactions arriving together) travel to
   * a worker together when they add up to minWorkerBatch, and are verified inline otherwise.
   */
  verifyBatch(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return Promise.resolve([])
    if (!this.usable) return Promise.resolve(this.inline(checks, 'inline'))
    if (checks.length >= this.minWorkerBatch) return this.spread(checks)
    return new Promise((resolve) => {
      if (this.gathered.length === 0) setImmediate(() => this.flush())
      this.gathered.push({ checks, resolve })
    })
  }

  private get minWorkerBatch(): number {
    return Math.max(1, this.options.minWorkerBatch)
  }

  /** The turn's small batches: to a worker as one when they add up, else each inline. */
  private flush(): void {
    const gathered = this.gathered
    this.gathered = []
    const total = gathered.reduce((n, g) => n + g.checks.length, 0)
    if (total < this.minWorkerBatch || !this.usable) {
      for (const g of gathered) g.resolve(this.inline(g.checks, 'inline'))
      return
    }
    void this.spread(gathered.flatMap((g) => g.checks)).then((verdicts) => {
      let at = 0
      for (const g of gathered) {
        g.resolve(verdicts.slice(at, at + g.checks.length))
        at += g.checks.length
      }
    })
  }

  /** One part per worker, each at least minWorkerBatch long. */
  private spread(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    const parts = Math.max(1, Math.min(this.threads.length, Math.floor(checks.length / this.minWorkerBatch)))
    const size = Math.ceil(checks.length / parts)
    const answers: Promise<boolean[]>[] = []
    for (let at = 0; at < checks.length; at += size) answers.push(this.send(checks.slice(at, at + size)))
    return Promise.all(answers).then((verdicts) => verdicts.flat())
  }

  /** Stops every worker; batches they held are verified inline, later ones too. */
  async close(): Promise<void> {
    this.closed = true
    await Promise.all(this.threads.flatMap((thread) => (thread ? [thread.worker.terminate()] : [])))
  }

  private get usable(): boolean {
    return !this.closed && this.threads.length > 0 && this.failuresInARow < MAX_FAILURES_IN_A_ROW
  }

  private inline(checks: readonly SignatureCheck[], where: 'inline' | 'fallback'): boolean[] {
    this.count(where, checks.length)
    return verifyAll(checks)
  }

  private count(where: 'worker' | 'inline' | 'fallback', signatures: number): void {
    this.deps.metrics.signatureBatches.inc({ where })
    this.deps.metrics.signaturesVerified.inc({ where }, signatures)
  }

  private send(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    const thread = this.usable ? this.leastLoaded() : undefined
    if (!thread) return Promise.resolve(this.inline(checks, this.usable ? 'fallback' : 'inline'))
    return new Promise((resolve) => {
      const id = this.nextJob++
      thread.jobs.set(id, { checks, resolve })
      thread.pending += checks.length
      if (thread.jobs.size === 1) thread.worker.ref()
      try {
        const buffer = packChecks(checks)
        thread.worker.postMessage({ id, buffer }, [buffer])
      } catch (err) {
        // Not expected (an ArrayBuffer always transfers); the batch is not lost either way.
        this.deps.logger.warn({ err }, 'cannot send a batch to a signature verification worker; verifying it inline')
        this.settle(thread, id, { checks, resolve })
        resolve(this.inline(checks, 'fallback'))
      }
    })
  }

  private leastLoaded(): Thread | undefined {
    let best = -1
    for (const [i, thread] of this.threads.entries()) {
      if (thread === undefined) {
        // An idle slot (never started, or its worker died): start it, nothing beats an empty queue.
        this.threads[i] = this.start(i)
        return this.threads[i]
      }
      if (best < 0 || thread.pending < this.threads[best]!.pending) best = i
    }
    return this.threads[best]!
  }

  private start(slot: number): Thread | undefined {
    let worker: Worker
    try {
      worker = new Worker(this.options.workerUrl ?? defaultWorkerUrl())
    } catch (err) {
      this.failed(slot, { err }, 0)
      return undefined
    }
    worker.unref()
    const thread: Thread = { worker, jobs: new Map(), pending: 0 }
    worker.on('message', (answer: { id: number; verdicts: ArrayBuffer }) => this.answered(thread, answer))
    worker.on('error', (err) => this.deps.logger.warn({ err, slot }, 'signature verification worker failed'))
    worker.on('exit', (code) => this.exited(slot, thread, code))
    return thread
  }

  private answered(thread: Thread, { id, verdicts }: { id: number; verdicts: ArrayBuffer }): void {
    const job = thread.jobs.get(id)
    if (!job) return
    this.settle(thread, id, job)
    const bytes = new Uint8Array(verdicts)
    // Never happens with our worker; if it did, the verdicts would not be trustworthy.
    if (bytes.length !== job.checks.length) {
      job.resolve(this.inline(job.checks, 'fallback'))
      return
    }
    this.failuresInARow = 0
    this.count('worker', job.checks.length)
    job.resolve(Array.from(bytes, (v) => v === 1))
  }

  private settle(thread: Thread, id: number, job: Job): void {
    thread.jobs.delete(id)
    thread.pending -= job.checks.length
    if (thread.jobs.size === 0) thread.worker.unref()
  }

  /** A worker ended: its slot is started again at the next batch, and what it held is verified here. */
  private exited(slot: number, thread: Thread, code: number): void {
    if (this.threads[slot] === thread) this.threads[slot] = undefined
    const held = [...thread.jobs]
    for (const [id, job] of held) {
      this.settle(thread, id, job)
      job.resolve(this.inline(job.checks, 'fallback'))
    }
    if (this.closed) return
    this.failed(slot, { code, batches: held.length, signatures: held.reduce((n, [, job]) => n + job.checks.length, 0) }, held.length)
  }

  private failed(slot: number, detail: Record<string, unknown>, batches: number): void {
    this.failuresInARow++
    this.deps.metrics.verifyWorkerRestarts.inc()
    const what = batches > 0 ? 'its batches were verified inline, ' : ''
    this.deps.logger.warn({ slot, ...detail }, `signature verification worker stopped; ${what}a new one takes its place at the next batch`)
    if (this.failuresInARow === MAX_FAILURES_IN_A_ROW) {
      this.deps.logger.error({ failures: this.failuresInARow }, 'signature verification workers keep failing; verifying every signature on the main thread from now on')
    }
  }
}
