import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/bytes.js'
import { generateKeyPair } from '../../../src/core/crypto.js'
import { CertchainError } from '../../../src/core/errors.js'
import { checkGenesis, DEFAULT_CHAIN_PARAMS, parseGenesis } from '../../../src/core/genesis.js'
import {
  addIssuer,
  addMember,
  addType,
  addValidator,
  asGenesisDocument,
  exportIdentity,
  IDENTITY_FORMAT,
  issuerPublicKey,
  newGenesisDocument,
  parseIdentity,
  type GenesisDocument,
  type Identity,
} from '../../../src/node/ceremony.js'
import { initHome } from '../../../src/node/home.js'
import { newKeyFile, saveKeyFile } from '../../../src/node/keys.js'

/** The code and message of the CertchainError `fn` throws. */
function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (err) {
    if (err instanceof CertchainError) return { code: err.code, message: err.message }
    throw err
  }
  throw new Error('expected a refusal')
}

const key = (): string => toHex(generateKeyPair().publicKey)
const TIME = '2027-01-01T00:00:00.000Z'
const residence = { id: 'kr.residence', nameKo: '주민등록표 등본', nameEn: 'Resident registration', validityDays: 90, authorities: ['kr.mois'] }
const family = { id: 'kr.family', nameKo: '가족관계증명서', nameEn: 'Family relationship', validityDays: 90 }
const node = (id: string, validator = true): Identity => ({
  format: IDENTITY_FORMAT,
  id,
  name: `Institution ${id}`,
  peerId: `12D3KooW${id}`,
  ...(validator ? { validatorPublicKey: key() } : {}),
})

/** A chain with two types, one issuer, one validator: the smallest valid ceremony. */
function smallChain(): GenesisDocument {
  let doc = newGenesisDocument({ chainId: 'certchain-test', genesisTime: TIME })
  doc = addType(doc, residence)
  doc = addType(doc, family)
  doc = addIssuer(doc, { id: 'kr.mois', name: 'Ministry of the Interior and Safety', publicKey: key(), types: ['kr.residence'] })
  return addValidator(doc, node('val-mois'))
}

describe('newGenesisDocument', () => {
  it('writes every chain parameter and empty lists; the time defaults to now', () => {
    const before = Date.now()
    const doc = newGenesisDocument({ chainId: 'certchain-kr' })
    expect(doc).toMatchObject({ chainId: 'certchain-kr', params: DEFAULT_CHAIN_PARAMS, certificateTypes: [], issuers: [], validators: [], members: [] })
    expect(Date.parse(doc.genesisTime)).toBeGreaterThanOrEqual(before - 1)
    expect(newGenesisDocument({ chainId: 'c', params: { maxBlockTxs: 10 } }).params).toEqual({ ...DEFAULT_CHAIN_PARAMS, maxBlockTxs: 10 })
  })

  it('writes the genesis time as ISO 8601 in UTC', () => {
    expect(newGenesisDocument({ chainId: 'c', genesisTime: '2027-01-01' }).genesisTime).toBe(TIME)
  })

  it('refuses a bad chain id, time or parameter with INVALID_GENESIS naming each', () => {
    const r = refusal(() => newGenesisDocument({ chainId: 'Bad Chain', genesisTime: 'tomorrow', params: { maxTxBytes: 0, nope: 1 } as never }))
    expect(r.code).toBe('INVALID_GENESIS')
    for (const part of ['chainId', 'genesisTime must be an ISO 8601 date', 'params.maxTxBytes must be a positive integer', 'params.nope is not a known parameter']) {
      expect(r.message).toContain(part)
    }
  })
})

describe('adding entries', () => {
  it('returns a new document with the entry appended; the input is unchanged and earlier entries never move', () => {
    const empty = newGenesisDocument({ chainId: 'c', genesisTime: TIME })
    const one = addType(empty, family)
    const two = addType(one, residence)
    expect(empty.certificateTypes).toEqual([])
    expect(one.certificateTypes.map((t) => t.id)).toEqual(['kr.family'])
    expect(two.certificateTypes.map((t) => t.id)).toEqual(['kr.family', 'kr.residence'])
    expect(one.certificateTypes[0]).toEqual({ ...family, authorities: [] })
  })

  it('addType accepts an authority that is not an issuer yet (the issuer needs the type first); validate reports it until then', () => {
    const doc = addValidator(addType(newGenesisDocument({ chainId: 'c', genesisTime: TIME }), residence), node('v'))
    expect(checkGenesis(doc).problems).toEqual(['certificate type "kr.residence" names unknown authority "kr.mois"'])
    const done = addIssuer(doc, { id: 'kr.mois', name: 'MOIS', publicKey: key(), types: ['kr.residence'] })
    expect(checkGenesis(done).problems).toEqual([])
  })

  it.each([
    ['a duplicate id', (d: GenesisDocument) => addType(d, residence), /certificate type "kr.residence" already exists/],
    ['a bad id', (d: GenesisDocument) => addType(d, { ...family, id: 'KR Family' }), /cannot add certificate type "KR Family": id "KR Family" must match/],
    ['a validity that is not positive', (d: GenesisDocument) => addType(d, { ...family, id: 'kr.x', validityDays: 0 }), /validityDays must be a positive integer/],
    ['an empty name', (d: GenesisDocument) => addType(d, { ...family, id: 'kr.x', nameKo: '' }), /nameKo must be a non-empty string/],
  ])('addType refuses %s', (_what, add, pattern) => {
    const r = refusal(() => add(smallChain()))
    expect(r.code).toBe('INVALID_GENESIS')
    expect(r.message).toMatch(pattern)
  })

  it('addIssuer stores the key in lowercase', () => {
    const upper = key().toUpperCase()
    const doc = addIssuer(smallChain(), { id: 'kr.seoul', name: 'Seoul', publicKey: upper, types: [] })
    expect(doc.issuers.at(-1)).toEqual({ id: 'kr.seoul', name: 'Seoul', publicKey: upper.toLowerCase(), types: [] })
  })

  it.each([
    ['a duplicate id', (d: GenesisDocument) => addIssuer(d, { id: 'kr.mois', name: 'x', publicKey: key(), types: [] }), /issuer "kr.mois" already exists/],
    ['an unknown type', (d: GenesisDocument) => addIssuer(d, { id: 'kr.x', name: 'x', publicKey: key(), types: ['kr.passport'] }), /types names unknown certificate type "kr.passport"/],
    ['a key that is not 32 bytes of hex', (d: GenesisDocument) => addIssuer(d, { id: 'kr.x', name: 'x', publicKey: 'abcd', types: [] }), /publicKey must be 32 bytes/],
    ["another issuer's key", (d: GenesisDocument) => addIssuer(d, { id: 'kr.x', name: 'x', publicKey: d.issuers[0]!.publicKey, types: [] }), /is already registered for issuer "kr.mois"/],
    ["a validator's key", (d: GenesisDocument) => addIssuer(d, { id: 'kr.x', name: 'x', publicKey: d.validators[0]!.publicKey, types: [] }), /is already registered for validator "val-mois"/],
  ])('addIssuer refuses %s', (_what, add, pattern) => {
    const r = refusal(() => add(smallChain()))
    expect(r.code).toBe('INVALID_GENESIS')
    expect(r.message).toMatch(pattern)
  })

  it('addValidator and addMember take only the node fields of an identity, never its issuer keys', () => {
    const identity: Identity = { ...node('val-court'), issuerKeys: { 'kr.court': key() } }
    const doc = addMember(addValidator(smallChain(), identity), node('kr.bank', false))
    expect(doc.validators.at(-1)).toEqual({ id: 'val-court', name: identity.name, publicKey: identity.validatorPublicKey, peerId: identity.peerId })
    expect(doc.members).toEqual([{ id: 'kr.bank', name: 'Institution kr.bank', peerId: '12D3KooWkr.bank' }])
  })

  it.each([
    ['an identity without a validator key', (d: GenesisDocument) => addValidator(d, node('val-x', false)), /has no validatorPublicKey .* add it as a member instead/],
    ['a node id already used', (d: GenesisDocument) => addValidator(d, { ...node('val-x'), id: 'val-mois' }), /node id "val-mois" is already registered for validator "val-mois"/],
    ['a peer id already used', (d: GenesisDocument) => addValidator(d, { ...node('val-x'), peerId: d.validators[0]!.peerId }), /peer id 12D3KooWval-mois is already registered/],
    ['a key already used', (d: GenesisDocument) => addValidator(d, { ...node('val-x'), validatorPublicKey: d.validators[0]!.publicKey }), /already registered for validator "val-mois"/],
    ['a bad key', (d: GenesisDocument) => addValidator(d, { ...node('val-x'), validatorPublicKey: 'zz'.repeat(32) }), /publicKey is not valid hex/],
    ['a bad id', (d: GenesisDocument) => addValidator(d, node('Val X')), /id "Val X" must match/],
  ])('addValidator refuses %s', (_what, add, pattern) => {
    const r = refusal(() => add(smallChain()))
    expect(r.code).toBe('INVALID_GENESIS')
    expect(r.message).toMatch(pattern)
  })

  it.each([
    ["a validator's node id", (d: GenesisDocument) => addMember(d, { ...node('kr.bank', false), id: 'val-mois' }), /node id "val-mois" is already registered for validator/],
    ["a validator's peer id", (d: GenesisDocument) => addMember(d, { ...node('kr.bank', false), peerId: d.validators[0]!.peerId }), /peer id .* already registered for validator "val-mois"/],
    ["another member's ids", (d: GenesisDocument) => addMember(addMember(d, node('kr.bank', false)), node('kr.bank', false)), /node id "kr.bank" is already registered for member "kr.bank"/],
    ['an empty name', (d: GenesisDocument) => addMember(d, { ...node('kr.bank', false), name: '' }), /name must be a non-empty string/],
  ])('addMember refuses %s', (_what, add, pattern) => {
    const r = refusal(() => add(smallChain()))
    expect(r.code).toBe('INVALID_GENESIS')
    expect(r.message).toMatch(pattern)
  })

  it('names every reason for refusing an entry in one error', () => {
    const doc = smallChain()
    const r = refusal(() => addValidator(doc, { ...node('val-mois'), peerId: doc.validators[0]!.peerId, validatorPublicKey: 'ab' }))
    expect(r.message).toMatch(/^cannot add validator "val-mois": publicKey must be 32 bytes .*; node id "val-mois" is already registered .*; peer id .* is already registered/)
  })
})

describe('a ceremony-built genesis', () => {
  it('is a valid genesis whose hash survives the file round trip and does not depend on when it was built', () => {
    const issuerKey = key()
    const identities = [node('val-a'), node('val-b'), node('val-c'), node('val-d')]
    const build = (): GenesisDocument => {
      let doc = newGenesisDocument({ chainId: 'certchain-kr', genesisTime: TIME })
      doc = addType(doc, residence)
      doc = addIssuer(doc, { id: 'kr.mois', name: 'MOIS', publicKey: issuerKey, types: ['kr.residence'] })
      for (const identity of identities) doc = addValidator(doc, identity)
      return addMember(doc, node('kr.bank', false))
    }
    const doc = build()
    const check = checkGenesis(doc)
    expect(check).toMatchObject({ problems: [], warnings: [] })
    const fromFile = parseGenesis(JSON.parse(JSON.stringify(doc, null, 2)))
    expect(toHex(fromFile.hash)).toBe(toHex(check.genesis!.hash))
    expect(toHex(parseGenesis(build()).hash)).toBe(toHex(fromFile.hash))
    expect(fromFile.validators.map((v) => v.id)).toEqual(['val-a', 'val-b', 'val-c', 'val-d'])
  })

  it('warns, without failing, about fewer than 4 validators and types nobody may issue', () => {
    const { problems, warnings } = checkGenesis(smallChain())
    expect(problems).toEqual([])
    expect(warnings).toEqual([expect.stringContaining('only 1 validator(s)'), 'no issuer may issue certificate type "kr.family"'])
  })
})

describe('asGenesisDocument', () => {
  it('accepts the shipped example genesis', async () => {
    const json: unknown = JSON.parse(await readFile(new URL('../../../config/genesis.example.json', import.meta.url), 'utf8'))
    expect(asGenesisDocument(json).chainId).toBe('certchain-kr-example')
  })

  it('refuses anything entries cannot be added to, naming each field', () => {
    expect(refusal(() => asGenesisDocument([]))).toEqual({ code: 'INVALID_GENESIS', message: 'genesis must be a JSON object' })
    const r = refusal(() => asGenesisDocument({ chainId: 1, genesisTime: TIME, certificateTypes: [], issuers: {}, validators: [1], members: [] }))
    expect(r.message).toBe('not a genesis document: chainId must be a string; issuers must be a list of objects; validators must be a list of objects')
  })
})

describe('identity files', () => {
  const valid = { format: IDENTITY_FORMAT, id: 'kr.mois', name: 'MOIS', peerId: '12D3KooWx', validatorPublicKey: key(), issuerKeys: { 'kr.mois': key() } }

  it('parseIdentity reads a valid identity and writes keys in lowercase', () => {
    expect(parseIdentity(valid)).toEqual(valid)
    const upper = { ...valid, validatorPublicKey: valid.validatorPublicKey.toUpperCase() }
    expect(parseIdentity(upper).validatorPublicKey).toBe(valid.validatorPublicKey)
    const member = { format: IDENTITY_FORMAT, id: 'kr.bank', name: 'Bank', peerId: '12D3KooWy' }
    expect(parseIdentity(member)).toEqual(member)
  })

  it('parseIdentity refuses with INVALID_IDENTITY naming every bad field', () => {
    const r = refusal(() =>
      parseIdentity({ format: 'other', id: '', peerId: 3, validatorPublicKey: 'abc', issuerKeys: { 'kr.mois': 'ab'.repeat(31) }, secretKey: 'x' }, 'mois.json'),
    )
    expect(r.code).toBe('INVALID_IDENTITY')
    expect(r.message).toMatch(/^mois\.json is not a valid identity: /)
    for (const part of [
      'secretKey is not a known field',
      `format must be "${IDENTITY_FORMAT}"`,
      'id must be a non-empty string',
      'name must be a non-empty string',
      'peerId must be a non-empty string',
      'validatorPublicKey is not valid hex',
      'issuerKeys["kr.mois"] must be 32 bytes',
    ]) {
      expect(r.message).toContain(part)
    }
    expect(refusal(() => parseIdentity({ ...valid, issuerKeys: ['x'] })).message).toContain('issuerKeys must be an object')
    expect(refusal(() => parseIdentity('text')).message).toContain('not a JSON object')
  })

  it('issuerPublicKey finds the key for an issuer or names the ones the identity has', () => {
    const identity = parseIdentity(valid)
    expect(issuerPublicKey(identity, 'kr.mois')).toBe(valid.issuerKeys['kr.mois'])
    expect(refusal(() => issuerPublicKey(identity, 'kr.court'))).toEqual({
      code: 'INVALID_IDENTITY',
      message: 'identity "kr.mois" has no key for issuer "kr.court" (it has keys for: kr.mois)',
    })
  })
})

describe('exportIdentity', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'certchain-ceremony-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** Every secret key in a home and the given key files, as hex. */
  async function secrets(files: readonly string[]): Promise<string[]> {
    return Promise.all(files.map(async (f) => (JSON.parse(await readFile(f, 'utf8')) as { secretKey: string }).secretKey))
  }

  it('exports the peer id and the validator and issuer public keys, and no secret key', async () => {
    const home = join(dir, 'mois')
    const init = await initHome(home, { moniker: 'val-mois' })
    const issuerFile = join(dir, 'kr.mois.json')
    const issuer = newKeyFile('kr.mois')
    await saveKeyFile(issuerFile, issuer)
    const identity = await exportIdentity(home, { name: 'Ministry of the Interior and Safety', issuerKeyFiles: [issuerFile] })
    expect(identity).toEqual({
      format: IDENTITY_FORMAT,
      id: 'val-mois',
      name: 'Ministry of the Interior and Safety',
      peerId: init.peerId,
      validatorPublicKey: init.validatorPublicKey,
      issuerKeys: { 'kr.mois': toHex(issuer.publicKey) },
    })
    const text = JSON.stringify(identity)
    const all = await secrets([join(home, 'node_key.json'), join(home, 'validator_key.json'), issuerFile])
    expect(all).toHaveLength(3)
    for (const secret of all) expect(text).not.toContain(secret)
    expect(text).not.toMatch(/secret/i)
  })

  it('a member home has no validator key; the name defaults to the id', async () => {
    const home = join(dir, 'bank')
    await initHome(home, { moniker: 'ignored', validator: false })
    const identity = await exportIdentity(home, { id: 'kr.bank' })
    expect(identity).toEqual({ format: IDENTITY_FORMAT, id: 'kr.bank', name: 'kr.bank', peerId: expect.stringMatching(/^12D3KooW/) })
    expect(JSON.stringify(identity)).not.toContain((await secrets([join(home, 'node_key.json')]))[0])
  })

  it('refuses an issuer key file without an issuer, and two files for one issuer', async () => {
    const home = join(dir, 'court')
    await initHome(home)
    const anonymous = join(dir, 'anonymous.json')
    await saveKeyFile(anonymous, newKeyFile())
    const a = join(dir, 'court-a.json')
    const b = join(dir, 'court-b.json')
    await saveKeyFile(a, newKeyFile('kr.court'))
    await saveKeyFile(b, newKeyFile('kr.court'))
    await expect(exportIdentity(home, { issuerKeyFiles: [anonymous] })).rejects.toMatchObject({ code: 'INVALID_IDENTITY', message: expect.stringContaining('names no issuer') })
    await expect(exportIdentity(home, { issuerKeyFiles: [a, b] })).rejects.toMatchObject({
      code: 'INVALID_IDENTITY',
      message: 'two issuer key files are for issuer "kr.court"',
    })
  })

  it('refuses a directory that is not a node home', async () => {
    await expect(exportIdentity(join(dir, 'missing'))).rejects.toMatchObject({ code: 'INVALID_CONFIG' })
  })
})
