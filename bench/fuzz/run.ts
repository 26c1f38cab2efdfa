/**
 * `npm run fuzz [-- --inputs N --seed S --seconds T]`: runs the fuzzing harness over every target
 * and prints one JSON report (inputs/s, the slowest input, peak memory, crashes). Exits 1 on a
 * crash. After T seconds, or on SIGINT/SIGTERM, it stops and reports what it ran (`complete: false`).
 */
import { parseArgs } from 'node:util'
import { fuzz } from './harness.js'
import { decoderTargets, rpcTargets } from './targets.js'

const SLOW_MS = 100

const { values } = parseArgs({ options: { inputs: { type: 'string' }, seed: { type: 'string' }, seconds: { type: 'string' } } })
const total = values.inputs === undefined ? 1_000_000 : Number(values.inputs)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
const seconds = values.seconds === undefined ? undefined : Number(values.seconds)
if (!Number.isSafeInteger(total) || total < 1 || !Number.isSafeInteger(seed) || (seconds !== undefined && !(seconds > 0))) {
  console.error('usage: npm run fuzz -- [--inputs N] [--seed S] [--seconds T]')
  process.exit(2)
}
const stop = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort())
if (seconds !== undefined) setTimeout(() => stop.abort(), seconds * 1000).unref()

const rpc = await rpcTargets()
let lastLog = 0
try {
  const report = await fuzz([...decoderTargets(), ...rpc.targets], {
    total,
    seed,
    signal: stop.signal,
    onProgress: (done) => {
      if (Date.now() - lastLog < 5000) return
      lastLog = Date.now()
      console.error(`fuzz: ${done} inputs (${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB)`)
    },
  })
  const goals = { noCrash: report.crashes.length === 0, slowestUnder100ms: report.slowest.ms < SLOW_MS }
  console.log(JSON.stringify({ complete: report.inputs >= total, goals, ...report }, null, 2))
  process.exitCode = goals.noCrash ? 0 : 1
} finally {
  await rpc.close()
}
