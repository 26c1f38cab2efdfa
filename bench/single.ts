/**
 * Single-validator throughput and latency bench. Starts one validator as a child process on a
 * fresh testnet, drives it over HTTP from this process, measures the machine's ceilings in the
 * same run, and prints one JSON document on stdout (progress goes to stderr).
 *
 *   npm run bench                 full run (a few minutes)
 *   npm run bench -- --quick      smaller counts, under a minute
 *   options: --single-txs N --txs-per-request N --batch-txs N --concurrency N --phase-seconds S
 *            --block-interval-ms MS --cpu-prof DIR (profile the validator into DIR)
 */
import { cpus, totalmem } from 'node:os'
import { join, resolve } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { loadKeyFile, toHex, type IssuerIdentity, type NodeStatus, type PreparedIssuance } from '../src/index.js'
import { createTestnet, packageRoot } from '../src/node/home.js'
import { startBench } from './ceilings.js'
import { withCpu, type CpuUse } from './cpu.js'
import { benchMain, type Cleanup, intOptions, lookupCalls, freePort, issue, prepareRequests, progress, ratio, spawnNode, status, stopChild, waitUntilReady, type Submission } from './harness.js'
import { HttpClient } from './http.js'
import { closedLoop, openLoop, round, sleep, type Call, type LoadRun } from './load.js'
import { scrape, validatorView, type ValidatorView } from './metrics.js'

const TARGETS = {
  singleCertTxPerSec: 3_000,
  batchedCertsPerSec: 50_000,
  singleLookupsPerSec: 10_000,
  batchIdsPerSec: 150_000,
  openLoopP99Ms: 10,
} as const

/** Puts in a block's LevelDB batch per unit of work (see LedgerStore.commit and StateTree). */
const PUTS_PER_SINGLE_CERT_TX = 4 // TX index + CERT entry + ~2 status-tree nodes (n adjacent leaves touch ~2n nodes)
const PUTS_PER_BATCHED_CERT = 3 // CERT entry + ~2 status-tree nodes; the tx's own puts spread over 1,000 records

const STATUS_BATCH_IDS = 1000
const RECORDS_PER_BATCH_TX = 1000
/** 1,000-record transactions in one batch request: ~1.1 MB of CBOR, well under the 4 MiB body limit. */
const LARGE_TXS_PER_REQUEST = 10
const COMMIT_TIMEOUT_MS = 300_000
const WARMUP_MS = 1000

interface Settings {
  readonly mode: 'full' | 'quick'
  readonly singleTxs: number
  /** Single-certificate transactions per `POST /v1/txs/batch` request. */
  readonly txsPerRequest: number
  readonly batchTxs: number
  /** In-flight requests for submissions and single-id lookups. */
  readonly concurrency: number
  /** In-flight 1,000-record submissions and 1,000-id status requests (each is ~70-150 KB). */
  readonly bulkConcurrency: number
  readonly phaseMs: number
  readonly openLoopMs: number
  readonly ceilingMs: number
  readonly blockIntervalMs: number
  readonly cpuProfDir: string | undefined
}

function settingsFrom(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      'single-txs': { type: 'string' },
      'txs-per-request': { type: 'string' },
      'batch-txs': { type: 'string' },
      concurrency: { type: 'string' },
      'phase-seconds': { type: 'string' },
      'block-interval-ms': { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  })
  const int = intOptions(values)
  const quick = values.quick === true
  const phaseMs = int('phase-seconds', quick ? 3 : 10) * 1000
  return {
    mode: quick ? 'quick' : 'full',
    singleTxs: int('single-txs', quick ? 3_000 : 20_000),
    txsPerRequest: int('txs-per-request', 200),
    batchTxs: int('batch-txs', quick ? 10 : 100),
    concurrency: int('concurrency', 128),
    bulkConcurrency: 8,
    phaseMs,
    openLoopMs: phaseMs * 1.5,
    ceilingMs: quick ? 1_000 : 2_000,
    blockIntervalMs: int('block-interval-ms', 50),
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
  }
}

/** Unmeasured load before a phase, so JIT compilation and connection setup do not count. */
async function warmUp(concurrency: number, call: Call, died: Promise<never>): Promise<void> {
  await Promise.race([closedLoop(concurrency, { durationMs: WARMUP_MS }, call), died])
}

/** Polls until the chain holds `expected` certificates; polling every 5 ms adds at most that to a phase. */
async function waitForCertificates(client: HttpClient, expected: number): Promise<NodeStatus> {
  const deadline = Date.now() + COMMIT_TIMEOUT_MS
  for (;;) {
    const s = await status(client)
    if (s.certificates >= expected) return s
    if (Date.now() > deadline) throw new Error(`only ${s.certificates} of ${expected} certificates committed after ${COMMIT_TIMEOUT_MS} ms`)
    await sleep(5)
  }
}

interface SubmissionResult {
  readonly submission: string
  readonly txs: number
  readonly certificates: number
  readonly rejectedAtSubmit: number
  readonly firstRejection?: string
  /** First submission to its last answer: how fast the node admits (decode, checks, signature, mempool). */
  readonly admissionSeconds: number
  readonly admittedTxPerSec: number
  /** First submission to all certificates committed: the finalized rate. */
  readonly seconds: number
  readonly txPerSec: number
  readonly certsPerSec: number
  readonly blocks: number
  readonly submitLatencyMs: LoadRun['latencyMs']
}

/**
 * Submits pre-signed transactions without waiting for commit, then polls until every admitted
 * certificate is in a committed block. A single validator finalizes a block when it is durable.
 */
async function submitAll(client: HttpClient, txs: readonly PreparedIssuance[], concurrency: number, submission: Submission): Promise<SubmissionResult> {
  const requests = prepareRequests(txs, submission)
  const before = await status(client)
  const started = performance.now()
  let admitted = 0
  let firstRejection: string | undefined
  const run = await closedLoop(concurrency, { total: requests.bodies.length }, async (i) => {
    const answer = await requests.send(client, i)
    admitted += answer.admitted
    firstRejection ??= answer.refusal
    return answer.refusal === undefined
  })
  const admissionSeconds = (performance.now() - started) / 1000
  // A refused transaction adds nothing; count only what was admitted.
  const certificates = admitted * (txs[0]?.records.length ?? 0)
  const after = await waitForCertificates(client, before.certificates + certificates)
  const seconds = (performance.now() - started) / 1000
  return {
    submission: submission.route === '/v1/txs' ? 'POST /v1/txs, one transaction per request' : `POST /v1/txs/batch, ${submission.perRequest} transactions per request (CBOR)`,
    txs: txs.length,
    certificates,
    rejectedAtSubmit: txs.length - admitted,
    ...((firstRejection ?? run.firstFailure) === undefined ? {} : { firstRejection: firstRejection ?? run.firstFailure }),
    admissionSeconds: round(admissionSeconds),
    admittedTxPerSec: round(admitted / admissionSeconds, 1),
    seconds: round(seconds),
    txPerSec: round(admitted / seconds, 1),
    certsPerSec: round(certificates / seconds, 1),
    blocks: after.height - before.height,
    submitLatencyMs: run.latencyMs,
  }
}

/** What every validator phase reports besides its own numbers. */
interface Observed<T> {
  readonly result: T
  readonly cpu: CpuUse
  readonly validator: ValidatorView
  /** This process's worst event-loop delay: a stalled generator shows up as latency it did not measure. */
  readonly benchEventLoopLagMaxMs: number
}

/** The validator under test, as a child process, and the phases run against it. */
class Validator {
  readonly client: HttpClient

  private constructor(
    private readonly node: ReturnType<typeof spawnNode>,
    rpcUrl: string,
    concurrency: number,
    cleanup: Cleanup,
  ) {
    this.client = new HttpClient(rpcUrl, concurrency)
    cleanup.add(() => this.client.close())
  }

  static async start(home: string, rpcUrl: string, settings: Settings, cleanup: Cleanup): Promise<Validator> {
    const profile = settings.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : []
    const bin = join(packageRoot(), 'bin', 'certchain.js')
    progress(`starting the validator${settings.cpuProfDir ? ` (CPU profile into ${settings.cpuProfDir})` : ''}`)
    const child = spawnNode([...profile, bin, 'start', '--home', home, '--log-level', 'warn'], cleanup, 'validator0')
    child.child.stdout.on('data', (chunk: Buffer) => process.stderr.write(`[validator0] ${chunk.toString()}`))
    const validator = new Validator(child, rpcUrl, settings.concurrency, cleanup)
    await validator.untilDeath(waitUntilReady(validator.client))
    progress(`validator ready at ${rpcUrl}`)
    return validator
  }

  /** Runs a measured phase; it ends early if the validator dies. `route` names the RPC route it loads. */
  async phase<T>(route: string, work: () => Promise<T>): Promise<Observed<T>> {
    const before = await scrape(this.client)
    const lag = monitorEventLoopDelay({ resolution: 1 })
    lag.enable()
    const { result, cpu } = await this.untilDeath(withCpu(this.node.child.pid, work))
    lag.disable()
    const after = await scrape(this.client)
    return { result, cpu, validator: validatorView(before, after, route), benchEventLoopLagMaxMs: round(lag.max / 1e6) }
  }

  /** Unmeasured load before a phase, so JIT compilation and connection setup do not count. */
  warmUp(concurrency: number, call: Call): Promise<void> {
    return warmUp(concurrency, call, this.node.died)
  }

  async stop(): Promise<void> {
    this.client.close()
    await stopChild(this.node.child)
  }

  private untilDeath<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.node.died])
  }
}

/**
 * The phase's observations, with the validator's CPU time per unit of work (transaction,
 * certificate, lookup or id): unlike a rate, it hardly moves when other processes take cores away.
 */
const observed = <T>(o: Observed<T>, unitsPerSec: number) => ({
  validatorCpuMicrosPerUnit: o.cpu.validatorCores === null ? null : round((o.cpu.validatorCores * 1e6) / unitsPerSec, 1),
  cpu: o.cpu,
  validator: o.validator,
  benchEventLoopLagMaxMs: o.benchEventLoopLagMaxMs,
})

/** (a) and (b): pre-signed issuances, submitted and committed. Returns the certificate ids for the lookups. */
async function issuancePhases(validator: Validator, chainId: string, identity: IssuerIdentity, settings: Settings) {
  progress('pre-signing transactions')
  const signStarted = performance.now()
  const singles = issue(chainId, identity, settings.singleTxs, 1)
  const onePerRequest = issue(chainId, identity, settings.singleTxs, 1)
  const batches = issue(chainId, identity, settings.batchTxs, RECORDS_PER_BATCH_TX)
  const presignSeconds = round((performance.now() - signStarted) / 1000)
  progress(`pre-signed ${singles.length} + ${onePerRequest.length} + ${batches.length} transactions in ${presignSeconds} s`)

  const bulk: Submission = { route: '/v1/txs/batch', perRequest: settings.txsPerRequest }
  progress(`(a) ${singles.length} single-certificate transactions, ${settings.txsPerRequest} per request, ${settings.bulkConcurrency} requests in flight`)
  const single = await validator.phase(bulk.route, () => submitAll(validator.client, singles, settings.bulkConcurrency, bulk))
  progress(`(a) ${single.result.txPerSec} transactions/s`)

  progress(`(a1) ${onePerRequest.length} single-certificate transactions, one per request, ${settings.concurrency} in flight`)
  const singleOnePerRequest = await validator.phase('/v1/txs', () => submitAll(validator.client, onePerRequest, settings.concurrency, { route: '/v1/txs' }))
  progress(`(a1) ${singleOnePerRequest.result.txPerSec} transactions/s`)

  const large: Submission = { route: '/v1/txs/batch', perRequest: LARGE_TXS_PER_REQUEST }
  progress(`(b) ${batches.length} transactions of ${RECORDS_PER_BATCH_TX} records, ${LARGE_TXS_PER_REQUEST} per request, ${settings.bulkConcurrency} requests in flight`)
  const batched = await validator.phase(large.route, () => submitAll(validator.client, batches, settings.bulkConcurrency, large))
  progress(`(b) ${batched.result.certsPerSec} certificates/s`)

  const ids = [...singles, ...onePerRequest, ...batches].flatMap((p) => p.certificateIds.map(toHex))
  return { single, singleOnePerRequest, batched, ids, presignSeconds }
}

/** (c), (d) and (e): lookups spread over every committed certificate, in a shuffled order. */
async function lookupPhases(validator: Validator, ids: string[], settings: Settings) {
  const { single: lookup, statusBatch } = lookupCalls(validator.client, ids, STATUS_BATCH_IDS)

  progress(`(c) single-id lookups for ${settings.phaseMs} ms, ${settings.concurrency} in flight`)
  await validator.warmUp(settings.concurrency, lookup)
  const single = await validator.phase('/v1/certificates/:id', () => closedLoop(settings.concurrency, { durationMs: settings.phaseMs }, lookup))
  progress(`(c) ${single.result.perSec} lookups/s`)

  progress(`(d) ${STATUS_BATCH_IDS}-id status requests for ${settings.phaseMs} ms, ${settings.bulkConcurrency} in flight`)
  await validator.warmUp(settings.bulkConcurrency, statusBatch)
  const batch = await validator.phase('/v1/certificates/status', () =>
    closedLoop(settings.bulkConcurrency, { durationMs: settings.phaseMs }, statusBatch),
  )
  progress(`(d) ${round(batch.result.perSec * STATUS_BATCH_IDS)} ids/s`)

  const offered = Math.max(1, Math.round(single.result.perSec / 2))
  progress(`(e) open-loop lookups at ${offered}/s for ${settings.openLoopMs} ms`)
  const fixed = await validator.phase('/v1/certificates/:id', () => openLoop(offered, settings.openLoopMs, lookup))
  progress(`(e) p99 ${fixed.result.latencyMs.p99} ms`)
  return { single, batch, fixed, offered }
}

async function run(settings: Settings, cleanup: Cleanup): Promise<Record<string, unknown>> {
  const started = performance.now()
  const { tmp, background, ceilings } = await startBench('certchain-bench-', settings, cleanup)

  progress('creating the testnet')
  const manifest = await createTestnet({
    validators: 1,
    out: join(tmp, 'testnet'),
    chainId: 'certchain-bench',
    rpcBasePort: await freePort(),
    p2pBasePort: await freePort(),
    consensus: { blockIntervalMs: settings.blockIntervalMs },
  })
  const issuer = manifest.issuers.find((i) => i.types.includes('kr.residence'))
  if (!issuer) throw new Error('the example genesis has no issuer for kr.residence')
  const identity = { issuer: issuer.id, key: await loadKeyFile(issuer.keyFile) }
  const node = manifest.nodes[0]!
  const validator = await Validator.start(node.home, node.rpcUrl, settings, cleanup)
  // The pre-signed transactions are dropped after their phases, so the load generator does not
  // carry them (and their garbage collection) into the latency phases.
  const issued = await issuancePhases(validator, manifest.chainId, identity, settings)
  const lookups = await lookupPhases(validator, issued.ids, settings)
  await validator.stop()

  const [a, b, c, d, e] = [issued.single.result, issued.batched.result, lookups.single.result, lookups.batch.result, lookups.fixed.result]
  const idsPerSec = round(d.perSec * STATUS_BATCH_IDS, 1)
  const targets = {
    singleCertTxPerSec: { target: TARGETS.singleCertTxPerSec, measured: a.txPerSec, met: a.txPerSec >= TARGETS.singleCertTxPerSec },
    batchedCertsPerSec: { target: TARGETS.batchedCertsPerSec, measured: b.certsPerSec, met: b.certsPerSec >= TARGETS.batchedCertsPerSec },
    singleLookupsPerSec: { target: TARGETS.singleLookupsPerSec, measured: c.perSec, met: c.perSec >= TARGETS.singleLookupsPerSec },
    batchIdsPerSec: { target: TARGETS.batchIdsPerSec, measured: idsPerSec, met: idsPerSec >= TARGETS.batchIdsPerSec },
    openLoopP99Ms: { target: TARGETS.openLoopP99Ms, measured: e.latencyMs.p99, met: e.failures === 0 && e.latencyMs.p99 <= TARGETS.openLoopP99Ms },
  }
  const cpu = cpus()
  return {
    bench: 'certchain single validator',
    mode: settings.mode,
    date: new Date().toISOString(),
    totalSeconds: round((performance.now() - started) / 1000, 1),
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model ?? 'unknown',
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: process.platform,
      backgroundCoresBeforeStart: background,
    },
    settings: {
      singleTxs: settings.singleTxs,
      txsPerRequest: settings.txsPerRequest,
      batchTxs: settings.batchTxs,
      largeTxsPerRequest: LARGE_TXS_PER_REQUEST,
      recordsPerBatchTx: RECORDS_PER_BATCH_TX,
      concurrency: settings.concurrency,
      bulkConcurrency: settings.bulkConcurrency,
      phaseSeconds: settings.phaseMs / 1000,
      openLoopSeconds: settings.openLoopMs / 1000,
      ceilingSeconds: settings.ceilingMs / 1000,
      blockIntervalMs: settings.blockIntervalMs,
      presignSeconds: issued.presignSeconds,
      cpuProfDir: settings.cpuProfDir ?? null,
    },
    ceilings,
    results: {
      singleCertificateTxs: {
        ...a,
        ratioToVerifyCeiling: ratio(a.txPerSec, ceilings.ed25519VerifyPerSecOneCore),
        ratioToLevelSyncCeiling: ratio(a.txPerSec, ceilings.level.syncPutsPerSec / PUTS_PER_SINGLE_CERT_TX),
        ...observed(issued.single, a.txPerSec),
      },
      singleCertificateTxsOnePerRequest: {
        ...issued.singleOnePerRequest.result,
        ratioToVerifyCeiling: ratio(issued.singleOnePerRequest.result.txPerSec, ceilings.ed25519VerifyPerSecOneCore),
        ...observed(issued.singleOnePerRequest, issued.singleOnePerRequest.result.txPerSec),
      },
      batchedCertificates: {
        ...b,
        ratioToLevelSyncCeiling: ratio(b.certsPerSec, ceilings.level.syncPutsPerSec / PUTS_PER_BATCHED_CERT),
        ratioToLevelNoSyncCeiling: ratio(b.certsPerSec, ceilings.level.noSyncPutsPerSec / PUTS_PER_BATCHED_CERT),
        ...observed(issued.batched, b.certsPerSec),
      },
      singleIdLookups: {
        ...c,
        ratioToBareHttpCeiling: ratio(c.perSec, ceilings.bareHttpRequestsPerSec),
        ratioToLevelGetCeiling: ratio(c.perSec, ceilings.level.getsPerSec),
        ...observed(lookups.single, c.perSec),
      },
      batchStatusLookups: {
        ...d,
        idsPerRequest: STATUS_BATCH_IDS,
        idsPerSec,
        ratioToLevelGetManyCeiling: ratio(idsPerSec, ceilings.level.getManyKeysPerSec),
        ...observed(lookups.batch, idsPerSec),
      },
      fixedRateLookups: { offeredPerSec: lookups.offered, ...e, ...observed(lookups.fixed, e.perSec) },
    },
    formulas: {
      singleCertificateTxs: {
        txPerSec: `admitted transactions / (first submit -> /v1/status.certificates reaches the expected count); 1 certificate per tx, so certs/s = tx/s; submitted through POST /v1/txs/batch, txsPerRequest to a request (singleCertificateTxsOnePerRequest: the same through POST /v1/txs, one each)`,
        ratioToVerifyCeiling: 'txPerSec / ed25519VerifyPerSecOneCore (each transaction costs one signature verification)',
        ratioToLevelSyncCeiling: `txPerSec / (level.syncPutsPerSec / ${PUTS_PER_SINGLE_CERT_TX}) (per tx: TX index + CERT entry + ~2 status-tree nodes)`,
      },
      batchedCertificates: {
        certsPerSec: `admitted txs x ${RECORDS_PER_BATCH_TX} / (first submit -> all committed)`,
        ratioToLevelSyncCeiling: `certsPerSec / (level.syncPutsPerSec / ${PUTS_PER_BATCHED_CERT}) (per certificate: CERT entry + ~2 status-tree nodes)`,
        ratioToLevelNoSyncCeiling: `certsPerSec / (level.noSyncPutsPerSec / ${PUTS_PER_BATCHED_CERT}): a block of 1,000-record transactions holds tens of thousands of puts per fsync, so the unsynced rate is the closer bound`,
      },
      singleIdLookups: {
        perSec: 'closed loop: 200 answers to GET /v1/certificates/:id / phase seconds; latency per request including client-side queueing',
        ratioToBareHttpCeiling: 'perSec / bareHttpRequestsPerSec (same client and concurrency against a bare node:http server)',
        ratioToLevelGetCeiling: 'perSec / level.getsPerSec (one LevelDB get per lookup)',
      },
      batchStatusLookups: {
        idsPerSec: `200 answers to POST /v1/certificates/status x ${STATUS_BATCH_IDS} ids / phase seconds`,
        ratioToLevelGetManyCeiling: 'idsPerSec / level.getManyKeysPerSec (one getMany of 1,000 keys per request)',
      },
      fixedRateLookups: "open loop at 50% of singleIdLookups.perSec; latency from each request's scheduled send time to its answer",
      validatorCpuMicrosPerUnit:
        'validator process CPU (all threads) per transaction (a), certificate (b), lookup (c, e) or id (d): validatorCores x 1e6 / rate (1e6 / this approximates the rate with one core to itself, less its thread-pool work)',
      validator:
        "the validator's own metrics over the phase (two scrapes of /metrics): route duration histogram buckets holding p50/p99 (Fastify timing, without time queued before parsing), event-loop delay p99/max, GC seconds, blocks committed and their average build+commit time",
      cpu: 'cores busy during the phase (1.0 = one core): the validator process, this bench process, and everything else on the machine (otherCores > ~0.1 means the run was disturbed)',
    },
    targets,
    allTargetsMet: Object.values(targets).every((t) => t.met),
  }
}

// Settings are read first so a usage error ends the run before anything starts.
const settings = settingsFrom(process.argv.slice(2))
benchMain((cleanup) => run(settings, cleanup))
