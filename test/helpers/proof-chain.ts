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
  block(...txs: BuiltTx[]): Promise<void>
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
 * A chain with a history a verifier must follow: four validators; a fifth added and one removed
 * by governance; issuances in batches and one by one; revocation, suspension and reinstatement;
 * an issuer key rotated, another declared compromised; an issuer deactivated. `options.small`
 * issues fewer certificates (for tests that need a chain, not its size).
 */
export async function makeProofChain(options: { small?: boolean } = {}): Promise<ProofChain> {
  const { chain, validators } = makeMultiValidatorChain(4, { params: { proposalTtlBlocks: 50 } })
  const opened = await openLedger(chain)
  const ledger = opened.ledger
  const keys = new Map(validators.map((v) => [v.id, v.key]))
  const certificates: ChainCertificate[] = []
  const scale = options.small ? 0.1 : 1
  const n = (count: number): number => Math.max(1, Math.round(count * scale))
  const pc: ProofChain = {
    chain,
    opened,
    ledger,
    certificates,
    keys,
    time: Date.now() - 3600 * SECOND,
    setChanges: [],
    async block(...txs) {
      pc.time += SECOND
      const proposed = await ledger.proposeBlock(txs.map((t) => decode(chain, t)), pc.time, chain.proposer)
      if (proposed.rejected.length > 0) throw new Error(`proof chain: refused ${proposed.rejected.map((r) => r.error.code).join(', ')}`)
      const { header } = proposed.writes.block
      await ledger.commitBlock(proposed.writes, fullCommit(chain, ledger, keys, proposed.writes.block))
      if (!Buffer.from(header.validatorsHash).equals(header.nextValidatorsHash)) pc.setChanges.push(header.height)
    },
  }
  const at = () => ({ now: pc.time })
  const v = (id: string): TestValidator => ({ id, key: keys.get(id)! })
  const issue = async (issuer: string, count: number, story: string, extra: { signWith?: KeyPair } = {}): Promise<ChainCertificate[]> => {
    const tx: IssuedTx = issueTx(chain, issuer, count, { ...at(), ...extra })
    await pc.block(tx)
    const files = certificateFiles(chain, tx, ledger.head.height).map((file, i) => ({ file, secret: tx.secrets[i]!, story }))
    certificates.push(...files)
    return files
  }
  const pass = async (action: GovAction, voters: string[]): Promise<void> => {
    const id = ledger.proposals.next
    await pc.block(proposeTx(chain, v(voters[0]!), action, at()))
    for (const voter of voters.slice(1)) {
      if ((await ledger.getProposal(id))?.status !== 'open') break
      await pc.block(voteTx(chain, v(voter), id, true, at()))
    }
    const status = (await ledger.getProposal(id))?.status
    if (status !== 'passed') throw new Error(`proof chain: proposal ${id} (${action.type}) is ${status}`)
  }

  const mois = await issue('kr.mois', n(100), 'batch of residence certificates')
  const jongno = await issue('kr.seoul.jongno', n(60), 'batch by a city hall')
  const family: ChainCertificate[] = []
  for (let i = 0; i < n(20); i++) family.push(...(await issue('kr.court.seoul', 1, 'one certificate per transaction')))

  const v5 = generateKeyPair()
  keys.set('validator-5', v5)
  await pass({ type: 'addValidator', id: 'validator-5', name: 'validator-5', publicKey: v5.publicKey, peerId: '12D3KooWTestvalidator-5' }, ['validator-1', 'validator-2', 'validator-3'])
  await pc.block()
  await pc.block()
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
