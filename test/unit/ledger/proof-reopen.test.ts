import { afterAll, describe, expect, it } from 'vitest'
import { Ledger } from '../../../src/ledger/index.js'
import { driveChain, type ChainDriver, type ProofChain } from '../../helpers/proof-chain.js'

// The heights of validator-set changes are kept in memory as blocks commit: a reopened ledger
// must know the ones committed before, or its proofs would skip a change every verifier needs.
let pc: (ProofChain & ChainDriver) | undefined
afterAll(async () => {
  await pc?.opened.cleanup()
})

describe('set-change headers across a restart', () => {
  it('a reopened ledger serves proofs with the changes committed before it closed', async () => {
    pc = await driveChain(4)
    const [cert] = await pc.issue('kr.mois', 1, 'before the change')
    await pc.addValidator('validator-5')
    await pc.block()
    const before = await pc.ledger.proof(cert!.file.certificateId)
    expect(before!.validatorChanges.map((c) => c.header.height)).toEqual(pc.setChanges)
    expect(pc.setChanges).toHaveLength(1)
    await pc.ledger.close()
    const reopened = await Ledger.open(pc.opened.dir, pc.chain.genesis)
    try {
      const after = await reopened.proof(cert!.file.certificateId)
      expect(after!.validatorChanges.map((c) => c.header.height)).toEqual(pc.setChanges)
    } finally {
      await reopened.close()
    }
  }, 60_000)
})
