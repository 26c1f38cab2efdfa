import { bytesEqual, type Bytes } from '../core/bytes.js'
import { validatorSetBytes } from '../core/header.js'
import { merkleProofs, merkleRoot } from '../core/merkle.js'
import { REGISTRY_SECTIONS, registrySectionBytes, registryValueBytes, type IssuerKey, type IssuerRecord } from '../core/state.js'
import type { CertificateType, ChainParams, Genesis, MemberInfo, ValidatorInfo } from '../core/genesis.js'
import { sha256 } from '../core/hash.js'
import type { VoteType } from '../core/vote.js'

export type { IssuerKey, IssuerRecord } from '../core/state.js'

export interface ValidatorRecord extends ValidatorInfo {
  readonly addedHeight: number
  /** Height of the block that committed evidence against it; out of the set two heights later. */
  readonly jailedHeight?: number
  /**
   * Misbehaviour at or below this height is already punished (by the jailing at this height):
   * older evidence cannot jail it again once it is reinstated.
   */
  readonly evidenceFloor?: number
}

/** A validator voting at some height, with the height its current registration began. */
export interface ActiveValidator extends ValidatorInfo {
  readonly addedHeight: number
}

/** Committed equivocation evidence, by the votes it proves conflicting. */
export interface CommittedEvidence {
  readonly validator: string
  readonly height: number
  readonly round: number
  readonly type: VoteType
  /** Height of the block that carried it. */
  readonly committedHeight: number
}

/**
 * Who may do what, as of one height: the part of the state governance changes. Lists are kept
 * sorted by id so the encoding (and its hash, part of the state root) is canonical.
 */
export interface RegistryState {
  readonly params: ChainParams
  readonly types: readonly CertificateType[]
  readonly issuers: readonly IssuerRecord[]
  readonly validators: readonly ValidatorRecord[]
  readonly members: readonly MemberInfo[]
  readonly evidence: readonly CommittedEvidence[]
}

const byId = <T extends { id: string }>(a: T, b: T): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

export function sortedById<T extends { id: string }>(list: readonly T[]): T[] {
  return [...list].sort(byId)
}

export function registryStateFromGenesis(genesis: Genesis): RegistryState {
  return {
    params: genesis.params,
    types: sortedById(genesis.certificateTypes),
    issuers: sortedById(
      genesis.issuers.map((i) => ({
        id: i.id,
        name: i.name,
        types: i.types,
        active: i.active,
        keys: [{ publicKey: i.publicKey, addedHeight: 0 }],
        addedHeight: 0,
        ...(i.active ? {} : { deactivatedHeight: 0 }),
      })),
    ),
    validators: sortedById(genesis.validators.map((v) => ({ id: v.id, name: v.name, publicKey: v.publicKey, peerId: v.peerId, addedHeight: 0 }))),
    members: sortedById(genesis.members),
    evidence: [],
  }
}

export function isCurrentKey(key: IssuerKey): boolean {
  return key.retiredHeight === undefined
}

/** A registry entry with its audit path in its section's tree and the section's path to the registry root. */
export interface RegistryEntryProof<T> {
  readonly entry: T
  readonly index: number
  readonly count: number
  readonly path: readonly Bytes[]
  readonly sectionPath: readonly Bytes[]
}

interface SectionTree {
  readonly root: Bytes
  readonly leaves: readonly Bytes[]
  proofs: Bytes[][] | undefined
}

/**
 * A read-only view of one {@link RegistryState} with indexes. Execution of block h reads the
 * registry after block h-1; consensus at height h uses the validators of the registry after
 * block h-2 (changes take effect two heights after the block that makes them).
 */
export class Registry {
  private readonly typesById: ReadonlyMap<string, CertificateType>
  private readonly issuersById: ReadonlyMap<string, IssuerRecord>
  private readonly validatorsById: ReadonlyMap<string, ValidatorRecord>
  private readonly active: readonly ActiveValidator[]
  /** Issuers with a key declared compromised: every certificate read checks this first. */
  private readonly compromisedIssuers: ReadonlySet<string>
  private hashCache: Bytes | undefined
  private activeSetHashCache: Bytes | undefined
  private readonly sectionTrees = new Map<'types' | 'issuers', SectionTree>()
  private sectionPaths: Bytes[][] | undefined

  constructor(
    readonly chainId: string,
    readonly state: RegistryState,
  ) {
    this.typesById = new Map(state.types.map((t) => [t.id, t]))
    this.issuersById = new Map(state.issuers.map((i) => [i.id, i]))
    this.validatorsById = new Map(state.validators.map((v) => [v.id, v]))
    this.compromisedIssuers = new Set(state.issuers.filter((i) => i.keys.some((k) => k.compromisedSince !== undefined)).map((i) => i.id))
    this.active = state.validators
      .filter((v) => v.jailedHeight === undefined)
      .map(({ id, name, publicKey, peerId, addedHeight }) => ({ id, name, publicKey, peerId, addedHeight }))
      .sort((a, b) => Buffer.compare(a.publicKey, b.publicKey))
  }

  get params(): ChainParams {
    return this.state.params
  }

  /** The registry root: its part of the state root (README, "Registry proofs"). */
  get hash(): Bytes {
    return (this.hashCache ??= merkleRoot(this.sectionHashes()))
  }

  /** Hash of the set voting with this registry (the set of the height two after it), as headers commit to it. */
  get activeSetHash(): Bytes {
    return (this.activeSetHashCache ??= sha256(validatorSetBytes(this.active)))
  }

  /** One issuer's entry with its paths to the registry root; undefined when not registered. */
  issuerProof(id: string): RegistryEntryProof<IssuerRecord> | undefined {
    return this.entryProof('issuers', this.state.issuers, id)
  }

  /** One certificate type's entry with its paths to the registry root; undefined when unknown. */
  typeProof(id: string): RegistryEntryProof<CertificateType> | undefined {
    return this.entryProof('types', this.state.types, id)
  }

  private sectionHashes(): Bytes[] {
    return REGISTRY_SECTIONS.map((section) => {
      if (section === 'types' || section === 'issuers') {
        const tree = this.sectionTree(section)
        return sha256(registrySectionBytes(tree.leaves.length, tree.root))
      }
      return sha256(registryValueBytes(this.state[section]))
    })
  }

  private sectionTree(section: 'types' | 'issuers'): SectionTree {
    let tree = this.sectionTrees.get(section)
    if (!tree) {
      const leaves = (this.state[section] as readonly unknown[]).map(registryValueBytes)
      tree = { root: merkleRoot(leaves), leaves, proofs: undefined }
      this.sectionTrees.set(section, tree)
    }
    return tree
  }

  private entryProof<T extends { id: string }>(section: 'types' | 'issuers', list: readonly T[], id: string): RegistryEntryProof<T> | undefined {
    const index = list.findIndex((e) => e.id === id)
    if (index < 0) return undefined
    const tree = this.sectionTree(section)
    // Proofs are derived for the whole section once per registry: a registry changes rarely, proofs are asked often.
    tree.proofs ??= merkleProofs(tree.leaves)
    this.sectionPaths ??= merkleProofs(this.sectionHashes())
    return {
      entry: list[index]!,
      index,
      count: list.length,
      path: tree.proofs[index]!,
      sectionPath: this.sectionPaths[REGISTRY_SECTIONS.indexOf(section)]!,
    }
  }

  type(id: string): CertificateType | undefined {
    return this.typesById.get(id)
  }

  issuer(id: string): IssuerRecord | undefined {
    return this.issuersById.get(id)
  }

  /** Whether any key of `issuer` was ever declared compromised. */
  hasCompromisedKey(issuer: string): boolean {
    return this.compromisedIssuers.has(issuer)
  }

  /** The issuer's entry for `publicKey`, current or not. */
  issuerKey(issuer: string, publicKey: Bytes): IssuerKey | undefined {
    return this.issuersById.get(issuer)?.keys.find((k) => bytesEqual(k.publicKey, publicKey))
  }

  allIssuers(): readonly IssuerRecord[] {
    return this.state.issuers
  }

  allTypes(): readonly CertificateType[] {
    return this.state.types
  }

  members(): readonly MemberInfo[] {
    return this.state.members
  }

  /** Every registered validator, jailed ones included. */
  validatorRecords(): readonly ValidatorRecord[] {
    return this.state.validators
  }

  validator(id: string): ValidatorRecord | undefined {
    return this.validatorsById.get(id)
  }

  /** Validators that vote and propose (not jailed), sorted by public key: the proposer rotation order. */
  activeValidators(): readonly ActiveValidator[] {
    return this.active
  }

  /** Peer ids allowed to connect: every registered validator (jailed ones still follow) and member. */
  peerIds(): Set<string> {
    return new Set([...this.state.validators.map((v) => v.peerId), ...this.state.members.map((m) => m.peerId)])
  }

  /** May `signer` revoke, suspend or reinstate certificates of `type` issued by `issuer`? */
  mayChangeStatus(signer: string, issuer: string, type: string): boolean {
    return signer === issuer || (this.typesById.get(type)?.authorities.includes(signer) ?? false)
  }
}
