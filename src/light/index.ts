// The light verifier: pure and browser-safe (no Node built-ins; SHA-256 and Ed25519 from noble).
// A verifier needs only the chain's genesis (or a checkpoint), a certificate file and its proof.
export { certificateFileFromJson, certificateFileToJson, type CertificateFile, type CertificateFileJson } from '../core/certificate-file.js'
export { CertchainError } from '../core/errors.js'
export { sha256, verifyEd25519 } from './crypto.js'
export { PROOF_FORMAT, proofFromJson, proofToJson, type EntryProof, type ProofBundle, type SetMember, type ValidatorChange } from './proof.js'
export { CHECKPOINT_FORMAT, checkpointToJson, trustFromCheckpoint, trustFromGenesis, trustFromJson } from './trust.js'
export {
  followSets,
  headerHash,
  MAX_FUTURE_SKEW_MS,
  verifyProof,
  type LightCheck,
  type LightCheckName,
  type LightResult,
  type LightStatus,
  type Trust,
  type VerifyProofOptions,
} from './verify.js'
