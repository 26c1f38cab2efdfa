import type { Bytes } from '../core/bytes.js'
import type { CertificateType } from '../core/genesis.js'
import type { SparsePath } from '../core/merkle-path.js'
import type { HeightRecord, IssuerRecord, StateRoots, StatusLeafValue } from '../core/state.js'
import type { BlockHeader, Commit } from '../core/types.js'
import { parseJson, toJson, type Schema } from './json.js'

/**
 * `certchain/proof@1`: what a verifier needs to check one certificate against a trust anchor (the
 * genesis or a checkpoint) without any network access (README, "Proof bundles"). Nothing personal
 * is in it: no document, no salt.
 */
export const PROOF_FORMAT = 'certchain/proof@1'

/** A member of a validator set as headers commit to it. */
export interface SetMember {
  readonly id: string
  readonly publicKey: Bytes
}

/** A header whose nextValidatorsHash differs from its validatorsHash, with its commit and the next set. */
export interface ValidatorChange {
  readonly header: BlockHeader
  readonly commit: Commit
  readonly nextValidators: readonly SetMember[]
}

/** One registry entry with its path in its section's tree and the section's path to the registry root. */
export interface EntryProof<T> {
  readonly entry: T
  readonly index: number
  readonly count: number
  readonly path: readonly Bytes[]
  readonly sectionPath: readonly Bytes[]
}

export interface ProofBundle {
  readonly chainId: string
  readonly certificateId: Bytes
  /** The recent header H and its commit. */
  readonly header: BlockHeader
  readonly commit: Commit
  /** Every validator-set change from genesis (or `?from`) up to H, ascending. */
  readonly validatorChanges: readonly ValidatorChange[]
  /** The preimage of H's state root. */
  readonly state: StateRoots
  /** The certificate's status leaf and its path in H's status tree. */
  readonly status: { readonly leaf: StatusLeafValue; readonly path: SparsePath }
  /** The issuer's entry as of H (key compromise is read from it); absent when H's registry is the one of issuance. */
  readonly issuer?: EntryProof<IssuerRecord>
  /** Facts as of issuance, proven through H's height history. */
  readonly issuance: {
    /** The state after the block before the issuance: what the issuing block was checked against. */
    readonly record: HeightRecord
    readonly path: SparsePath
    readonly state: StateRoots
    readonly issuer: EntryProof<IssuerRecord>
    readonly type: EntryProof<CertificateType>
  }
}

const MAX_SET = 1024
const MAX_PATH = 64

const HEADER: Schema = {
  fields: {
    version: 'uint',
    chainId: 'string',
    height: 'uint',
    time: 'uint',
    prevHash: 'bytes32',
    txRoot: 'bytes32',
    txCount: 'uint',
    stateRoot: 'bytes32',
    proposer: 'string',
    validatorsHash: 'bytes32',
    nextValidatorsHash: 'bytes32',
  },
}
const COMMIT: Schema = {
  fields: {
    height: 'uint',
    round: 'uint',
    blockHash: 'bytes32',
    signatures: { list: { fields: { validator: 'string', sig: 'bytes64' } }, max: MAX_SET },
  },
}
const SET: Schema = { list: { fields: { id: 'string', publicKey: 'bytes32' } }, max: MAX_SET }
const STATE: Schema = {
  fields: { certificateCount: 'uint', certificates: 'bytes32', history: 'bytes32', proposals: 'bytes32', registry: 'bytes32' },
}
const SPARSE: Schema = { fields: { index: 'uint', present: 'uint', siblings: { list: 'bytes32', max: MAX_PATH } } }
const HASHES: Schema = { list: 'bytes32', max: MAX_PATH }
const entryProof = (entry: Schema): Schema => ({ fields: { entry, index: 'uint', count: 'uint', path: HASHES, sectionPath: HASHES } })
const ISSUER: Schema = entryProof({
  fields: {
    id: 'string',
    name: 'string',
    types: { list: 'string', max: 100_000 },
    active: 'bool',
    keys: {
      list: {
        fields: { publicKey: 'bytes32', addedHeight: 'uint', retiredHeight: 'uint', compromisedSince: 'uint', compromisedHeight: 'uint' },
        optional: ['retiredHeight', 'compromisedSince', 'compromisedHeight'],
      },
      max: 64,
    },
    addedHeight: 'uint',
    deactivatedHeight: 'uint',
  },
  optional: ['deactivatedHeight'],
})
const TYPE: Schema = entryProof({
  fields: { id: 'string', nameKo: 'string', nameEn: 'string', validityDays: 'uint', authorities: { list: 'string', max: MAX_SET } },
})
const BUNDLE: Schema = {
  fields: {
    format: { enum: [PROOF_FORMAT] },
    chainId: 'string',
    certificateId: 'bytes32',
    header: HEADER,
    commit: COMMIT,
    validatorChanges: { list: { fields: { header: HEADER, commit: COMMIT, nextValidators: SET } }, max: 100_000 },
    state: STATE,
    status: {
      fields: {
        leaf: {
          fields: {
            id: 'bytes32',
            tx: 'bytes32',
            key: 'bytes32',
            issuedHeight: 'uint',
            issuedTime: 'uint',
            state: { enum: ['active', 'revoked', 'suspended'] },
            since: 'uint',
            sinceTime: 'uint',
            reason: 'string',
          },
          optional: ['reason'],
        },
        path: SPARSE,
      },
    },
    issuer: ISSUER,
    issuance: {
      fields: { record: { fields: { height: 'uint', time: 'uint', stateRoot: 'bytes32' } }, path: SPARSE, state: STATE, issuer: ISSUER, type: TYPE },
    },
  },
  optional: ['issuer'],
}

/** Parses a proof bundle (already JSON-parsed); INVALID_PROOF names the bad field. */
export function proofFromJson(json: unknown): ProofBundle {
  const { format: _format, ...bundle } = parseJson<ProofBundle & { format: string }>(json, BUNDLE, 'proof', 'INVALID_PROOF')
  return bundle
}

export function proofToJson(bundle: ProofBundle): Record<string, unknown> {
  return { format: PROOF_FORMAT, ...(toJson(bundle) as Record<string, unknown>) }
}

/** Trusted set members from their JSON form (a checkpoint's `validators`). */
export function setFromJson(json: unknown, path: string): SetMember[] {
  return parseJson<SetMember[]>(json, SET, path, 'INVALID_PROOF')
}
