import { afterEach, describe, expect, it } from 'vitest'
import { proofToJson } from '../../../src/light/index.js'
import { driveChain, type ChainDriver, type ProofChain } from '../../helpers/proof-chain.js'

// The size of a proof bundle as a holder carries it (compact JSON). The issue's bound: at most
// 8 KiB on a chain of 4 validators with no validator-set change since genesis. Growth per
// validator and per set change is reported in README; PROOF_SIZE_REPORT=1 prints the table
// (npm run bench:proof).
const LIMIT = 8 * 1024
let chains: (ProofChain & ChainDriver)[] = []

afterEach(async () => {
  await Promise.all(chains.map((c) => c.opened.cleanup()))
  chains = []
})

async function bundleSize(validators: number, setChanges: number): Promise<number> {
  const pc = await driveChain(validators)
  chains.push(pc)
  // A chain that has seen some use: 5,000 certificates before, so the status path is realistic.
  for (let i = 0; i < 5; i++) await pc.issue('kr.mois', 1000, 'filler')
  const [cert] = await pc.issue('kr.seoul.jongno', 1, 'measured')
  for (let i = 0; i < setChanges; i++) await pc.addValidator(`validator-new-${i}`)
  await pc.block()
  const bundle = await pc.ledger.proof(cert!.file.certificateId)
  expect(bundle!.validatorChanges).toHaveLength(setChanges)
  return Buffer.byteLength(JSON.stringify(proofToJson(bundle!)))
}

describe('proof bundle size', () => {
  it('at most 8 KiB with 4 validators and no set change; growth per validator and per set change stays linear', async () => {
    const base = await bundleSize(4, 0)
    expect(base).toBeLessThanOrEqual(LIMIT)
    const seven = await bundleSize(7, 0)
    const perValidator = (seven - base) / 3
    const oneChange = await bundleSize(4, 1)
    const twoChanges = await bundleSize(4, 2)
    const perChange = (twoChanges - base) / 2
    // A commit signature is a 64-byte signature in hex plus the validator id; a set change is a
    // header, its commit and the next set.
    expect(perValidator).toBeGreaterThan(128)
    expect(perValidator).toBeLessThan(400)
    expect(oneChange - base).toBeLessThan(4096)
    if (process.env.PROOF_SIZE_REPORT) {
      console.log(JSON.stringify({ bytes: { fourValidatorsNoChange: base, sevenValidators: seven, oneSetChange: oneChange, twoSetChanges: twoChanges }, perValidator, perSetChange: perChange, limit: LIMIT }, null, 2))
    }
  }, 300_000)
})
