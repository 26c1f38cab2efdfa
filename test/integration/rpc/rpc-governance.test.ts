/**
 * Governance and the registry over the HTTP API of a running single-validator node: every
 * endpoint, every documented 4xx, and real transactions (a proposal passes the moment it is
 * committed, because the proposer's own approval is more than two thirds of one validator).
 */
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  certificateFiles,
  prepareIssuerKeyUpdate,
  prepareProposal,
  prepareVote,
  type IssuerIdentity,
  type ValidatorIdentity,
} from '../../../src/client/index.js'
import { certificateFileToJson, generateKeyPair, toHex, type GovAction } from '../../../src/core/index.js'
import { loadKeyFile } from '../../../src/node/keys.js'
import { startTestNode, type TestNode } from '../../helpers/node.js'
import { expectError, httpGet, httpPost, issueOne, postTx, randomDocument } from './helpers.js'

const HEX64 = /^[0-9a-f]{64}$/

let node: TestNode
let url: string
let chainId: string
let validator: ValidatorIdentity
let jongno: IssuerIdentity

/** The node's log lines (JSON), to check that governance events are logged. */
const logLines: Record<string, unknown>[] = []

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  node = await startTestNode({ heartbeatIntervalMs: 600_000, logger: pino({ level: 'info' }, sink) })
  url = node.url
  chainId = node.manifest.chainId
  validator = { id: 'val-0', key: await loadKeyFile(join(node.manifest.nodes[0]!.home, 'validator_key.json')) }
  jongno = await node.identity('kr.seoul.jongno')
})

afterAll(async () => {
  await node?.stop()
})

/** Submits with ?wait=commit and returns the committed height (fails on anything else). */
async function commit(bytes: Uint8Array): Promise<number> {
  const res = await postTx(url, bytes, 'commit')
  expect(res.status, res.text).toBe(200)
  expect(res.body.status).toBe('committed')
  return res.body.height as number
}

/** Proposes `action` as the only validator and returns the proposal as the RPC lists it. */
async function propose(action: GovAction, note?: string) {
  const signed = prepareProposal(chainId, validator, action, note === undefined ? {} : { note })
  const height = await commit(signed.bytes)
  const list = await httpGet(url, '/v1/governance/proposals')
  const proposal = list.body.proposals.find((p: { txId: string }) => p.txId === toHex(signed.id))
  expect(proposal, list.text).toBeDefined()
  return { proposal, height }
}

const head = async (): Promise<number> => (await httpGet(url, '/v1/status')).body.height as number

describe('GET /v1/status', () => {
  it('counts the validators of the next height and the open proposals', async () => {
    const res = await httpGet(url, '/v1/status')
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ validators: 1, openProposals: 0 })
  })
})

describe('GET /v1/validators', () => {
  it('defaults to the next height: the voting set in proposer order and every registered validator', async () => {
    const h = await head()
    const res = await httpGet(url, '/v1/validators')
    expect(res.status).toBe(200)
    const entry = { id: 'val-0', name: 'Validator 0', publicKey: toHex(validator.key.publicKey), peerId: node.manifest.nodes[0]!.peerId }
    expect(res.body).toEqual({ height: h + 1, validators: [entry], registered: [{ ...entry, addedHeight: 0, jailedHeight: null }] })
  })

  it('answers any height from 1 to two past the head', async () => {
    const h = await head()
    for (const height of [1, h, h + 1, h + 2]) {
      if (height < 1) continue
      const res = await httpGet(url, `/v1/validators?height=${height}`)
      expect(res.status, `height ${height}`).toBe(200)
      expect(res.body.height).toBe(height)
      expect(res.body.validators.map((v: { id: string }) => v.id)).toEqual(['val-0'])
    }
  })

  it('refuses a height beyond two past the head, height 0, and malformed queries with INVALID_REQUEST', async () => {
    const h = await head()
    for (const q of [`height=${h + 3}`, 'height=0', 'height=-1', 'height=abc', 'height=1.5', 'height=', 'at=1']) {
      expectError(await httpGet(url, `/v1/validators?${q}`), 'INVALID_REQUEST', q)
    }
  })
})

describe('GET /v1/members', () => {
  it('lists the member institutions of genesis', async () => {
    const res = await httpGet(url, '/v1/members')
    expect(res.status).toBe(200)
    expect(res.body.members.length).toBeGreaterThan(0)
    for (const m of res.body.members) expect(m).toEqual({ id: expect.any(String), name: expect.any(String), peerId: expect.stringMatching(/^12D3Koo/) })
  })
})

describe('GET /v1/issuers and /v1/issuers/:id', () => {
  it('answers one issuer as it appears in the list, with its key history', async () => {
    const all = await httpGet(url, '/v1/issuers')
    expect(all.status).toBe(200)
    const listed = all.body.issuers.find((i: { id: string }) => i.id === 'kr.seoul.jongno')
    const one = await httpGet(url, '/v1/issuers/kr.seoul.jongno')
    expect(one.status).toBe(200)
    expect(one.body).toEqual(listed)
    expect(one.body).toMatchObject({ id: 'kr.seoul.jongno', active: true, types: ['kr.residence'], addedHeight: 0, deactivatedHeight: null })
    expect(one.body.keys[0]).toEqual({
      publicKey: toHex(jongno.key.publicKey),
      current: true,
      addedHeight: 0,
      retiredHeight: null,
      compromisedSince: null,
      compromisedHeight: null,
    })
  })

  it('404 ISSUER_NOT_FOUND for an unknown id, 400 INVALID_REQUEST for an id no issuer can have', async () => {
    expectError(await httpGet(url, '/v1/issuers/kr.nowhere'), 'ISSUER_NOT_FOUND')
    expectError(await httpGet(url, '/v1/issuers/KR.SEOUL'), 'INVALID_REQUEST')
    expectError(await httpGet(url, `/v1/issuers/${'a'.repeat(65)}`), 'INVALID_REQUEST')
  })
})

describe('GET /v1/types', () => {
  it('still lists the certificate types', async () => {
    const res = await httpGet(url, '/v1/types')
    expect(res.status).toBe(200)
    expect(res.body.types.map((t: { id: string }) => t.id)).toContain('kr.residence')
  })
})

describe('governance proposals', () => {
  it('addIssuer passes as soon as it is committed, and the new issuer issues from the next block', async () => {
    const key = generateKeyPair()
    const busan: IssuerIdentity = { issuer: 'kr.busan', key }
    // Not registered yet: its issuance is refused.
    expectError(await postTx(url, issueOne(chainId, busan, 'kr.residence').bytes), 'UNKNOWN_ISSUER')

    const action: GovAction = { type: 'addIssuer', id: 'kr.busan', name: 'Busan City Hall', publicKey: key.publicKey, types: ['kr.residence'] }
    const { proposal, height } = await propose(action, 'new city hall')
    expect(proposal).toEqual({
      id: expect.any(Number),
      status: 'passed',
      action: { type: 'addIssuer', id: 'kr.busan', name: 'Busan City Hall', publicKey: toHex(key.publicKey), types: ['kr.residence'] },
      note: 'new city hall',
      proposer: 'val-0',
      txId: expect.stringMatching(HEX64),
      height,
      deadline: expect.any(Number),
      closedHeight: height,
      failure: null,
      votes: [{ validator: 'val-0', approve: true, height }],
      tally: { yes: 1, no: 0, of: 1, needed: 1 },
    })
    expect(proposal.deadline).toBeGreaterThan(height)

    const one = await httpGet(url, `/v1/governance/proposals/${proposal.id}`)
    expect(one.status).toBe(200)
    expect(one.body).toEqual(proposal)

    const issuer = await httpGet(url, '/v1/issuers/kr.busan')
    expect(issuer.body).toMatchObject({ id: 'kr.busan', active: true, addedHeight: height, keys: [{ publicKey: toHex(key.publicKey), addedHeight: height, current: true }] })

    const issuance = issueOne(chainId, busan, 'kr.residence')
    const issuedAt = await commit(issuance.bytes)
    const [file] = certificateFiles(chainId, issuance, issuedAt)
    const verified = await httpPost(url, '/v1/verify', { certificate: certificateFileToJson(file!), documentHash: toHex(file!.record.docHash) })
    expect(verified.body.verdict, verified.text).toBe('valid')
  })

  it('every governance event is counted in /metrics and logged with the proposal and its action', async () => {
    const { proposal, height } = await propose({ type: 'addMember', id: 'bank.shinhan', name: 'Shinhan Bank', peerId: '12D3KooWShinhanBankTestPeer' })
    const metrics = (await fetch(`${url}/metrics`).then((r) => r.text())).split('\n')
    const value = (line: string): number => Number(metrics.find((l) => l.startsWith(line))?.split(' ').at(-1))
    expect(value('certchain_governance_events_total{kind="proposed"}')).toBeGreaterThanOrEqual(1)
    expect(value('certchain_governance_events_total{kind="passed"}')).toBeGreaterThanOrEqual(1)
    expect(value('certchain_members ')).toBe((await httpGet(url, '/v1/members')).body.members.length)
    expect(value('certchain_validators ')).toBe(1)
    expect(value('certchain_governance_open_proposals ')).toBe(0)
    const logged = logLines.filter((l) => l.proposal === proposal.id)
    expect(logged.map((l) => l.governance)).toEqual(['proposed', 'passed'])
    expect(logged[1]).toMatchObject({ height, action: 'addMember', status: 'passed', msg: 'governance: passed' })
  })

  it('lists newest first, filters by status and limits', async () => {
    const { proposal } = await propose({ type: 'setParams', params: { proposalTtlBlocks: 500 } })
    const all = await httpGet(url, '/v1/governance/proposals')
    expect(all.status).toBe(200)
    expect(all.body.height).toBe(await head())
    const ids = all.body.proposals.map((p: { id: number }) => p.id)
    expect(ids[0]).toBe(proposal.id)
    expect(ids).toEqual([...ids].sort((a, b) => b - a))

    const limited = await httpGet(url, '/v1/governance/proposals?limit=1')
    expect(limited.body.proposals.map((p: { id: number }) => p.id)).toEqual([proposal.id])

    const passed = await httpGet(url, '/v1/governance/proposals?status=passed&limit=1000')
    expect(passed.body.proposals.length).toBe(ids.length)
    for (const status of ['open', 'rejected', 'expired', 'failed']) {
      const res = await httpGet(url, `/v1/governance/proposals?status=${status}`)
      expect(res.status).toBe(200)
      expect(res.body.proposals, status).toEqual([])
    }
    // The new TTL applies to proposals made from now on.
    const { proposal: next, height } = await propose({ type: 'updateType', id: 'kr.land', validityDays: 31 })
    expect(next.deadline).toBe(height + 500)
  })

  it('refuses a bad status filter, limit or id with INVALID_REQUEST, and an unknown proposal with PROPOSAL_NOT_FOUND', async () => {
    for (const q of ['status=closed', 'status=OPEN', 'limit=0', 'limit=1001', 'limit=x', 'limit=-1', 'sort=asc']) {
      expectError(await httpGet(url, `/v1/governance/proposals?${q}`), 'INVALID_REQUEST', q)
    }
    expectError(await httpGet(url, '/v1/governance/proposals/999999'), 'PROPOSAL_NOT_FOUND')
    expectError(await httpGet(url, '/v1/governance/proposals/0'), 'PROPOSAL_NOT_FOUND')
    expectError(await httpGet(url, '/v1/governance/proposals/abc'), 'INVALID_REQUEST')
  })

  it('refuses proposals and votes the chain would never accept, with their codes', async () => {
    const stranger = { id: 'val-0', key: generateKeyPair() }
    expectError(await postTx(url, prepareProposal(chainId, stranger, { type: 'removeMember', id: 'kr.univ.snu' }).bytes), 'NOT_A_VALIDATOR', 'wrong key')
    expectError(await postTx(url, prepareProposal(chainId, { ...validator, id: 'val-9' }, { type: 'removeMember', id: 'kr.univ.snu' }).bytes), 'NOT_A_VALIDATOR', 'unknown id')
    expectError(await postTx(url, prepareProposal(chainId, validator, { type: 'addType', id: 'kr.residence', nameKo: '주민', nameEn: 'Residence', validityDays: 1, authorities: [] }).bytes), 'ID_TAKEN')
    expectError(await postTx(url, prepareProposal(chainId, validator, { type: 'removeValidator', id: 'val-0' }).bytes), 'LAST_VALIDATOR')
    expectError(await postTx(url, prepareVote(chainId, validator, 999_999, true).bytes), 'UNKNOWN_PROPOSAL')
    const { proposal } = await propose({ type: 'updateIssuer', id: 'kr.seoul.jongno', name: 'Jongno-gu Office' })
    expectError(await postTx(url, prepareVote(chainId, validator, proposal.id, false).bytes), 'PROPOSAL_CLOSED')
  })

  it('compromiseIssuerKey by governance: what the key signed from then on reads as revoked', async () => {
    const land = await node.identity('kr.seoul.land')
    const before = issueOne(chainId, land, 'kr.land')
    const beforeHeight = await commit(before.bytes)
    const beforeTime = Date.parse((await httpGet(url, `/v1/blocks/${beforeHeight}`)).body.header.time)
    const after = issueOne(chainId, land, 'kr.land')
    await commit(after.bytes)

    const since = beforeTime + 1
    const { proposal, height } = await propose({ type: 'compromiseIssuerKey', id: 'kr.seoul.land', key: land.key.publicKey, since })
    expect(proposal.status).toBe('passed')
    expect(proposal.action).toEqual({ type: 'compromiseIssuerKey', id: 'kr.seoul.land', key: toHex(land.key.publicKey), since: new Date(since).toISOString() })
    const issuer = await httpGet(url, '/v1/issuers/kr.seoul.land')
    expect(issuer.body.keys).toEqual([
      {
        publicKey: toHex(land.key.publicKey),
        current: false,
        addedHeight: 0,
        retiredHeight: height,
        compromisedSince: new Date(since).toISOString(),
        compromisedHeight: height,
      },
    ])
    expect((await httpGet(url, `/v1/certificates/${toHex(before.certificateIds[0]!)}`)).body.status).toBe('valid')
    const revoked = await httpGet(url, `/v1/certificates/${toHex(after.certificateIds[0]!)}`)
    expect(revoked.body.status).toBe('revoked')
    expect(revoked.body.statusChange).toMatchObject({ reason: 'key_compromised', by: 'kr.seoul.land', height })
  })
})

describe('issuer key rotation (UpdateIssuerKeys)', () => {
  it('adds a key, retires the old one, and GET /v1/issuers/:id shows the heights each key was valid', async () => {
    const suwon = await node.identity('kr.suwon')
    const oldKey = suwon.key
    const newKey = generateKeyPair()
    const addedAt = await commit(prepareIssuerKeyUpdate(chainId, suwon, { add: [newKey.publicKey] }).bytes)
    const rotated: IssuerIdentity = { issuer: 'kr.suwon', key: newKey }
    const signedWithNew = issueOne(chainId, rotated, 'kr.land')
    await commit(signedWithNew.bytes)

    const signedWithOld = issueOne(chainId, suwon, 'kr.land')
    const oldIssuedAt = await commit(signedWithOld.bytes)
    const retiredAt = await commit(prepareIssuerKeyUpdate(chainId, rotated, { retire: [oldKey.publicKey] }).bytes)
    const res = await httpGet(url, '/v1/issuers/kr.suwon')
    expect(res.status).toBe(200)
    expect(res.body.keys).toEqual([
      { publicKey: toHex(oldKey.publicKey), current: false, addedHeight: 0, retiredHeight: retiredAt, compromisedSince: null, compromisedHeight: null },
      { publicKey: toHex(newKey.publicKey), current: true, addedHeight: addedAt, retiredHeight: null, compromisedSince: null, compromisedHeight: null },
    ])

    // The retired key signs nothing new; what it signed before stays valid, as verification reports.
    expectError(await postTx(url, issueOne(chainId, suwon, 'kr.land').bytes), 'ISSUER_KEY_RETIRED')
    const [file] = certificateFiles(chainId, signedWithOld, oldIssuedAt)
    const verified = await httpPost(url, '/v1/verify', { certificate: certificateFileToJson(file!), documentHash: toHex(file!.record.docHash) })
    expect(verified.body.verdict, verified.text).toBe('valid')
    expect(verified.body.checks.find((c: { name: string }) => c.name === 'issuer_authorized').detail).toMatch(/with this key as of height/)
  })

  it('an issuer declares its own key compromised with another key; refusals keep their codes', async () => {
    const building = await node.identity('kr.seoul.building')
    const spare = generateKeyPair()
    expectError(await postTx(url, prepareIssuerKeyUpdate(chainId, building, { retire: [building.key.publicKey] }).bytes), 'LAST_ISSUER_KEY')
    expectError(await postTx(url, prepareIssuerKeyUpdate(chainId, building, { add: [jongno.key.publicKey] }).bytes), 'KEY_TAKEN')
    await commit(prepareIssuerKeyUpdate(chainId, building, { add: [spare.publicKey] }).bytes)
    expectError(
      await postTx(url, prepareIssuerKeyUpdate(chainId, building, { compromised: [{ key: building.key.publicKey, since: 0 }] }).bytes),
      'COMPROMISED_KEY_SIGNED',
    )
    const issued = issueOne(chainId, building, 'kr.building', { document: randomDocument() })
    await commit(issued.bytes)
    const since = Date.now() - 60 * 60 * 1000
    const declaredAt = await commit(prepareIssuerKeyUpdate(chainId, { issuer: 'kr.seoul.building', key: spare }, { compromised: [{ key: building.key.publicKey, since }] }).bytes)
    const res = await httpGet(url, '/v1/issuers/kr.seoul.building')
    expect(res.body.keys[0]).toMatchObject({ current: false, retiredHeight: declaredAt, compromisedSince: new Date(since).toISOString(), compromisedHeight: declaredAt })
    const cert = await httpGet(url, `/v1/certificates/${toHex(issued.certificateIds[0]!)}`)
    expect(cert.body).toMatchObject({ status: 'revoked', statusChange: { reason: 'key_compromised' } })
    expectError(await postTx(url, issueOne(chainId, building, 'kr.building').bytes), 'ISSUER_KEY_RETIRED')
  })
})

describe('GET /v1/evidence', () => {
  it('lists the evidence this node saw and the evidence committed on chain (none on an honest chain)', async () => {
    const res = await httpGet(url, '/v1/evidence')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ evidence: [], committed: [] })
  })
})

describe('RpcClient', () => {
  it('has a method for every governance and registry endpoint', async () => {
    const { client } = node
    expect((await client.status()).validators).toBe(1)
    expect((await client.validators()).validators[0]!.id).toBe('val-0')
    expect((await client.validators(1)).height).toBe(1)
    expect((await client.members()).members.length).toBeGreaterThan(0)
    expect((await client.issuers()).issuers.map((i) => i.id)).toContain('kr.seoul.jongno')
    expect((await client.issuer('kr.seoul.jongno')).keys[0]!.publicKey).toBe(toHex(jongno.key.publicKey))
    const { proposal } = await propose({ type: 'updateType', id: 'kr.family', nameEn: 'Family relationship certificate (detailed)' })
    const { proposals } = await client.proposals({ status: 'passed', limit: 1 })
    expect(proposals.map((p) => p.id)).toEqual([proposal.id])
    expect(await client.proposal(proposal.id)).toEqual(proposal)
    expect(await client.evidence()).toEqual({ evidence: [], committed: [] })
    await expect(client.issuer('kr.nowhere')).rejects.toMatchObject({ code: 'ISSUER_NOT_FOUND', status: 404 })
    await expect(client.proposal(999_999)).rejects.toMatchObject({ code: 'PROPOSAL_NOT_FOUND', status: 404 })
  })
})

describe('GET /v1/openapi.json', () => {
  it('documents every governance and registry path with a summary', async () => {
    const { paths } = (await httpGet(url, '/v1/openapi.json')).body
    for (const path of ['/v1/validators', '/v1/members', '/v1/issuers', '/v1/issuers/{id}', '/v1/types', '/v1/governance/proposals', '/v1/governance/proposals/{id}', '/v1/evidence']) {
      expect(paths[path]?.get?.summary, path).toEqual(expect.any(String))
    }
  })
})
