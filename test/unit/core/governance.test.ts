import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { encode } from '../../../src/core/encoding.js'
import { GOVERNABLE_PARAMS, GOV_ACTION_TYPES, parseGovAction, type GovAction } from '../../../src/core/governance.js'
import { decodeTx } from '../../../src/core/tx.js'
import { makeTestChain, thrownCode } from '../../helpers/fixtures.js'

const key = generateKeyPair().publicKey

/** One valid action of every kind. */
const VALID: Record<GovAction['type'], GovAction> = {
  addValidator: { type: 'addValidator', id: 'validator-5', name: 'Busan city hall', publicKey: key, peerId: '12D3KooWx' },
  removeValidator: { type: 'removeValidator', id: 'validator-5' },
  unjailValidator: { type: 'unjailValidator', id: 'validator-5' },
  addMember: { type: 'addMember', id: 'bank.kb', name: 'KB Kookmin Bank', peerId: '12D3KooWy' },
  removeMember: { type: 'removeMember', id: 'bank.kb' },
  addIssuer: { type: 'addIssuer', id: 'kr.busan', name: '부산광역시', publicKey: key, types: ['kr.residence'] },
  updateIssuer: { type: 'updateIssuer', id: 'kr.busan', types: ['kr.residence', 'kr.family'] },
  deactivateIssuer: { type: 'deactivateIssuer', id: 'kr.busan' },
  compromiseIssuerKey: { type: 'compromiseIssuerKey', id: 'kr.busan', key, since: 1_700_000_000_000 },
  addType: { type: 'addType', id: 'kr.vehicle', nameKo: '자동차등록원부', nameEn: 'Vehicle register', validityDays: 30, authorities: [] },
  updateType: { type: 'updateType', id: 'kr.vehicle', validityDays: 60 },
  setParams: { type: 'setParams', params: { maxBlockTxs: 5000, timeoutProposeMs: 2000 } },
}

describe('parseGovAction', () => {
  it('accepts one valid action of every kind, unchanged', () => {
    expect(Object.keys(VALID).sort()).toEqual([...GOV_ACTION_TYPES].sort())
    for (const action of Object.values(VALID)) expect(parseGovAction(action)).toEqual(action)
  })

  const bad: [string, unknown][] = [
    ['not a map', 'addMember'],
    ['unknown type', { type: 'grantEverything' }],
    ['unknown field (a field the kind does not touch)', { ...VALID.updateIssuer, active: true }],
    ['unknown field on removeMember', { ...VALID.removeMember, peerId: 'x' }],
    ['missing field', { type: 'addMember', id: 'bank.kb', name: 'KB' }],
    ['bad id', { ...VALID.removeValidator, id: 'Validator 5' }],
    ['empty name', { ...VALID.addMember, name: '' }],
    ['short key', { ...VALID.addIssuer, publicKey: new Uint8Array(31) }],
    ['types not a list', { ...VALID.addIssuer, types: 'kr.residence' }],
    ['a type twice', { ...VALID.addIssuer, types: ['kr.residence', 'kr.residence'] }],
    ['updateIssuer changing nothing', { type: 'updateIssuer', id: 'kr.busan' }],
    ['updateType changing nothing', { type: 'updateType', id: 'kr.vehicle' }],
    ['validityDays zero', { ...VALID.addType, validityDays: 0 }],
    ['negative since', { ...VALID.compromiseIssuerKey, since: -1 }],
    ['since past what a Date holds', { ...VALID.compromiseIssuerKey, since: 8.64e15 + 1 }],
    ['setParams: nothing', { type: 'setParams', params: {} }],
    ['setParams: unknown parameter', { type: 'setParams', params: { maxTxBytes: 10 } }],
    ['setParams: below the bound', { type: 'setParams', params: { timeoutProposeMs: GOVERNABLE_PARAMS.timeoutProposeMs.min - 1 } }],
    ['setParams: above the bound', { type: 'setParams', params: { maxBlockBytes: GOVERNABLE_PARAMS.maxBlockBytes.max + 1 } }],
    ['setParams: not an integer', { type: 'setParams', params: { maxBlockTxs: 1.5 } }],
    ['setParams: a built-in property name', { type: 'setParams', params: { hasOwnProperty: 5 } }],
    ['setParams: "constructor"', { type: 'setParams', params: JSON.parse('{"constructor": 5}') as unknown }],
  ]
  for (const [what, value] of bad) {
    it(`refuses ${what} (MALFORMED_TX)`, () => {
      expect(thrownCode(() => parseGovAction(value))).toBe('MALFORMED_TX')
    })
  }
})

describe('decodeTx: governance and key transactions', () => {
  const chain = makeTestChain()
  const decodeBody = (kind: string, body: unknown): string | undefined =>
    thrownCode(() => decodeTx(chain.genesis.chainId, encode({ kind, signer: 'validator-1', key, body, sig: new Uint8Array(64) }), chain.genesis.params))

  it('accepts well-formed bodies', () => {
    expect(decodeBody('Propose', { action: VALID.addMember, expiresAt: 1 })).toBeUndefined()
    expect(decodeBody('Vote', { proposal: 1, approve: false, expiresAt: 1 })).toBeUndefined()
    expect(decodeBody('UpdateIssuerKeys', { add: [key], expiresAt: 1 })).toBeUndefined()
  })

  const bad: [string, string, unknown][] = [
    ['Propose with a bad action', 'Propose', { action: { type: 'addMember' }, expiresAt: 1 }],
    ['Vote with approve as a string', 'Vote', { proposal: 1, approve: 'yes', expiresAt: 1 }],
    ['Vote with a negative proposal', 'Vote', { proposal: -1, approve: true, expiresAt: 1 }],
    ['UpdateIssuerKeys changing nothing', 'UpdateIssuerKeys', { expiresAt: 1 }],
    ['UpdateIssuerKeys with an empty list', 'UpdateIssuerKeys', { add: [], expiresAt: 1 }],
    ['UpdateIssuerKeys with 17 keys', 'UpdateIssuerKeys', { retire: Array.from({ length: 17 }, () => key), expiresAt: 1 }],
    ['UpdateIssuerKeys compromise without since', 'UpdateIssuerKeys', { compromised: [{ key }], expiresAt: 1 }],
    ['UpdateIssuerKeys compromise since past what a Date holds', 'UpdateIssuerKeys', { compromised: [{ key, since: 8.64e15 + 1 }], expiresAt: 1 }],
    ['ReportEquivocation with a malformed vote', 'ReportEquivocation', { first: { type: 'prevote' }, second: {}, expiresAt: 1 }],
  ]
  for (const [what, kind, body] of bad) {
    it(`refuses ${what} (MALFORMED_TX)`, () => {
      expect(decodeBody(kind, body)).toBe('MALFORMED_TX')
    })
  }
})
