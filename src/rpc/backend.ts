import type { Logger } from 'pino'
import type { Bytes } from '../core/bytes.js'
import type { CertchainError, ErrorCode } from '../core/errors.js'
import type { Ledger } from '../ledger/index.js'
import type { Admitted, Mempool } from '../mempool/index.js'
import type { Metrics } from '../node/metrics.js'
import type { Audience } from '../wallet/presentation.js'
import type { PresentationRequests } from '../wallet/requests.js'

export interface NodeStatus {
  readonly chainId: string
  /** SHA-256 of the genesis document: operators compare it with the one their coordinator published. */
  readonly genesisHash: string
  readonly nodeId: string
  readonly moniker: string
  readonly height: number
  readonly latestBlockHash: string
  readonly latestBlockTime: string
  readonly stateRoot: string
  readonly catchingUp: boolean
  /** Highest height a peer reported (equals height when not behind). */
  readonly targetHeight: number
  readonly validator: boolean
  readonly validatorId: string | null
  readonly peers: number
  readonly mempool: { readonly txs: number; readonly bytes: number }
  readonly certificates: number
  readonly transactions: number
  /** Lowest height whose block body this node serves (1 unless pruned or state-synced). */
  readonly baseHeight: number
  /** Joining by state sync: phase ('off' when not used), chunks, the peer and height of the snapshot. */
  readonly stateSync: {
    readonly phase: string
    readonly height: number
    readonly chunksDone: number
    readonly chunksTotal: number
    readonly peer: string | null
  }
}

/** What `GET /v1/status` answers: the node's status and counts the RPC reads from the ledger. */
export interface StatusResponse extends NodeStatus {
  /** Validators voting at the next height. */
  readonly validators: number
  readonly openProposals: number
}

export type TxOutcome =
  | { readonly status: 'committed'; readonly height: number; readonly index: number }
  | { readonly status: 'rejected'; readonly code: ErrorCode; readonly message: string }

/** What the RPC needs from a node. The node implements it; tests can too. */
export interface RpcBackend {
  readonly ledger: Ledger
  readonly mempool: Mempool
  readonly metrics: Metrics
  status(): NodeStatus
  submitTx(bytes: Bytes): Promise<Admitted>
  /**
   * Admits many transactions at once (their signatures verified together), answering each in
   * order: admitted, or its refusal. `onAdmitted` hears each admitted entry as soon as it is.
   */
  submitBatch(entries: readonly Bytes[], onAdmitted?: (index: number, admitted: Admitted) => void): Promise<(Admitted | CertchainError)[]>
  /** Settles when the transaction is committed or refused by a block; undefined on timeout. */
  waitForCommit(idHex: string, timeoutMs: number): Promise<TxOutcome | undefined>
  now(): number
  /** The presentation requests this node issued (single-use nonces, durable). */
  readonly presentations: PresentationRequests
  /** Who this node is to a holder: the configured verifier name and the node id. */
  audience(): Audience
  /** The genesis document as the node read it (light verifiers' trust anchor). */
  readonly genesisDocument: unknown
}

export interface RpcDeps {
  readonly backend: RpcBackend
  readonly logger: Logger
  readonly metrics: Metrics
}
