/**
 * certchain as a library: what an agency's back office or a bank's intake system needs to issue,
 * revoke and verify certificates against a certchain node. The CLI is built on the same calls.
 */
export {
  prepareIssuance,
  certificateFiles,
  prepareRevocation,
  prepareSuspension,
  prepareReinstatement,
  prepareProposal,
  prepareVote,
  prepareIssuerKeyUpdate,
  DEFAULT_TX_TTL_MS,
  type IssuerIdentity,
  type NewCertificate,
  type PreparedIssuance,
  type SignedTransaction,
  type StatusChangeOptions,
  type ValidatorIdentity,
  type IssuerKeyChanges,
  type TxTimingOptions,
  credentialFor,
  signCredential,
  didKey,
  ed25519Multikey,
  CERTCHAIN_CONTEXT,
  CERTCHAIN_CONTEXT_URL,
  CERTCHAIN_STATUS_TYPE,
  type Credential,
  type VerifiableCredential,
  type CredentialOptions,
  type SignCredentialOptions,
} from './client/index.js'
export { GOV_ACTION_TYPES, GOVERNABLE_PARAMS, type GovAction, type GovActionType } from './core/governance.js'
export { generateKeyPair, sign, verify, type KeyPair } from './core/crypto.js'
export { loadKeyFile, saveKeyFile, newKeyFile, parseKeyFile, peerIdOf, type KeyFile } from './node/keys.js'
export {
  certificateId,
  documentHash,
  newSalt,
  certificateFileToJson,
  certificateFileFromJson,
  checkCertificateFile,
  CERTIFICATE_FILE_FORMAT,
  type CertificateFile,
  type CertificateFileJson,
} from './core/certificate.js'
export { toHex, fromHex, toBase64, fromBase64 } from './core/bytes.js'
export { sha256 } from './core/hash.js'
export { CertchainError, ErrorCodes, type ErrorCode } from './core/errors.js'
export type { CertificateRecord, RevocationReason, SuspensionReason, TxKind } from './core/types.js'
export { REVOCATION_REASONS, SUSPENSION_REASONS } from './core/types.js'
export {
  RpcClient,
  RpcError,
  type TxStatus,
  type VerifyResponse,
  type VerifyCheck,
  type NodeStatus,
  type StatusResponse,
  type ValidatorsResponse,
  type IssuerJson,
  type ProposalJson,
  type EvidenceResponse,
} from './rpc/index.js'
export {
  verifyProof,
  proofFromJson,
  proofToJson,
  trustFromGenesis,
  trustFromCheckpoint,
  trustFromJson,
  PROOF_FORMAT,
  CHECKPOINT_FORMAT,
  type ProofBundle,
  type Trust,
  type LightResult,
  type LightCheck,
  type VerifyProofOptions,
} from './light/index.js'
export { CertchainNode } from './node/node.js'
