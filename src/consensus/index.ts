export {
  ConsensusEngine,
  DEFAULT_ENGINE_OPTIONS,
  systemClock,
  type ConsensusApp,
  type ConsensusSigner,
  type EngineOptions,
  type EngineDeps,
  type Clock,
  type MessageCheck,
  type Draft,
} from './engine.js'
export { blockTimeBounds, LedgerApp, type FinalizedEvent, type LedgerAppOptions } from './app.js'
export { SignerGuard } from './signer.js'
export { ConsensusWal } from './wal.js'
export { VoteSet, quorum, honestThreshold, type Equivocation } from './vote-set.js'
export {
  decodeMessage,
  encodeMessage,
  signBytesOf,
  verifyCommit,
  voteSignBytes,
  proposalSignBytes,
  type ConsensusMessage,
  type Proposal,
  type Vote,
  type VoteType,
} from './messages.js'
export { BlockSync, decodeBlocksAnswer, decodeStatusAnswer, DEFAULT_SYNC_OPTIONS, type SyncNetwork, type SyncOptions } from './sync.js'
export { validateBlockGossip, validateConsensusGossip } from './gossip.js'
