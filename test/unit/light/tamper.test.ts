import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { blockHash } from '../../../src/core/block.js'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { generateKeyPair, sign, type KeyPair } from '../../../src/core/crypto.js'
import { validatorSetBytes } from '../../../src/core/header.js'
import type { BlockHeader, Commit } from '../../../src/core/types.js'
import { voteSignBytes } from '../../../src/core/vote.js'
import {
  CertchainError,
  CHECKPOINT_FORMAT,
  headerHash,
  MAX_FUTURE_SKEW_MS,
  proofFromJson,
  proofToJson,
  sha256,
  trustFromCheckpoint,
  trustFromGenesis,
  verifyProof,
  type LightCheckName,
  type LightResult,
  type ProofBundle,
  type SetMember,
  type Trust,
  type VerifyProofOptions,
} from '../../../src/light/index.js'
import { certificateFiles, decode, issueTx, makeMultiValidatorChain, makeTestChain, openLedger, type TestChain } from '../../helpers/fixtures.js'
import { fullCommit, makeProofChain, type ChainCertificate, type ProofChain } from '../../helpers/proof-chain.js'

// Tampering: a proof bundle is believed only as far as the trust anchor's signatures and hashes
// reach. Changing any single field of a valid bundle must make it not valid and name the check
// that caught it; so must bundles of another chain or certificate, commits without a quorum of the
// trusted set, forged set changes and stale or future headers.

let pc: ProofChain

beforeAll(async () => {
  pc = await makeProofChain({ small: true })
}, 120_000)

afterAll(async () => {
  await pc?.opened.cleanup()
})

const HOUR = 3_600_000
const MAX_AGE = 24 * HOUR

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

const genesisTrust = (): Trust => trustFromGenesis(pc.chain.genesisJson)

async function bundleOf(c: ChainCertificate, from = 0): Promise<ProofBundle> {
  const bundle = await pc.ledger.proof(c.file.certificateId, from)
  if (!bundle) throw new Error('no proof for a certificate of the chain')
  // Through JSON, as a holder's file travels.
  return proofFromJson(JSON.parse(JSON.stringify(proofToJson(bundle))))
}

const jsonOf = (bundle: ProofBundle): Json => JSON.parse(JSON.stringify(proofToJson(bundle))) as Json

function judge(c: ChainCertificate, proof: ProofBundle, options: Partial<VerifyProofOptions> = {}): LightResult {
  return verifyProof(c.file, proof, { trust: genesisTrust(), now: pc.time, maxAgeMs: MAX_AGE, document: c.secret.document, ...options })
}

const failedChecks = (r: LightResult): LightCheckName[] => r.checks.filter((c) => !c.ok).map((c) => c.name)
const detailOf = (r: LightResult, name: LightCheckName): string => r.checks.find((c) => c.name === name)?.detail ?? ''

/** A certificate of the generated chain that verifies at the head, chosen by its story. */
async function valid(story: string, pick: (bundle: ProofBundle) => boolean = () => true): Promise<ChainCertificate> {
  for (const c of pc.certificates.filter((x) => x.story === story)) {
    const bundle = await bundleOf(c)
    if (judge(c, bundle).verdict === 'valid' && pick(bundle)) return c
  }
  throw new Error(`no valid certificate with story "${story}"`)
}

// ---- signing helpers: what a forger with some keys can produce ------------------------------

/** A round-0 commit of `header` signed by `signers` (id and key; a key need not be the id's registered one). */
function commitBy(chainId: string, header: BlockHeader, signers: readonly { id: string; key: KeyPair }[]): Commit {
  const hash = blockHash(header)
  const signBytes = voteSignBytes(chainId, 'precommit', header.height, 0, hash)
  return { height: header.height, round: 0, blockHash: hash, signatures: signers.map(({ id, key }) => ({ validator: id, sig: sign(key.secretKey, signBytes) })) }
}

function compareBytes(a: Bytes, b: Bytes): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}

/** validatorsHash of a set, as the chain computes it (members in proposer order, by public key). */
function setHash(set: readonly SetMember[]): Bytes {
  return sha256(validatorSetBytes([...set].sort((a, b) => compareBytes(a.publicKey, b.publicKey))))
}

const signer = (id: string): { id: string; key: KeyPair } => ({ id, key: pc.keys.get(id)! })

// ---- the generic walk: every field of the bundle JSON, mutated one at a time ----------------

type Segment = string | number

interface Mutation {
  readonly path: string
  readonly what: string
  readonly at: readonly Segment[]
  /** The new value at `at`; undefined removes the field. */
  readonly value: Json | undefined
}

const pathOf = (at: readonly Segment[]): string =>
  at.reduce<string>((p, s) => (typeof s === 'number' ? `${p}[${s}]` : p === '' ? s : `${p}.${s}`), '')

const HEX_BYTES = /^(?:[0-9a-f]{64}|[0-9a-f]{128})$/
/** Fields whose values are from a closed list: a mutation picks another value of the list. */
const ENUMS: Readonly<Record<string, readonly string[]>> = { state: ['active', 'suspended', 'revoked'] }

function flipLastHexDigit(hex: string): string {
  return hex.slice(0, -1) + (parseInt(hex.at(-1)!, 16) ^ 1).toString(16)
}

/** Every single-field mutation of `value`: shape-preserving edits of each leaf, and each list and field dropped or duplicated. */
function* mutationsOf(value: Json, at: Segment[] = []): Generator<Mutation> {
  const here = (what: string, v: Json | undefined): Mutation => ({ path: pathOf(at), what, at, value: v })
  if (typeof value === 'string') {
    const key = at.at(-1)
    const choices = typeof key === 'string' ? ENUMS[key] : undefined
    if (HEX_BYTES.test(value)) yield here('flip a hex digit', flipLastHexDigit(value))
    else if (choices) for (const other of choices.filter((c) => c !== value)) yield here(`set to "${other}"`, other)
    else yield here('change the string', `${value}x`)
  } else if (typeof value === 'number') {
    yield here('add 1', value + 1)
  } else if (typeof value === 'boolean') {
    yield here('negate', !value)
  } else if (Array.isArray(value)) {
    if (value.length > 0) {
      yield here('drop the first element', value.slice(1))
      if (value.length > 1) yield here('drop the last element', value.slice(0, -1))
      yield here('duplicate the first element', [value[0]!, ...value])
    }
    for (const [i, item] of value.entries()) yield* mutationsOf(item, [...at, i])
  } else if (value !== null) {
    for (const [key, item] of Object.entries(value)) {
      yield { path: pathOf([...at, key]), what: 'remove the field', at: [...at, key], value: undefined }
      yield* mutationsOf(item, [...at, key])
    }
  }
}

const valueAt = (root: Json, at: readonly Segment[]): Json => at.reduce<Json>((node, s) => (node as Record<Segment, Json>)[s]!, root)

/** A copy of `root` with the value at `m.at` replaced (or removed, for undefined). */
function applied(root: Json, m: Pick<Mutation, 'at' | 'value'>): Json {
  const copy = structuredClone(root)
  const parent = valueAt(copy, m.at.slice(0, -1)) as Record<Segment, Json>
  const last = m.at.at(-1)!
  if (m.value === undefined) delete parent[last]
  else parent[last] = m.value
  return copy
}

function leafPaths(value: Json, at: Segment[] = []): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leafPaths(v, [...at, i]))
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...at, k]))
  return [pathOf(at)]
}

/**
 * The check a tampered section must fail: the one that reads it. The header and every commit
 * are what `commit` checks; the state preimage and the status leaf are what `on_chain` reads;
 * the facts as of issuance are `issuer_authorized`'s; the issuer entry as of H is `status`'s.
 */
const CHECK_OF_SECTION: Readonly<Record<string, LightCheckName>> = {
  chainId: 'chain',
  certificateId: 'on_chain',
  header: 'commit',
  commit: 'commit',
  validatorChanges: 'commit',
  state: 'on_chain',
  status: 'on_chain',
  issuer: 'status',
  issuance: 'issuer_authorized',
}

/**
 * Mutations that change nothing verifiable, so the bundle stays valid: a commit needs more than
 * 2/3 of its set, not all of it, so one spare signature can go (every commit of the generated
 * chain is signed by the whole set).
 */
function staysValid(m: Mutation): boolean {
  return m.what.startsWith('drop') && m.path.endsWith('commit.signatures')
}

type Outcome = { readonly rejected: string } | { readonly verdict: 'valid' | 'invalid'; readonly failed: readonly LightCheckName[] }

function outcomeOf(c: ChainCertificate, json: Json): Outcome {
  try {
    const r = judge(c, proofFromJson(json))
    return { verdict: r.verdict, failed: failedChecks(r) }
  } catch (err) {
    if (err instanceof CertchainError) return { rejected: err.code }
    return { rejected: `crash: ${String(err)}` }
  }
}

/** What each mutation did, and those that did not fail as they must (empty when the verifier catches everything). */
function tamperWith(c: ChainCertificate, bundle: ProofBundle): { outcomes: Map<string, Outcome>; misses: string[] } {
  const json = jsonOf(bundle)
  const outcomes = new Map<string, Outcome>()
  const misses: string[] = []
  for (const m of mutationsOf(json)) {
    const outcome = outcomeOf(c, applied(json, m))
    const label = `${m.path}: ${m.what}`
    outcomes.set(label, outcome)
    const shown = 'rejected' in outcome ? `rejected ${outcome.rejected}` : `${outcome.verdict}, failed [${outcome.failed.join(', ')}]`
    if (staysValid(m)) {
      if (!('verdict' in outcome) || outcome.verdict !== 'valid') misses.push(`${label} -> ${shown} (a commit with a spare signature dropped is still final)`)
      continue
    }
    // The parser refuses shapes it does not know (a removed required field, another format).
    if ('rejected' in outcome) {
      if (outcome.rejected !== 'INVALID_PROOF') misses.push(`${label} -> ${shown}`)
      continue
    }
    const expected = CHECK_OF_SECTION[String(m.at[0])]
    if (outcome.verdict !== 'invalid' || expected === undefined || !outcome.failed.includes(expected)) {
      misses.push(`${label} -> ${shown}, expected "${expected ?? 'a parse error'}" to fail`)
    }
  }
  return { outcomes, misses }
}

describe('mutating any single field of a valid bundle', () => {
  const subjects = [
    {
      name: 'a certificate whose issuer changed since issuance (the bundle carries `issuer`)',
      story: 'batch of residence certificates',
      hasIssuer: true,
    },
    {
      name: 'a certificate issued under the current registry (no `issuer`)',
      story: 'issued after every change',
      hasIssuer: false,
    },
  ]

  for (const subject of subjects) {
    it(`makes it not valid and names the failing check: ${subject.name}`, async () => {
      const c = await valid(subject.story, (b) => (b.issuer !== undefined) === subject.hasIssuer)
      const bundle = await bundleOf(c)
      // The bundle exercises what the issue lists: set changes, a status path with siblings.
      expect(bundle.validatorChanges).toHaveLength(2)
      expect(bundle.status.path.siblings.length).toBeGreaterThan(0)
      expect(bundle.issuer !== undefined).toBe(subject.hasIssuer)

      const { outcomes, misses } = tamperWith(c, bundle)

      // Every leaf of the JSON was mutated, and every signature and path node among them.
      const labels = [...outcomes.keys()]
      for (const leaf of leafPaths(jsonOf(bundle))) expect(labels.some((l) => l.startsWith(`${leaf}: `)), leaf).toBe(true)
      const sigs = [bundle.commit, ...bundle.validatorChanges.map((v) => v.commit)].reduce((n, cm) => n + cm.signatures.length, 0)
      expect(labels.filter((l) => /signatures\[\d+\]\.sig: flip/.test(l))).toHaveLength(sigs)
      expect(labels.filter((l) => /^status\.path\.siblings\[\d+\]: flip/.test(l))).toHaveLength(bundle.status.path.siblings.length)
      expect(labels.filter((l) => /^issuance\.path\.siblings\[\d+\]: flip/.test(l))).toHaveLength(bundle.issuance.path.siblings.length)

      // Each one not valid, failing the check that reads the field (or refused by the parser).
      expect(misses).toEqual([])
    }, 120_000)
  }
})

describe('bundles that are not this certificate\'s on this chain', () => {
  it('a bundle of another chain, even one with the same issuer and validator keys, fails "chain"', async () => {
    const other: TestChain = makeTestChain({ chainId: 'certchain-other', keys: pc.chain.keys, validatorKey: pc.keys.get('validator-1')! })
    const opened = await openLedger(other)
    try {
      const tx = issueTx(other, 'kr.mois', 1, { now: pc.time })
      const proposed = await opened.ledger.proposeBlock([decode(other, tx)], pc.time, other.proposer)
      await opened.ledger.commitBlock(proposed.writes, fullCommit(other, opened.ledger, pc.keys, proposed.writes.block))
      const [file] = certificateFiles(other, tx, opened.ledger.head.height)
      const bundle = await opened.ledger.proof(file!.certificateId)
      const theirs = { file: file!, secret: tx.secrets[0]!, story: 'another chain' }
      // Sanity: against its own genesis the bundle is valid.
      expect(judge(theirs, bundle!, { trust: trustFromGenesis(other.genesisJson) }).verdict).toBe('valid')

      const r = judge(theirs, bundle!)
      expect(r.verdict).toBe('invalid')
      expect(failedChecks(r)).toContain('chain')
      // Our own certificate with their bundle: the same.
      const ours = await valid('issued after every change')
      expect(failedChecks(judge(ours, bundle!))).toContain('chain')
    } finally {
      await opened.cleanup()
    }
  })

  it('the bundle of another certificate of the same batch (same issuance transaction) fails "on_chain"', async () => {
    const a = await valid('batch of residence certificates')
    const b = await valid('batch of residence certificates', (bundle) => toHex(bundle.status.leaf.id) !== toHex(a.file.certificateId))
    expect(b.file.issuance.txId).toEqual(a.file.issuance.txId)
    const r = judge(a, await bundleOf(b))
    expect(r.verdict).toBe('invalid')
    expect(failedChecks(r)).toContain('on_chain')
    expect(detailOf(r, 'on_chain')).toMatch(/not proven/)
  })

  it('authentic parts of other proofs swapped in are caught: issuance facts of another height, entries of another issuer or type', async () => {
    const c = await valid('issued after every change') // kr.court.seoul, kr.family
    const bundle = await bundleOf(c)
    // Another certificate of the same issuer and type, proven against the same head.
    const sibling = await bundleOf(await valid('one certificate per transaction'))
    expect(sibling.header.height).toBe(bundle.header.height)
    expect(failedChecks(judge(c, { ...bundle, issuance: sibling.issuance }))).toContain('issuer_authorized')

    // Entries proven against the very registry of issuance, but not this certificate's issuer or type.
    const registry = await pc.ledger.registryAt(bundle.issuance.record.height)
    const otherIssuer = judge(c, { ...bundle, issuance: { ...bundle.issuance, issuer: registry.issuerProof('kr.mois')! } })
    expect(failedChecks(otherIssuer)).toContain('issuer_authorized')
    const otherType = judge(c, { ...bundle, issuance: { ...bundle.issuance, type: registry.typeProof('kr.residence')! } })
    expect(failedChecks(otherType)).toEqual(['issuer_authorized'])

    // The issuer entry as of H (key compromise is read from it) must be the certificate's issuer's.
    expect(failedChecks(judge(c, { ...bundle, issuer: pc.ledger.registry.issuerProof('kr.mois')! }))).toEqual(['status'])
  })

  it('a wrong document fails "document_hash" and nothing else', async () => {
    const c = await valid('issued after every change')
    const document = Uint8Array.from(c.secret.document)
    document[0] = document[0]! ^ 1
    const r = judge(c, await bundleOf(c), { document })
    expect(r.verdict).toBe('invalid')
    expect(failedChecks(r)).toEqual(['document_hash'])
  })
})

describe('commits', () => {
  it('a commit of exactly 2/3 of the set is not final; all three of three is', async () => {
    const { chain, validators } = makeMultiValidatorChain(3)
    const opened = await openLedger(chain)
    try {
      const now = Date.now()
      const tx = issueTx(chain, 'kr.mois', 1, { now })
      const keys = new Map(validators.map((v) => [v.id, v.key]))
      const proposed = await opened.ledger.proposeBlock([decode(chain, tx)], now, chain.proposer)
      await opened.ledger.commitBlock(proposed.writes, fullCommit(chain, opened.ledger, keys, proposed.writes.block))
      const c = { file: certificateFiles(chain, tx, opened.ledger.head.height)[0]!, secret: tx.secrets[0]!, story: 'three validators' }
      const bundle = (await opened.ledger.proof(c.file.certificateId))!
      const options = { trust: trustFromGenesis(chain.genesisJson), now }
      expect(judge(c, bundle, options).verdict).toBe('valid')

      const twoThirds = { ...bundle, commit: { ...bundle.commit, signatures: bundle.commit.signatures.slice(0, 2) } }
      const r = judge(c, twoThirds, options)
      expect(r.verdict).toBe('invalid')
      expect(failedChecks(r)).toContain('commit')
      expect(detailOf(r, 'commit')).toMatch(/only 2 of 3 validators signed/)
    } finally {
      await opened.cleanup()
    }
  })

  it('a head commit of 2 of 4 fails "commit"', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    expect(bundle.commit.signatures).toHaveLength(4)
    const r = judge(c, { ...bundle, commit: { ...bundle.commit, signatures: bundle.commit.signatures.slice(0, 2) } })
    expect(failedChecks(r)).toContain('commit')
    expect(detailOf(r, 'commit')).toMatch(/only 2 of 4/)
  })

  it('a set-change commit of 2 of 4 fails "commit"', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const [first, second] = bundle.validatorChanges
    const weak = { ...first!, commit: { ...first!.commit, signatures: first!.commit.signatures.slice(0, 2) } }
    const r = judge(c, { ...bundle, validatorChanges: [weak, second!] })
    expect(failedChecks(r)).toContain('commit')
    expect(detailOf(r, 'commit')).toMatch(new RegExp(`set change at height ${first!.header.height}: only 2 of 4`))
  })

  it('signatures by keys outside the set fail "commit": a fresh key under a member\'s id, a new id, a removed validator', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const { chainId } = pc.chain.genesis
    const fresh = generateKeyPair()
    const members = bundle.commit.signatures.map((s) => s.validator)
    expect(members).not.toContain('validator-2')

    const impostor = commitBy(chainId, bundle.header, [{ id: members[0]!, key: fresh }, ...members.slice(1).map(signer)])
    const r1 = judge(c, { ...bundle, commit: impostor })
    expect(failedChecks(r1)).toContain('commit')
    expect(detailOf(r1, 'commit')).toMatch(new RegExp(`bad precommit signature from "${members[0]!}"`))

    const stranger = commitBy(chainId, bundle.header, [...members.map(signer), { id: 'validator-9', key: fresh }])
    const r2 = judge(c, { ...bundle, commit: stranger })
    expect(failedChecks(r2)).toContain('commit')
    expect(detailOf(r2, 'commit')).toMatch(/"validator-9" is not a validator/)

    const removed = commitBy(chainId, bundle.header, [...members.slice(0, 2).map(signer), signer('validator-2')])
    const r3 = judge(c, { ...bundle, commit: removed })
    expect(failedChecks(r3)).toContain('commit')
    expect(detailOf(r3, 'commit')).toMatch(/"validator-2" is not a validator/)

    // Control: the same construction with the members' own keys is a real commit.
    expect(judge(c, { ...bundle, commit: commitBy(chainId, bundle.header, members.map(signer)) }).verdict).toBe('valid')
  })
})

describe('validator-set changes', () => {
  it('a set change signed by its new set (a member the trusted set does not have) fails "commit"', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const [added, removed] = bundle.validatorChanges
    const newSet = added!.nextValidators.map((m) => signer(m.id))
    expect(newSet.map((s) => s.id)).toContain('validator-5')
    const forged = { ...added!, commit: commitBy(pc.chain.genesis.chainId, added!.header, newSet) }
    const r = judge(c, { ...bundle, validatorChanges: [forged, removed!] })
    expect(failedChecks(r)).toContain('commit')
    expect(detailOf(r, 'commit')).toMatch(new RegExp(`set change at height ${added!.header.height}: "validator-5" is not a validator`))
  })

  it('a forged change to an attacker\'s set, signed by that set, fails "commit"; signed by the trusted set it would be followed', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const { chainId } = pc.chain.genesis
    const first = bundle.validatorChanges[0]!
    // The attacker reuses the members' ids with keys of its own.
    const attackers = ['validator-1', 'validator-2', 'validator-3', 'validator-4'].map((id) => ({ id, key: generateKeyPair() }))
    const attackerSet = attackers.map(({ id, key }) => ({ id, publicKey: key.publicKey }))
    const changeHeader = { ...first.header, nextValidatorsHash: setHash(attackerSet) }
    const head = { ...bundle.header, validatorsHash: setHash(attackerSet), nextValidatorsHash: setHash(attackerSet) }
    const forgedBy = (changeSigners: readonly { id: string; key: KeyPair }[]): ProofBundle => ({
      ...bundle,
      validatorChanges: [{ header: changeHeader, commit: commitBy(chainId, changeHeader, changeSigners), nextValidators: attackerSet }],
      header: head,
      commit: commitBy(chainId, head, attackers),
    })

    const r = judge(c, forgedBy(attackers))
    expect(r.verdict).toBe('invalid')
    expect(failedChecks(r)).toContain('commit')
    expect(detailOf(r, 'commit')).toMatch(new RegExp(`set change at height ${first.header.height}: bad precommit signature`))

    // Control: had more than 2/3 of the trusted set signed the forged change, the verifier would
    // follow it; so what fails above is the signers, not the construction.
    const trusted = ['validator-1', 'validator-2', 'validator-3', 'validator-4'].map(signer)
    expect(failedChecks(judge(c, forgedBy(trusted)))).not.toContain('commit')
  })

  it('a real set change with another next set, and a head signed by that set, fails "commit"', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const { chainId } = pc.chain.genesis
    const [added, removed] = bundle.validatorChanges
    // The change header and its commit stay authentic; only the set it hands on is the attacker's.
    const attackers = removed!.nextValidators.map(({ id }) => ({ id, key: generateKeyPair() }))
    const attackerSet = attackers.map(({ id, key }) => ({ id, publicKey: key.publicKey }))
    const head = { ...bundle.header, validatorsHash: setHash(attackerSet), nextValidatorsHash: setHash(attackerSet) }
    const r = judge(c, { ...bundle, validatorChanges: [added!, { ...removed!, nextValidators: attackerSet }], header: head, commit: commitBy(chainId, head, attackers) })
    expect(failedChecks(r)).toContain('commit')
    expect(detailOf(r, 'commit')).toMatch(new RegExp(`set change at height ${removed!.header.height}: the next validators do not hash to its nextValidatorsHash`))
  })

  it('a bundle with a set change left out fails "commit"', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    for (const kept of [[1], [0], []]) {
      const r = judge(c, { ...bundle, validatorChanges: kept.map((i) => bundle.validatorChanges[i]!) })
      expect(r.verdict).toBe('invalid')
      expect(failedChecks(r)).toContain('commit')
      expect(detailOf(r, 'commit')).toMatch(/validator set is not the trusted one/)
    }
  })
})

describe('freshness', () => {
  it('a proof older than maxAgeMs is not valid, every other check passing', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const maxAgeMs = 10 * 60_000
    expect(judge(c, bundle, { now: bundle.header.time + maxAgeMs, maxAgeMs }).verdict).toBe('valid')
    const stale = judge(c, bundle, { now: bundle.header.time + maxAgeMs + 1, maxAgeMs })
    expect(stale.verdict).toBe('invalid')
    expect(failedChecks(stale)).toEqual(['freshness'])
    expect(stale.status).toBe('valid')
  })

  // Found by the fuzzer: a header time past what Date can hold threw a RangeError from a detail line.
  it('a header time beyond any date (2^53 - 1 ms) is a failed check, not a crash', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const result = judge(c, { ...bundle, header: { ...bundle.header, time: Number.MAX_SAFE_INTEGER } })
    expect(result.verdict).toBe('invalid')
    expect(detailOf(result, 'freshness')).toContain(`${Number.MAX_SAFE_INTEGER} ms since 1970`)
  })

  it('a header more than MAX_FUTURE_SKEW_MS ahead of the clock is not valid', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const atEdge = judge(c, bundle, { now: bundle.header.time - MAX_FUTURE_SKEW_MS })
    expect(failedChecks(atEdge)).not.toContain('freshness')
    const future = judge(c, bundle, { now: bundle.header.time - MAX_FUTURE_SKEW_MS - 1 })
    expect(future.verdict).toBe('invalid')
    expect(failedChecks(future)).toContain('freshness')
    expect(detailOf(future, 'freshness')).toMatch(/in the future/)
    // The certificate itself is not valid yet at such a clock; nothing else fails.
    expect(failedChecks(future).filter((n) => n !== 'validity_period')).toEqual(['freshness'])
  })
})

describe('proofFromJson refuses what is not a certchain/proof@1 bundle with INVALID_PROOF', () => {
  const refusal = (json: unknown): { code: string; message: string } | undefined => {
    try {
      proofFromJson(json)
      return undefined
    } catch (err) {
      if (err instanceof CertchainError) return { code: err.code, message: err.message }
      throw err
    }
  }
  /** The valid bundle's JSON with the field at `at` set to `to(its current value)` (undefined removes it). */
  const edited = async (at: Segment[], to: (current: Json) => Json | undefined): Promise<Json> => {
    const json = jsonOf(await bundleOf(await valid('issued after every change')))
    return applied(json, { at, value: to(valueAt(json, at)) })
  }
  const first = (list: Json): Json => (list as Json[])[0]!
  const text = (value: Json): string => value as string

  it.each<[string, Segment[], (current: Json) => Json | undefined, RegExp]>([
    ['an unknown top-level field', ['extra'], () => 1, /proof: unknown field "extra"/],
    ['an unknown nested field', ['header', 'extra'], () => 'x', /proof\.header: unknown field "extra"/],
    ['a missing field', ['commit'], () => undefined, /proof: field "commit" is missing/],
    ['a missing nested field', ['status', 'leaf', 'tx'], () => undefined, /proof\.status\.leaf: field "tx" is missing/],
    ['a hash one byte short', ['certificateId'], (v) => text(v).slice(2), /proof\.certificateId: must be 32 bytes/],
    ['a signature one byte long', ['commit', 'signatures', 0, 'sig'], (v) => `${text(v)}00`, /proof\.commit\.signatures\[0\]\.sig: must be 64 bytes/],
    ['hex that is not hex', ['state', 'registry'], (v) => `zz${text(v).slice(2)}`, /proof\.state\.registry: is not valid hex/],
    ['a negative number', ['header', 'height'], () => -1, /proof\.header\.height: must be a non-negative integer/],
    ['a fractional number', ['status', 'path', 'index'], () => 0.5, /proof\.status\.path\.index: must be a non-negative integer/],
    ['a number as a string', ['header', 'time'], (v) => JSON.stringify(v), /proof\.header\.time: must be a non-negative integer/],
    [
      'a list of signatures longer than any set',
      ['commit', 'signatures'],
      (v) => Array.from({ length: 1025 }, () => first(v)),
      /proof\.commit\.signatures: has more than 1024 entries/,
    ],
    [
      'a path longer than the tree is deep',
      ['status', 'path', 'siblings'],
      (v) => Array.from({ length: 65 }, () => first(v)),
      /proof\.status\.path\.siblings: has more than 64 entries/,
    ],
    ['another format', ['format'], () => 'certchain/proof@2', /proof\.format: must be one of certchain\/proof@1/],
    ['a header that is a list', ['header'], () => [], /proof\.header: must be an object/],
  ])('%s', async (_name, at, to, message) => {
    const r = refusal(await edited(at, to))
    expect(r?.code).toBe('INVALID_PROOF')
    expect(r?.message).toMatch(message)
  })

  it.each([
    ['null', null],
    ['a list', []],
    ['a string', 'certchain/proof@1'],
    ['a number', 42],
  ])('a bundle that is %s', (_name, json) => {
    expect(refusal(json)).toEqual({ code: 'INVALID_PROOF', message: 'proof: must be an object' })
  })
})

describe('a checkpoint as the trust anchor', () => {
  /** A checkpoint as GET /v1/checkpoint serves it: the header hash of `height` and the set that signs the next height. */
  async function checkpointAt(height: number, edit: (set: { id: string; publicKey: string }[]) => void = () => undefined): Promise<Trust> {
    const block = await pc.ledger.getBlock(height)
    const validators = (await pc.ledger.validatorsAt(height + 1)).map(({ id, publicKey }) => ({ id, publicKey: toHex(publicKey) }))
    edit(validators)
    return trustFromCheckpoint({
      format: CHECKPOINT_FORMAT,
      chainId: pc.chain.genesis.chainId,
      height,
      headerHash: toHex(blockHash(block!.block.header)),
      validators,
    })
  }

  it('between the set changes, it verifies a bundle with the later change, with or without the earlier one', async () => {
    const c = await valid('issued after every change')
    const [added, removed] = pc.setChanges as [number, number]
    const trust = await checkpointAt(added + 1)
    for (const bundle of [await bundleOf(c), await bundleOf(c, added + 1)]) {
      const r = judge(c, bundle, { trust })
      expect(r.verdict).toBe('valid')
      expect(detailOf(r, 'commit')).toMatch(new RegExp(`reached from height ${added + 1} through 1 set change`))
    }
    // The bundle made for that checkpoint lacks the earlier change: from the genesis it cannot be followed.
    const short = await bundleOf(c, added + 1)
    expect(short.validatorChanges.map((v) => v.header.height)).toEqual([removed])
    expect(failedChecks(judge(c, short))).toContain('commit')
  })

  it('a checkpoint with a wrong validator set fails "commit"', async () => {
    const c = await valid('issued after every change')
    const [added] = pc.setChanges as [number, number]
    const bundle = await bundleOf(c, added + 1)
    const swapped = await checkpointAt(added + 1, (set) => (set[0]!.publicKey = toHex(generateKeyPair().publicKey)))
    expect(failedChecks(judge(c, bundle, { trust: swapped }))).toContain('commit')
    const shrunk = await checkpointAt(added + 1, (set) => void set.pop())
    expect(failedChecks(judge(c, bundle, { trust: shrunk }))).toContain('commit')
  })

  it('at the proof\'s own height the header must hash to the checkpoint\'s', async () => {
    const c = await valid('issued after every change')
    const bundle = await bundleOf(c)
    const trust = await checkpointAt(bundle.header.height)
    const r = judge(c, bundle, { trust })
    expect(r.verdict).toBe('valid')
    expect(detailOf(r, 'commit')).toMatch(/is the trusted checkpoint/)
    const other = judge(c, bundle, { trust: { ...trust, headerHash: headerHash({ ...bundle.header, time: bundle.header.time + 1 }) } })
    expect(failedChecks(other)).toContain('commit')
  })
})
