import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyCertificate } from '../../../src/ledger/index.js'
import { proofFromJson, proofToJson, trustFromGenesis, verifyProof, type LightResult } from '../../../src/light/index.js'
import { makeProofChain, type ChainCertificate, type ProofChain } from '../../helpers/proof-chain.js'

// The offline verdict must be the node's: for every certificate of a chain with a history (set
// changes, every status transition, key rotation and compromise, a deactivated issuer), the light
// verifier's checks equal POST /v1/verify's, at several heights.

let pc: ProofChain

beforeAll(async () => {
  pc = await makeProofChain()
}, 120_000)

afterAll(async () => {
  await pc?.opened.cleanup()
})

const HOUR = 3_600_000

async function both(c: ChainCertificate, now: number): Promise<{ node: Awaited<ReturnType<typeof verifyCertificate>>; light: LightResult }> {
  const node = await verifyCertificate(pc.ledger, c.file, { document: c.secret.document }, now)
  const bundle = await pc.ledger.proof(c.file.certificateId)
  // Through JSON, as a holder's file travels.
  const proof = proofFromJson(JSON.parse(JSON.stringify(proofToJson(bundle!))))
  const light = verifyProof(c.file, proof, { trust: trustFromGenesis(pc.chain.genesisJson), now, maxAgeMs: 24 * HOUR, document: c.secret.document })
  return { node, light }
}

const shape = (checks: readonly { name: string; ok: boolean }[]) => checks.map(({ name, ok }) => ({ name, ok }))

describe('offline verdicts equal the node\'s', () => {
  it('the generated chain has what the issue asks for', () => {
    expect(pc.certificates.length).toBeGreaterThanOrEqual(200)
    // validator-5 added, validator-2 removed: two set-change headers
    expect(pc.setChanges).toHaveLength(2)
  })

  it('for every certificate at the head, and every kind of story gives both verdicts', async () => {
    const verdicts = new Map<string, Set<string>>()
    for (const c of pc.certificates) {
      const { node, light } = await both(c, pc.time)
      const nodeChecks = shape(node.checks)
      const lightChecks = shape(light.checks.filter((x) => x.name !== 'commit' && x.name !== 'freshness'))
      expect(lightChecks, c.story).toEqual(nodeChecks)
      expect(light.verdict, c.story).toBe(node.verdict)
      expect(light.status, c.story).toBe(node.status)
      expect(light.checks.find((x) => x.name === 'commit')?.ok, c.story).toBe(true)
      const seen = verdicts.get(c.story) ?? new Set()
      seen.add(`${node.verdict}/${node.status}`)
      verdicts.set(c.story, seen)
    }
    expect([...verdicts.get('batch of residence certificates')!].sort()).toEqual(['invalid/revoked', 'valid/valid'])
    expect([...verdicts.get('batch by a city hall')!].sort()).toEqual(['invalid/suspended', 'valid/valid'])
    expect([...verdicts.get('signed with a key later declared compromised')!]).toEqual(['invalid/revoked'])
    expect([...verdicts.get('land register, issuer deactivated later')!]).toEqual(['valid/valid'])
    expect([...verdicts.get('signed with a rotated-in key')!]).toEqual(['valid/valid'])
  }, 120_000)

  it('at later times: expired certificates agree too', async () => {
    for (const c of pc.certificates.filter((_, i) => i % 7 === 0)) {
      for (const now of [pc.time + 31 * 24 * HOUR, pc.time + 400 * 24 * HOUR]) {
        const { node, light } = await both(c, now)
        expect(shape(light.checks.filter((x) => x.name !== 'commit' && x.name !== 'freshness')), c.story).toEqual(shape(node.checks))
        expect(light.status).toBe(node.status)
      }
    }
  }, 120_000)

  it('at several heights of the chain as it grows', async () => {
    const sample = pc.certificates.filter((_, i) => i % 11 === 0)
    for (let round = 0; round < 3; round++) {
      for (const c of sample) {
        const { node, light } = await both(c, pc.time)
        expect(shape(light.checks.filter((x) => x.name !== 'commit' && x.name !== 'freshness')), c.story).toEqual(shape(node.checks))
        expect(light.checks.find((x) => x.name === 'commit')?.ok).toBe(true)
      }
      await pc.block()
      await pc.block()
    }
  }, 120_000)
})
