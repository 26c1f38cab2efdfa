export { createRpcServer, MAX_STATUS_BATCH, type RpcOptions, type RpcServer } from './server.js'
export type { RpcBackend, RpcDeps, NodeStatus, TxOutcome } from './backend.js'
export { RpcClient, RpcError, type TxStatus, type VerifyResponse, type VerifyCheck } from './client.js'
