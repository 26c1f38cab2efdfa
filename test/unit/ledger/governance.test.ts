import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { bytesEqual, toHex, type Bytes } from '../../../src/core/bytes.js'
import { generateKeyPair, type KeyPair } from '../../../src/core/crypto.js'
import type { GovAction } from '../../../src/core/governance.js'
import { Ledger, verifyCertificate, type ProposedBlock } from '../../../src/ledger/index.js'
import { MAX_OPEN_PROPOSALS, MAX_OPEN_PROPOSALS_PER_VALIDATOR } from '../../../src/ledger/governance.js'
import {
  certificateFiles,
  commitTxs,
  decode,
  evidenceTx,
  issueTx,
  issuerKeysTx,
  makeMultiValidatorChain,
  openLedger,
  proposeTx,
  revokeTx,
  signedVote,
  voteTx,
  type BuiltTx,
  type OpenedLedger,
  type TestChain,
  type TestValidator,
} from '../../helpers/fixtures.js'

const T0 = Date.now()
const SECOND = 1000
/** Short enough for the expiry test, long enough for the longest voting sequence below. */
const TTL = 8

let chain: TestChain
let validators: TestValidator[]
let opened: OpenedLedger
let ledger: Ledger
let time: number

/** Commits one block of `txs` one second after the previous one; returns what was left out. */
async function block(...txs: BuiltTx[]): Promise<ProposedBlock> {
  time += SECOND
  return commitTxs(ledger, chain, txs, time)
}

/** Commits `txs` and fails the test if any was left out. */
async function accepted(...txs: BuiltTx[]): Promise<ProposedBlock> {
  const p = await block(...txs)
  expect(p.rejected.map((r) => `${r.error.code}: ${r.error.message}`)).toEqual([])
  return p
}

/** The code the ledger refuses `tx` with, as the next block's rules see it. */
async function refusal(tx: BuiltTx): Promise<string | undefined> {
  try {
    await ledger.checkTx(decode(chain, tx), time + SECOND)
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

const opts = () => ({ now: time })
const v = (i: number): TestValidator => validators[i - 1]!

/** Proposes `action` as validator-1 and has validator-2 and -3 approve: 3 of 4 passes. */
async function pass(action: GovAction): Promise<number> {
  const id = ledger.proposals.next
  await accepted(proposeTx(chain, v(1), action, opts()))
  await accepted(voteTx(chain, v(2), id, true, opts()), voteTx(chain, v(3), id, true, opts()))
  expect((await ledger.getProposal(id))?.status).toBe('passed')
  return id
}

function newValidatorAction(id: string): { action: GovAction; key: KeyPair } {
  const key = generateKeyPair()
  return { key, action: { type: 'addValidator', id, name: `Validator ${id}`, publicKey: key.publicKey, peerId: `12D3KooW${id}` } }
}

const ids = (list: readonly { id: string }[]): string[] => list.map((x) => x.id).sort()

/** Runs the test on a fresh chain of `count` validators instead of the default one. */
async function useChain(count: number, params: Parameters<typeof makeMultiValidatorChain>[1] = {}): Promise<void> {
  await opened?.cleanup()
  ;({ chain, validators } = makeMultiValidatorChain(count, params))
  opened = await openLedger(chain)
  ledger = opened.ledger
  time = T0
}

beforeEach(async () => {
  await useChain(4, { params: { proposalTtlBlocks: TTL } })
})

afterEach(async () => {
  await opened.cleanup()
})

describe('proposals and votes', () => {
  it('a proposal passes in the block where more than two thirds of the current validators approve', async () => {
    const rootBefore = toHex(ledger.head.stateRoot)
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB Bank', peerId: '12D3KooWBank' }, opts()))
    expect(ledger.proposals.open).toHaveLength(1)
    let p = await ledger.getProposal(1)
    expect(p).toMatchObject({ id: 1, proposer: 'validator-1', status: 'open', votes: [{ validator: 'validator-1', approve: true }] })
    expect(ledger.registry.members()).toHaveLength(0)
    // 2 of 4 is not more than two thirds
    await accepted(voteTx(chain, v(2), 1, true, opts()))
    expect((await ledger.getProposal(1))?.status).toBe('open')
    await accepted(voteTx(chain, v(3), 1, true, opts()))
    p = await ledger.getProposal(1)
    expect(p).toMatchObject({ status: 'passed', closedHeight: ledger.head.height })
    expect(ids(ledger.registry.members())).toEqual(['bank.kb'])
    expect(ledger.proposals.open).toEqual([])
    expect(toHex(ledger.head.stateRoot)).not.toBe(rootBefore)
  })

  it('votes after a decision, repeated votes and unknown proposals are refused with their codes', async () => {
    // a proposal whose action cannot apply is refused at once
    expect(await refusal(proposeTx(chain, v(1), { type: 'removeMember', id: 'nobody' }, opts()))).toBe('UNKNOWN_MEMBER')
    expect(ledger.proposals.next).toBe(1)
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    expect(await refusal(voteTx(chain, v(1), 1, true, opts()))).toBe('ALREADY_VOTED')
    expect(await refusal(voteTx(chain, v(2), 7, true, opts()))).toBe('UNKNOWN_PROPOSAL')
    await accepted(voteTx(chain, v(2), 1, true, opts()), voteTx(chain, v(3), 1, true, opts()))
    expect(await refusal(voteTx(chain, v(4), 1, true, opts()))).toBe('PROPOSAL_CLOSED')
  })

  it('two votes of one validator in one block: the second is left out (ALREADY_VOTED)', async () => {
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    const p = await block(voteTx(chain, v(2), 1, false, opts()), voteTx(chain, v(2), 1, true, { ...opts(), note: 'x', expiresAt: time + 60_000 }))
    expect(p.rejected.map((r) => r.error.code)).toEqual(['ALREADY_VOTED'])
  })

  it('a proposal that can no longer reach the quorum is rejected', async () => {
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    await accepted(voteTx(chain, v(2), 1, false, opts()))
    expect((await ledger.getProposal(1))?.status).toBe('open')
    await accepted(voteTx(chain, v(3), 1, false, opts()))
    expect(await ledger.getProposal(1)).toMatchObject({ status: 'rejected', closedHeight: ledger.head.height })
    expect(ledger.registry.members()).toHaveLength(0)
  })

  it('a proposal expires after params.proposalTtlBlocks blocks', async () => {
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    const made = ledger.head.height
    for (let i = 0; i < TTL; i++) await accepted()
    expect((await ledger.getProposal(1))?.status).toBe('open')
    await accepted()
    expect(await ledger.getProposal(1)).toMatchObject({ status: 'expired', closedHeight: made + TTL + 1 })
    expect(await refusal(voteTx(chain, v(2), 1, true, opts()))).toBe('PROPOSAL_CLOSED')
  })

  it('only validators of the current height propose and vote, with their validator key', async () => {
    const issuerAsValidator: TestValidator = { id: 'kr.mois', key: chain.keys['kr.mois'] }
    expect(await refusal(proposeTx(chain, issuerAsValidator, { type: 'deactivateIssuer', id: 'kr.land.seoul' }, opts()))).toBe('NOT_A_VALIDATOR')
    const wrongKey: TestValidator = { id: 'validator-2', key: generateKeyPair() }
    expect(await refusal(proposeTx(chain, wrongKey, { type: 'deactivateIssuer', id: 'kr.land.seoul' }, opts()))).toBe('NOT_A_VALIDATOR')
    expect(await refusal(voteTx(chain, wrongKey, 1, true, opts()))).toBe('NOT_A_VALIDATOR')
    // a signature by another key than the one named is a bad signature
    expect(await refusal(proposeTx(chain, v(2), { type: 'deactivateIssuer', id: 'kr.land.seoul' }, { ...opts(), signWith: generateKeyPair() }))).toBe('BAD_SIGNATURE')
    // validators may not sign issuer transactions either
    expect(await refusal(issueTx(chain, 'validator-2', 1, { ...opts(), signWith: v(2).key, type: 'kr.residence' }))).toBe('UNKNOWN_ISSUER')
  })
})

describe('validator set changes take effect two heights after the passing block', () => {
  it('add a fifth validator: it proposes, votes and counts from H+2', async () => {
    const { action, key } = newValidatorAction('validator-5')
    await pass(action)
    const h = ledger.head.height
    expect(ledger.validators(h + 1)).toHaveLength(4)
    expect(ledger.validators(h + 2)).toHaveLength(5)
    expect(ledger.validators(h + 2).map((x) => toHex(x.publicKey))).toEqual(ledger.validators(h + 2).map((x) => toHex(x.publicKey)).sort())
    const fifth: TestValidator = { id: 'validator-5', key }
    // at H+1 it is registered but not yet voting
    expect(await refusal(proposeTx(chain, fifth, { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))).toBe('NOT_A_VALIDATOR')
    await accepted()
    await accepted(proposeTx(chain, fifth, { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    // with 5 validators, 3 approvals are not enough (3 * 3 = 9 < 10); the fourth passes it
    const id = ledger.proposals.next - 1
    await accepted(voteTx(chain, v(1), id, true, opts()), voteTx(chain, v(2), id, true, opts()))
    expect((await ledger.getProposal(id))?.status).toBe('open')
    await accepted(voteTx(chain, v(3), id, true, opts()))
    expect((await ledger.getProposal(id))?.status).toBe('passed')
    // history: old heights still answer with the old set
    expect(await ledger.validatorsAt(h + 1)).toHaveLength(4)
    expect(await ledger.validatorsAt(h + 2)).toHaveLength(5)
    // and the set of a height that depends on blocks not yet committed is not guessed
    const head = ledger.head.height
    expect(ledger.validators(head + 2)).toHaveLength(5)
    expect(() => ledger.validators(head + 3)).toThrow(/depend on blocks after/)
    await expect(ledger.validatorsAt(head + 3)).rejects.toMatchObject({ code: 'INTERNAL' })
  })

  it('remove a validator: its votes stop counting from H+2, and it may no longer propose', async () => {
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    await accepted(voteTx(chain, v(4), 1, true, opts()))
    await pass({ type: 'removeValidator', id: 'validator-4' })
    await accepted()
    await accepted()
    expect(ids(ledger.validators(ledger.head.height + 1))).toEqual(['validator-1', 'validator-2', 'validator-3'])
    // proposal 1 had yes from 1 and 4; among the 3 current validators only 1 counts; validator-2 makes 2 of 3 (not > 2/3)
    await accepted(voteTx(chain, v(2), 1, true, opts()))
    expect((await ledger.getProposal(1))?.status).toBe('open')
    await accepted(voteTx(chain, v(3), 1, true, opts()))
    expect((await ledger.getProposal(1))?.status).toBe('passed')
    expect(await refusal(proposeTx(chain, v(4), { type: 'removeMember', id: 'bank.kb' }, opts()))).toBe('NOT_A_VALIDATOR')
  })

  it('a proposal whose approvals become enough when the set shrinks passes at the start of that height', async () => {
    await useChain(5, { params: { proposalTtlBlocks: 50 } })
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    await accepted(voteTx(chain, v(2), 1, true, opts()), voteTx(chain, v(3), 1, true, opts()))
    // 3 of 5 is not more than two thirds
    expect((await ledger.getProposal(1))?.status).toBe('open')
    await accepted(proposeTx(chain, v(1), { type: 'removeValidator', id: 'validator-5' }, opts()))
    await accepted(voteTx(chain, v(2), 2, true, opts()), voteTx(chain, v(3), 2, true, opts()), voteTx(chain, v(4), 2, true, opts()))
    const removedAt = ledger.head.height
    expect((await ledger.getProposal(2))?.status).toBe('passed')
    await accepted()
    expect((await ledger.getProposal(1))?.status).toBe('open')
    // at removedAt + 2 four validators vote: the three approvals pass it, with no new vote
    await accepted()
    expect(await ledger.getProposal(1)).toMatchObject({ status: 'passed', closedHeight: removedAt + 2 })
  })

  it('the network keeps admitting a removed validator until its removal takes effect', async () => {
    const peer = '12D3KooWTestvalidator-4'
    expect(ledger.peerIds().has(peer)).toBe(true)
    await pass({ type: 'removeValidator', id: 'validator-4' })
    // it still votes at the next height
    expect(ledger.peerIds().has(peer)).toBe(true)
    await accepted()
    expect(ledger.peerIds().has(peer)).toBe(false)
  })

  it('votes cast under a validator id before it was registered again do not count for the new operator', async () => {
    await useChain(4, { params: { proposalTtlBlocks: 50 } })
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    await accepted(voteTx(chain, v(4), 1, true, opts()))
    await pass({ type: 'removeValidator', id: 'validator-4' })
    const key = generateKeyPair()
    await pass({ type: 'addValidator', id: 'validator-4', name: 'new operator', publicKey: key.publicKey, peerId: 'p-new' })
    await accepted()
    await accepted()
    expect(ids(ledger.validators(ledger.head.height + 1))).toContain('validator-4')
    // yes from validator-1 and the old validator-4: with four voters only validator-1's counts;
    // validator-2 makes two of four, still open
    await accepted(voteTx(chain, v(2), 1, true, opts()))
    expect((await ledger.getProposal(1))?.status).toBe('open')
    // the new operator cannot vote again under the id either: the id already voted
    expect(await refusal(voteTx(chain, { id: 'validator-4', key }, 1, true, opts()))).toBe('ALREADY_VOTED')
    await accepted(voteTx(chain, v(3), 1, true, opts()))
    expect((await ledger.getProposal(1))?.status).toBe('passed')
  })

  it('a block proposed by a validator that left the set is refused', async () => {
    await pass({ type: 'removeValidator', id: 'validator-4' })
    await accepted()
    await accepted()
    time += SECOND
    const proposed = await ledger.proposeBlock([], time, 'validator-4')
    await expect(ledger.executeBlock(proposed.writes.block)).rejects.toMatchObject({ code: 'MALFORMED_BLOCK' })
  })
})

describe('issuers, types and members by governance', () => {
  it('a new city hall is authorized for resident registration and issues from the next block', async () => {
    const key = generateKeyPair()
    const gangnam = { ...chain, keys: { ...chain.keys, 'kr.seoul.gangnam': key } } as unknown as TestChain
    expect(await refusal(issueTx(gangnam, 'kr.seoul.gangnam', 1, opts()))).toBe('UNKNOWN_ISSUER')
    await pass({ type: 'addIssuer', id: 'kr.seoul.gangnam', name: '강남구청', publicKey: key.publicKey, types: ['kr.residence'] })
    const issuer = ledger.registry.issuer('kr.seoul.gangnam')!
    expect(issuer).toMatchObject({ active: true, types: ['kr.residence'], addedHeight: ledger.head.height })
    await accepted(issueTx(gangnam, 'kr.seoul.gangnam', 1, { ...opts(), type: 'kr.residence' }))
    expect(await refusal(issueTx(gangnam, 'kr.seoul.gangnam', 1, { ...opts(), type: 'kr.family' }))).toBe('ISSUER_NOT_AUTHORIZED_FOR_TYPE')
  })

  it('updateIssuer changes only the name and types it names; keys and status stay', async () => {
    const before = ledger.registry.issuer('kr.land.seoul')!
    await pass({ type: 'updateIssuer', id: 'kr.land.seoul', types: ['kr.building', 'kr.land'] })
    const after = ledger.registry.issuer('kr.land.seoul')!
    expect(after).toEqual({ ...before, types: ['kr.building', 'kr.land'] })
    await pass({ type: 'updateIssuer', id: 'kr.land.seoul', name: '토지정보과' })
    expect(ledger.registry.issuer('kr.land.seoul')).toEqual({ ...after, name: '토지정보과' })
    await accepted(issueTx(chain, 'kr.land.seoul', 1, { ...opts(), type: 'kr.building' }))
  })

  it('a deactivated issuer cannot issue or revoke; its certificates stay valid and its type authority may revoke them', async () => {
    const issued = issueTx(chain, 'kr.seoul.jongno', 2, opts())
    await accepted(issued)
    const files = certificateFiles(chain, issued, ledger.head.height)
    await pass({ type: 'deactivateIssuer', id: 'kr.seoul.jongno' })
    expect(ledger.registry.issuer('kr.seoul.jongno')).toMatchObject({ active: false, deactivatedHeight: ledger.head.height })
    expect(await refusal(issueTx(chain, 'kr.seoul.jongno', 1, opts()))).toBe('ISSUER_INACTIVE')
    expect(await refusal(revokeTx(chain, 'kr.seoul.jongno', [files[0]!.certificateId], opts()))).toBe('ISSUER_INACTIVE')
    const result = await verifyCertificate(ledger, files[0]!, { document: issued.secrets[0]!.document }, time)
    expect(result.verdict).toBe('valid')
    expect(result.checks.find((c) => c.name === 'issuer_authorized')?.detail).toMatch(/as of height/)
    // kr.mois is the authority named for kr.residence
    await accepted(revokeTx(chain, 'kr.mois', [files[1]!.certificateId], { ...opts(), reason: 'fraud' }))
    const [entry] = await ledger.getCertificates([files[1]!.certificateId])
    expect(entry).toMatchObject({ state: 'revoked', change: { by: 'kr.mois', reason: 'fraud' } })
  })

  it('updateType names a new authority; addType registers a type issuers can then be given', async () => {
    const issued = issueTx(chain, 'kr.court.seoul', 1, opts())
    await accepted(issued)
    const id = certificateFiles(chain, issued, ledger.head.height)[0]!.certificateId
    expect(await refusal(revokeTx(chain, 'kr.mois', [id], opts()))).toBe('NOT_AUTHORIZED')
    await pass({ type: 'updateType', id: 'kr.family', authorities: ['kr.mois'] })
    expect(ledger.registry.type('kr.family')).toMatchObject({ authorities: ['kr.mois'], nameKo: '가족관계증명서', validityDays: 90 })
    await accepted(revokeTx(chain, 'kr.mois', [id], opts()))
    await pass({ type: 'addType', id: 'kr.vehicle', nameKo: '자동차등록원부', nameEn: 'Vehicle register', validityDays: 30, authorities: [] })
    await pass({ type: 'updateIssuer', id: 'kr.land.seoul', types: ['kr.land', 'kr.vehicle'] })
    await accepted(issueTx(chain, 'kr.land.seoul', 1, { ...opts(), type: 'kr.vehicle' }))
  })

  it('setParams changes chain parameters from the next block', async () => {
    await pass({ type: 'setParams', params: { maxBlockTxs: 1, heartbeatIntervalMs: 2000 } })
    expect(ledger.registry.params).toMatchObject({ maxBlockTxs: 1, heartbeatIntervalMs: 2000, maxTxBytes: chain.genesis.params.maxTxBytes })
  })

  it('open proposals are bounded per validator (TOO_MANY_PROPOSALS)', async () => {
    const params = (i: number): GovAction => ({ type: 'setParams', params: { maxBlockTxs: 100 + i } })
    await accepted(...Array.from({ length: 16 }, (_, i) => proposeTx(chain, v(1), params(i), opts())))
    expect(ledger.proposals.open).toHaveLength(16)
    expect(await refusal(proposeTx(chain, v(1), params(16), opts()))).toBe('TOO_MANY_PROPOSALS')
    // another validator may still propose
    expect(await refusal(proposeTx(chain, v(2), params(16), opts()))).toBeUndefined()
  })

  it(`at most ${MAX_OPEN_PROPOSALS} proposals are open at once, whoever proposes (TOO_MANY_PROPOSALS)`, async () => {
    const per = MAX_OPEN_PROPOSALS_PER_VALIDATOR
    await useChain(MAX_OPEN_PROPOSALS / per + 1, { params: { proposalTtlBlocks: 50 } })
    const params = (i: number): GovAction => ({ type: 'setParams', params: { maxBlockTxs: 100 + i } })
    for (let k = 0; k < MAX_OPEN_PROPOSALS / per; k++) {
      await accepted(...Array.from({ length: per }, (_, i) => proposeTx(chain, validators[k]!, params(k * per + i), opts())))
    }
    expect(ledger.proposals.open).toHaveLength(MAX_OPEN_PROPOSALS)
    expect(await refusal(proposeTx(chain, validators.at(-1)!, params(0), opts()))).toBe('TOO_MANY_PROPOSALS')
  })

  it('a passed proposal whose action no longer applies is closed as failed, with the reason', async () => {
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    await accepted(proposeTx(chain, v(2), { type: 'addMember', id: 'bank.kb', name: 'KB again', peerId: 'p2' }, opts()))
    await accepted(voteTx(chain, v(2), 1, true, opts()), voteTx(chain, v(3), 1, true, opts()))
    await accepted(voteTx(chain, v(1), 2, true, opts()), voteTx(chain, v(3), 2, true, opts()))
    expect(await ledger.getProposal(2)).toMatchObject({ status: 'failed', failure: { code: 'ID_TAKEN' } })
    expect(ledger.registry.members()).toEqual([{ id: 'bank.kb', name: 'KB', peerId: 'p1' }])
  })
})

describe('issuer key rotation and compromise', () => {
  async function verdict(issued: ReturnType<typeof issueTx>, height: number) {
    const file = certificateFiles(chain, issued, height)[0]!
    return verifyCertificate(ledger, file, { document: issued.secrets[0]!.document }, time)
  }

  it('rotation: a new key signs from the next block, the retired key signs nothing new, its certificates stay valid', async () => {
    const k1 = chain.keys['kr.court.seoul']
    const k2 = generateKeyPair()
    const old = issueTx(chain, 'kr.court.seoul', 1, opts())
    await accepted(old)
    const oldHeight = ledger.head.height
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { add: [k2.publicKey] }, opts()))
    const added = ledger.head.height
    await accepted(issueTx(chain, 'kr.court.seoul', 1, { ...opts(), signWith: k2 }))
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { retire: [k1.publicKey] }, { ...opts(), signWith: k2 }))
    const retired = ledger.head.height
    expect(await refusal(issueTx(chain, 'kr.court.seoul', 1, opts()))).toBe('ISSUER_KEY_RETIRED')
    expect(ledger.registry.issuer('kr.court.seoul')!.keys).toEqual([
      { publicKey: k1.publicKey, addedHeight: 0, retiredHeight: retired },
      { publicKey: k2.publicKey, addedHeight: added },
    ])
    const result = await verdict(old, oldHeight)
    expect(result.verdict).toBe('valid')
    expect(result.status).toBe('valid')
  })

  it('an issuer deactivated earlier in a block cannot change its keys later in it; keys per issuer are bounded', async () => {
    await accepted(proposeTx(chain, v(1), { type: 'deactivateIssuer', id: 'kr.land.seoul' }, opts()))
    await accepted(voteTx(chain, v(2), 1, true, opts()))
    const p = await block(voteTx(chain, v(3), 1, true, opts()), issuerKeysTx(chain, 'kr.land.seoul', { add: [generateKeyPair().publicKey] }, opts()))
    expect((await ledger.getProposal(1))?.status).toBe('passed')
    expect(p.rejected.map((r) => r.error.code)).toEqual(['ISSUER_INACTIVE'])

    const batch = (): Bytes[] => Array.from({ length: 16 }, () => generateKeyPair().publicKey)
    for (let i = 0; i < 3; i++) await accepted(issuerKeysTx(chain, 'kr.court.seoul', { add: batch() }, opts()))
    expect(ledger.registry.issuer('kr.court.seoul')!.keys).toHaveLength(49)
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { add: batch().slice(0, 15) }, opts()))
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { add: [generateKeyPair().publicKey] }, opts()))).toBe('TOO_MANY_KEYS')
  })

  it('a key retired earlier in a block cannot sign a key update later in it', async () => {
    const k1 = chain.keys['kr.court.seoul']
    const k2 = generateKeyPair()
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { add: [k2.publicKey] }, opts()))
    const p = await block(
      issuerKeysTx(chain, 'kr.court.seoul', { retire: [k1.publicKey] }, { ...opts(), signWith: k2 }),
      issuerKeysTx(chain, 'kr.court.seoul', { add: [generateKeyPair().publicKey] }, { ...opts(), signWith: k1 }),
    )
    expect(p.rejected.map((r) => r.error.code)).toEqual(['ISSUER_KEY_RETIRED'])
    expect(ledger.registry.issuer('kr.court.seoul')!.keys).toHaveLength(2)
  })

  it('every rejection of a key update, and an issuer can only ever touch its own keys', async () => {
    const k1 = chain.keys['kr.court.seoul']
    const other = chain.keys['kr.land.seoul'].publicKey
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { retire: [k1.publicKey] }, opts()))).toBe('LAST_ISSUER_KEY')
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { add: [other] }, opts()))).toBe('KEY_TAKEN')
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { retire: [other] }, opts()))).toBe('UNKNOWN_KEY')
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { compromised: [{ key: other, since: 0 }] }, opts()))).toBe('UNKNOWN_KEY')
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { compromised: [{ key: k1.publicKey, since: 0 }] }, opts()))).toBe('COMPROMISED_KEY_SIGNED')
    const k2 = generateKeyPair()
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { add: [k2.publicKey], retire: [k2.publicKey] }, opts()))).toBe('MALFORMED_TX')
    // signing with another issuer's key under this issuer's name
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { add: [k2.publicKey] }, { ...opts(), signWith: chain.keys['kr.land.seoul'] }))).toBe('ISSUER_KEY_MISMATCH')
    expect(await refusal(issuerKeysTx(chain, 'kr.retired', { add: [k2.publicKey] }, opts()))).toBe('ISSUER_INACTIVE')
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { add: [k2.publicKey] }, opts()))
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { retire: [k1.publicKey] }, { ...opts(), signWith: k2 }))
    expect(await refusal(issuerKeysTx(chain, 'kr.court.seoul', { retire: [k1.publicKey] }, { ...opts(), signWith: k2 }))).toBe('KEY_RETIRED')
    expect(ledger.registry.issuer('kr.land.seoul')!.keys).toHaveLength(1)
  })

  it('compromise since t: certificates the key signed from t on read as revoked (key_compromised); earlier ones stay valid', async () => {
    const k2 = generateKeyPair()
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { add: [k2.publicKey] }, opts()))
    const before = issueTx(chain, 'kr.court.seoul', 1, opts())
    await accepted(before)
    const beforeHeight = ledger.head.height
    const since = time + SECOND / 2
    const after = issueTx(chain, 'kr.court.seoul', 1, opts())
    await accepted(after)
    const afterHeight = ledger.head.height
    // Read (so cached) before the compromise: revoked by the very next read after it.
    const [afterId] = decode(chain, after).certificateIds
    expect((await ledger.getCertificates([afterId!]))[0]!.state).toBe('active')
    await accepted(issuerKeysTx(chain, 'kr.court.seoul', { compromised: [{ key: chain.keys['kr.court.seoul'].publicKey, since }] }, { ...opts(), signWith: k2 }))
    expect((await ledger.getCertificates([afterId!]))[0]).toMatchObject({ state: 'revoked', change: { reason: 'key_compromised' } })
    expect((await verdict(before, beforeHeight)).verdict).toBe('valid')
    const bad = await verdict(after, afterHeight)
    expect(bad.verdict).toBe('invalid')
    expect(bad.status).toBe('revoked')
    expect(bad.entry?.change).toMatchObject({ reason: 'key_compromised', time: since })
    expect(await refusal(issueTx(chain, 'kr.court.seoul', 1, opts()))).toBe('ISSUER_KEY_RETIRED')
    expect(
      await refusal(issuerKeysTx(chain, 'kr.court.seoul', { compromised: [{ key: chain.keys['kr.court.seoul'].publicKey, since }] }, { ...opts(), signWith: k2 })),
    ).toBe('KEY_ALREADY_COMPROMISED')
  })

  it('governance declares a key compromised when the issuer has no other key, then gives it a new one', async () => {
    const issued = issueTx(chain, 'kr.land.seoul', 1, opts())
    await accepted(issued)
    const height = ledger.head.height
    const key = chain.keys['kr.land.seoul'].publicKey
    await pass({ type: 'compromiseIssuerKey', id: 'kr.land.seoul', key, since: T0 })
    expect((await verdict(issued, height)).status).toBe('revoked')
    expect(ledger.registry.issuerKey('kr.land.seoul', key)).toMatchObject({ compromisedSince: T0, retiredHeight: ledger.head.height })
    expect(await refusal(issueTx(chain, 'kr.land.seoul', 1, opts()))).toBe('ISSUER_KEY_RETIRED')
    // ... and gives it a new key
    const fresh = generateKeyPair()
    expect(await refusal(proposeTx(chain, v(1), { type: 'updateIssuer', id: 'kr.land.seoul', publicKey: chain.keys['kr.mois'].publicKey }, opts()))).toBe('KEY_TAKEN')
    await pass({ type: 'updateIssuer', id: 'kr.land.seoul', publicKey: fresh.publicKey })
    expect(ledger.registry.issuer('kr.land.seoul')!.keys.map((k) => toHex(k.publicKey))).toEqual([toHex(key), toHex(fresh.publicKey)])
    await accepted(issueTx(chain, 'kr.land.seoul', 1, { ...opts(), signWith: fresh }))
  })
})

describe('equivocation evidence and jailing', () => {
  const hash = (b: number): Bytes => new Uint8Array(32).fill(b)

  it('committed evidence jails the validator two heights later, once; governance reinstates it', async () => {
    await accepted()
    const first = signedVote(chain, v(4), 1, 0, hash(1))
    const second = signedVote(chain, v(4), 1, 0, hash(2))
    await accepted(evidenceTx(chain, v(1), first, second, opts()))
    const h = ledger.head.height
    expect(ledger.registry.validator('validator-4')).toMatchObject({ jailedHeight: h })
    expect(ledger.registry.state.evidence).toEqual([{ validator: 'validator-4', height: 1, round: 0, type: 'prevote', committedHeight: h }])
    expect(ids(ledger.validators(h + 1))).toContain('validator-4')
    expect(ids(ledger.validators(h + 2))).not.toContain('validator-4')
    // another reporter, same evidence
    expect(await refusal(evidenceTx(chain, v(2), first, second, opts()))).toBe('EVIDENCE_ALREADY_COMMITTED')
    await accepted()
    await accepted()
    expect(await refusal(voteTx(chain, v(4), 1, true, opts()))).toBe('VALIDATOR_JAILED')
    // with validator-4 jailed, 3 validators vote: all three are needed
    const id = ledger.proposals.next
    await accepted(proposeTx(chain, v(1), { type: 'unjailValidator', id: 'validator-4' }, opts()))
    await accepted(voteTx(chain, v(2), id, true, opts()))
    expect((await ledger.getProposal(id))?.status).toBe('open')
    await accepted(voteTx(chain, v(3), id, true, opts()))
    expect((await ledger.getProposal(id))?.status).toBe('passed')
    expect(ledger.registry.validator('validator-4')?.jailedHeight).toBeUndefined()
    expect(ids(ledger.validators(ledger.head.height + 2))).toContain('validator-4')
    expect(await refusal(proposeTx(chain, v(1), { type: 'unjailValidator', id: 'validator-4' }, opts()))).toBe('NOT_JAILED')
    // The jailing punished everything up to its block: another round of the same past cannot jail it again.
    const again = [signedVote(chain, v(4), 1, 5, hash(3)), signedVote(chain, v(4), 1, 5, hash(4))] as const
    expect(await refusal(evidenceTx(chain, v(1), ...again, opts()))).toBe('EVIDENCE_ALREADY_COMMITTED')
    // A new offence once it votes again does.
    await accepted()
    await accepted()
    const now = ledger.head.height
    await accepted(evidenceTx(chain, v(1), signedVote(chain, v(4), now, 0, hash(5)), signedVote(chain, v(4), now, 0, null), opts()))
    expect(ledger.registry.validator('validator-4')?.jailedHeight).toBe(ledger.head.height)
    expect(ledger.registry.state.evidence).toHaveLength(2)
  })

  it('evidence older than params.evidenceMaxAgeBlocks, or from before the id was registered again, is refused', async () => {
    await useChain(4, { params: { proposalTtlBlocks: TTL, evidenceMaxAgeBlocks: 3 } })
    const pair = (h: number) => [signedVote(chain, v(4), h, 0, hash(1)), signedVote(chain, v(4), h, 0, hash(2))] as const
    for (let i = 0; i < 5; i++) await accepted()
    // next block is 6: height 2 is 4 blocks old
    expect(await refusal(evidenceTx(chain, v(1), ...pair(2), opts()))).toBe('INVALID_EVIDENCE')
    // validator-4 leaves and its id comes back with another key: its old votes are not the new operator's
    await pass({ type: 'removeValidator', id: 'validator-4' })
    const key = generateKeyPair()
    await pass({ type: 'addValidator', id: 'validator-4', name: 'new operator', publicKey: key.publicKey, peerId: 'p-new' })
    const h = ledger.head.height
    expect(await refusal(evidenceTx(chain, v(1), ...pair(h - 1), opts()))).toBe('INVALID_EVIDENCE')
  })

  it('evidence against a validator no longer registered is refused: there is nobody to jail', async () => {
    await accepted()
    const pair = [signedVote(chain, v(4), 1, 0, hash(1)), signedVote(chain, v(4), 1, 0, hash(2))] as const
    await pass({ type: 'removeValidator', id: 'validator-4' })
    expect(await refusal(evidenceTx(chain, v(1), ...pair, opts()))).toBe('INVALID_EVIDENCE')
    expect(ledger.registry.state.evidence).toEqual([])
  })

  it('evidence that does not prove a conflict is refused (INVALID_EVIDENCE)', async () => {
    await accepted()
    const a = signedVote(chain, v(4), 1, 0, hash(1))
    const cases: [string, ReturnType<typeof signedVote>, ReturnType<typeof signedVote>][] = [
      ['same block', a, signedVote(chain, v(4), 1, 0, hash(1))],
      ['other round', a, signedVote(chain, v(4), 1, 1, hash(2))],
      ['other type', a, signedVote(chain, v(4), 1, 0, hash(2), 'precommit')],
      ['other validator', a, signedVote(chain, v(3), 1, 0, hash(2))],
      ['bad signature', a, { ...signedVote(chain, v(4), 1, 0, hash(2)), sig: a.sig }],
      ['future height', signedVote(chain, v(4), 9, 0, hash(1)), signedVote(chain, v(4), 9, 0, null)],
      ['not a validator', signedVote(chain, { id: 'x', key: generateKeyPair() }, 1, 0, hash(1)), signedVote(chain, { id: 'x', key: generateKeyPair() }, 1, 0, null)],
    ]
    for (const [what, first, second] of cases) {
      expect(await refusal(evidenceTx(chain, v(1), first, second, opts())), what).toBe('INVALID_EVIDENCE')
    }
  })

  it('the last active validator is not jailed (the chain would halt for good); the evidence is kept', async () => {
    await useChain(1)
    await accepted()
    await accepted(evidenceTx(chain, v(1), signedVote(chain, v(1), 1, 0, hash(1)), signedVote(chain, v(1), 1, 0, hash(2)), opts()))
    expect(ledger.registry.validator('validator-1')?.jailedHeight).toBeUndefined()
    expect(ledger.registry.state.evidence).toHaveLength(1)
  })
})

describe('proposals refused at once when their action cannot apply', () => {
  const cases: [string, GovAction, string][] = [
    ['addValidator: id taken', { type: 'addValidator', id: 'validator-2', name: 'x', publicKey: generateKeyPair().publicKey, peerId: 'new' }, 'ID_TAKEN'],
    ['addValidator: peer id taken', { type: 'addValidator', id: 'validator-9', name: 'x', publicKey: generateKeyPair().publicKey, peerId: '12D3KooWTestvalidator-2' }, 'PEER_ID_TAKEN'],
    ['removeValidator: unknown', { type: 'removeValidator', id: 'validator-9' }, 'UNKNOWN_VALIDATOR'],
    ['unjailValidator: not jailed', { type: 'unjailValidator', id: 'validator-2' }, 'NOT_JAILED'],
    ['addMember: id of a validator', { type: 'addMember', id: 'validator-2', name: 'x', peerId: 'new' }, 'ID_TAKEN'],
    ['removeMember: unknown', { type: 'removeMember', id: 'bank.x' }, 'UNKNOWN_MEMBER'],
    ['addIssuer: id taken', { type: 'addIssuer', id: 'kr.mois', name: 'x', publicKey: generateKeyPair().publicKey, types: [] }, 'ID_TAKEN'],
    ['addIssuer: unknown type', { type: 'addIssuer', id: 'kr.new', name: 'x', publicKey: generateKeyPair().publicKey, types: ['kr.passport'] }, 'UNKNOWN_CERT_TYPE'],
    ['updateIssuer: unknown issuer', { type: 'updateIssuer', id: 'kr.nobody', name: 'x' }, 'UNKNOWN_ISSUER'],
    ['updateIssuer: unknown type', { type: 'updateIssuer', id: 'kr.mois', types: ['kr.passport'] }, 'UNKNOWN_CERT_TYPE'],
    ['updateIssuer: deactivated', { type: 'updateIssuer', id: 'kr.retired', name: 'x' }, 'ISSUER_INACTIVE'],
    ['deactivateIssuer: already', { type: 'deactivateIssuer', id: 'kr.retired' }, 'ISSUER_INACTIVE'],
    ['compromiseIssuerKey: not its key', { type: 'compromiseIssuerKey', id: 'kr.mois', key: generateKeyPair().publicKey, since: 0 }, 'UNKNOWN_KEY'],
    ['addType: id taken', { type: 'addType', id: 'kr.family', nameKo: 'x', nameEn: 'x', validityDays: 1, authorities: [] }, 'ID_TAKEN'],
    ['addType: unknown authority', { type: 'addType', id: 'kr.new', nameKo: 'x', nameEn: 'x', validityDays: 1, authorities: ['kr.nobody'] }, 'UNKNOWN_ISSUER'],
    ['updateType: unknown type', { type: 'updateType', id: 'kr.passport', nameEn: 'x' }, 'UNKNOWN_CERT_TYPE'],
  ]
  for (const [what, action, code] of cases) {
    it(what, async () => {
      expect(await refusal(proposeTx(chain, v(1), action, opts()))).toBe(code)
    })
  }

  it('addIssuer with a key another issuer holds', async () => {
    const action: GovAction = { type: 'addIssuer', id: 'kr.new', name: 'x', publicKey: chain.keys['kr.mois'].publicKey, types: [] }
    expect(await refusal(proposeTx(chain, v(1), action, opts()))).toBe('KEY_TAKEN')
  })

  it('removing the last validator', async () => {
    const single = makeMultiValidatorChain(1)
    const l = await openLedger(single.chain)
    try {
      const tx = proposeTx(single.chain, single.validators[0]!, { type: 'removeValidator', id: 'validator-1' }, opts())
      await expect(l.ledger.checkTx(decode(single.chain, tx), time + SECOND)).rejects.toMatchObject({ code: 'LAST_VALIDATOR' })
    } finally {
      await l.cleanup()
    }
  })
})

describe('durability and determinism', () => {
  it('a reopened ledger has the same registry, proposals and history; a replay from genesis reaches the same state root', async () => {
    const { action } = newValidatorAction('validator-5')
    await pass(action)
    const changedAt = ledger.head.height
    await accepted(proposeTx(chain, v(1), { type: 'addMember', id: 'bank.kb', name: 'KB', peerId: 'p1' }, opts()))
    const k2 = generateKeyPair()
    await accepted(issuerKeysTx(chain, 'kr.mois', { add: [k2.publicKey] }, opts()), issueTx(chain, 'kr.seoul.jongno', 3, opts()))
    await accepted(evidenceTx(chain, v(2), signedVote(chain, v(4), 1, 0, null), signedVote(chain, v(4), 1, 0, new Uint8Array(32)), opts()))
    const head = ledger.head
    const registryHash = toHex(ledger.registry.hash)
    const open = ledger.proposals
    await ledger.close()
    const reopened = await Ledger.open(opened.dir, chain.genesis)
    try {
      expect(toHex(reopened.registry.hash)).toBe(registryHash)
      expect(reopened.proposals).toEqual(open)
      expect(reopened.head).toEqual(head)
      expect(await reopened.validatorsAt(changedAt + 1)).toHaveLength(4)
      expect(ids(await reopened.validatorsAt(changedAt + 2))).toHaveLength(5)
      expect(ids(reopened.validators(head.height + 2))).not.toContain('validator-4')
      expect(ids((await reopened.registryAt(changedAt - 1)).validatorRecords())).toHaveLength(4)

      const replay = await openLedger(chain)
      try {
        for (let h = 1; h <= head.height; h++) {
          const fb = (await reopened.getBlock(h))!
          await replay.ledger.commitBlock(await replay.ledger.executeBlock(fb.block), fb.commit)
        }
        expect(toHex(replay.ledger.head.stateRoot)).toBe(toHex(head.stateRoot))
        expect(bytesEqual(replay.ledger.registry.hash, reopened.registry.hash)).toBe(true)
      } finally {
        await replay.cleanup()
      }
    } finally {
      await reopened.close()
    }
  })
})
