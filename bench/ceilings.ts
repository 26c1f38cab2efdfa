import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Level } from 'level'
import { createSigner, generateKeyPair, verify } from '../src/core/crypto.js'
import { backgroundCores, withCpu } from './cpu.js'
import { progress, spawnNode, stopChild, type Cleanup } from './harness.js'
import { HttpClient } from './http.js'
import { closedLoop, round } from './load.js'

/**
 * Ed25519 verifications per second on one core with the node's own `verify` (one issuer key,
 * as when one agency submits a stream of transactions, so its KeyObject stays cached). Messages
 * are distinct and about the size of a transaction's sign bytes.
 */
export function verifyCeiling(durationMs: number): { perSec: number; messages: number } {
  const signer = createSigner(generateKeyPair().secretKey)
  const messages = Array.from({ length: 4096 }, () => new Uint8Array(randomBytes(120)))
  const signatures = messages.map((m) => signer.sign(m))
  let done = 0
  const started = performance.now()
  const deadline = started + durationMs
  while (performance.now() < deadline) {
    // Check the clock once per round, not per verification.
    for (let i = 0; i < messages.length; i++) {
      if (!verify(signer.publicKey, messages[i]!, signatures[i]!)) throw new Error('verify ceiling: a valid signature did not verify')
    }
    done += messages.length
  }
  return { perSec: round(done / ((performance.now() - started) / 1000), 1), messages: messages.length }
}

export interface LevelCeiling {
  readonly putsPerBatch: number
  readonly valueBytes: number
  /** Batches written with `{ sync: true }`, as a block commit is. */
  readonly syncPutsPerSec: number
  readonly syncBatchesPerSec: number
  readonly noSyncPutsPerSec: number
  readonly getsPerSec: number
  readonly getManyKeysPerSec: number
}

/**
 * LevelDB through the `level` package, shaped like the ledger store: 33-byte keys (bucket byte +
 * 32-byte id), ~150-byte values, block-sized batches, then point reads and 1,000-key getMany over
 * what was written.
 */
export async function levelCeiling(dir: string, durationMs: number): Promise<LevelCeiling> {
  const putsPerBatch = 1000
  const valueBytes = 150
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  try {
    const keys: Uint8Array[] = []
    const value = new Uint8Array(randomBytes(valueBytes))
    const writeFor = async (sync: boolean): Promise<{ putsPerSec: number; batchesPerSec: number }> => {
      let batches = 0
      const started = performance.now()
      while (performance.now() - started < durationMs) {
        // One random draw per batch: a syscall per key would be measured instead of LevelDB.
        const random = new Uint8Array(randomBytes(33 * putsPerBatch))
        const ops = Array.from({ length: putsPerBatch }, (_, i) => {
          const key = random.subarray(i * 33, (i + 1) * 33)
          key[0] = 4
          keys.push(key)
          return { type: 'put' as const, key, value }
        })
        await db.batch(ops, { sync })
        batches++
      }
      const seconds = (performance.now() - started) / 1000
      return { putsPerSec: round((batches * putsPerBatch) / seconds, 1), batchesPerSec: round(batches / seconds, 1) }
    }
    const sync = await writeFor(true)
    const noSync = await writeFor(false)
    const pick = (i: number): Uint8Array => keys[(i * 7919) % keys.length]!
    const gets = await loadFor(durationMs, 64, async (i) => (await db.get(pick(i))) !== undefined)
    const getMany = await loadFor(durationMs, 4, async (i) => {
      const found = await db.getMany(Array.from({ length: 1000 }, (_, k) => pick(i * 1000 + k)))
      return found.every((v) => v !== undefined)
    })
    return {
      putsPerBatch,
      valueBytes,
      syncPutsPerSec: sync.putsPerSec,
      syncBatchesPerSec: sync.batchesPerSec,
      noSyncPutsPerSec: noSync.putsPerSec,
      getsPerSec: gets,
      getManyKeysPerSec: round(getMany * 1000, 1),
    }
  } finally {
    await db.close()
  }
}

async function loadFor(durationMs: number, concurrency: number, call: (i: number) => Promise<boolean>): Promise<number> {
  const run = await closedLoop(concurrency, { durationMs }, call)
  if (run.failures > 0) throw new Error(`level ceiling: ${run.firstFailure ?? 'read failed'}`)
  return run.perSec
}

/**
 * Requests per second this load generator gets from a bare node:http server (in its own process,
 * answering a fixed body the size of a certificate view): the most any HTTP endpoint can reach on
 * this machine with this client, whatever the node does per request.
 */
export async function httpCeiling(client: HttpClient, concurrency: number, durationMs: number): Promise<number> {
  const run = await closedLoop(concurrency, { durationMs }, bareGet(client))
  if (run.failures > 0) throw new Error(`http ceiling: ${run.firstFailure ?? 'request failed'}`)
  return run.perSec
}

/** One request to the bare server. */
export function bareGet(client: HttpClient): () => Promise<boolean> {
  return async () => (await client.get('/')).status === 200
}

/** The bare server for {@link httpCeiling}, as a script for `node --input-type=module -e`. */
export const BARE_HTTP_SERVER = `
import { createServer } from 'node:http'
const body = JSON.stringify({ id: '0'.repeat(64), status: 'valid', padding: 'x'.repeat(600) })
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
  res.end(body)
})
server.listen(0, '127.0.0.1', () => console.log(server.address().port))
process.on('SIGTERM', () => process.exit(0))
`

/**
 * Every ceiling a bench reports its results against, measured before any node runs: one core's
 * Ed25519 verifications, this disk's LevelDB, and this client against a bare HTTP server.
 */
export async function measureCeilings(settings: { readonly ceilingMs: number; readonly concurrency: number }, tmp: string, cleanup: Cleanup) {
  progress(`ceilings (${settings.ceilingMs} ms each): ed25519 verify`)
  const verify = await withCpu(undefined, () => verifyCeiling(settings.ceilingMs))
  progress('ceilings: LevelDB batched writes and reads')
  const level = await withCpu(undefined, () => levelCeiling(join(tmp, 'level-ceiling'), settings.ceilingMs))
  progress('ceilings: bare HTTP server')
  const bare = spawnNode(['--input-type=module', '-e', BARE_HTTP_SERVER], cleanup, 'bare-http')
  const [portLine] = (await Promise.race([once(bare.child.stdout, 'data'), bare.died])) as [Buffer]
  const client = new HttpClient(`http://127.0.0.1:${portLine.toString().trim()}`, settings.concurrency)
  // Unmeasured first second: JIT compilation and connection setup do not count.
  await Promise.race([closedLoop(settings.concurrency, { durationMs: 1000 }, bareGet(client)), bare.died])
  const http = await withCpu(bare.child.pid, () => Promise.race([httpCeiling(client, settings.concurrency, settings.ceilingMs), bare.died]))
  client.close()
  await stopChild(bare.child)
  return {
    ed25519VerifyPerSecOneCore: verify.result.perSec,
    level: level.result,
    bareHttpRequestsPerSec: http.result,
    cpu: { verify: verify.cpu, level: level.cpu, bareHttp: http.cpu },
  }
}

/**
 * What every single-machine bench does first: a scratch directory (removed by `cleanup`), a
 * warning when other processes already keep cores busy (two cores leave no room for them), and
 * the ceilings, measured before any node runs.
 */
export async function startBench(prefix: string, settings: { readonly ceilingMs: number; readonly concurrency: number }, cleanup: Cleanup) {
  const tmp = await mkdtemp(join(tmpdir(), prefix))
  cleanup.add(() => rm(tmp, { recursive: true, force: true }))
  const background = await backgroundCores(1000)
  if (background > 0.1) progress(`warning: other processes keep ${background} cores busy; expect lower, noisier numbers`)
  const ceilings = await measureCeilings(settings, tmp, cleanup)
  return { tmp, background, ceilings }
}
