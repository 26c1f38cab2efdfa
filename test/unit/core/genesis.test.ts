import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { encode } from '../../../src/core/encoding.js'
import { CertchainError } from '../../../src/core/errors.js'
import { DEFAULT_CHAIN_PARAMS, parseGenesis } from '../../../src/core/genesis.js'
import { sha256 } from '../../../src/core/hash.js'
import { makeTestChain, type GenesisJson } from '../../helpers/fixtures.js'

const EXAMPLE = resolve(import.meta.dirname, '../../../config/genesis.example.json')

const base = makeTestChain().genesisJson

function json(edit?: (g: GenesisJson) => void): GenesisJson {
  const g = structuredClone(base)
  edit?.(g)
  return g
}

/** The INVALID_GENESIS error of parsing `value` (fails the test if it parses). */
function problems(value: unknown): string {
  try {
    parseGenesis(value)
  } catch (err) {
    expect(err).toBeInstanceOf(CertchainError)
    expect((err as CertchainError).code).toBe('INVALID_GENESIS')
    return (err as Error).message
  }
  throw new Error('expected INVALID_GENESIS, but the genesis parsed')
}

describe('parseGenesis: a valid genesis', () => {
  const genesis = parseGenesis(json())

  it('is typed, with defaults filled in', () => {
    expect(genesis.chainId).toBe('certchain-test')
    expect(genesis.genesisTime).toBe(Date.parse('2024-01-01T00:00:00.000Z'))
    expect(genesis.params).toEqual(DEFAULT_CHAIN_PARAMS)
    expect(genesis.certificateTypes.map((t) => t.id)).toEqual(['kr.residence', 'kr.family', 'kr.land', 'kr.building'])
    expect(genesis.certificateTypes[0]).toEqual({
      id: 'kr.residence',
      nameKo: '주민등록표 등본',
      nameEn: 'Resident registration certificate',
      validityDays: 90,
      authorities: ['kr.mois'],
    })
    expect(genesis.validators).toHaveLength(1)
    expect(genesis.members).toEqual([])
  })

  it('decodes public keys from hex and defaults active to true', () => {
    const mois = genesis.issuers.find((i) => i.id === 'kr.mois')!
    expect(toHex(mois.publicKey)).toBe(base.issuers[0]!.publicKey)
    expect(mois.active).toBe(true)
    expect(genesis.issuers.find((i) => i.id === 'kr.retired')!.active).toBe(false)
  })

  it('overrides only the given params', () => {
    const g = parseGenesis(json((j) => (j.params = { txMaxTtlMs: 1000, maxRecordsPerTx: 3 })))
    expect(g.params).toEqual({ ...DEFAULT_CHAIN_PARAMS, txMaxTtlMs: 1000, maxRecordsPerTx: 3 })
  })

  it('is frozen', () => {
    expect(Object.isFrozen(genesis)).toBe(true)
    expect(Object.isFrozen(genesis.params)).toBe(true)
    expect(Object.isFrozen(genesis.issuers)).toBe(true)
    expect(Object.isFrozen(genesis.issuers[0])).toBe(true)
    expect(Object.isFrozen(genesis.certificateTypes[0]!.authorities)).toBe(true)
  })
})

describe('genesis hash', () => {
  it('is SHA-256 of the canonical encoding of the genesis document', () => {
    const g = json()
    expect(toHex(parseGenesis(g).hash)).toBe(toHex(sha256(encode(JSON.parse(JSON.stringify(g))))))
  })

  it('is stable: same document, same hash, whatever the key order or whitespace', () => {
    const g = json()
    const a = parseGenesis(JSON.parse(JSON.stringify(g)))
    const b = parseGenesis(JSON.parse(JSON.stringify(g, null, 2)))
    const reversed = Object.fromEntries(Object.entries(g).reverse())
    const c = parseGenesis(JSON.parse(JSON.stringify(reversed)))
    expect(toHex(b.hash)).toBe(toHex(a.hash))
    expect(toHex(c.hash)).toBe(toHex(a.hash))
  })

  it('changes with any field', () => {
    const h = toHex(parseGenesis(json()).hash)
    const edits: ((g: GenesisJson) => void)[] = [
      (g) => (g.chainId = 'certchain-test2'),
      (g) => (g.genesisTime = '2024-01-01T00:00:00.001Z'),
      (g) => (g.certificateTypes[0]!.validityDays = 91),
      (g) => (g.issuers[1]!.name = 'x'),
      (g) => (g.params = { txMaxTtlMs: 1 }),
    ]
    for (const edit of edits) expect(toHex(parseGenesis(json(edit)).hash)).not.toBe(h)
  })
})

describe('parseGenesis: INVALID_GENESIS', () => {
  it('duplicate ids (type, issuer, node, peer id, validator key)', () => {
    expect(problems(json((g) => g.certificateTypes.push({ ...g.certificateTypes[0]! })))).toContain('duplicate certificate type id "kr.residence"')
    expect(problems(json((g) => g.issuers.push({ ...g.issuers[1]! })))).toContain('duplicate issuer id "kr.seoul.jongno"')
    expect(problems(json((g) => g.validators.push({ ...g.validators[0]!, peerId: 'other', publicKey: 'ab'.repeat(32) })))).toContain(
      'duplicate node id "validator-1"',
    )
    expect(problems(json((g) => g.members.push({ id: 'validator-1', name: 'm', peerId: 'p' })))).toContain('duplicate node id "validator-1"')
    expect(problems(json((g) => g.members.push({ id: 'bank', name: 'm', peerId: g.validators[0]!.peerId })))).toContain('duplicate peer id')
    expect(problems(json((g) => g.validators.push({ ...g.validators[0]!, id: 'validator-2', peerId: 'other' })))).toContain(
      'duplicate validator public key',
    )
    expect(problems(json((g) => (g.issuers[1]!.publicKey = g.issuers[0]!.publicKey)))).toContain('duplicate issuer public key')
  })

  it('parameters above their bounds, or inconsistent with each other (issue 10 #16)', () => {
    // A proposal carries the whole block in one gossip message: a bigger block could never be gossiped.
    expect(problems(json((g) => (g.params = { maxBlockBytes: 5 * 1024 * 1024 })))).toContain('params.maxBlockBytes must be at most 3145728')
    expect(problems(json((g) => (g.params = { maxBlockBytes: 512 * 1024 })))).toContain('params.maxTxBytes (1048576) must not exceed params.maxBlockBytes (524288)')
    expect(problems(json((g) => (g.params = { maxRecordsPerTx: 10_000_000 })))).toContain('params.maxRecordsPerTx must be at most 100000')
    expect(problems(json((g) => (g.params = { maxIdLength: 1_000_000 })))).toContain('params.maxIdLength must be at most 256')
    expect(problems(json((g) => (g.params = { txMaxTtlMs: 365 * 24 * 3600 * 1000 })))).toContain('params.txMaxTtlMs must be at most 86400000')
    expect(problems(json((g) => (g.params = { timeoutProposeMs: 10 * 3600 * 1000 })))).toContain('params.timeoutProposeMs must be at most 120000')
    // at the bounds: accepted
    expect(parseGenesis(json((g) => (g.params = { maxBlockBytes: 3 * 1024 * 1024, maxTxBytes: 2 * 1024 * 1024 }))).params.maxBlockBytes).toBe(3 * 1024 * 1024)
  })

  it('a parameter named like a built-in object property', () => {
    expect(problems(json((g) => (g.params = JSON.parse('{"toString": 5, "constructor": 1}') as Record<string, number>)))).toContain(
      'params.toString is not a known parameter',
    )
  })

  it('unknown type in issuer.types', () => {
    expect(problems(json((g) => g.issuers[0]!.types.push('kr.passport')))).toContain('issuers[0].types names unknown certificate type "kr.passport"')
  })

  it('unknown authority', () => {
    expect(problems(json((g) => g.certificateTypes[1]!.authorities.push('kr.nobody')))).toContain(
      'certificate type "kr.family" names unknown authority "kr.nobody"',
    )
  })

  it('bad public key hex or length', () => {
    expect(problems(json((g) => (g.issuers[2]!.publicKey = 'zz'.repeat(32))))).toContain('issuers[2].publicKey is not valid hex')
    expect(problems(json((g) => (g.issuers[2]!.publicKey = 'ab'.repeat(31))))).toContain('issuers[2].publicKey must be 32 bytes')
    expect(problems(json((g) => (g.validators[0]!.publicKey = 'abc')))).toContain('validators[0].publicKey')
    expect(problems(json((g) => delete (g.issuers[0] as { publicKey?: string }).publicKey))).toContain('issuers[0].publicKey')
  })

  it('no validators', () => {
    expect(problems(json((g) => (g.validators = [])))).toContain('at least one validator is required')
    expect(problems(json((g) => delete (g as Partial<GenesisJson>).validators))).toContain('validators must be a list')
  })

  it('unknown params and bad param values', () => {
    expect(problems(json((g) => (g.params = { maxTxSize: 10 } as GenesisJson['params'])))).toContain('params.maxTxSize is not a known parameter')
    expect(problems(json((g) => (g.params = { txMaxTtlMs: 0 })))).toContain('params.txMaxTtlMs must be a positive integer')
    expect(problems(json((g) => (g.params = { maxNoteLength: 1.5 })))).toContain('params.maxNoteLength must be a positive integer')
  })

  it('bad ids, chain id, time, validity and active flag', () => {
    expect(problems(json((g) => (g.chainId = 'Certchain Test')))).toContain('chainId')
    expect(problems(json((g) => (g.genesisTime = 'yesterday')))).toContain('genesisTime must be an ISO 8601 date')
    expect(problems(json((g) => (g.issuers[0]!.id = 'KR.MOIS')))).toContain('issuers[0].id "KR.MOIS" must match')
    expect(problems(json((g) => (g.certificateTypes[3]!.validityDays = 0)))).toContain('certificateTypes[3].validityDays must be a positive integer')
    expect(problems(json((g) => ((g.issuers[0] as { active?: unknown }).active = 'yes')))).toContain('issuers[0].active must be true or false')
    expect(problems(json((g) => (g.certificateTypes[0]!.nameKo = '')))).toContain('certificateTypes[0].nameKo must be a non-empty string')
  })

  it('not an object', () => {
    for (const v of [null, [], 'genesis', 1]) expect(problems(v)).toContain('genesis must be a JSON object')
  })

  it('lists every problem in one error', () => {
    const message = problems(
      json((g) => {
        g.issuers.push({ ...g.issuers[0]! })
        g.issuers[1]!.types.push('kr.passport')
        g.certificateTypes[2]!.authorities = ['kr.ghost']
        g.issuers[3]!.publicKey = 'not-hex'
        g.validators = []
        g.params = { blockTimeMs: 1000 } as GenesisJson['params']
      }),
    )
    for (const part of [
      'duplicate issuer id "kr.mois"',
      'unknown certificate type "kr.passport"',
      'unknown authority "kr.ghost"',
      'issuers[3].publicKey is not valid hex',
      'at least one validator is required',
      'params.blockTimeMs is not a known parameter',
    ]) {
      expect(message).toContain(part)
    }
    expect(message.split('\n  - ').length - 1).toBeGreaterThanOrEqual(6)
  })
})

describe('the shipped example genesis', () => {
  it.skipIf(!existsSync(EXAMPLE))('config/genesis.example.json parses', () => {
    const g = parseGenesis(JSON.parse(readFileSync(EXAMPLE, 'utf8')))
    expect(g.validators.length).toBeGreaterThan(0)
    expect(g.issuers.length).toBeGreaterThan(0)
    // every type has at least one issuer allowed to issue it
    for (const t of g.certificateTypes) {
      expect(g.issuers.some((i) => i.types.includes(t.id)), t.id).toBe(true)
    }
  })
})
