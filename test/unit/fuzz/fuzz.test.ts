/**
 * Issue 10 item 18, in CI: a fixed-seed sample of the fuzzing harness (`npm run fuzz` runs a
 * million). Every decoder of outside bytes must answer every input by returning or by a coded
 * refusal. Speed and memory are the harness's report, not asserted here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fuzz, type FuzzReport, type FuzzTarget } from '../../../bench/fuzz/harness.js'
import { decoderTargets, rpcTargets } from '../../../bench/fuzz/targets.js'

const INPUTS = 10_000
const SEED = 20_261_201

let rpc: Awaited<ReturnType<typeof rpcTargets>>
let targets: FuzzTarget[]
let report: FuzzReport

beforeAll(async () => {
  rpc = await rpcTargets()
  targets = [...decoderTargets(), ...rpc.targets]
  report = await fuzz(targets, { total: INPUTS, seed: SEED })
}, 600_000)
afterAll(() => rpc?.close())

describe(`fuzzing ${INPUTS} inputs (seed ${SEED})`, () => {
  it('covers every decoder of outside bytes', () => {
    expect(Object.keys(report.targets)).toEqual([
      'transaction',
      'finalized block (gossip, sync, storage)',
      'consensus message (votes, proposals)',
      'transaction bundle (gossip)',
      'sync request',
      'sync status answer',
      'sync blocks answer',
      'certificate file',
      'genesis',
      'config',
      'proof bundle',
      'checkpoint',
      'presentation request',
      'presentation',
      'rpc POST /v1/txs',
      'rpc POST /v1/verify',
      'rpc POST /v1/certificates/status',
      'rpc POST /v1/txs/batch (CBOR)',
      'rpc POST /v1/txs/batch (JSON)',
    ])
    expect(report.inputs).toBeGreaterThanOrEqual(INPUTS)
  })

  it('reports what the goals are checked against: the slowest inputs timed again alone, GC pauses, memory from the first input to the last', () => {
    expect(report.slowInputs).toHaveLength(10)
    expect(report.slowest).toEqual(report.slowInputs[0])
    for (const s of report.slowInputs) {
      expect(s.ms).toBeLessThanOrEqual(report.slowest.ms)
      expect(s.retimedMinMs).toBeGreaterThan(0)
      expect(s.retimedMinMs).toBeLessThanOrEqual(s.retimedMs)
      expect(s.gcMs).toBeLessThanOrEqual(s.ms)
    }
    expect(report.gc.pauses).toBeGreaterThan(0)
    const { samples } = report.memory
    expect(samples[0]!.inputs).toBe(0)
    expect(samples[samples.length - 1]!.inputs).toBe(report.inputs)
    expect(samples.length).toBeGreaterThanOrEqual(3)
    expect(report.memory.peakRssBytes).toBeGreaterThan(0)
  })

  it('no crash: every input is decoded or refused with a CertchainError code', () => {
    expect(report.crashes).toEqual([])
  })

  it('each target gets valid inputs it accepts, and mutated and random ones it refuses', () => {
    for (const [name, t] of Object.entries(report.targets)) {
      expect(t.kinds.valid, name).toBeGreaterThan(0)
      expect(t.kinds.structure, name).toBeGreaterThan(0)
      expect(t.kinds.bytes, name).toBeGreaterThan(0)
      expect(t.kinds.random, name).toBeGreaterThan(0)
      expect(t.accepted, name).toBeGreaterThan(0)
      // Valid draws are accepted (a generator drifted from its format would show here), except
      // submissions, which the ledger's rules may refuse (a revocation of an unknown certificate).
      if (name !== 'rpc POST /v1/txs') expect(t.accepted, name).toBeGreaterThanOrEqual(t.kinds.valid)
      expect(Object.values(t.refused).reduce((a, b) => a + b, 0), name).toBeGreaterThan(0)
    }
  })
})
