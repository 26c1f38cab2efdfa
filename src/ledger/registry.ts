import type { CertificateType, ChainParams, Genesis, IssuerInfo, ValidatorInfo } from '../core/genesis.js'

/**
 * Who may do what. Read from genesis for now; governance (a later issue) makes this state, read
 * "as of" a height, so every lookup already goes through this one object.
 */
export class Registry {
  readonly chainId: string
  readonly params: ChainParams
  private readonly types: ReadonlyMap<string, CertificateType>
  private readonly issuers: ReadonlyMap<string, IssuerInfo>
  private readonly validatorsById: ReadonlyMap<string, ValidatorInfo>

  constructor(readonly genesis: Genesis) {
    this.chainId = genesis.chainId
    this.params = genesis.params
    this.types = new Map(genesis.certificateTypes.map((t) => [t.id, t]))
    this.issuers = new Map(genesis.issuers.map((i) => [i.id, i]))
    this.validatorsById = new Map(genesis.validators.map((v) => [v.id, v]))
  }

  type(id: string): CertificateType | undefined {
    return this.types.get(id)
  }

  issuer(id: string): IssuerInfo | undefined {
    return this.issuers.get(id)
  }

  allIssuers(): readonly IssuerInfo[] {
    return this.genesis.issuers
  }

  allTypes(): readonly CertificateType[] {
    return this.genesis.certificateTypes
  }

  validator(id: string): ValidatorInfo | undefined {
    return this.validatorsById.get(id)
  }

  /** Validators for a height, sorted by public key (the proposer rotation order). */
  validators(_height: number): readonly ValidatorInfo[] {
    return [...this.genesis.validators].sort((a, b) => Buffer.compare(a.publicKey, b.publicKey))
  }


  /** May `signer` revoke, suspend or reinstate certificates of `type` issued by `issuer`? */
  mayChangeStatus(signer: string, issuer: string, type: string): boolean {
    return signer === issuer || (this.types.get(type)?.authorities.includes(signer) ?? false)
  }
}
