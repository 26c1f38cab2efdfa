/**
 * A fuzzing harness over the decoders that take outside bytes. Each target names a decoder, its
 * format (how values become bytes) and a generator of valid values. Inputs are, in equal parts:
 * valid encodings, structure-aware mutations of valid values (a node replaced, removed, added,
 * repeated or nested deeper, then encoded again), byte-level mutations of valid encodings (bits
 * flipped, cut, spliced), and random bytes. A decoder passes an input by returning or by throwing
 * a CertchainError (a coded refusal); anything else thrown is a crash.
 */
import { performance, PerformanceObserver } from 'node:perf_hooks'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CertchainError } from '../../src/core/errors.js'
import { concatBytes } from '../../src/core/bytes.js'

/** How a target's values become bytes, and which values may replace a node of them. */
export interface Format {
  readonly name: string
  readonly encode: (value: unknown) => Uint8Array
  /** Leaves a structure-aware mutation may put anywhere in a value. */
  readonly leaf: fc.Arbitrary<unknown>
}

export interface FuzzTarget {
  readonly name: string
  readonly format: Format
  /** Returns or throws a CertchainError; may be async (a request to a server). */
  readonly decode: (bytes: Uint8Array) => unknown
  readonly valid: fc.Arbitrary<unknown>
}

const text = new TextEncoder()

export const CBOR: Format = {
  name: 'dag-cbor',
  encode: (value) => dagCbor.encode(value),
  leaf: fc.oneof(
    fc.integer(),
    fc.constantFrom(0, -1, 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ maxLength: 80 }),
    fc.uint8Array({ maxLength: 80 }),
    fc.constantFrom(null, true, false, '', 'prevote', 'precommit', 'proposal', 'blocks', 'status', 'IssueCertificates'),
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.uint8Array({ minLength: 64, maxLength: 64 }),
    fc.array(fc.integer(), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
  ),
}

export const JSON_TEXT: Format = {
  name: 'json',
  encode: (value) => text.encode(JSON.stringify(value)),
  leaf: fc.oneof(
    fc.integer(),
    fc.constantFrom(0, -1, 2 ** 53, 1e308, -0.5, Number.MAX_SAFE_INTEGER),
    fc.string({ maxLength: 80 }),
    fc.constantFrom(null, true, false, '', '__proto__', 'constructor', '00'.repeat(32), 'AAAA', '2024-01-01T00:00:00.000Z'),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
  ),
}

type Mutation =
  | { op: 'replace'; path: number[]; leaf: unknown }
  | { op: 'remove'; path: number[] }
  | { op: 'add'; path: number[]; key: string; leaf: unknown }
  | { op: 'repeat'; path: number[]; times: number }
  | { op: 'nest'; path: number[]; depth: number }

function mutation(format: Format): fc.Arbitrary<Mutation> {
  const path = fc.array(fc.nat(), { minLength: 0, maxLength: 6 })
  return fc.oneof(
    fc.record({ op: fc.constant('replace' as const), path, leaf: format.leaf }),
    fc.record({ op: fc.constant('remove' as const), path }),
    fc.record({ op: fc.constant('add' as const), path, key: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'sig', 'type')), leaf: format.leaf }),
    fc.record({ op: fc.constant('repeat' as const), path, times: fc.constantFrom(2, 10, 100, 1000) }),
    fc.record({ op: fc.constant('nest' as const), path, depth: fc.constantFrom(2, 40, 300) }),
  )
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] =>
  v !== null && typeof v === 'object' && !(v instanceof Uint8Array)

/** A copy of `value` with one mutation applied at the node the path leads to (indices wrap around). */
export function mutate(value: unknown, m: Mutation): unknown {
  const apply = (node: unknown, depth: number): unknown => {
    const step = m.path[depth]
    if (step !== undefined && isContainer(node)) {
      const keys = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)
      if (keys.length > 0) {
        const key = keys[step % keys.length]!
        const child = (node as Record<string | number, unknown>)[key]
        if (isContainer(child) || depth + 1 === m.path.length) {
          const copy: Record<string | number, unknown> | unknown[] = Array.isArray(node) ? [...node] : { ...node }
          const next = apply(child, depth + 1)
          if (next === REMOVED) {
            if (Array.isArray(copy)) copy.splice(key as number, 1)
            else delete copy[key as string]
          } else (copy as Record<string | number, unknown>)[key] = next
          return copy
        }
      }
    }
    return mutateHere(node)
  }
  const mutateHere = (node: unknown): unknown => {
    switch (m.op) {
      case 'replace':
        return m.leaf
      case 'remove':
        return REMOVED
      case 'add':
        if (Array.isArray(node)) return [...node, m.leaf]
        if (isContainer(node)) return Object.defineProperty({ ...node }, m.key, { value: m.leaf, enumerable: true, configurable: true, writable: true })
        return m.leaf
      case 'repeat':
        if (Array.isArray(node) && node.length > 0) return Array.from({ length: m.times }, (_, i): unknown => (node as unknown[])[i % node.length])
        if (typeof node === 'string') return node.repeat(Math.min(m.times, 5000))
        if (node instanceof Uint8Array) return new Uint8Array(Math.min(node.length * m.times, MAX_INPUT_BYTES))
        return Array.from({ length: m.times }, () => node)
      case 'nest': {
        let out = node
        for (let i = 0; i < m.depth; i++) out = [out]
        return out
      }
    }
  }
  const out = apply(value, 0)
  return out === REMOVED ? null : out
}

const REMOVED = Symbol('removed')

type ByteMutation = { op: 'flip' | 'cut' | 'insert' | 'overwrite' | 'splice'; at: number; bytes: Uint8Array; bit: number }

const byteMutation: fc.Arbitrary<ByteMutation> = fc.record({
  op: fc.constantFrom('flip', 'cut', 'insert', 'overwrite', 'splice'),
  at: fc.nat(),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  bit: fc.nat({ max: 7 }),
})

export function mutateBytes(input: Uint8Array, m: ByteMutation): Uint8Array {
  if (input.length === 0) return m.bytes
  const at = m.at % input.length
  switch (m.op) {
    case 'flip': {
      const out = input.slice()
      out[at]! ^= 1 << m.bit
      return out
    }
    case 'cut':
      return input.slice(0, at)
    case 'insert':
      return concatBytes(input.subarray(0, at), m.bytes, input.subarray(at))
    case 'overwrite': {
      const out = input.slice()
      out.set(m.bytes.subarray(0, out.length - at), at)
      return out
    }
    case 'splice':
      // A part of the input repeated: lengths and counts that no longer match.
      return concatBytes(input.subarray(0, at), input.subarray(at), input.subarray(at))
  }
}

export type InputKind = 'valid' | 'structure' | 'bytes' | 'random'

/**
 * Largest input tried. Size limits are checked before anything else and pinned by unit tests;
 * huge inputs would only spend the run on generating them.
 */
export const MAX_INPUT_BYTES = 256 * 1024

/**
 * Inputs of one target: bytes with what made them. Mutations start from a pool of valid values
 * drawn once (building a signed value costs more than decoding it); valid inputs are fresh draws.
 * Encodings that fail (a value CBOR cannot hold) and inputs over {@link MAX_INPUT_BYTES} are left out.
 */
export function inputs(target: FuzzTarget, pool: readonly unknown[]): fc.Arbitrary<{ kind: InputKind; bytes: Uint8Array }> {
  const { format, valid } = target
  const tryEncode = (value: unknown): Uint8Array | undefined => {
    try {
      return format.encode(value)
    } catch {
      return undefined
    }
  }
  const encodedPool = pool.map((v) => format.encode(v))
  const pick = fc.nat({ max: pool.length - 1 })
  const input = (kind: InputKind, bytes: Uint8Array | undefined) => ({ kind, bytes })
  return fc
    .oneof(
      { weight: 1, arbitrary: valid.map((v) => input('valid', format.encode(v))) },
      { weight: 2, arbitrary: fc.tuple(pick, mutation(format)).map(([i, m]) => input('structure', tryEncode(mutate(pool[i], m)))) },
      { weight: 2, arbitrary: fc.tuple(pick, fc.array(byteMutation, { minLength: 1, maxLength: 3 })).map(([i, ms]) => input('bytes', ms.reduce(mutateBytes, encodedPool[i]!))) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => input('random', bytes)) },
    )
    .filter((i): i is { kind: InputKind; bytes: Uint8Array } => i.bytes !== undefined && i.bytes.length <= MAX_INPUT_BYTES)
}

export interface Crash {
  readonly target: string
  readonly kind: InputKind
  readonly error: string
  /** Hex of the input's first 256 bytes, to reproduce it. */
  readonly inputHex: string
  readonly inputBytes: number
}


export interface TargetReport {
  inputs: number
  /** By what made them. */
  kinds: Record<InputKind, number>
  /** Inputs decoded without a refusal. */
  accepted: number
  /** Refusals by error code. */
  refused: Record<string, number>
  slowestMs: number
  perSecond: number
}

/** One of the slowest inputs of a run. */
export interface SlowInput {
  readonly target: string
  readonly kind: InputKind
  /** Wall time in the run, from the call to its answer. */
  readonly ms: number
  /** The part of `ms` the process spent in garbage-collection pauses (see {@link FuzzReport.gc}). */
  readonly gcMs: number
  /**
   * The median of {@link RETIMES} runs of the same bytes after the run, one at a time after a
   * collection: what the input itself costs, without the run's pauses and neighbours. A decoder
   * with state answers from that state (a transaction submitted again is a duplicate).
   */
  readonly retimedMs: number
  /** The fastest of those runs: the input's cost with the least interference from other processes. */
  readonly retimedMinMs: number
  readonly inputBytes: number
  /** Hex of the input's first 64 bytes. */
  readonly inputHex: string
}

export interface MemorySample {
  readonly inputs: number
  readonly rssBytes: number
  readonly heapUsedBytes: number
  /** Heap in use right after a full collection (only when the process runs with `--expose-gc`). */
  readonly heapAfterGcBytes?: number
}

export interface FuzzReport {
  readonly seed: number
  readonly inputs: number
  readonly seconds: number
  readonly inputsPerSecond: number
  /** The slowest input of the run; the next slowest follow in `slowInputs`. */
  readonly slowest: SlowInput
  readonly slowInputs: readonly SlowInput[]
  /** Garbage-collection pauses during the run (PerformanceObserver 'gc' entries). */
  readonly gc: { readonly pauses: number; readonly totalMs: number; readonly longestMs: number }
  readonly memory: {
    readonly peakRssBytes: number
    readonly peakHeapUsedBytes: number
    /** Taken before the first input, then every `sampleEvery` inputs and at the end. */
    readonly samples: readonly MemorySample[]
  }
  readonly crashes: readonly Crash[]
  readonly targets: Record<string, TargetReport>
}

/** Valid values mutations start from, per target. */
const MAX_POOL = 1000

/** Inputs generated per fast-check sample call: generation and decoding alternate, so memory stays flat. */
const CHUNK = 500

/** How many of the slowest inputs are kept (with their bytes) and timed again after the run. */
const SLOW_KEPT = 10
const RETIMES = 5

/** Collections shorter than this are counted but not kept for matching against slow inputs. */
const GC_KEPT_MS = 2

type Clocked = { target: FuzzTarget; kind: InputKind; bytes: Uint8Array; start: number; ms: number }

/** Runs one input; a CertchainError is its coded refusal (returned), anything else thrown is a crash (thrown). */
async function run(target: FuzzTarget, bytes: Uint8Array): Promise<CertchainError | undefined> {
  try {
    const result = target.decode(bytes)
    if (result instanceof Promise) await result
    return undefined
  } catch (err) {
    if (err instanceof CertchainError) return err
    throw err
  }
}

/** Times each input again on its own ({@link RETIMES} runs: median, fastest), after a collection if `gc` is given. */
async function retime(slow: readonly Clocked[], gc: (() => void) | undefined): Promise<{ median: number; min: number }[]> {
  const out: { median: number; min: number }[] = []
  for (const s of slow) {
    gc?.()
    const times: number[] = []
    for (let i = 0; i < RETIMES; i++) {
      const t0 = performance.now()
      await run(s.target, s.bytes).catch(() => undefined)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    out.push({ median: times[RETIMES >> 1]!, min: times[0]! })
  }
  return out
}

const round2 = (ms: number) => Math.round(ms * 100) / 100

/**
 * Runs `total` inputs spread evenly over the targets, from `seed` (the same seed gives the same
 * inputs). A decoder that returns a promise is awaited, one input at a time. Once `signal` is
 * aborted, the report covers the inputs run so far. With `gc` (globalThis.gc under
 * `--expose-gc`), each memory sample is taken after a full collection, so a store that grows
 * per input shows as a rising `heapAfterGcBytes`, apart from the allocator's high-water mark.
 */
export async function fuzz(
  targets: readonly FuzzTarget[],
  options: { total: number; seed: number; sampleEvery?: number; gc?: () => void; onProgress?: (done: number) => void; signal?: AbortSignal },
): Promise<FuzzReport> {
  const perTarget = Math.ceil(options.total / targets.length)
  const sampleEvery = options.sampleEvery ?? Math.max(CHUNK, Math.ceil(options.total / 20))
  const crashes: Crash[] = []
  const reports: Record<string, TargetReport> = {}
  const slow: Clocked[] = []
  const pauses: { start: number; end: number }[] = []
  const gcStats = { pauses: 0, totalMs: 0, longestMs: 0 }
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcStats.pauses++
      gcStats.totalMs += e.duration
      gcStats.longestMs = Math.max(gcStats.longestMs, e.duration)
      if (e.duration >= GC_KEPT_MS) pauses.push({ start: e.startTime, end: e.startTime + e.duration })
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  const samples: MemorySample[] = []
  let peakRss = 0
  let peakHeap = 0
  const sample = (inputs: number) => {
    const before = process.memoryUsage()
    options.gc?.()
    const after = options.gc ? process.memoryUsage().heapUsed : undefined
    samples.push({ inputs, rssBytes: before.rss, heapUsedBytes: before.heapUsed, ...(after === undefined ? {} : { heapAfterGcBytes: after }) })
  }
  let done = 0
  const started = performance.now()
  const states = targets.map((target, t) => {
    const report: TargetReport = { inputs: 0, kinds: { valid: 0, structure: 0, bytes: 0, random: 0 }, accepted: 0, refused: {}, slowestMs: 0, perSecond: 0 }
    reports[target.name] = report
    const pool = fc.sample(target.valid, { seed: options.seed + t, numRuns: Math.max(1, Math.min(MAX_POOL, Math.floor(perTarget / 10))) })
    return { target, t, report, arbitrary: inputs(target, pool), ms: 0 }
  })
  sample(0)
  // Round robin, a chunk per target at a time, so a run stopped early still covers every target.
  for (let chunk = 0; states.some((s) => s.report.inputs < perTarget) && !options.signal?.aborted; chunk++) {
    for (const state of states) {
      const { target, t, report } = state
      if (report.inputs >= perTarget || options.signal?.aborted) continue
      const chunkStarted = performance.now()
      const batch = fc.sample(state.arbitrary, { seed: options.seed + t * 1_000_003 + chunk, numRuns: Math.min(CHUNK, perTarget - report.inputs) })
      for (const { kind, bytes } of batch) {
        const start = performance.now()
        try {
          const refusal = await run(target, bytes)
          if (refusal) report.refused[refusal.code] = (report.refused[refusal.code] ?? 0) + 1
          else report.accepted++
        } catch (err) {
          if (crashes.length < 100) {
            crashes.push({ target: target.name, kind, error: String((err as Error)?.stack ?? err).slice(0, 600), inputHex: Buffer.from(bytes.subarray(0, 256)).toString('hex'), inputBytes: bytes.length })
          }
        }
        const ms = performance.now() - start
        if (ms > report.slowestMs) report.slowestMs = ms
        if (slow.length < SLOW_KEPT || ms > slow[slow.length - 1]!.ms) {
          slow.push({ target, kind, bytes, start, ms })
          slow.sort((a, b) => b.ms - a.ms)
          slow.length = Math.min(slow.length, SLOW_KEPT)
        }
        report.inputs++
        report.kinds[kind]++
      }
      state.ms += performance.now() - chunkStarted
      report.perSecond = Math.round(report.inputs / (state.ms / 1000))
      const before = done
      done += batch.length
      const memory = process.memoryUsage()
      peakRss = Math.max(peakRss, memory.rss)
      peakHeap = Math.max(peakHeap, memory.heapUsed)
      if (Math.floor(done / sampleEvery) > Math.floor(before / sampleEvery)) sample(done)
      options.onProgress?.(done)
    }
  }
  const seconds = (performance.now() - started) / 1000
  if (samples[samples.length - 1]?.inputs !== done) sample(done)
  // Entries are delivered asynchronously: let the last ones arrive before matching.
  await new Promise((resolve) => setTimeout(resolve, 50))
  observer.disconnect()
  const gcDuring = (s: Clocked) =>
    pauses.reduce((sum, p) => sum + Math.max(0, Math.min(p.end, s.start + s.ms) - Math.max(p.start, s.start)), 0)
  const retimed = await retime(slow, options.gc)
  const slowInputs: SlowInput[] = slow.map((s, i) => ({
    target: s.target.name,
    kind: s.kind,
    ms: round2(s.ms),
    gcMs: round2(Math.min(s.ms, gcDuring(s))),
    retimedMs: round2(retimed[i]!.median),
    retimedMinMs: round2(retimed[i]!.min),
    inputBytes: s.bytes.length,
    inputHex: Buffer.from(s.bytes.subarray(0, 64)).toString('hex'),
  }))
  return {
    seed: options.seed,
    inputs: done,
    seconds: Math.round(seconds * 10) / 10,
    inputsPerSecond: Math.round(done / seconds),
    slowest: slowInputs[0] ?? { target: '', kind: 'valid', ms: 0, gcMs: 0, retimedMs: 0, retimedMinMs: 0, inputBytes: 0, inputHex: '' },
    slowInputs,
    gc: { pauses: gcStats.pauses, totalMs: Math.round(gcStats.totalMs), longestMs: round2(gcStats.longestMs) },
    memory: { peakRssBytes: peakRss, peakHeapUsedBytes: peakHeap, samples },
    crashes,
    targets: reports,
  }
}
