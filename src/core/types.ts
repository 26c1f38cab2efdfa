import type { Bytes } from './bytes.js'
import type { GovAction } from './governance.js'
import type { Vote } from './vote.js'

/** Times on chain are integer milliseconds since the Unix epoch (UTC). */
export type Millis = number

/**
 * The latest time a JavaScript Date holds (+275760-09-13). Every time a transaction carries is at
 * most this, so every view of it (an ISO date in the RPC, the CLI, the page) can be formatted.
 */
export const MAX_TIME_MS = 8.64e15

/**
 * What the chain records for one certificate. No personal data: the document is only present as
 * SHA-256(salt || document), and the salt lives only in the holder's certificate file.
 * The certificate id is SHA-256 of this record's canonical encoding.
 */
export interface CertificateRecord {
  readonly type: string
  readonly issuer: string
  readonly docHash: Bytes
  /** SHA-256 of the holder's wallet public key, when the certificate is bound to a wallet. */
  readonly holder?: Bytes
  readonly validFrom: Millis
  readonly validUntil: Millis
}

export const TX_KINDS = [
  'IssueCertificates',
  'RevokeCertificates',
  'SuspendCertificate',
  'ReinstateCertificate',
  'UpdateIssuerKeys',
  'Propose',
  'Vote',
  'ReportEquivocation',
] as const
export type TxKind = (typeof TX_KINDS)[number]

/** Kinds signed by an issuer with one of its current keys; the rest are signed by a validator. */
export const ISSUER_TX_KINDS: readonly TxKind[] = [
  'IssueCertificates',
  'RevokeCertificates',
  'SuspendCertificate',
  'ReinstateCertificate',
  'UpdateIssuerKeys',
]

export const REVOCATION_REASONS = [
  'superseded',
  'issued_in_error',
  'holder_request',
  'holder_deceased',
  'court_order',
  'fraud',
  'key_compromised',
  'other',
] as const
export type RevocationReason = (typeof REVOCATION_REASONS)[number]

export const SUSPENSION_REASONS = ['under_investigation', 'holder_request', 'court_order', 'other'] as const
export type SuspensionReason = (typeof SUSPENSION_REASONS)[number]

/**
 * Every body carries `expiresAt`: a transaction is valid only in blocks whose time is before it,
 * and it may be at most `params.txMaxTtlMs` in the future. Together with the committed
 * transaction index this is the replay rule (see README, "Replay protection").
 */
export interface IssueBody {
  readonly records: readonly CertificateRecord[]
  readonly expiresAt: Millis
}
export interface RevokeBody {
  readonly ids: readonly Bytes[]
  readonly reason: RevocationReason
  readonly note?: string
  readonly expiresAt: Millis
}
export interface SuspendBody {
  readonly id: Bytes
  readonly reason: SuspensionReason
  readonly note?: string
  readonly expiresAt: Millis
}
export interface ReinstateBody {
  readonly id: Bytes
  readonly note?: string
  readonly expiresAt: Millis
}

/**
 * An issuer's own key changes, signed by one of its current keys: keys to add, keys to retire
 * (what they signed stays valid), and keys declared compromised since a time (what they signed
 * from then on reads as revoked). A compromised key is retired too and may not sign this.
 */
export interface UpdateIssuerKeysBody {
  readonly add?: readonly Bytes[]
  readonly retire?: readonly Bytes[]
  readonly compromised?: readonly { readonly key: Bytes; readonly since: Millis }[]
  readonly expiresAt: Millis
}

/** A governance proposal; the proposing validator's approval is counted with it. */
export interface ProposeBody {
  readonly action: GovAction
  readonly note?: string
  readonly expiresAt: Millis
}

export interface VoteBody {
  /** Proposal number, as assigned when the proposal was committed. */
  readonly proposal: number
  readonly approve: boolean
  readonly expiresAt: Millis
}

/** Two conflicting signed votes of one validator at one (height, round, type). */
export interface ReportEquivocationBody {
  readonly first: Vote
  readonly second: Vote
  readonly expiresAt: Millis
}

export interface TxBodies {
  IssueCertificates: IssueBody
  RevokeCertificates: RevokeBody
  SuspendCertificate: SuspendBody
  ReinstateCertificate: ReinstateBody
  UpdateIssuerKeys: UpdateIssuerKeysBody
  Propose: ProposeBody
  Vote: VoteBody
  ReportEquivocation: ReportEquivocationBody
}

export type UnsignedTx = {
  [K in TxKind]: { readonly kind: K; readonly signer: string; readonly key: Bytes; readonly body: TxBodies[K] }
}[TxKind]

export type SignedTx = UnsignedTx & { readonly sig: Bytes }

/**
 * Version of the chain format: the header layout, the state root and its trees. Version 2 added
 * the validator-set hashes to the header and made the state light-verifiable (README, "Proofs").
 */
export const CHAIN_FORMAT_VERSION = 2

export interface BlockHeader {
  readonly version: typeof CHAIN_FORMAT_VERSION
  readonly chainId: string
  readonly height: number
  readonly time: Millis
  /** Hash of the previous block's header; the genesis hash for height 1. */
  readonly prevHash: Bytes
  /** Merkle root over the block's transaction ids, in block order. */
  readonly txRoot: Bytes
  readonly txCount: number
  /** State root after executing this block (README, "State root"). */
  readonly stateRoot: Bytes
  /** Validator id of the proposer. */
  readonly proposer: string
  /** Hash of the validator set of this height: the set whose precommits make up this block's commit. */
  readonly validatorsHash: Bytes
  /**
   * Hash of the validator set of the next height (the registry after the previous block): a light
   * verifier that trusts this header learns from it who signs the next one.
   */
  readonly nextValidatorsHash: Bytes
}

export interface Block {
  readonly header: BlockHeader
  /** Signed transactions, each in its canonical encoding. */
  readonly txs: readonly Bytes[]
}

export interface CommitSignature {
  readonly validator: string
  readonly sig: Bytes
}

/**
 * More than two thirds of the validators' precommit signatures for one block at (height, round):
 * the proof that the block is final. Stored and served with the block.
 */
export interface Commit {
  readonly height: number
  readonly round: number
  readonly blockHash: Bytes
  readonly signatures: readonly CommitSignature[]
}

/** A block with the commit that finalized it: what a node stores, serves and syncs. */
export interface FinalizedBlock {
  readonly block: Block
  readonly commit: Commit
}

export type CertificateState = 'active' | 'revoked' | 'suspended'

/**
 * Chain logic's answer about a gossiped message (the p2p layer maps it to libp2p's verdicts):
 * accept and forward; ignore (depends on local state: stale, future, known); reject (invalid for
 * everyone: malformed, bad signature, not a member), which lowers the sender's peer score.
 */
export type GossipVerdict =
  | { readonly result: 'accept' }
  | {
      readonly result: 'ignore' | 'reject'
      readonly reason: string
      /** Stable, low-cardinality reason code (metrics label). */
      readonly code?: string
      /**
       * An ignore that still cost work the sender should pay for (it failed a check that depends
       * on state, or could not be checked at all): charged to the peer's budget, never forwarded.
       * A reject is always charged.
       */
      readonly charge?: boolean
      /** Failures the message holds (a transaction bundle's refused transactions), each charged; 1 when absent. */
      readonly units?: number
    }
