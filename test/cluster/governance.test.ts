import { join } from 'node:path'
import { pino } from 'pino'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  certificateFiles,
  prepareIssuance,
  prepareIssuerKeyUpdate,
  prepareProposal,
  prepareVote,
  type IssuerIdentity,
  type PreparedIssuance,
  type ValidatorIdentity,
} from '../../src/client/index.js'
import { toHex, type Bytes } from '../../src/core/bytes.js'
import { certificateFileToJson } from '../../src/core/certificate.js'
import { generateKeyPair, sign, type KeyPair } from '../../src/core/crypto.js'
import type { GovAction } from '../../src/core/governance.js'
import { sha256 } from '../../src/core/hash.js'
import { voteSignBytes } from '../../src/core/vote.js'
import { encodeMessage, type Vote } from '../../src/consensus/messages.js'
import { loadKeyFile, type KeyFile } from '../../src/node/keys.js'
import { P2PHost } from '../../src/p2p/index.js'
import { RpcError, type TxStatus } from '../../src/rpc/index.js'
import { CLUSTER_CONSENSUS, ClusterChain, tearDownAfterSuite, DAY_MS, sleep, type BlockView } from './chain.js'
import { netnsSkipReason, waitFor } from './netns.js'

/**
 * Governance on a running cluster: validators, members and issuers change by quorum while the
 * chain runs, a Byzantine validator is jailed, and a node syncing from genesis across all of it
 * agrees with the others. Each node is a `certchain start` process in its own network namespace;
 * transactions are built and signed here (as an operator's CLI would) and sent over RPC.
 */
const skip = netnsSkipReason()
const suite = skip ? describe.skip : describe
const skipped = skip ? ` (skipped: ${skip})` : ''

interface ValidatorsView {
  readonly height: number
  readonly validators: readonly { readonly id: string }[]
  readonly registered: readonly { readonly id: string; readonly jailedHeight: number | null }[]
}

suite(`cluster governance: validators, members and issuers change by quorum${skipped}`, () => {
  let chain: ClusterChain
  /** Genesis validators val-0..val-3 run on nodes 0..3. */
  const V = [0, 1, 2, 3]
  /** A genesis member started only at the end: it syncs from genesis across every change. */
  const LATE = 4
  /** A validator outside genesis (governance adds it as val-4). */
  const NEW_VALIDATOR = 5
  /** A bank outside genesis (governance adds, then removes it). */
  const BANK = 6
  const signers = new Map<string, ValidatorIdentity>()
  let nextProposal = 1
  /** Certificates and the status every node must report for them. */
  const expected = new Map<string, string>()
  let jongno: IssuerIdentity
  let jongnoIssued: { prepared: PreparedIssuance; height: number; documents: Buffer[] }

  async function getJson<T>(node: number, path: string): Promise<T> {
    const res = await fetch(`${chain.url(node)}${path}`, { signal: AbortSignal.timeout(10_000) })
    const text = await res.text()
    if (!res.ok) throw new Error(`GET ${path} on node ${node}: HTTP ${res.status} ${text.slice(0, 300)}`)
    return JSON.parse(text) as T
  }

  const validatorsOf = (node: number, height?: number): Promise<ValidatorsView> =>
    getJson<ValidatorsView>(node, `/v1/validators${height === undefined ? '' : `?height=${height}`}`)

  async function signerFor(node: number, id: string): Promise<ValidatorIdentity> {
    const key: KeyFile = await loadKeyFile(join(chain.manifest.nodes[node]!.home, 'validator_key.json'))
    const signer = { id, key }
    signers.set(id, signer)
    return signer
  }

  /** Submits through `node`, waits for the block, and returns the RPC's answer (rejections included). */
  async function submit(node: number, bytes: Bytes): Promise<TxStatus | { status: 'refused'; code: string }> {
    try {
      return await chain.client(node, 45_000).submitTx(bytes, { wait: 'commit' })
    } catch (err) {
      if (err instanceof RpcError) return { status: 'refused', code: err.code }
      throw err
    }
  }

  /**
   * Submits, waits for the block, then for every running node to have it: the next step may go
   * through another node, which must already apply the same rules.
   */
  async function committed(node: number, bytes: Bytes): Promise<number> {
    const result = await submit(node, bytes)
    expect(result, JSON.stringify(result)).toMatchObject({ status: 'committed' })
    const { height } = result as { height: number }
    await settle(height)
    return height
  }

  /** Waits until every connected node (not one refused or cut off by governance) has block `height`. */
  async function settle(height: number): Promise<void> {
    const statuses = await Promise.all(chain.all.map((i) => (chain.cluster.running(i) ? chain.status(i) : Promise.resolve(undefined))))
    const following = chain.all.filter((i) => (statuses[i]?.peers ?? 0) > 0)
    await chain.waitHeight(following, height, `nodes ${JSON.stringify(following)} at height ${height}`, 30_000)
  }

  /**
   * Proposes `action` as val-0, then has the other current validators approve until it passes;
   * returns the height of the block that passed it.
   */
  async function pass(action: GovAction): Promise<number> {
    const id = nextProposal++
    await committed(0, prepareProposal(chain.chainId, signers.get('val-0')!, action).bytes)
    const current = (await validatorsOf(0)).validators.map((v) => v.id).filter((v) => v !== 'val-0')
    for (const voter of current) {
      const proposal = await getJson<{ status: string; closedHeight?: number | null }>(0, `/v1/governance/proposals/${id}`)
      if (proposal.status === 'passed') return proposal.closedHeight!
      expect(proposal.status).toBe('open')
      const by = signers.get(voter)!
      await committed(0, prepareVote(chain.chainId, by, id, true).bytes)
    }
    const proposal = await getJson<{ status: string; closedHeight?: number | null }>(0, `/v1/governance/proposals/${id}`)
    expect(proposal.status, JSON.stringify(proposal)).toBe('passed')
    return proposal.closedHeight!
  }

  /** Issues one certificate signed with `key` for `issuer`; the certificate id (hex) or the refusal code. */
  async function issue(node: number, identity: IssuerIdentity, type = 'kr.residence'): Promise<{ id?: string; code?: string; prepared: PreparedIssuance; height?: number; document: Buffer }> {
    const now = Date.now()
    const document = Buffer.from(`governance doc ${now} ${Math.random()}`)
    const prepared = prepareIssuance(chain.chainId, identity, [{ type, document, validFrom: now - 60_000, validUntil: now + DAY_MS }])
    const result = await submit(node, prepared.bytes)
    if (result.status === 'committed') {
      await settle(result.height)
      return { id: toHex(prepared.certificateIds[0]!), prepared, height: result.height, document }
    }
    return { code: 'code' in result ? result.code : result.status, prepared, document }
  }

  /** Every running node in `nodes` reports `want` for each certificate. */
  async function expectStatuses(nodes: readonly number[]): Promise<void> {
    const top = Math.max(...((await chain.heights(V.filter((i) => chain.cluster.running(i)))) as number[]))
    await chain.waitHeight(nodes, top, `nodes ${JSON.stringify(nodes)} at height ${top}`, 60_000)
    for (const node of nodes) {
      const statuses = await chain.certificateStatuses(node, [...expected.keys()])
      for (const [id, want] of expected) expect(statuses.get(id), `node ${node}, certificate ${id}`).toBe(want)
    }
  }

  async function scan(node: number, from: number, to: number): Promise<BlockView[]> {
    const blocks: BlockView[] = []
    for (let h = from; h <= to; h++) blocks.push(await chain.block(node, h))
    return blocks
  }

  beforeAll(async () => {
    chain = await ClusterChain.create({
      validators: 4,
      observers: 1,
      chainId: 'certchain-gov',
      consensus: CLUSTER_CONSENSUS,
      deferred: [LATE],
      outsiders: [
        { name: 'validator4', validator: true },
        { name: 'bank', validator: false },
      ],
    })
    for (const i of V) await signerFor(i, `val-${i}`)
    jongno = await chain.identity('kr.seoul.jongno')
  }, 120_000)

  tearDownAfterSuite(() => ({ chain }))

  it('(a) a fifth validator added by governance connects, syncs, proposes in its turn and its votes count', async () => {
    await chain.requireLive(V)
    // Certificates issued before any change: they must stay valid through all of them.
    const now = Date.now()
    const documents = [0, 1, 2].map((k) => Buffer.from(`early jongno ${now} ${k}`))
    const prepared = prepareIssuance(chain.chainId, jongno, documents.map((document) => ({ type: 'kr.residence', document, validFrom: now - 60_000, validUntil: now + DAY_MS })))
    const height = await committed(1, prepared.bytes)
    jongnoIssued = { prepared, height, documents }
    for (const id of prepared.certificateIds) expected.set(toHex(id), 'valid')

    // Not in genesis: every node refuses it.
    await chain.start(NEW_VALIDATOR)
    await sleep(2000)
    expect((await chain.status(NEW_VALIDATOR))?.peers).toBe(0)

    const node = chain.manifest.nodes[NEW_VALIDATOR]!
    const fifth = await signerFor(NEW_VALIDATOR, 'val-4')
    const passed = await pass({ type: 'addValidator', id: 'val-4', name: 'Busan city hall', publicKey: fifth.key.publicKey, peerId: node.peerId })
    expect((await validatorsOf(0, passed + 1)).validators).toHaveLength(4)
    expect((await validatorsOf(0, passed + 2)).validators.map((v) => v.id)).toContain('val-4')

    await waitFor('the new validator to connect', async () => ((await chain.status(NEW_VALIDATOR))?.peers ?? 0) > 0, { timeoutMs: 60_000 })
    await chain.waitCaughtUp(NEW_VALIDATOR, V, 'the new validator synced', 60_000)
    // Its turn comes within a rotation of five; a commit it signed shows its votes count.
    let proposed = false
    let signedCommit = false
    await waitFor(
      'a block proposed by val-4 and a commit signed by it',
      async () => {
        const top = (await chain.status(0))!.height
        for (const b of await scan(0, passed + 2, top)) {
          proposed ||= b.header.proposer === 'val-4'
          signedCommit ||= b.commit.signatures.some((s) => s.validator === 'val-4')
        }
        return proposed && signedCommit
      },
      { timeoutMs: 90_000, intervalMs: 1000, detail: () => `proposed ${proposed}, signed ${signedCommit}` },
    )
    expect((await chain.status(NEW_VALIDATOR))?.validatorId).toBe('val-4')
  }, 300_000)

  it('(b) a removed validator stops counting two heights later and the chain keeps finalizing', async () => {
    await chain.requireLive(V)
    const passed = await pass({ type: 'removeValidator', id: 'val-3' })
    const after = (await validatorsOf(0, passed + 2)).validators.map((v) => v.id).sort()
    expect(after).toEqual(['val-0', 'val-1', 'val-2', 'val-4'])
    const live = [0, 1, 2, NEW_VALIDATOR]
    const [h] = await chain.waitAdvance([0], 5, 'five more blocks without val-3', 60_000)
    for (const b of await scan(0, passed + 2, h!)) {
      expect(b.commit.signatures.map((s) => s.validator), `height ${b.height}`).not.toContain('val-3')
    }
    // No longer registered: its peers disconnect it, and the rest finalize without it.
    await waitFor('val-3 to be disconnected', async () => (await chain.status(3))?.peers === 0, { timeoutMs: 30_000 })
    await chain.cluster.kill(3)
    await chain.waitAdvance(live, 3, 'the four remaining validators finalize', 60_000)
  }, 300_000)

  it('(c) a member bank added while the chain runs connects, syncs and verifies; removed, it is disconnected and refused', async () => {
    const live = [0, 1, 2, NEW_VALIDATOR]
    await chain.requireLive(live)
    await chain.start(BANK)
    await sleep(2000)
    expect((await chain.status(BANK))?.peers).toBe(0)
    await pass({ type: 'addMember', id: 'bank.kb', name: 'KB Kookmin Bank', peerId: chain.manifest.nodes[BANK]!.peerId })
    expect((await getJson<{ members: { id: string }[] }>(0, '/v1/members')).members.map((m) => m.id)).toContain('bank.kb')
    await waitFor('the bank to connect', async () => ((await chain.status(BANK))?.peers ?? 0) > 0, { timeoutMs: 60_000 })
    await chain.waitCaughtUp(BANK, live, 'the bank synced', 60_000)
    const files = certificateFiles(chain.chainId, jongnoIssued.prepared, jongnoIssued.height)
    const verdict = await chain.client(BANK, 30_000).verify(certificateFileToJson(files[0]!), { document: jongnoIssued.documents[0]! })
    expect(verdict.verdict, JSON.stringify(verdict.checks)).toBe('valid')

    await pass({ type: 'removeMember', id: 'bank.kb' })
    await waitFor('the bank to be disconnected', async () => (await chain.status(BANK))?.peers === 0, { timeoutMs: 30_000 })
    const stuck = (await chain.status(BANK))!.height
    await chain.waitAdvance(live, 3, 'the chain goes on without the bank', 60_000)
    const bank = (await chain.status(BANK))!
    expect(bank.peers).toBe(0)
    expect(bank.height).toBeLessThanOrEqual(stuck + 1)
  }, 300_000)

  it('(d) a new city hall issues resident registrations; a deactivated issuer cannot issue, its certificates stay valid', async () => {
    const live = [0, 1, 2, NEW_VALIDATOR]
    await chain.requireLive(live)
    const gangnamKey = generateKeyPair()
    const gangnam: IssuerIdentity = { issuer: 'kr.seoul.gangnam', key: gangnamKey }
    expect((await issue(0, gangnam)).code).toBe('UNKNOWN_ISSUER')
    await pass({ type: 'addIssuer', id: 'kr.seoul.gangnam', name: '서울특별시 강남구청', publicKey: gangnamKey.publicKey, types: ['kr.residence'] })
    const first = await issue(1, gangnam)
    expect(first.id, first.code).toBeDefined()
    expected.set(first.id!, 'valid')
    expect((await issue(1, gangnam, 'kr.family')).code).toBe('ISSUER_NOT_AUTHORIZED_FOR_TYPE')

    await pass({ type: 'deactivateIssuer', id: 'kr.seoul.jongno' })
    expect((await issue(2, jongno)).code).toBe('ISSUER_INACTIVE')
    await expectStatuses(live)
    const files = certificateFiles(chain.chainId, jongnoIssued.prepared, jongnoIssued.height)
    for (const node of live) {
      const verdict = await chain.client(node, 30_000).verify(certificateFileToJson(files[1]!), { document: jongnoIssued.documents[1]! })
      expect(verdict.verdict, `node ${node}: ${JSON.stringify(verdict.checks)}`).toBe('valid')
    }
  }, 300_000)

  it('(e) a rotated key keeps its certificates valid; a key declared compromised revokes what it signed since then, on every node', async () => {
    const live = [0, 1, 2, NEW_VALIDATOR]
    await chain.requireLive(live)
    const court = await chain.identity('kr.court.seoul-family')
    const k2 = generateKeyPair()
    const before = await issue(0, court, 'kr.family')
    expected.set(before.id!, 'valid')
    const keysTx = (identity: IssuerIdentity, signWith: KeyPair, changes: Parameters<typeof prepareIssuerKeyUpdate>[2]): Bytes =>
      prepareIssuerKeyUpdate(chain.chainId, { issuer: identity.issuer, key: signWith }, changes).bytes
    await committed(1, keysTx(court, court.key, { add: [k2.publicKey] }))
    await committed(1, keysTx(court, k2, { retire: [court.key.publicKey] }))
    expect((await issue(2, court, 'kr.family')).code).toBe('ISSUER_KEY_RETIRED')
    const rotated = await issue(2, { issuer: 'kr.court.seoul-family', key: k2 }, 'kr.family')
    expected.set(rotated.id!, 'valid')
    const history = await getJson<{ keys: { publicKey: string; addedHeight: number; retiredHeight: number | null }[] }>(0, '/v1/issuers/kr.court.seoul-family')
    expect(history.keys.map((k) => [k.publicKey, k.retiredHeight === null])).toEqual([
      [toHex(court.key.publicKey), false],
      [toHex(k2.publicKey), true],
    ])

    // kr.mois: one certificate before the compromise time, one after, then the declaration.
    const mois = await chain.identity('kr.mois')
    const m2 = generateKeyPair()
    await committed(0, keysTx(mois, mois.key, { add: [m2.publicKey] }))
    const early = await issue(0, mois)
    expected.set(early.id!, 'valid')
    await sleep(50)
    const since = Date.now()
    await sleep(1100)
    const late = await issue(0, mois)
    expected.set(late.id!, 'revoked')
    await committed(0, keysTx(mois, m2, { compromised: [{ key: mois.key.publicKey, since }] }))
    await expectStatuses(live)
    for (const node of live) {
      const cert = await chain.client(node).getCertificate(late.id!)
      expect((cert as { statusChange?: { reason?: string } }).statusChange?.reason, `node ${node}`).toBe('key_compromised')
    }
  }, 300_000)

  it('(g) a Byzantine validator that double-votes is reported by the others, jailed two heights later, and reinstated by governance', async () => {
    const live = [0, 1, NEW_VALIDATOR]
    await chain.requireLive([...live, 2])
    // The Byzantine val-2: its process stops and this test speaks for it with its node key and
    // validator key, sending two different prevotes for the height in progress.
    await chain.cluster.kill(2)
    const home = chain.manifest.nodes[2]!.home
    const nodeKey = await loadKeyFile(join(home, 'node_key.json'))
    const byzantine = signers.get('val-2')!
    const host = await P2PHost.create(
      {
        chainId: chain.chainId,
        listen: ['/ip4/0.0.0.0/tcp/0'],
        bootstrap: live.map((i) => chain.manifest.nodes[i]!.p2p),
        nodeKey,
        isAllowedPeer: () => true,
        maxMessageBytes: 1024 * 1024,
      },
      {
        logger: pino({ level: 'silent' }),
        validate: () => ({ result: 'ignore', reason: 'test host' }),
        onMessage: () => undefined,
        sync: { handle: () => Promise.reject(new Error('not serving')) },
      },
    )
    await host.start()
    try {
      await waitFor(
        'evidence against val-2 committed',
        async () => {
          const height = (await chain.status(0))!.height + 1
          for (const b of [sha256(Buffer.from(`a${height}`)), sha256(Buffer.from(`b${height}`))]) {
            const vote: Vote = { type: 'prevote', height, round: 0, blockHash: b, validator: 'val-2', sig: sign(byzantine.key.secretKey, voteSignBytes(chain.chainId, 'prevote', height, 0, b)) }
            await host.publish('consensus', encodeMessage(vote)).catch(() => undefined)
          }
          const registered = (await validatorsOf(0)).registered.find((v) => v.id === 'val-2')
          return registered?.jailedHeight ?? undefined
        },
        { timeoutMs: 60_000, intervalMs: 1000 },
      )
    } finally {
      await host.stop()
    }
    const jailed = (await validatorsOf(0)).registered.find((v) => v.id === 'val-2')!.jailedHeight!
    const evidence = await getJson<{ committed: { validator: string }[] }>(0, '/v1/evidence')
    expect(evidence.committed.map((e) => e.validator)).toContain('val-2')
    expect((await validatorsOf(0, jailed + 2)).validators.map((v) => v.id).sort()).toEqual(['val-0', 'val-1', 'val-4'])
    // Three validators left, all needed: the chain still finalizes without val-2.
    await chain.waitAdvance(live, 3, 'finalizing with val-2 jailed', 60_000)
    const [top] = (await chain.heights([0])) as number[]
    for (const b of await scan(0, jailed + 2, top!)) expect(b.commit.signatures.map((s) => s.validator)).not.toContain('val-2')

    await chain.restart(2)
    const unjailed = await pass({ type: 'unjailValidator', id: 'val-2' })
    expect((await validatorsOf(0, unjailed + 2)).validators.map((v) => v.id)).toContain('val-2')
    await waitFor(
      'a commit signed by val-2 again',
      async () => {
        const height = (await chain.status(0))!.height
        if (height < unjailed + 3) return false
        return (await chain.block(0, height)).commit.signatures.some((s) => s.validator === 'val-2')
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    )
  }, 300_000)

  it('(f) a node syncing from genesis across every change ends with the same blocks and state root as the others', async () => {
    const live = [0, 1, 2, NEW_VALIDATOR]
    await chain.requireLive(live)
    await chain.start(LATE)
    await chain.waitCaughtUp(LATE, live, 'the late member synced from genesis', 120_000)
    const [h] = (await chain.waitHeight([LATE], (await chain.status(0))!.height, 'the late member at the tip', 60_000))
    expect(await chain.blockHashMismatches([0, 1, NEW_VALIDATOR, LATE], 1, h!)).toEqual([])
    await expectStatuses([...live, LATE])
    // Who was authorized for what, as of every height, agrees too.
    for (const height of [2, Math.floor(h! / 2), h!]) {
      expect(await validatorsOf(LATE, height)).toEqual(await validatorsOf(0, height))
    }
    expect(await getJson(LATE, '/v1/issuers')).toEqual(await getJson(0, '/v1/issuers'))
  }, 300_000)
})
