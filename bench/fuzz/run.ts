/**
 * `npm run fuzz [-- --inputs N --seed S --seconds T --sample-every M]`: runs the fuzzing harness
 * over every target and prints one JSON report: inputs/s, the slowest inputs (in the run, and
 * timed again on their own), garbage-collection pauses, memory every M inputs, crashes, and the
 * goals of issue 10 item 18 checked against them. Exits 1 on a crash. After T seconds, or on
 * SIGINT/SIGTERM, it stops and reports what it ran (`complete: false`). Run it under
 * `--expose-gc` (the npm script does) for the heap after a full collection in each sample.
 */
import { parseArgs } from 'node:util'
import { fuzz } from './harness.js'
import { decoderTargets, rpcTargets } from './targets.js'

const SLOW_MS = 100
/** How much the heap after a full collection may still rise over the second half of a run. */
const FLAT_BYTES = 4 * 2 ** 20

const { values } = parseArgs({ options: { inputs: { type: 'string' }, seed: { type: 'string' }, seconds: { type: 'string' }, 'sample-every': { type: 'string' } } })
const total = values.inputs === undefined ? 1_000_000 : Number(values.inputs)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
const seconds = values.seconds === undefined ? undefined : Number(values.seconds)
const sampleEvery = values['sample-every'] === undefined ? undefined : Number(values['sample-every'])
if (!Number.isSafeInteger(total) || total < 1 || !Number.isSafeInteger(seed) || (seconds !== undefined && !(seconds > 0)) || (sampleEvery !== undefined && !(Number.isSafeInteger(sampleEvery) && sampleEvery > 0))) {
  console.error('usage: npm run fuzz -- [--inputs N] [--seed S] [--seconds T] [--sample-every M]')
  process.exit(2)
}
const stop = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort())
if (seconds !== undefined) setTimeout(() => stop.abort(), seconds * 1000).unref()

const collect = globalThis.gc
const gc = collect ? (): void => collect() : undefined
const rpc = await rpcTargets()
let lastLog = 0
try {
  const report = await fuzz([...decoderTargets(), ...rpc.targets], {
    total,
    seed,
    signal: stop.signal,
    ...(sampleEvery === undefined ? {} : { sampleEvery }),
    ...(gc ? { gc } : {}),
    onProgress: (done) => {
      if (Date.now() - lastLog < 5000) return
      lastLog = Date.now()
      console.error(`fuzz: ${done} inputs (${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB)`)
    },
  })
  const mib = (bytes: number | undefined) => (bytes === undefined ? null : Math.round((bytes / 2 ** 20) * 10) / 10)
  const afterGc = report.memory.samples.flatMap((s) => (s.heapAfterGcBytes === undefined ? [] : [s.heapAfterGcBytes]))
  const mid = afterGc[Math.floor((afterGc.length - 1) / 2)]
  const end = afterGc[afterGc.length - 1]
  const slowestRetimed = Math.max(0, ...report.slowInputs.map((s) => s.retimedMs))
  const slowestRetimedMin = Math.max(0, ...report.slowInputs.map((s) => s.retimedMinMs))
  const summary = {
    slowestMs: report.slowest.ms,
    slowestGcMs: report.slowest.gcMs,
    slowestRetimedMs: slowestRetimed,
    slowestRetimedMinMs: slowestRetimedMin,
    peakRssMiB: mib(report.memory.peakRssBytes),
    heapAfterGcMiB: { start: mib(afterGc[0]), mid: mib(mid), end: mib(end) },
    stores: rpc.stores(),
  }
  const goals = {
    noCrash: report.crashes.length === 0,
    slowestUnder100ms: report.slowest.ms < SLOW_MS,
    // Each of the slowest inputs, on its own: the input's cost without the run's pauses.
    slowestRetimedUnder100ms: slowestRetimed < SLOW_MS,
    // Null without --expose-gc (nothing to compare).
    heapFlatInSecondHalf: mid === undefined || end === undefined ? null : end - mid < FLAT_BYTES,
  }
  console.log(JSON.stringify({ complete: report.inputs >= total, goals, summary, ...report }, null, 2))
  process.exitCode = goals.noCrash ? 0 : 1
} finally {
  await rpc.close()
}
