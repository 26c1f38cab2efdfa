import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { Registry } from '../../../src/ledger/index.js'
import { registryStateFromGenesis } from '../../../src/ledger/registry.js'
import { makeTestChain } from '../../helpers/fixtures.js'

describe('Registry', () => {
  const chain = makeTestChain({
    edit: (g) => {
      for (const id of ['validator-2', 'validator-3']) {
        g.validators.push({ id, name: id, publicKey: toHex(generateKeyPair().publicKey), peerId: `peer-${id}` })
      }
    },
  })
  const registry = new Registry(chain.genesis.chainId, registryStateFromGenesis(chain.genesis))

  it('looks up types, issuers and validators by id', () => {
    expect(registry.chainId).toBe(chain.genesis.chainId)
    expect(registry.params).toBe(chain.genesis.params)
    expect(registry.type('kr.family')?.nameKo).toBe('가족관계증명서')
    expect(registry.type('kr.passport')).toBeUndefined()
    expect(registry.issuer('kr.retired')?.active).toBe(false)
    expect(registry.issuer('kr.nobody')).toBeUndefined()
    expect(registry.validator('validator-1')?.id).toBe('validator-1')
    expect(registry.allIssuers()).toHaveLength(5)
    expect(registry.allTypes()).toHaveLength(4)
  })

  it('validators are ordered by public key (the proposer rotation)', () => {
    const keys = registry.activeValidators().map((v) => toHex(v.publicKey))
    expect(keys).toEqual([...keys].sort())
    expect(keys).toHaveLength(3)
  })


  it('mayChangeStatus: the issuer itself, or an authority named for the type', () => {
    expect(registry.mayChangeStatus('kr.seoul.jongno', 'kr.seoul.jongno', 'kr.residence')).toBe(true)
    expect(registry.mayChangeStatus('kr.mois', 'kr.seoul.jongno', 'kr.residence')).toBe(true)
    expect(registry.mayChangeStatus('kr.seoul.jongno', 'kr.mois', 'kr.residence')).toBe(false)
    expect(registry.mayChangeStatus('kr.mois', 'kr.court.seoul', 'kr.family')).toBe(false)
    expect(registry.mayChangeStatus('kr.mois', 'kr.x', 'kr.unknown')).toBe(false)
  })
})
