/**
 * Four-validator cluster bench on loopback: four `certchain start` processes share this machine's
 * two cores; this process drives them over HTTP and prints one JSON document on stdout (progress
 * on stderr).
 *
 *   npm run bench:cluster              full run (a few minutes)
 *   npm run bench:cluster -- --quick   smaller counts
 *   npm run bench:cluster -- --cpu-prof DIR   also write each validator's CPU profile into DIR
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { loadKeyFile, toBase64, type IssuerIdentity, type NodeStatus, type PreparedIssuance } from '../src/index.js'
import { createTestnet, packageRoot } from '../src/node/home.js'
import { verifyCeiling } from './ceilings.js'
import { processMs } from './cpu.js'
import { benchMain, freePort, issue, prepareRequests, progress, ratio, spawnNode, status, waitUntilReady, type Cleanup, type Submission } from './harness.js'
import { HttpClient } from './http.js'
import { closedLoop, openLoop, round } from './load.js'

const TARGETS = { singleCertTxPerSec: 1_500, batchedCertsPerSec: 20_000, finalityP50Ms: 1_000, finalityP99Ms: 2_000 } as const
const VALIDATORS = 4
/** Single-certificate transactions per batch request, and 1,000-record ones (~1.1 MB of CBOR). */
const TXS_PER_REQUEST = 200
const LARGE_TXS_PER_REQUEST = 10
const CORES = 2

interface Settings {
  readonly singleTxs: number
  readonly batchTxs: number
  readonly concurrency: number
  readonly latencySeconds: number
  readonly cpuProfDir: string | undefined
}

function settingsFrom(argv: readonly string[]): Settings {
  const { values } = parseArgs({ args: [...argv], options: { quick: { type: 'boolean', default: false }, 'cpu-prof': { type: 'string' } } })
  const cpuProfDir = values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof'])
  return values.quick
    ? { singleTxs: 2_000, batchTxs: 10, concurrency: 64, latencySeconds: 8, cpuProfDir }
    : { singleTxs: 8_000, batchTxs: 40, concurrency: 128, latencySeconds: 20, cpuProfDir }
}

/** Polls every node until each holds `expected` certificates. */
async function waitForAll(clients: readonly HttpClient[], expected: number): Promise<NodeStatus[]> {
  const deadline = Date.now() + 300_000
  for (;;) {
    const all = await Promise.all(clients.map(status))
    if (all.every((s) => s.certificates >= expected)) return all
    if (Date.now() > deadline) throw new Error(`certificates ${all.map((s) => s.certificates).join('/')} of ${expected} after 300 s`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** CPU time all validator processes used so far (null where /proc cannot tell). */
function validatorsMs(pids: readonly (number | undefined)[]): number | null {
  let total = 0
  for (const pid of pids) {
    const ms = pid === undefined ? null : processMs(pid)
    if (ms === null) return null
    total += ms
  }
  return total
}

/**
 * Submits pre-signed transactions round-robin to every node, then waits until all nodes have
 * them. Besides the rate: the CPU time the four validators spent per transaction, which moves
 * less than the rate when other processes load the machine.
 */
async function finalizedRate(clients: readonly HttpClient[], pids: readonly (number | undefined)[], txs: readonly PreparedIssuance[], submission: Submission, concurrency: number) {
  const requests = prepareRequests(txs, submission)
  const certsPerTx = txs[0]?.records.length ?? 0
  const before = await status(clients[0]!)
  const cpuBefore = validatorsMs(pids)
  const started = performance.now()
  let admitted = 0
  let firstRejection: string | undefined
  const run = await closedLoop(concurrency, { total: requests.bodies.length }, async (i) => {
    const answer = await requests.send(clients[i % clients.length]!, i)
    admitted += answer.admitted
    firstRejection ??= answer.refusal
    return answer.refusal === undefined
  })
  const after = await waitForAll(clients, before.certificates + admitted * certsPerTx)
  const seconds = (performance.now() - started) / 1000
  const cpuAfter = validatorsMs(pids)
  const cpuMs = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore
  return {
    submission: submission.route === '/v1/txs' ? 'POST /v1/txs, one transaction per request' : `POST /v1/txs/batch, ${submission.perRequest} transactions per request (CBOR)`,
    txs: txs.length,
    rejectedAtSubmit: txs.length - admitted,
    ...((firstRejection ?? run.firstFailure) === undefined ? {} : { firstRejection: firstRejection ?? run.firstFailure }),
    seconds: round(seconds),
    txPerSec: round(admitted / seconds, 1),
    certsPerSec: round((admitted * certsPerTx) / seconds, 1),
    blocks: after[0]!.height - before.height,
    validatorCpuMicrosPerTx: cpuMs === null || admitted === 0 ? null : round((cpuMs * 1000) / admitted, 1),
    validatorCores: cpuMs === null ? null : round(cpuMs / 1000 / seconds, 2),
  }
}

async function run(settings: Settings, cleanup: Cleanup): Promise<Record<string, unknown>> {
  progress('measuring the Ed25519 verification ceiling (one core)')
  const verify = verifyCeiling(2000)
  // Every node verifies every transaction once (admission or block execution); four nodes share two cores.
  const ceiling = (verify.perSec * CORES) / VALIDATORS

  const dir = await mkdtemp(join(tmpdir(), 'certchain-bench-cluster-'))
  cleanup.add(() => rm(dir, { recursive: true, force: true }))
  const rpcBase = await freePort()
  const manifest = await createTestnet({
    validators: VALIDATORS,
    out: dir,
    chainId: 'certchain-bench-cluster',
    rpcBasePort: rpcBase,
    p2pBasePort: rpcBase + 100,
    consensus: { blockIntervalMs: 100, heartbeatIntervalMs: 1000, timeoutProposeMs: 2000, gossipIntervalMs: 500 },
  })
  const cli = join(packageRoot(), 'bin', 'certchain.js')
  const profile = settings.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`] : []
  if (settings.cpuProfDir) progress(`CPU profiles of the validators into ${settings.cpuProfDir}`)
  const pids = manifest.nodes.map((node) => spawnNode([...profile, cli, 'start', '--home', node.home, '--log-level', 'warn'], cleanup, node.name).child.pid)
  const clients = manifest.nodes.map((n) => new HttpClient(n.rpcUrl, settings.concurrency))
  cleanup.add(() => clients.forEach((c) => c.close()))
  await Promise.all(clients.map(waitUntilReady))
  const { chainId } = await status(clients[0]!)
  // Several issuers, so admission is not one issuer's key over and over.
  const issuers = manifest.issuers.filter((i) => i.types.includes('kr.residence'))
  const identities: IssuerIdentity[] = await Promise.all(issuers.map(async (i) => ({ issuer: i.id, key: await loadKeyFile(i.keyFile) })))
  const signed = (txs: number, records: number): PreparedIssuance[] => identities.flatMap((identity) => issue(chainId, identity, Math.ceil(txs / identities.length), records))
  const bodiesOf = (txs: number, records: number): Buffer[] => signed(txs, records).map((p) => Buffer.from(JSON.stringify({ tx: toBase64(p.bytes) })))

  progress(`single-certificate transactions: ${settings.singleTxs}, ${TXS_PER_REQUEST} per batch request`)
  const single = await finalizedRate(clients, pids, signed(settings.singleTxs, 1), { route: '/v1/txs/batch', perRequest: TXS_PER_REQUEST }, 8)
  progress(`single-certificate transactions: ${settings.singleTxs}, one per request`)
  const singleOnePerRequest = await finalizedRate(clients, pids, signed(settings.singleTxs, 1), { route: '/v1/txs' }, settings.concurrency)
  progress(`batches of 1,000: ${settings.batchTxs}, ${LARGE_TXS_PER_REQUEST} per batch request`)
  const batched = await finalizedRate(clients, pids, signed(settings.batchTxs, 1000), { route: '/v1/txs/batch', perRequest: LARGE_TXS_PER_REQUEST }, 8)

  const rate = Math.max(1, Math.floor(single.txPerSec / 2))
  progress(`finality latency at ${rate} tx/s (half the measured maximum) for ${settings.latencySeconds} s`)
  const latencyBodies = bodiesOf(rate * settings.latencySeconds + identities.length, 1)
  const finality = await openLoop(rate, settings.latencySeconds * 1000, async (i) => {
    const res = await clients[i % clients.length]!.post('/v1/txs?wait=commit', latencyBodies[i]!)
    return res.status === 200
  })

  return {
    bench: 'cluster',
    machine: { cores: CORES, validators: VALIDATORS, note: 'four validator processes and the load generator share two cores' },
    ceiling: { verifyPerSecOneCore: verify.perSec, perNodeVerifyPerSec: round(ceiling, 1), formula: 'verify/s on one core × 2 cores ÷ 4 nodes' },
    singleCertificate: { ...single, ratioToCeiling: ratio(single.txPerSec, ceiling), target: TARGETS.singleCertTxPerSec, met: single.txPerSec >= TARGETS.singleCertTxPerSec },
    singleCertificateOnePerRequest: { ...singleOnePerRequest, ratioToCeiling: ratio(singleOnePerRequest.txPerSec, ceiling) },
    batched: {
      ...batched,
      ratioToCeiling: ratio(batched.txPerSec, ceiling),
      target: TARGETS.batchedCertsPerSec,
      met: batched.certsPerSec >= TARGETS.batchedCertsPerSec,
    },
    finality: {
      offeredTxPerSec: rate,
      seconds: settings.latencySeconds,
      committed: finality.calls - finality.failures,
      failures: finality.failures,
      ...(finality.firstFailure === undefined ? {} : { firstFailure: finality.firstFailure }),
      latencyMs: finality.latencyMs,
      targets: { p50Ms: TARGETS.finalityP50Ms, p99Ms: TARGETS.finalityP99Ms },
      met: finality.latencyMs.p50 <= TARGETS.finalityP50Ms && finality.latencyMs.p99 <= TARGETS.finalityP99Ms,
    },
  }
}

// Settings are read first so a usage error ends the run before anything starts.
const settings = settingsFrom(process.argv.slice(2))
benchMain((cleanup) => run(settings, cleanup))
