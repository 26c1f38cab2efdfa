import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { isIPv4, isIPv6 } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { toHex } from '../core/bytes.js'
import { CertchainError } from '../core/errors.js'
import { parseGenesis } from '../core/genesis.js'
import { DEFAULT_CONFIG, DEFAULT_P2P_PORT, DEFAULT_RPC_PORT, homePath, type NodeConfig } from './config.js'
import { MAX_GENESIS_FILE_BYTES, readLocalFile } from './files.js'
import { addIssuer, addMember, addType, addValidator, asGenesisDocument, exportIdentity, newGenesisDocument } from './ceremony.js'
import { newKeyFile, peerIdOf, saveKeyFile } from './keys.js'

/** `/ip4/…`, `/ip6/…` or, for a host name (Docker service, DNS), `/dns4/…`. */
function hostMultiaddr(host: string): string {
  if (isIPv4(host)) return `/ip4/${host}`
  if (isIPv6(host)) return `/ip6/${host}`
  return `/dns4/${host}`
}

/** The directory holding package.json (works from src/ under tests and from dist/ when built). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('cannot find the certchain package root')
    dir = up
  }
  return dir
}

export function exampleGenesisPath(): string {
  return join(packageRoot(), 'config', 'genesis.example.json')
}

/** A genesis or config JSON file: missing or oversized is a file error, bad JSON an invalid genesis. */
async function readJson<T>(path: string, what = 'genesis'): Promise<T> {
  return parseJson((await readLocalFile(path, { what, maxBytes: MAX_GENESIS_FILE_BYTES })).toString('utf8'), path) as T
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new CertchainError('INVALID_GENESIS', `${path} is not JSON: ${(err as Error).message}`)
  }
}

async function writeJson(path: string, value: unknown, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, JSON.stringify(value, null, 2) + '\n', { mode })
}

export interface InitOptions {
  readonly moniker?: string
  /** Genesis file to copy into the home; without it the operator copies one in before starting. */
  readonly genesisFile?: string
  readonly validator?: boolean
  readonly config?: Partial<NodeConfig>
}

export interface InitResult {
  readonly home: string
  readonly peerId: string
  readonly validatorPublicKey?: string
}

/**
 * Creates a node home: config.json, node key, validator key (0600), data directory. Inputs are
 * checked before anything is written, and the home is built in a temporary folder inside it and
 * moved into place with config.json last: a failed init leaves no half-made home that a second
 * init would refuse ("already holds a node") and start could not run.
 */
export async function initHome(home: string, options: InitOptions = {}): Promise<InitResult> {
  if (existsSync(join(home, 'config.json'))) {
    throw new CertchainError('INVALID_CONFIG', `${home} already holds a node (config.json exists)`)
  }
  let genesisBytes: Buffer | undefined
  if (options.genesisFile) {
    genesisBytes = await readLocalFile(options.genesisFile, { what: 'genesis', maxBytes: MAX_GENESIS_FILE_BYTES })
    parseGenesis(parseJson(genesisBytes.toString('utf8'), options.genesisFile))
  }
  const validator = options.validator ?? true
  const config = {
    ...DEFAULT_CONFIG,
    moniker: options.moniker ?? DEFAULT_CONFIG.moniker,
    validatorKeyFile: validator ? DEFAULT_CONFIG.validatorKeyFile : null,
    ...options.config,
  }
  const createdHome = !existsSync(home)
  await mkdir(home, { recursive: true })
  // Inside the home, not in /tmp: the renames stay on one file system (a Docker volume is its own).
  const staging = await mkdtemp(join(home, '.init-'))
  try {
    await mkdir(join(staging, DEFAULT_CONFIG.dataDir), { mode: 0o700 })
    const nodeKey = newKeyFile()
    await saveKeyFile(join(staging, DEFAULT_CONFIG.nodeKeyFile), nodeKey)
    let validatorPublicKey: string | undefined
    if (validator) {
      const key = newKeyFile()
      await saveKeyFile(join(staging, DEFAULT_CONFIG.validatorKeyFile!), key)
      validatorPublicKey = toHex(key.publicKey)
    }
    if (genesisBytes !== undefined) await writeFile(join(staging, 'genesis.json'), genesisBytes, { mode: 0o644 })
    await writeJson(join(staging, 'config.json'), config)
    const peerId = await peerIdOf(nodeKey)
    const entries = [DEFAULT_CONFIG.nodeKeyFile, ...(validator ? [DEFAULT_CONFIG.validatorKeyFile!] : [])]
    for (const name of entries) await rename(join(staging, name), join(home, name))
    if (genesisBytes !== undefined) await rename(join(staging, 'genesis.json'), homePath(home, config.genesisFile))
    // An existing data directory (the operator's, or a volume) stays as it is.
    if (!existsSync(join(home, DEFAULT_CONFIG.dataDir))) await rename(join(staging, DEFAULT_CONFIG.dataDir), join(home, DEFAULT_CONFIG.dataDir))
    await rename(join(staging, 'config.json'), join(home, 'config.json'))
    return { home, peerId, ...(validatorPublicKey ? { validatorPublicKey } : {}) }
  } finally {
    await rm(staging, { recursive: true, force: true })
    if (createdHome && !existsSync(join(home, 'config.json'))) await rm(home, { recursive: true, force: true })
  }
}

export interface TestnetOptions {
  readonly validators: number
  readonly observers?: number
  readonly out: string
  readonly chainId?: string
  /** One address per node, validators first; default: every node on 127.0.0.1 with distinct ports. */
  readonly hosts?: readonly string[]
  /** Genesis to take certificate types, issuers and members from; default: the shipped example. */
  readonly template?: string
  readonly rpcBasePort?: number
  readonly p2pBasePort?: number
  readonly consensus?: Partial<NodeConfig['consensus']>
}

export interface TestnetNode {
  readonly name: string
  readonly home: string
  readonly rpcUrl: string
  readonly p2p: string
  readonly peerId: string
  readonly validator: boolean
}

export interface TestnetManifest {
  readonly chainId: string
  readonly genesisHash: string
  readonly nodes: TestnetNode[]
  readonly issuers: { id: string; name: string; keyFile: string; types: string[] }[]
}

/**
 * A ready-to-run chain: one home per node sharing one genesis, fresh keys for every validator,
 * node and issuer (issuer keys in DIR/issuers/, mode 0600), and DIR/testnet.json describing it.
 */
export async function createTestnet(options: TestnetOptions): Promise<TestnetManifest> {
  const observers = options.observers ?? 0
  const count = options.validators + observers
  if (!Number.isSafeInteger(options.validators) || options.validators < 1) {
    throw new CertchainError('INVALID_CONFIG', '--validators must be at least 1')
  }
  if (options.hosts && options.hosts.length !== count) {
    throw new CertchainError('INVALID_CONFIG', `--hosts lists ${options.hosts.length} addresses for ${count} nodes`)
  }
  const out = resolve(options.out)
  if (existsSync(join(out, 'testnet.json'))) throw new CertchainError('INVALID_CONFIG', `${out} already holds a testnet`)
  // The same ceremony as real institutions go through: types and issuers from the template, then
  // every node registered from the identity exported from its home.
  const template = asGenesisDocument(await readJson(options.template ?? exampleGenesisPath()))
  const rpcBase = options.rpcBasePort ?? DEFAULT_RPC_PORT
  const p2pBase = options.p2pBasePort ?? DEFAULT_P2P_PORT
  let genesisJson = newGenesisDocument({ chainId: options.chainId ?? template.chainId, ...(template.params ? { params: template.params } : {}) })
  for (const type of template.certificateTypes) genesisJson = addType(genesisJson, type)

  const issuers: TestnetManifest['issuers'] = []
  for (const issuer of template.issuers) {
    const key = newKeyFile(issuer.id)
    const keyFile = join(out, 'issuers', `${issuer.id}.json`)
    await saveKeyFile(keyFile, key)
    genesisJson = addIssuer(genesisJson, { id: issuer.id, name: issuer.name, publicKey: toHex(key.publicKey), types: issuer.types })
    issuers.push({ id: issuer.id, name: issuer.name, keyFile, types: [...issuer.types] })
  }

  const nodes: TestnetNode[] = []
  for (let i = 0; i < count; i++) {
    const validator = i < options.validators
    const member = validator ? undefined : template.members[i - options.validators]
    const name = validator ? `validator${i}` : `member${i - options.validators}`
    const home = join(out, name)
    const host = options.hosts?.[i] ?? '127.0.0.1'
    // Distinct ports when nodes share an address; the standard ports when each has its own host.
    const offset = options.hosts ? 0 : i * 2
    const rpcPort = rpcBase + offset
    const p2pPort = p2pBase + offset
    await initHome(home, {
      moniker: name,
      validator,
      config: {
        rpc: { ...DEFAULT_CONFIG.rpc, host: options.hosts ? '0.0.0.0' : '127.0.0.1', port: rpcPort },
        p2p: { ...DEFAULT_CONFIG.p2p, listen: [`/ip4/${options.hosts ? '0.0.0.0' : host}/tcp/${p2pPort}`], bootstrap: [] },
        consensus: { ...DEFAULT_CONFIG.consensus, ...options.consensus },
      },
    })
    const identity = await exportIdentity(home, {
      id: validator ? `val-${i}` : (member?.id ?? `member-${i - options.validators}`),
      name: validator ? `Validator ${i}` : (member?.name ?? `Member institution ${i - options.validators}`),
    })
    genesisJson = validator ? addValidator(genesisJson, identity) : addMember(genesisJson, identity)
    nodes.push({
      name,
      home,
      rpcUrl: `http://${host}:${rpcPort}`,
      p2p: `${hostMultiaddr(host)}/tcp/${p2pPort}/p2p/${identity.peerId}`,
      peerId: identity.peerId,
      validator,
    })
  }
  // Observers take the template's member institutions in order; the rest stay registered.
  for (const member of template.members.slice(observers)) genesisJson = addMember(genesisJson, member)

  const genesis = parseGenesis(genesisJson)
  await writeJson(join(out, 'genesis.json'), genesisJson)
  for (const node of nodes) {
    await writeJson(join(node.home, 'genesis.json'), genesisJson)
    // Every node dials every other (full mesh among a few nodes).
    const bootstrap = nodes.filter((n) => n !== node).map((n) => n.p2p)
    const configPath = join(node.home, 'config.json')
    const config = await readJson<Record<string, unknown> & { p2p: object }>(configPath, 'config')
    await writeJson(configPath, { ...config, p2p: { ...config.p2p, bootstrap } })
  }
  const manifest: TestnetManifest = {
    chainId: genesis.chainId,
    genesisHash: toHex(genesis.hash),
    nodes,
    issuers,
  }
  await writeJson(join(out, 'testnet.json'), manifest)
  return manifest
}
