export { createRpcServer, MAX_STATUS_BATCH, type RpcOptions, type RpcServer } from './server.js'
export { FAILURE_COST, MAX_JSON_DEPTH, type RpcLimits } from './limits.js'
export { MAX_PROPOSALS_LISTED, PROPOSAL_STATUSES } from './registry-routes.js'
export type { RpcBackend, RpcDeps, NodeStatus, StatusResponse, TxOutcome } from './backend.js'
export {
  RpcClient,
  RpcError,
  type TxStatus,
  type BatchTxStatus,
  type VerifyResponse,
  type VerifyCheck,
  type ValidatorJson,
  type RegisteredValidatorJson,
  type IssuerJson,
  type ProposalJson,
  type ValidatorsResponse,
  type EvidenceResponse,
} from './client.js'
