/**
 * The genesis ceremony: each institution creates its keys on its own machine and hands over only
 * an identity file (public keys and peer id); a coordinator assembles genesis from those files;
 * every operator checks the genesis hash before starting. Everything here but exportIdentity is a
 * pure function over the genesis JSON document (the shape of config/genesis.example.json).
 */
import { fromHex, toHex } from '../core/bytes.js'
import { PUBLIC_KEY_LENGTH } from '../core/crypto.js'
import { CertchainError } from '../core/errors.js'
import { checkGenesis, DEFAULT_CHAIN_PARAMS, type ChainParams } from '../core/genesis.js'
import { homePath, loadConfig } from './config.js'
import { loadKeyFile, peerIdOf } from './keys.js'

export interface CertificateTypeEntry {
  readonly id: string
  readonly nameKo: string
  readonly nameEn: string
  readonly validityDays: number
  readonly authorities: readonly string[]
}

export interface IssuerEntry {
  readonly id: string
  readonly name: string
  readonly publicKey: string
  readonly types: readonly string[]
  readonly active?: boolean
}

export interface ValidatorEntry {
  readonly id: string
  readonly name: string
  readonly publicKey: string
  readonly peerId: string
}

export interface MemberEntry {
  readonly id: string
  readonly name: string
  readonly peerId: string
}

/** A genesis document as JSON (keys as hex, time as ISO 8601), as written to genesis.json. */
export interface GenesisDocument {
  readonly chainId: string
  readonly genesisTime: string
  readonly params?: Partial<ChainParams>
  readonly certificateTypes: readonly CertificateTypeEntry[]
  readonly issuers: readonly IssuerEntry[]
  readonly validators: readonly ValidatorEntry[]
  readonly members: readonly MemberEntry[]
}

type EntryList = 'certificateTypes' | 'issuers' | 'validators' | 'members'
const ENTRY_LISTS: readonly EntryList[] = ['certificateTypes', 'issuers', 'validators', 'members']

export const IDENTITY_FORMAT = 'certchain/identity@1'

/** What an institution hands the coordinator: public data only, never a secret key. */
export interface Identity {
  readonly format: typeof IDENTITY_FORMAT
  readonly id: string
  readonly name: string
  /** libp2p peer id of the node key: the connection gater admits only registered peer ids. */
  readonly peerId: string
  /** Block signing key; absent when the node is a member (initialised with --no-validator). */
  readonly validatorPublicKey?: string
  /** Public keys of the issuer keys the institution created locally, by issuer id. */
  readonly issuerKeys?: Readonly<Record<string, string>>
}

/** The part of an identity a node entry needs; createTestnet also registers plain template members. */
export type NodeIdentity = Pick<Identity, 'id' | 'name' | 'peerId' | 'validatorPublicKey'>

/**
 * An empty genesis with every chain parameter written out, so that the chain's rules never depend
 * on the defaults of whichever certchain version reads the file later.
 */
export function newGenesisDocument(options: { chainId: string; genesisTime?: string; params?: Partial<ChainParams> }): GenesisDocument {
  const doc: GenesisDocument = {
    chainId: options.chainId,
    genesisTime: options.genesisTime ?? new Date().toISOString(),
    params: { ...DEFAULT_CHAIN_PARAMS, ...options.params },
    certificateTypes: [],
    issuers: [],
    validators: [],
    members: [],
  }
  // An empty document lacks a validator by design; only the fields set here can be wrong.
  const problems = checkGenesis(doc).problems.filter((p) => /^(chainId|genesisTime|params\.)/.test(p))
  if (problems.length > 0) throw new CertchainError('INVALID_GENESIS', `cannot create genesis: ${problems.join('; ')}`)
  return { ...doc, genesisTime: new Date(Date.parse(doc.genesisTime)).toISOString() }
}

/**
 * Checks the outline of a genesis document read from a file (an object whose four lists are
 * lists of objects) so entries can be appended to it. Everything else is checkGenesis's job.
 */
export function asGenesisDocument(json: unknown): GenesisDocument {
  if (!isObject(json)) throw new CertchainError('INVALID_GENESIS', 'genesis must be a JSON object')
  const problems: string[] = []
  for (const field of ['chainId', 'genesisTime']) if (typeof json[field] !== 'string') problems.push(`${field} must be a string`)
  for (const list of ENTRY_LISTS) {
    const v = json[list]
    if (!Array.isArray(v) || !v.every(isObject)) problems.push(`${list} must be a list of objects`)
  }
  if (problems.length > 0) throw new CertchainError('INVALID_GENESIS', `not a genesis document: ${problems.join('; ')}`)
  return json as unknown as GenesisDocument
}

export function addType(
  doc: GenesisDocument,
  type: { id: string; nameKo: string; nameEn: string; validityDays: number; authorities?: readonly string[] },
): GenesisDocument {
  const conflicts = doc.certificateTypes.some((t) => t.id === type.id) ? [`certificate type "${type.id}" already exists`] : []
  // Authorities need not be issuers yet: an issuer may only list registered types, so a type and
  // the issuer that is its authority are added type first. `genesis validate` reports leftovers.
  const entry: CertificateTypeEntry = {
    id: type.id,
    nameKo: type.nameKo,
    nameEn: type.nameEn,
    validityDays: type.validityDays,
    authorities: [...(type.authorities ?? [])],
  }
  return append(doc, 'certificateTypes', entry, 'certificate type', conflicts)
}

export function addIssuer(doc: GenesisDocument, issuer: { id: string; name: string; publicKey: string; types: readonly string[] }): GenesisDocument {
  const publicKey = issuer.publicKey.toLowerCase()
  const conflicts = [
    ...(doc.issuers.some((i) => i.id === issuer.id) ? [`issuer "${issuer.id}" already exists`] : []),
    ...keyConflicts(doc, publicKey),
  ]
  return append(doc, 'issuers', { id: issuer.id, name: issuer.name, publicKey, types: [...issuer.types] }, 'issuer', conflicts)
}

export function addValidator(doc: GenesisDocument, identity: NodeIdentity): GenesisDocument {
  if (identity.validatorPublicKey === undefined) {
    throw new CertchainError(
      'INVALID_GENESIS',
      `cannot add validator "${identity.id}": its identity has no validatorPublicKey (the node has no validator key); add it as a member instead`,
    )
  }
  const publicKey = identity.validatorPublicKey.toLowerCase()
  const conflicts = [...nodeConflicts(doc, identity), ...keyConflicts(doc, publicKey)]
  // Built field by field: an identity's issuer keys belong in issuers, never in a node entry.
  const entry: ValidatorEntry = { id: identity.id, name: identity.name, publicKey, peerId: identity.peerId }
  return append(doc, 'validators', entry, 'validator', conflicts)
}

export function addMember(doc: GenesisDocument, identity: NodeIdentity): GenesisDocument {
  const entry: MemberEntry = { id: identity.id, name: identity.name, peerId: identity.peerId }
  return append(doc, 'members', entry, 'member', nodeConflicts(doc, identity))
}

/**
 * Appends an entry (entries keep the order they were added in, so adding never moves an existing
 * one) and refuses it, naming every reason at once, when it conflicts with registered entries or
 * checkGenesis finds a problem in its own fields: core names those `list[i].field …`. Problems
 * elsewhere (no validator yet, an authority not registered yet) are normal while the document is
 * being assembled; `genesis validate` reports them.
 */
function append<L extends EntryList>(
  doc: GenesisDocument,
  list: L,
  entry: GenesisDocument[L][number],
  what: string,
  conflicts: readonly string[],
): GenesisDocument {
  const next: GenesisDocument = { ...doc, [list]: [...doc[list], entry] }
  const where = `${list}[${doc[list].length}].`
  const own = checkGenesis(next)
    .problems.filter((p) => p.startsWith(where))
    .map((p) => p.slice(where.length))
  const problems = [...own, ...conflicts]
  if (problems.length > 0) throw new CertchainError('INVALID_GENESIS', `cannot add ${what} "${entry.id}": ${problems.join('; ')}`)
  return next
}

/** Node ids and peer ids are one namespace across validators and members (the gater admits peer ids). */
function nodeConflicts(doc: GenesisDocument, node: NodeIdentity): string[] {
  const nodes = [...doc.validators.map((v) => ({ ...v, role: 'validator' })), ...doc.members.map((m) => ({ ...m, role: 'member' }))]
  const conflicts: string[] = []
  const sameId = nodes.find((n) => n.id === node.id)
  if (sameId) conflicts.push(`node id "${node.id}" is already registered for ${sameId.role} "${sameId.id}"`)
  const samePeer = nodes.find((n) => n.peerId === node.peerId)
  if (samePeer) conflicts.push(`peer id ${node.peerId} is already registered for ${samePeer.role} "${samePeer.id}"`)
  return conflicts
}

/**
 * One key, one role: every key in a ceremony is freshly generated, so a key registered twice is a
 * copy-paste mistake, and a leaked key must not be both a validator's and an issuer's.
 */
function keyConflicts(doc: GenesisDocument, publicKey: string): string[] {
  const owners = [
    ...doc.issuers.map((i) => ({ key: i.publicKey, owner: `issuer "${i.id}"` })),
    ...doc.validators.map((v) => ({ key: v.publicKey, owner: `validator "${v.id}"` })),
  ]
  // String(): entries of a document read from a file are only outline-checked (asGenesisDocument).
  const same = owners.find((o) => String(o.key).toLowerCase() === publicKey)
  return same ? [`public key ${publicKey} is already registered for ${same.owner}`] : []
}

/** Reads and checks an identity file's JSON; every bad field is named in one INVALID_IDENTITY error. */
export function parseIdentity(json: unknown, source = 'identity'): Identity {
  const fail = (problems: readonly string[]): never => {
    throw new CertchainError('INVALID_IDENTITY', `${source} is not a valid identity: ${problems.join('; ')}`)
  }
  if (!isObject(json)) return fail(['not a JSON object'])
  const problems: string[] = []
  const known = ['format', 'id', 'name', 'peerId', 'validatorPublicKey', 'issuerKeys']
  for (const k of Object.keys(json)) if (!known.includes(k)) problems.push(`${k} is not a known field`)
  if (json.format !== IDENTITY_FORMAT) problems.push(`format must be "${IDENTITY_FORMAT}"`)
  const text = (k: string): string => {
    const v = json[k]
    if (typeof v === 'string' && v.length > 0) return v
    problems.push(`${k} must be a non-empty string`)
    return ''
  }
  const key = (v: unknown, what: string): string => {
    if (typeof v !== 'string') {
      problems.push(`${what} must be a hex string`)
      return ''
    }
    try {
      return toHex(fromHex(v, what, PUBLIC_KEY_LENGTH))
    } catch (err) {
      problems.push((err as Error).message)
      return ''
    }
  }
  const id = text('id')
  const name = text('name')
  const peerId = text('peerId')
  const validatorPublicKey = json.validatorPublicKey === undefined ? undefined : key(json.validatorPublicKey, 'validatorPublicKey')
  let issuerKeys: Record<string, string> | undefined
  if (json.issuerKeys !== undefined) {
    if (!isObject(json.issuerKeys)) problems.push('issuerKeys must be an object of issuer id to public key')
    else issuerKeys = Object.fromEntries(Object.entries(json.issuerKeys).map(([issuer, k]) => [issuer, key(k, `issuerKeys["${issuer}"]`)]))
  }
  if (problems.length > 0) return fail(problems)
  return {
    format: IDENTITY_FORMAT,
    id,
    name,
    peerId,
    ...(validatorPublicKey === undefined ? {} : { validatorPublicKey }),
    ...(issuerKeys === undefined ? {} : { issuerKeys }),
  }
}

/** The public key an identity declares for an issuer id (for `genesis add-issuer --identity`). */
export function issuerPublicKey(identity: Identity, issuerId: string): string {
  const key = identity.issuerKeys?.[issuerId]
  if (key === undefined) {
    const has = Object.keys(identity.issuerKeys ?? {})
    throw new CertchainError(
      'INVALID_IDENTITY',
      `identity "${identity.id}" has no key for issuer "${issuerId}" (${has.length > 0 ? `it has keys for: ${has.join(', ')}` : 'it has no issuer keys'})`,
    )
  }
  return key
}

export interface ExportIdentityOptions {
  /** Node id in genesis; default: the home's moniker. */
  readonly id?: string
  /** Display name; default: the id. */
  readonly name?: string
  /** Issuer key files (`certchain keys new --issuer ID`) whose public keys to declare. */
  readonly issuerKeyFiles?: readonly string[]
}

/**
 * The identity of a node home: its peer id, its validator public key if it has a validator key,
 * and the public keys of the given issuer key files. Secret keys are read to derive public data
 * and checked, never copied: the result is built from public fields only.
 */
export async function exportIdentity(home: string, options: ExportIdentityOptions = {}): Promise<Identity> {
  const config = await loadConfig(home)
  const nodeKey = await loadKeyFile(homePath(home, config.nodeKeyFile))
  const validatorKey = config.validatorKeyFile === null ? undefined : await loadKeyFile(homePath(home, config.validatorKeyFile))
  const issuerKeys: Record<string, string> = {}
  for (const file of options.issuerKeyFiles ?? []) {
    const key = await loadKeyFile(file)
    if (key.issuer === undefined) {
      throw new CertchainError('INVALID_IDENTITY', `${file} names no issuer; create issuer keys with "certchain keys new --issuer ID --out FILE"`)
    }
    if (key.issuer in issuerKeys) throw new CertchainError('INVALID_IDENTITY', `two issuer key files are for issuer "${key.issuer}"`)
    issuerKeys[key.issuer] = toHex(key.publicKey)
  }
  const id = options.id ?? config.moniker
  return parseIdentity(
    {
      format: IDENTITY_FORMAT,
      id,
      name: options.name ?? id,
      peerId: await peerIdOf(nodeKey),
      ...(validatorKey ? { validatorPublicKey: toHex(validatorKey.publicKey) } : {}),
      ...(Object.keys(issuerKeys).length > 0 ? { issuerKeys } : {}),
    },
    `identity of ${home}`,
  )
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
