/**
 * A fuzzing harness over the decoders that take outside bytes. Each target names a decoder, its
 * format (how values become bytes) and a generator of valid values. Inputs are, in equal parts:
 * valid encodings, structure-aware mutations of valid values (a node replaced, removed, added,
 * repeated or nested deeper, then encoded again), byte-level mutations of valid encodings (bits
 * flipped, cut, spliced), and random bytes. A decoder passes an input by returning or by throwing
 * a CertchainError (a coded refusal); anything else thrown is a crash.
 */
import { performance } from 'node:perf_hooks'
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

export interface FuzzReport {
  readonly seed: number
  readonly inputs: number
  readonly seconds: number
  readonly inputsPerSecond: number
  readonly slowest: { target: string; kind: InputKind; ms: number; inputBytes: number; inputHex: string }
  readonly peakRssBytes: number
  readonly peakHeapUsedBytes: number
  readonly crashes: readonly Crash[]
  readonly targets: Record<string, TargetReport>
}

/** Valid values mutations start from, per target. */
const MAX_POOL = 1000

/** Inputs generated per fast-check sample call: generation and decoding alternate, so memory stays flat. */
const CHUNK = 500

/**
 * Runs `total` inputs spread evenly over the targets, from `seed` (the same seed gives the same
 * inputs). A decoder that returns a promise is awaited, one input at a time. Once `signal` is
 * aborted, the report covers the inputs run so far.
 */
export async function fuzz(
  targets: readonly FuzzTarget[],
  options: { total: number; seed: number; onProgress?: (done: number) => void; signal?: AbortSignal },
): Promise<FuzzReport> {
  const perTarget = Math.ceil(options.total / targets.length)
  const crashes: Crash[] = []
  const reports: Record<string, TargetReport> = {}
  let slowest: FuzzReport['slowest'] = { target: '', kind: 'valid', ms: 0, inputBytes: 0, inputHex: '' }
  let peakRss = 0
  let peakHeap = 0
  let done = 0
  const started = performance.now()
  const states = targets.map((target, t) => {
    const report: TargetReport = { inputs: 0, kinds: { valid: 0, structure: 0, bytes: 0, random: 0 }, accepted: 0, refused: {}, slowestMs: 0, perSecond: 0 }
    reports[target.name] = report
    const pool = fc.sample(target.valid, { seed: options.seed + t, numRuns: Math.max(1, Math.min(MAX_POOL, Math.floor(perTarget / 10))) })
    return { target, t, report, arbitrary: inputs(target, pool), ms: 0 }
  })
  // Round robin, a chunk per target at a time, so a run stopped early still covers every target.
  for (let chunk = 0; states.some((s) => s.report.inputs < perTarget) && !options.signal?.aborted; chunk++) {
    for (const state of states) {
      const { target, t, report } = state
      if (report.inputs >= perTarget || options.signal?.aborted) continue
      const chunkStarted = performance.now()
      const batch = fc.sample(state.arbitrary, { seed: options.seed + t * 1_000_003 + chunk, numRuns: Math.min(CHUNK, perTarget - report.inputs) })
      for (const { kind, bytes } of batch) {
        const t0 = performance.now()
        try {
          const result = target.decode(bytes)
          if (result instanceof Promise) await result
          report.accepted++
        } catch (err) {
          if (err instanceof CertchainError) report.refused[err.code] = (report.refused[err.code] ?? 0) + 1
          else if (crashes.length < 100) {
            crashes.push({ target: target.name, kind, error: String((err as Error)?.stack ?? err).slice(0, 600), inputHex: Buffer.from(bytes.subarray(0, 256)).toString('hex'), inputBytes: bytes.length })
          }
        }
        const ms = performance.now() - t0
        if (ms > report.slowestMs) report.slowestMs = ms
        if (ms > slowest.ms) slowest = { target: target.name, kind, ms, inputBytes: bytes.length, inputHex: Buffer.from(bytes.subarray(0, 64)).toString('hex') }
        report.inputs++
        report.kinds[kind]++
      }
      state.ms += performance.now() - chunkStarted
      report.perSecond = Math.round(report.inputs / (state.ms / 1000))
      done += batch.length
      const memory = process.memoryUsage()
      peakRss = Math.max(peakRss, memory.rss)
      peakHeap = Math.max(peakHeap, memory.heapUsed)
      options.onProgress?.(done)
    }
  }
  const seconds = (performance.now() - started) / 1000
  return {
    seed: options.seed,
    inputs: done,
    seconds: Math.round(seconds * 10) / 10,
    inputsPerSecond: Math.round(done / seconds),
    slowest: { ...slowest, ms: Math.round(slowest.ms * 100) / 100 },
    peakRssBytes: peakRss,
    peakHeapUsedBytes: peakHeap,
    crashes,
    targets: reports,
  }
}
