/**
 * Issue 11 item 2: signatures verified on worker threads in batches, with exactly the verdicts of
 * the one rule (src/core/crypto.ts `verify`, node:crypto), also when a worker dies or the pool is
 * closed. The workers are the compiled ones (dist/, built by the test setup).
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Writable } from 'node:stream'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { fromHex } from '../../../src/core/bytes.js'
import { generateKeyPair, sign, verify, type SignatureCheck } from '../../../src/core/crypto.js'
import { createMetrics } from '../../../src/node/metrics.js'
import { VerifyPool, type VerifyPoolOptions } from '../../../src/node/verify-pool.js'
import { packChecks, verifyPacked } from '../../../src/node/verify-batch.js'

const VECTORS = resolve(import.meta.dirname, '../../vectors/ed25519-speccheck.json')
const FIXTURES = new URL('./fixtures/', import.meta.url)

/** Valid and invalid checks of every kind: good, wrong key, wrong message, flipped, short, long, empty, the speccheck edge cases. */
function vectors(): SignatureCheck[] {
  const a = generateKeyPair()
  const b = generateKeyPair()
  const message = new TextEncoder().encode('주민등록표 등본 발급')
  const other = new TextEncoder().encode('가족관계증명서 발급')
  const sig = sign(a.secretKey, message)
  const flipped = Uint8Array.from(sig)
  flipped[63]! ^= 0x10
  const checks: SignatureCheck[] = [
    { publicKey: a.publicKey, message, signature: sig },
    { publicKey: b.publicKey, message, signature: sig },
    { publicKey: a.publicKey, message: other, signature: sig },
    { publicKey: a.publicKey, message, signature: flipped },
    { publicKey: a.publicKey, message, signature: sig.subarray(0, 63) },
    { publicKey: a.publicKey, message, signature: Uint8Array.from([...sig, 0]) },
    { publicKey: a.publicKey.subarray(0, 31), message, signature: sig },
    { publicKey: new Uint8Array(0), message: new Uint8Array(0), signature: new Uint8Array(0) },
    { publicKey: new Uint8Array(32), message, signature: new Uint8Array(64) },
    { publicKey: b.publicKey, message: new Uint8Array(0), signature: sign(b.secretKey, new Uint8Array(0)) },
  ]
  const speccheck = JSON.parse(readFileSync(VECTORS, 'utf8')) as { cases: { message: string; pub_key: string; signature: string }[] }
  for (const c of speccheck.cases) checks.push({ publicKey: fromHex(c.pub_key), message: fromHex(c.message), signature: fromHex(c.signature) })
  return checks
}

const expected = (checks: readonly SignatureCheck[]): boolean[] => checks.map((c) => verify(c.publicKey, c.message, c.signature))

interface Opened {
  readonly pool: VerifyPool
  readonly metrics: ReturnType<typeof createMetrics>
  readonly logs: Record<string, unknown>[]
}

const pools: VerifyPool[] = []
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close()
})

function openPool(options: Partial<VerifyPoolOptions> = {}): Opened {
  const metrics = createMetrics({ defaultMetrics: false })
  const logs: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>)
      done()
    },
  })
  const pool = new VerifyPool({ threads: 1, minWorkerBatch: 1, ...options }, { logger: pino({ level: 'warn' }, stream), metrics })
  pools.push(pool)
  return { pool, metrics, logs }
}

async function counted(metrics: Opened['metrics'], name: 'certchain_signature_batches_total' | 'certchain_signatures_verified_total'): Promise<Record<string, number>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name)
  return Object.fromEntries((metric?.values ?? []).map((v) => [String(v.labels.where), v.value]))
}

async function restarts(metrics: Opened['metrics']): Promise<number> {
  return (await metrics.registry.getSingleMetric('certchain_verify_worker_restarts_total')!.get()).values[0]?.value ?? 0
}

describe('verdicts on a worker equal node:crypto verify', () => {
  it('valid, wrong key, wrong message, flipped, short, long, empty and the ten speccheck edge cases', async () => {
    const checks = vectors()
    const want = expected(checks)
    expect(want.filter(Boolean).length).toBeGreaterThanOrEqual(3)
    expect(want.filter((v) => !v).length).toBeGreaterThanOrEqual(10)
    const { pool, metrics } = openPool()
    expect(await pool.verifyBatch(checks)).toEqual(want)
    // Again, in another order: verdicts follow their checks.
    const reversed = [...checks].reverse()
    expect(await pool.verifyBatch(reversed)).toEqual(expected(reversed))
    expect(await counted(metrics, 'certchain_signatures_verified_total')).toEqual({ worker: 2 * checks.length })
  })

  it('the packed message carries every check unchanged (also outside a worker)', () => {
    const checks = vectors()
    expect(Array.from(verifyPacked(packChecks(checks)), (v) => v === 1)).toEqual(expected(checks))
    expect(verifyPacked(packChecks([]))).toEqual(new Uint8Array(0))
  })

  it('a large batch is split over the workers, answers stay in order', async () => {
    const base = vectors()
    const checks = Array.from({ length: 200 }, (_, i) => base[i % base.length]!)
    const { pool, metrics } = openPool({ threads: 2, minWorkerBatch: 8 })
    const [first, second] = await Promise.all([pool.verifyBatch(checks), pool.verifyBatch(checks.slice(7))])
    expect(first).toEqual(expected(checks))
    expect(second).toEqual(expected(checks.slice(7)))
    expect(await counted(metrics, 'certchain_signature_batches_total')).toEqual({ worker: 4 })
  })

  it('a batch below minWorkerBatch, and every batch with threads: 0, is verified inline', async () => {
    const checks = vectors()
    const small = openPool({ minWorkerBatch: checks.length + 1 })
    expect(await small.pool.verifyBatch(checks)).toEqual(expected(checks))
    expect(await counted(small.metrics, 'certchain_signatures_verified_total')).toEqual({ inline: checks.length })
    const none = openPool({ threads: 0 })
    expect(await none.pool.verifyBatch(checks)).toEqual(expected(checks))
    expect(await counted(none.metrics, 'certchain_signature_batches_total')).toEqual({ inline: 1 })
    expect(await none.pool.verifyBatch([])).toEqual([])
  })
})

describe('small batches of one event-loop turn', () => {
  it('travel to a worker together once they add up to minWorkerBatch; each gets its own verdicts', async () => {
    const checks = vectors()
    const { pool, metrics } = openPool({ minWorkerBatch: 8 })
    const answers = await Promise.all(checks.map((c) => pool.verifyBatch([c])))
    expect(answers).toEqual(expected(checks).map((v) => [v]))
    expect(await counted(metrics, 'certchain_signature_batches_total')).toEqual({ worker: 1 })
    expect(await counted(metrics, 'certchain_signatures_verified_total')).toEqual({ worker: checks.length })
  })

  it('stay inline when they do not add up', async () => {
    const checks = vectors().slice(0, 3)
    const { pool, metrics } = openPool({ minWorkerBatch: 8 })
    expect(await Promise.all([pool.verifyBatch(checks.slice(0, 1)), pool.verifyBatch(checks.slice(1))])).toEqual([expected(checks.slice(0, 1)), expected(checks.slice(1))])
    expect(await counted(metrics, 'certchain_signature_batches_total')).toEqual({ inline: 2 })
  })
})

describe('a worker that dies', () => {
  for (const [name, file] of [
    ['exits', 'exiting-verify-worker.mjs'],
    ['throws', 'throwing-verify-worker.mjs'],
  ] as const) {
    it(`${name}: its batch still gets correct verdicts (inline), the worker is replaced and the failure is logged`, async () => {
      const checks = vectors()
      const { pool, metrics, logs } = openPool({ workerUrl: new URL(file, FIXTURES) })
      expect(await pool.verifyBatch(checks)).toEqual(expected(checks))
      expect(await restarts(metrics)).toBe(1)
      expect(await counted(metrics, 'certchain_signatures_verified_total')).toEqual({ fallback: checks.length })
      expect(logs.some((l) => l.level === 40 && String(l.msg).includes('signature verification worker stopped'))).toBe(true)
      // The replacement dies too: after three failures in a row the pool stops starting workers.
      expect(await pool.verifyBatch(checks)).toEqual(expected(checks))
      expect(await pool.verifyBatch(checks)).toEqual(expected(checks))
      expect(await restarts(metrics)).toBe(3)
      expect(logs.some((l) => l.level === 50 && String(l.msg).includes('keep failing'))).toBe(true)
      expect(await pool.verifyBatch(checks)).toEqual(expected(checks))
      expect(await restarts(metrics)).toBe(3)
      expect(await counted(metrics, 'certchain_signatures_verified_total')).toEqual({ fallback: 3 * checks.length, inline: checks.length })
    })
  }

  it('a real worker terminated while it holds a batch: the batch is verified inline, the next one goes to a new worker', async () => {
    const base = vectors()
    const checks = Array.from({ length: 2000 }, (_, i) => base[i % base.length]!)
    const { pool, metrics } = openPool()
    expect(await pool.verifyBatch(base)).toEqual(expected(base))
    // The pool keeps its workers private; the test reaches in to kill one mid-batch.
    const worker = (pool as unknown as { threads: { worker: { terminate(): Promise<number> } }[] }).threads[0]!.worker
    const answer = pool.verifyBatch(checks)
    await worker.terminate()
    expect(await answer).toEqual(expected(checks))
    expect(await restarts(metrics)).toBe(1)
    expect(await counted(metrics, 'certchain_signatures_verified_total')).toEqual({ worker: base.length, fallback: checks.length })
    expect(await pool.verifyBatch(base)).toEqual(expected(base))
    expect((await counted(metrics, 'certchain_signatures_verified_total')).worker).toBe(2 * base.length)
  })
})

describe('close', () => {
  it('stops the workers; batches in flight and later ones get correct verdicts inline', async () => {
    const base = vectors()
    const checks = Array.from({ length: 2000 }, (_, i) => base[i % base.length]!)
    const { pool, metrics, logs } = openPool()
    expect(await pool.verifyBatch(base)).toEqual(expected(base))
    const inFlight = pool.verifyBatch(checks)
    await pool.close()
    expect(await inFlight).toEqual(expected(checks))
    expect(await pool.verifyBatch(base)).toEqual(expected(base))
    const counts = await counted(metrics, 'certchain_signatures_verified_total')
    expect(counts.inline).toBe(base.length)
    // The batch in flight was answered by the worker before it stopped, or inline after.
    expect((counts.fallback ?? 0) + (counts.worker ?? 0)).toBe(base.length + checks.length)
    // Closing is not a failure: no restart, no warning.
    expect(await restarts(metrics)).toBe(0)
    expect(logs).toEqual([])
    await pool.close()
  })
})
