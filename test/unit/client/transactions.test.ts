import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { certificateId } from '../../../src/core/certificate.js'
import { decodeTx, verifyTxSignature } from '../../../src/core/tx.js'
import { prepareIssuance, prepareRevocation } from '../../../src/client/index.js'
import { makeTestChain } from '../../helpers/fixtures.js'

const chain = makeTestChain()
const chainId = chain.genesis.chainId
const identity = { issuer: 'kr.mois', key: chain.keys['kr.mois'] }
const document = (n: number) => new TextEncoder().encode(`document ${n}`)

describe('the client signs what the node decodes', () => {
  it('an issuance: same id, same certificate ids, a signature that verifies', () => {
    const holderKey = new Uint8Array(32).fill(9)
    const prepared = prepareIssuance(chainId, identity, [
      { type: 'kr.residence', document: document(1), validFrom: 1, validUntil: 2 },
      { type: 'kr.residence', document: document(2), holderKey, validFrom: 1, validUntil: 3 },
    ])
    const decoded = decodeTx(chainId, prepared.bytes, chain.genesis.params)
    expect(toHex(decoded.id)).toBe(toHex(prepared.id))
    expect(decoded.certificateIds.map(toHex)).toEqual(prepared.certificateIds.map(toHex))
    expect(prepared.certificateIds.map(toHex)).toEqual(prepared.records.map((r) => toHex(certificateId(r))))
    expect(() => verifyTxSignature(decoded)).not.toThrow()
  })

  it('a revocation: same id, a signature that verifies', () => {
    const prepared = prepareRevocation(chainId, identity, [new Uint8Array(32).fill(1)], 'fraud')
    const decoded = decodeTx(chainId, prepared.bytes, chain.genesis.params)
    expect(toHex(decoded.id)).toBe(toHex(prepared.id))
    expect(() => verifyTxSignature(decoded)).not.toThrow()
  })

  it('a transaction signed for another chain does not verify here', () => {
    const prepared = prepareIssuance('another-chain', identity, [{ type: 'kr.residence', document: document(3), validFrom: 1, validUntil: 2 }])
    expect(() => verifyTxSignature(decodeTx(chainId, prepared.bytes, chain.genesis.params))).toThrow(expect.objectContaining({ code: 'BAD_SIGNATURE' }))
  })
})
