import { generateKeyPair, sign, type KeyPair } from '../../src/core/crypto.js'
import { blockHash } from '../../src/core/block.js'
import type { CertificateFile } from '../../src/core/certificate.js'
import type { GovAction } from '../../src/core/governance.js'
import type { BlockHeader, Commit } from '../../src/core/types.js'
import { voteSignBytes } from '../../src/core/vote.js'
import type { Ledger } from '../../src/ledger/index.js'
import {
  certificateFiles,
  decode,
  issueTx,
  issuerKeysTx,
  makeMultiValidatorChain,
  openLedger,
  proposeTx,
  reinstateTx,
  revokeTx,
  suspendTx,
  voteTx,
  type BuiltTx,
  type DocumentSecret,
  type IssuedTx,
  type OpenedLedger,
  type TestChain,
  type TestValidator,
} from './fixtures.js'

/** A certificate of the generated chain with the document it was issued for. */
export interface ChainCertificate {
  readonly file: CertificateFile
  readonly secret: DocumentSecret
  /** What the generator did to it, for test names. */
  readonly story: string
}

export interface ProofChain {
  readonly chain: TestChain
  readonly opened: OpenedLedger
  readonly ledger: Ledger
  readonly certificates: ChainCertificate[]
  /** Every validator key ever in the set, by id. */
  readonly keys: Map<string, KeyPair>
  /** Chain time of the last block. */
  time: number
  /** Commits one block of `txs` (all must pass) with precommits of every validator of its height. */
  readonly block: (...txs: BuiltTx[]) => Promise<void>
  /** Heights at which the validator set of the next height differs (set-change headers). */
  readonly setChanges: number[]
}

const SECOND = 1000

/** Precommits of every validator of the block's height: a real commit of the whole set. */
export function fullCommit(chain: TestChain, ledger: Ledger, keys: ReadonlyMap<string, KeyPair>, block: { header: BlockHeader }): Commit {
  const hash = blockHash(block.header)
  const { height } = block.header
  const signatures = ledger.validators(height).map((v) => ({
    validator: v.id,
    sig: sign(keys.get(v.id)!.secretKey, voteSignBytes(chain.genesis.chainId, 'precommit', height, 0, hash)),
  }))
  return { height, round: 0, blockHash: hash, signatures }
}

/**
 * A ledger of `validators` validators driven block by block with real commits: issue, pass a
 * governance action, commit arbitrary transactions.
 */
export async function driveChain(validators: number): Promise<ProofChain & ChainDriver> {
  const made = makeMultiValidatorChain(validators, { params: { proposalTtlBlocks: 50 } })
  const { chain } = made
  const opened = await openLedger(chain)
  const ledger = opened.ledger
  const keys = new Map(made.validators.map((v) => [v.id, v.key]))
  const certificates: ChainCertificate[] = []
  const pc: ProofChain & ChainDriver = {
    chain,
    opened,
    ledger,
    certificates,
    keys,
    time: Date.now() - 3600 * SECOND,
    setChanges: [],
    block: async (...txs) => {
      pc.time += SECOND
      const proposed = await ledger.proposeBlock(txs.map((t) => decode(chain, t)), pc.time, chain.proposer)
      if (proposed.rejected.length > 0) throw new Error(`proof chain: refused ${proposed.rejected.map((r) => r.error.code).join(', ')}`)
      const { header } = proposed.writes.block
      await ledger.commitBlock(proposed.writes, fullCommit(chain, ledger, keys, proposed.writes.block))
      if (!Buffer.from(header.validatorsHash).equals(header.nextValidatorsHash)) pc.setChanges.push(header.height)
    },
    issue: async (issuer, count, story, extra = {}) => {
      const tx: IssuedTx = issueTx(chain, issuer, count, { now: pc.time, ...extra })
      await pc.block(tx)
      const files = certificateFiles(chain, tx, ledger.head.height).map((file, i) => ({ file, secret: tx.secrets[i]!, story }))
      certificates.push(...files)
      return files
    },
    pass: async (action, voters) => {
      const id = ledger.proposals.next
      const as = (vid: string): TestValidator => ({ id: vid, key: keys.get(vid)! })
      await pc.block(proposeTx(chain, as(voters[0]!), action, { now: pc.time }))
      for (const voter of voters.slice(1)) {
        if ((await ledger.getProposal(id))?.status !== 'open') break
        await pc.block(voteTx(chain, as(voter), id, true, { now: pc.time }))
      }
      const status = (await ledger.getProposal(id))?.status
      if (status !== 'passed') throw new Error(`proof chain: proposal ${id} (${action.type}) is ${status}`)
    },
    addValidator: async (id) => {
      const key = generateKeyPair()
      keys.set(id, key)
      const voters = ledger.validators(ledger.head.height + 1).map((v) => v.id)
      await pc.pass({ type: 'addValidator', id, name: id, publicKey: key.publicKey, peerId: `12D3KooWTest${id}` }, voters)
      // in the set two heights after the block that passed it
      await pc.block()
      await pc.block()
    },
  }
  return pc
}

export interface ChainDriver {
  readonly issue: (issuer: string, count: number, story: string, extra?: { signWith?: KeyPair }) => Promise<ChainCertificate[]>
  readonly pass: (action: GovAction, voters: string[]) => Promise<void>
  /** Adds a validator by governance (every current validator approves) and waits until it is in the set. */
  readonly addValidator: (id: string) => Promise<void>
}

/**
 * A chain with a history a verifier must follow: four validators; a fifth added and one removed
 * by governance; issuances in batches and one by one; revocation, suspension and reinstatement;
 * an issuer key rotated, another declared compromised; an issuer deactivated. `options.small`
 * issues fewer certificates (for tests that need a chain, not its size).
 */
export async function makeProofChain(options: { small?: boolean } = {}): Promise<ProofChain> {
  const pc = await driveChain(4)
  const { chain } = pc
  const at = () => ({ now: pc.time })
  const scale = options.small ? 0.1 : 1
  const n = (count: number): number => Math.max(1, Math.round(count * scale))
  const issue = pc.issue
  const pass = pc.pass

  const mois = await issue('kr.mois', n(100), 'batch of residence certificates')
  const jongno = await issue('kr.seoul.jongno', n(60), 'batch by a city hall')
  for (let i = 0; i < n(20); i++) await issue('kr.court.seoul', 1, 'one certificate per transaction')

  await pc.addValidator('validator-5')
  await issue('kr.land.seoul', n(30), 'land register, issuer deactivated later')

  await pc.block(revokeTx(chain, 'kr.mois', mois.slice(0, 5).map((c) => c.file.certificateId), { ...at(), reason: 'superseded' }))
  await pc.block(...jongno.slice(0, 3).map((c) => suspendTx(chain, 'kr.seoul.jongno', c.file.certificateId, { ...at(), reason: 'under_investigation' })))
  await pc.block(reinstateTx(chain, 'kr.seoul.jongno', jongno[0]!.file.certificateId, at()))
  await pc.block(suspendTx(chain, 'kr.seoul.jongno', jongno[0]!.file.certificateId, { ...at(), reason: 'court_order' }))
  await pc.block(reinstateTx(chain, 'kr.seoul.jongno', jongno[0]!.file.certificateId, at()))

  // kr.mois rotates its key: certificates signed with the old one stay valid.
  const mois2 = generateKeyPair()
  await pc.block(issuerKeysTx(chain, 'kr.mois', { add: [mois2.publicKey], retire: [chain.keys['kr.mois'].publicKey] }, at()))
  await issue('kr.mois', n(10), 'signed with a rotated-in key', { signWith: mois2 })

  // kr.seoul.jongno: a batch signed with a key it later declares compromised since that batch's time.
  await issue('kr.seoul.jongno', n(10), 'signed with a key later declared compromised')
  const jongno2 = generateKeyPair()
  const since = pc.time
  await pc.block(issuerKeysTx(chain, 'kr.seoul.jongno', { add: [jongno2.publicKey] }, at()))
  await pc.block(issuerKeysTx(chain, 'kr.seoul.jongno', { compromised: [{ key: chain.keys['kr.seoul.jongno'].publicKey, since }] }, { ...at(), signWith: jongno2 }))

  await pass({ type: 'removeValidator', id: 'validator-2' }, ['validator-1', 'validator-3', 'validator-4', 'validator-5'])
  await pc.block()
  await pc.block()
  await pass({ type: 'deactivateIssuer', id: 'kr.land.seoul' }, ['validator-1', 'validator-3', 'validator-4', 'validator-5'])
  await issue('kr.court.seoul', n(10), 'issued after every change')
  await pc.block()
  return pc
}
