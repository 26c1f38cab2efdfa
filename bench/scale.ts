/**
 * Nation-scale bench: one validator builds a chain of millions of certificates, submitted in
 * 1,000-record transactions as a ministry would, and the run then measures what that size does
 * to a node: disk per certificate after compaction, lookup rates and tail latency, memory, and how
 * long a new member takes to join by replaying every block from genesis. One JSON document on
 * stdout, progress on stderr, every result beside the ceiling that bounds it (same run).
 *
 *   npm run bench:scale                5,000,000 certificates (under 20 minutes on 2 cores)
 *   npm run bench:scale -- --quick     200,000 certificates (about two minutes)
 *   options: --certs N --records-per-tx N --phase-seconds S
 */
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { ClassicLevel } from 'classic-level'
import { loadKeyFile, toHex, type IssuerIdentity } from '../src/index.js'
import { createTestnet, packageRoot, type TestnetNode } from '../src/node/home.js'
import { startBench } from './ceilings.js'
import { benchMain, type Cleanup, intOptions, lookupCalls, freePort, issue, prepareRequests, progress, ratio, spawnNode, status, stopChild, waitUntilReady } from './harness.js'
import { HttpClient } from './http.js'
import { closedLoop, openLoop, round, sleep } from './load.js'
import { scrape } from './metrics.js'

const TARGETS = {
  diskBytesPerCertificate: 200,
  singleLookupsPerSec: 10_000,
  batchIdsPerSec: 150_000,
  openLoopP99Ms: 10,
  totalMinutes: 20,
  stateSyncJoinSeconds: 60,
} as const

/** The per-peer budget a node serves snapshot chunks within (`DEFAULT_SYNC_SERVE_LIMITS`). */
const SNAPSHOT_SERVE_BYTES_PER_SEC = 8 * 1024 * 1024

const STATUS_BATCH_IDS = 1000
/** Certificate ids kept for the lookups, spread evenly over the whole chain. */
const SAMPLED_IDS = 200_000
/** Transactions submitted but not yet committed: enough to fill blocks, little enough to keep the mempool small. */
const UNCOMMITTED_TXS = 64
/** 1,000-record transactions per POST /v1/txs/batch (~0.9 MB of CBOR), as an agency's bulk upload sends them. */
const TXS_PER_REQUEST = 8
const JOIN_TIMEOUT_MS = 15 * 60 * 1000

interface Settings {
  readonly mode: 'full' | 'quick'
  readonly certs: number
  readonly recordsPerTx: number
  readonly concurrency: number
  readonly bulkConcurrency: number
  readonly phaseMs: number
  readonly ceilingMs: number
}

function settingsFrom(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      certs: { type: 'string' },
      'records-per-tx': { type: 'string' },
      'phase-seconds': { type: 'string' },
    },
  })
  const int = intOptions(values)
  const quick = values.quick === true
  return {
    mode: quick ? 'quick' : 'full',
    certs: int('certs', quick ? 200_000 : 5_000_000),
    recordsPerTx: int('records-per-tx', 1000),
    concurrency: 128,
    bulkConcurrency: 4,
    phaseMs: int('phase-seconds', quick ? 3 : 10) * 1000,
    ceilingMs: quick ? 1000 : 2000,
  }
}

/** A node process of the testnet and its RPC client. */
interface Running {
  readonly node: TestnetNode
  readonly client: HttpClient
  readonly process: ReturnType<typeof spawnNode>
}

async function start(node: TestnetNode, concurrency: number, cleanup: Cleanup, extraArgs: readonly string[] = []): Promise<Running> {
  const bin = join(packageRoot(), 'bin', 'certchain.js')
  const child = spawnNode([bin, 'start', '--home', node.home, '--log-level', 'warn', ...extraArgs], cleanup, node.name)
  child.child.stdout.on('data', (chunk: Buffer) => process.stderr.write(`[${node.name}] ${chunk.toString()}`))
  const client = new HttpClient(node.rpcUrl, concurrency)
  cleanup.add(() => client.close())
  await Promise.race([waitUntilReady(client), child.died])
  return { node, client, process: child }
}

async function stop(running: Running): Promise<void> {
  running.client.close()
  await stopChild(running.process.child)
}

/**
 * Signs and submits `settings.certs` certificates while the validator commits them. Signing runs
 * here, one request ahead of need: holding 5,000 signed transactions (and their salts) in
 * memory would measure this process's garbage collector instead of the validator.
 */
async function buildChain(validator: Running, chainId: string, identity: IssuerIdentity, settings: Settings) {
  const txs = Math.ceil(settings.certs / settings.recordsPerTx)
  const sampleEvery = Math.max(1, Math.floor(settings.certs / SAMPLED_IDS))
  const sample: string[] = []
  let submitted = 0
  let committed = (await status(validator.client)).certificates
  const base = committed
  let polling: Promise<void> | undefined
  // One shared poll, so the submitters waiting for room cost one status request.
  const refresh = (): Promise<void> =>
    (polling ??= status(validator.client)
      .then((s) => void (committed = s.certificates))
      .finally(() => (polling = undefined)))
  const started = performance.now()
  let reported = started
  const requests = Math.ceil(txs / TXS_PER_REQUEST)
  const run = await closedLoop(settings.bulkConcurrency, { total: requests, stopOnFailure: true }, async (q) => {
    const count = Math.min(TXS_PER_REQUEST, txs - q * TXS_PER_REQUEST)
    const prepared = issue(chainId, identity, count, settings.recordsPerTx)
    prepared.forEach((p, i) =>
      p.certificateIds.forEach((id, r) => {
        if (((q * TXS_PER_REQUEST + i) * settings.recordsPerTx + r) % sampleEvery === 0) sample.push(toHex(id))
      }),
    )
    const certs = count * settings.recordsPerTx
    while (submitted + certs - (committed - base) > UNCOMMITTED_TXS * settings.recordsPerTx) {
      await Promise.race([refresh(), validator.process.died])
      await sleep(10)
    }
    const sent = await prepareRequests(prepared, { route: '/v1/txs/batch', perRequest: count }).send(validator.client, 0)
    if (sent.refusal !== undefined) throw new Error(`POST /v1/txs/batch: ${sent.refusal}`)
    submitted += certs
    if (performance.now() - reported > 10_000) {
      reported = performance.now()
      const seconds = (reported - started) / 1000
      progress(`built ${committed - base} of ${settings.certs} certificates (${round((committed - base) / seconds, 0)}/s)`)
    }
    return true
  })
  if (run.failures > 0) throw new Error(`chain build: ${run.firstFailure ?? 'a submission failed'}`)
  for (;;) {
    const s = await status(validator.client)
    if (s.certificates - base >= submitted) {
      const seconds = (performance.now() - started) / 1000
      return { certificates: s.certificates, height: s.height, txs, seconds: round(seconds, 1), certsPerSec: round(submitted / seconds, 1), sample }
    }
    await sleep(50)
  }
}

/** Single-id and 1,000-id lookups spread over the whole chain, then single ids at half the rate found. */
async function lookups(validator: Running, ids: string[], settings: Settings) {
  const { single, statusBatch: batch } = lookupCalls(validator.client, ids, STATUS_BATCH_IDS)
  // The first pass over cold ids is part of what is measured: at this size most of them are not cached.
  progress(`single-id lookups for ${settings.phaseMs} ms, ${settings.concurrency} in flight`)
  const singleRun = await closedLoop(settings.concurrency, { durationMs: settings.phaseMs }, single)
  progress(`${singleRun.perSec} lookups/s; ${STATUS_BATCH_IDS}-id status requests`)
  const batchRun = await closedLoop(settings.bulkConcurrency, { durationMs: settings.phaseMs }, batch)
  const offered = Math.max(1, Math.round(singleRun.perSec / 2))
  progress(`${round(batchRun.perSec * STATUS_BATCH_IDS)} ids/s; open-loop lookups at ${offered}/s`)
  const fixed = await openLoop(offered, settings.phaseMs, single)
  return { single: singleRun, batch: { ...batchRun, idsPerSec: round(batchRun.perSec * STATUS_BATCH_IDS, 1) }, fixed: { offeredPerSec: offered, ...fixed } }
}

async function directoryBytes(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size
  }
  return total
}

/**
 * Compacts the stopped validator's chain store (what LevelDB does on its own in time) and
 * measures it on disk, with LevelDB's estimate of each key bucket's share (the first key byte
 * names the bucket: see src/ledger/store.ts).
 */
async function diskUse(home: string, certificates: number) {
  const dir = join(home, 'data', 'chain')
  const before = await directoryBytes(dir)
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  const started = performance.now()
  try {
    await db.compactRange(Uint8Array.of(0), Uint8Array.of(255))
    const buckets: Record<string, number> = {}
    for (let b = 0; b < 32; b++) {
      const bytes = await db.approximateSize(Uint8Array.of(b), Uint8Array.of(b + 1))
      if (bytes > 0) buckets[`bucket${b}`] = bytes
    }
    const compactSeconds = round((performance.now() - started) / 1000, 1)
    await db.close()
    const after = await directoryBytes(dir)
    return {
      bytesBeforeCompaction: before,
      bytes: after,
      bytesPerCertificate: round(after / certificates, 1),
      compactSeconds,
      approximateBytesByBucket: buckets,
    }
  } finally {
    if (db.status === 'open') await db.close()
  }
}

type JoinBy = 'block sync' | 'state sync'

/**
 * Starts a member with an empty store and times it until it holds the validator's head: by
 * replaying every block from genesis, or from the validator's snapshot (light-verified from the
 * genesis) and the blocks after it. A state sync that fell back to block sync fails the bench.
 */
async function joinChain(member: TestnetNode, by: JoinBy, head: { height: number; certificates: number }, settings: Settings, cleanup: Cleanup) {
  const started = performance.now()
  const running = await start(member, settings.concurrency, cleanup, by === 'state sync' ? ['--state-sync'] : [])
  const deadline = Date.now() + JOIN_TIMEOUT_MS
  let reported = performance.now()
  for (;;) {
    const s = await Promise.race([status(running.client), running.process.died])
    if (s.height >= head.height && (by === 'block sync' || s.stateSync.phase === 'done')) {
      if (s.certificates < head.certificates) throw new Error(`${member.name} reached ${s.height} with ${s.certificates} certificates, the validator has ${head.certificates}`)
      const seconds = (performance.now() - started) / 1000
      const metrics = await scrape(running.client)
      await stop(running)
      return {
        by,
        height: s.height,
        baseHeight: s.baseHeight,
        seconds: round(seconds, 1),
        certsPerSec: round(head.certificates / seconds, 1),
        ...(by === 'state sync' ? { stateSyncSeconds: metrics.get('certchain_state_sync_seconds') ?? null } : {}),
        rssBytes: metrics.get('certchain_process_resident_memory_bytes') ?? null,
      }
    }
    if (by === 'state sync' && s.stateSync.phase === 'failed') throw new Error(`${member.name}: state sync failed (see its log above)`)
    if (Date.now() > deadline) throw new Error(`${member.name} at height ${s.height} of ${head.height} after ${JOIN_TIMEOUT_MS / 60_000} minutes`)
    if (performance.now() - reported > 10_000) {
      reported = performance.now()
      const p = s.stateSync
      progress(`${member.name} ${by}: height ${s.height} of ${head.height}${by === 'state sync' ? `, ${p.phase} ${p.chunksDone}/${p.chunksTotal} chunks` : ''}`)
    }
    await sleep(100)
  }
}

/** Makes the (stopped) validator snapshot the block after `height` and nothing later. */
async function snapshotNextBlock(home: string, height: number): Promise<void> {
  const path = join(home, 'config.json')
  const config = JSON.parse(await readFile(path, 'utf8')) as { stateSync?: Record<string, unknown> }
  await writeFile(path, JSON.stringify({ ...config, stateSync: { ...config.stateSync, snapshotInterval: height + 1 } }, null, 2))
}

/** Waits until the validator has written its snapshot at `height`; its size and how long it took. */
async function snapshotTaken(validator: Running, height: number) {
  const deadline = Date.now() + JOIN_TIMEOUT_MS
  for (;;) {
    const m = await Promise.race([scrape(validator.client), validator.process.died])
    if ((m.get('certchain_snapshot_height') ?? 0) >= height) {
      return { height, seconds: m.get('certchain_snapshot_seconds') ?? null, bytes: m.get('certchain_snapshot_bytes') ?? null }
    }
    if (Date.now() > deadline) throw new Error(`no snapshot of height ${height} after ${JOIN_TIMEOUT_MS / 60_000} minutes`)
    await sleep(500)
  }
}

async function run(settings: Settings, cleanup: Cleanup): Promise<Record<string, unknown>> {
  const started = performance.now()
  const { tmp, background, ceilings } = await startBench('certchain-bench-scale-', settings, cleanup)

  progress('creating the testnet: one validator, two members to join later')
  const manifest = await createTestnet({
    validators: 1,
    observers: 2,
    out: join(tmp, 'testnet'),
    chainId: 'certchain-bench-scale',
    rpcBasePort: await freePort(),
    p2pBasePort: await freePort(),
    consensus: { blockIntervalMs: 50 },
  })
  const issuer = manifest.issuers.find((i) => i.types.includes('kr.residence'))
  if (!issuer) throw new Error('the example genesis has no issuer for kr.residence')
  const identity = { issuer: issuer.id, key: await loadKeyFile(issuer.keyFile) }
  const [validatorNode, stateSyncNode, blockSyncNode] = manifest.nodes as [TestnetNode, TestnetNode, TestnetNode]

  let validator = await start(validatorNode, settings.concurrency, cleanup)
  progress(`building a chain of ${settings.certs} certificates in transactions of ${settings.recordsPerTx}`)
  const built = await buildChain(validator, manifest.chainId, identity, settings)
  progress(`built ${built.certificates} certificates in ${built.seconds} s (height ${built.height})`)
  const rssAfterBuild = (await scrape(validator.client)).get('certchain_process_resident_memory_bytes') ?? null
  // Right after the build, as an institution would query a chain that just took a month's batch.
  const found = await lookups(validator, built.sample, settings)
  const rssAfterLookups = (await scrape(validator.client)).get('certchain_process_resident_memory_bytes') ?? null
  const head = await status(validator.client)
  await stop(validator)

  progress('compacting and measuring the validator store')
  const disk = await diskUse(validatorNode.home, built.certificates)
  progress(`${disk.bytesPerCertificate} bytes per certificate (${disk.bytes} bytes)`)

  await snapshotNextBlock(validatorNode.home, head.height)
  validator = await start(validatorNode, settings.concurrency, cleanup)
  progress(`the validator snapshots height ${head.height + 1} (its next block)`)
  const snapshot = await snapshotTaken(validator, head.height + 1)
  progress(`snapshot: ${snapshot.bytes} bytes in ${snapshot.seconds} s`)
  const target = { height: head.height + 1, certificates: built.certificates }

  progress(`${stateSyncNode.name} joins by state sync`)
  const stateSync = await joinChain(stateSyncNode, 'state sync', target, settings, cleanup)
  progress(`state sync: ${stateSync.seconds} s`)
  progress(`${blockSyncNode.name} joins by block sync from genesis`)
  const replay = await joinChain(blockSyncNode, 'block sync', target, settings, cleanup)
  progress(`block sync: ${replay.seconds} s`)
  await stop(validator)

  const totalSeconds = round((performance.now() - started) / 1000, 1)
  const met = (ok: boolean, target: number, measured: number) => ({ target, measured, met: ok })
  const targets = {
    diskBytesPerCertificate: met(disk.bytesPerCertificate <= TARGETS.diskBytesPerCertificate, TARGETS.diskBytesPerCertificate, disk.bytesPerCertificate),
    singleLookupsPerSec: met(found.single.perSec >= TARGETS.singleLookupsPerSec, TARGETS.singleLookupsPerSec, found.single.perSec),
    batchIdsPerSec: met(found.batch.idsPerSec >= TARGETS.batchIdsPerSec, TARGETS.batchIdsPerSec, found.batch.idsPerSec),
    openLoopP99Ms: met(found.fixed.failures === 0 && found.fixed.latencyMs.p99 <= TARGETS.openLoopP99Ms, TARGETS.openLoopP99Ms, found.fixed.latencyMs.p99),
    stateSyncJoinSeconds: met(stateSync.seconds <= TARGETS.stateSyncJoinSeconds, TARGETS.stateSyncJoinSeconds, stateSync.seconds),
    totalMinutes: met(totalSeconds / 60 <= TARGETS.totalMinutes, TARGETS.totalMinutes, round(totalSeconds / 60, 2)),
  }
  const cpu = cpus()
  return {
    bench: 'certchain nation scale',
    mode: settings.mode,
    date: new Date().toISOString(),
    totalSeconds,
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version, backgroundCoresBeforeStart: background },
    settings: { certs: settings.certs, recordsPerTx: settings.recordsPerTx, phaseSeconds: settings.phaseMs / 1000, sampledIds: built.sample.length },
    ceilings,
    results: {
      build: { ...built, sample: undefined, ratioToLevelNoSyncCeiling: ratio(built.certsPerSec, ceilings.level.noSyncPutsPerSec) },
      disk,
      memory: { validatorRssAfterBuildBytes: rssAfterBuild, validatorRssAfterLookupsBytes: rssAfterLookups },
      singleIdLookups: { ...found.single, ratioToBareHttpCeiling: ratio(found.single.perSec, ceilings.bareHttpRequestsPerSec), ratioToLevelGetCeiling: ratio(found.single.perSec, ceilings.level.getsPerSec) },
      batchStatusLookups: { ...found.batch, ratioToLevelGetManyCeiling: ratio(found.batch.idsPerSec, ceilings.level.getManyKeysPerSec) },
      fixedRateLookups: found.fixed,
      snapshot: { ...snapshot, bytesPerCertificate: snapshot.bytes === null ? null : round(snapshot.bytes / built.certificates, 1) },
      stateSyncJoin: {
        ...stateSync,
        // The serving budget bounds the transfer from one peer: the validator is the only one here.
        transferFloorSeconds: snapshot.bytes === null ? null : round(snapshot.bytes / SNAPSHOT_SERVE_BYTES_PER_SEC, 1),
      },
      blockSyncFromGenesis: { ...replay, ratioToLevelNoSyncCeiling: ratio(replay.certsPerSec, ceilings.level.noSyncPutsPerSec) },
    },
    formulas: {
      build: 'certificates committed / (first submission -> last committed), signing included (this process signs one request of 8 transactions ahead of need)',
      disk: "files under the validator's data/chain after LevelDB compactRange over every key, / certificates; buckets are LevelDB's approximateSize per first key byte",
      singleIdLookups: 'closed loop of GET /v1/certificates/:id over ids sampled evenly from the whole chain; ratios to the bare HTTP server and to LevelDB point reads',
      batchStatusLookups: `POST /v1/certificates/status with ${STATUS_BATCH_IDS} ids; ratio to LevelDB getMany keys/s`,
      fixedRateLookups: 'open loop at half of singleIdLookups.perSec; latency from scheduled send to answer',
      snapshot: "the validator's certchain_snapshot_seconds and certchain_snapshot_bytes for a snapshot of the block after the build (taken with the node running)",
      stateSyncJoin: "a member started with --state-sync and an empty store until /v1/status shows stateSync done and the snapshot's height; transferFloorSeconds = snapshot bytes / the per-peer serving budget (8 MiB/s), the least the transfer can take from one peer",
      blockSyncFromGenesis: "a member started with an empty store until its height and certificate count equal the validator's; ratio of its certificates/s to LevelDB's unsynced puts/s",
    },
    targets,
    allTargetsMet: Object.values(targets).every((t) => t.met),
  }
}

// Settings are read first so a usage error ends the run before anything starts.
const settings = settingsFrom(process.argv.slice(2))
benchMain((cleanup) => run(settings, cleanup))
