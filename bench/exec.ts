/**
 * Execution micro-bench: drives the Ledger directly (no HTTP, no consensus) with pre-signed
 * issuance transactions and reports the validator's CPU per transaction and per certificate in
 * each step a transaction goes through: admission (decode, rules, signature), block building
 * (proposeBlock) and commit (one fsynced LevelDB batch). One JSON document on stdout.
 *
 *   npm run bench:exec                      defaults: 20 blocks of 20 × 1,000-record txs, 4 blocks of 2,000 single txs
 *   npm run bench:exec -- --batch-blocks N --txs-per-block N --records N --single-blocks N --single-txs N
 *   node --cpu-prof --cpu-prof-dir DIR dist/bench/exec.js   (profile the same run)
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import type { PreparedIssuance } from '../src/index.js'
import { Ledger } from '../src/ledger/index.js'
import { admitTx, Mempool } from '../src/mempool/index.js'
import { benchChain, commitOf, issuances, VALIDATOR, type BenchChain } from './ledger-chain.js'
import { round } from './load.js'

/** Wall and CPU milliseconds of each step (CPU: this process, LevelDB's threads included; steadier on a busy machine). */
type IntervalHistogram = ReturnType<typeof monitorEventLoopDelay>

interface StepTotals {
  /** Event-loop delay while blocks are built and committed (admission excluded: one big decode is one stall). */
  readonly blockLag?: IntervalHistogram
  admitMs: number
  proposeMs: number
  commitMs: number
  admitCpuMs: number
  proposeCpuMs: number
  commitCpuMs: number
}

function emptyTotals(blockLag?: IntervalHistogram): StepTotals {
  return { ...(blockLag ? { blockLag } : {}), admitMs: 0, proposeMs: 0, commitMs: 0, admitCpuMs: 0, proposeCpuMs: 0, commitCpuMs: 0 }
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1000
}

/** Admits every transaction of a block, builds the block from the mempool, commits it; returns the time of each step. */
export async function runBlock(ledger: Ledger, mempool: Mempool, chain: BenchChain, txs: readonly PreparedIssuance[], totals: StepTotals): Promise<void> {
  let t = performance.now()
  let cpu = process.cpuUsage()
  for (const tx of txs) await admitTx(ledger, mempool, tx.bytes, Date.now())
  totals.admitMs += performance.now() - t
  totals.admitCpuMs += cpuMs(cpu)
  t = performance.now()
  cpu = process.cpuUsage()
  totals.blockLag?.enable()
  const params = ledger.registry.params
  const proposed = await ledger.proposeBlock(mempool.reap(params.maxBlockTxs, params.maxBlockBytes), Date.now(), VALIDATOR)
  if (proposed.rejected.length > 0) throw new Error(`block refused ${proposed.rejected.length} transactions: ${proposed.rejected[0]!.error.message}`)
  totals.proposeMs += performance.now() - t
  totals.proposeCpuMs += cpuMs(cpu)
  t = performance.now()
  cpu = process.cpuUsage()
  await ledger.commitBlock(proposed.writes, commitOf(chain, proposed.writes.block))
  mempool.remove(proposed.writes.txIds)
  totals.blockLag?.disable()
  totals.commitMs += performance.now() - t
  totals.commitCpuMs += cpuMs(cpu)
}

async function phase(chain: BenchChain, ledger: Ledger, blocks: number, txsPerBlock: number, records: number) {
  const mempool = new Mempool()
  const blockLag = monitorEventLoopDelay({ resolution: 1 })
  const totals = emptyTotals(blockLag)
  const prepared = issuances(chain, blocks * txsPerBlock, records)
  // One unmeasured block: JIT warm-up.
  await runBlock(ledger, mempool, chain, issuances(chain, txsPerBlock, records), emptyTotals())
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  // How long the event loop went without a turn: what a lookup served beside execution would wait.
  const lag = monitorEventLoopDelay({ resolution: 1 })
  lag.enable()
  for (let b = 0; b < blocks; b++) await runBlock(ledger, mempool, chain, prepared.slice(b * txsPerBlock, (b + 1) * txsPerBlock), totals)
  lag.disable()
  const wallMs = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  const txs = blocks * txsPerBlock
  const certs = txs * records
  const per = (ms: number, n: number): number => round((ms * 1000) / n, 1)
  return {
    blocks,
    txsPerBlock,
    recordsPerTx: records,
    certificates: certs,
    wallSeconds: round(wallMs / 1000, 2),
    certsPerSec: round(certs / (wallMs / 1000), 0),
    txPerSec: round(txs / (wallMs / 1000), 0),
    cpuCores: round((cpu.user + cpu.system) / 1000 / wallMs, 2),
    eventLoopDelayMs: { p99: round(lag.percentile(99) / 1e6, 1), max: round(lag.max / 1e6, 1) },
    eventLoopDelayWhileBlocksAreWrittenMs: { p99: round(blockLag.percentile(99) / 1e6, 1), max: round(blockLag.max / 1e6, 1) },
    usPerTx: { admit: per(totals.admitMs, txs), propose: per(totals.proposeMs, txs), commit: per(totals.commitMs, txs), total: per(wallMs, txs) },
    cpuUsPerTx: { admit: per(totals.admitCpuMs, txs), propose: per(totals.proposeCpuMs, txs), commit: per(totals.commitCpuMs, txs), total: per(cpu.user / 1000 + cpu.system / 1000, txs) },
    usPerCert: { admit: per(totals.admitMs, certs), propose: per(totals.proposeMs, certs), commit: per(totals.commitMs, certs), total: per(wallMs, certs) },
    cpuUsPerCert: { admit: per(totals.admitCpuMs, certs), propose: per(totals.proposeCpuMs, certs), commit: per(totals.commitCpuMs, certs), total: per(cpu.user / 1000 + cpu.system / 1000, certs) },
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'batch-blocks': { type: 'string', default: '20' },
      'txs-per-block': { type: 'string', default: '20' },
      records: { type: 'string', default: '1000' },
      'single-blocks': { type: 'string', default: '4' },
      'single-txs': { type: 'string', default: '2000' },
    },
  })
  const n = (v: string | undefined): number => Number(v)
  const chain = benchChain()
  const dir = await mkdtemp(join(tmpdir(), 'certchain-bench-exec-'))
  try {
    const ledger = await Ledger.open(join(dir, 'chain'), chain.genesis)
    const batched = await phase(chain, ledger, n(values['batch-blocks']), n(values['txs-per-block']), n(values.records))
    const single = await phase(chain, ledger, n(values['single-blocks']), n(values['single-txs']), 1)
    await ledger.close()
    process.stdout.write(`${JSON.stringify({ bench: 'exec', node: process.version, batched, single }, null, 2)}\n`)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
