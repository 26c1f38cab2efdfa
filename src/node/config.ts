import { existsSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { CertchainError } from '../core/errors.js'
import { MAX_CONFIG_FILE_BYTES, readLocalFile } from './files.js'
import type { RpcLimits } from '../rpc/limits.js'
import { DEFAULT_SNAPSHOT_LIMITS } from '../ledger/snapshot.js'
import { MAX_GOSSIP_MESSAGE_BYTES } from '../p2p/gossip.js'

/** A node's configuration (`HOME/config.json`). Paths are relative to the home directory. */
export interface NodeConfig {
  readonly moniker: string
  readonly genesisFile: string
  readonly dataDir: string
  readonly nodeKeyFile: string
  /** Present on validators only. */
  readonly validatorKeyFile: string | null
  readonly rpc: {
    readonly host: string
    readonly port: number
    /** Largest request body accepted, in bytes (a 1 MiB transaction is ~1.4 MB in base64). */
    readonly bodyLimitBytes: number
    /** Longest a `?wait=commit` request waits before answering 202 pending. */
    readonly waitTimeoutMs: number
  } & RpcLimits
  readonly p2p: {
    readonly listen: readonly string[]
    readonly bootstrap: readonly string[]
    /**
     * Networks whose inbound connections bypass the limits on connections still in their
     * handshake (multiaddrs such as /ip4/10.1.0.0/ipcidr/16): the members' known addresses.
     */
    readonly allow?: readonly string[]
    /**
     * Transactions this node admitted from its clients travel to its peers in bundles, one gossip
     * message each (README, "Network"): a bundle is published when its window closes or a cap is
     * reached. The caps are lowered to the chain's block limits when those are smaller.
     */
    readonly txBundle: {
      /** How long the first transaction of a bundle waits for more (0: only those admitted in the same turn). */
      readonly windowMs: number
      readonly maxTxs: number
      /** Encoded size at which a bundle is published (a larger transaction travels alone). */
      readonly maxBytes: number
    }
  }
  readonly consensus: {
    /** Shortest time between two blocks while transactions are pending. */
    readonly blockIntervalMs: number
    /** An empty block after this long without one, so verifiers can see the chain is alive. */
    readonly heartbeatIntervalMs: number
    readonly timeoutProposeMs: number
    readonly timeoutPrevoteMs: number
    readonly timeoutPrecommitMs: number
    /** Added to each timeout per round, so rounds lengthen until the network keeps up. */
    readonly timeoutDeltaMs: number
    /** How often own proposal and votes of the height in progress are re-sent. */
    readonly gossipIntervalMs: number
    /** A proposed block's time may be at most this far ahead of this node's clock. */
    readonly maxClockDriftMs: number
  }
  readonly mempool: {
    readonly maxTxs: number
    /** Estimated memory of pending transactions (see the mempool's heldBytes). */
    readonly maxBytes: number
  }
  readonly log: {
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  }
  /** Snapshots this node takes and serves, and joining by state sync (README, "State sync"). */
  readonly stateSync: {
    /** On a node whose ledger is empty: join from a peer's snapshot instead of replaying every block. */
    readonly enabled: boolean
    /**
     * The trust anchor the snapshot's header is light-verified from: a checkpoint file
     * (`certchain checkpoint`); empty: the genesis.
     */
    readonly trustFile: string
    /** A snapshot every this many blocks (0: none taken or served). */
    readonly snapshotInterval: number
    /** Snapshots kept on disk (the newest). */
    readonly snapshotKeep: number
    /** Chunk size snapshots are cut at. */
    readonly chunkBytes: number
    /** Chunk requests in flight at once while joining, spread over the peers that offer the snapshot. */
    readonly fetchers: number
    /** How long a joining node looks for peers and snapshots before it gives up and block-syncs from genesis. */
    readonly discoveryTimeoutMs: number
  }
  /** Non-archival nodes: drop old block bodies (README, "Pruning"). */
  readonly pruning: {
    /** Block bodies kept below the head (0: keep every block, an archival node). */
    readonly keepBlocks: number
  }
  /**
   * Worker threads that verify transaction signatures in batches (batch admission, received
   * blocks); 0 verifies on the main thread; "auto": every core but one, at least one. Kept as
   * "auto" in config.json so a home copied to another machine fits that machine.
   */
  readonly verifyThreads: number | 'auto'
  /** This node as a verifier of presentations (README, "Presentations"). */
  readonly verifier: {
    /** The name presentation requests show the holder (empty: the moniker). */
    readonly name: string
    /** Presentation requests outstanding at once; more are refused with TOO_MANY_REQUESTS. */
    readonly maxOutstandingRequests: number
  }
}

export const DEFAULT_RPC_PORT = 26657
export const DEFAULT_P2P_PORT = 26656

export const DEFAULT_CONFIG: NodeConfig = Object.freeze<NodeConfig>({
  moniker: 'certchain-node',
  genesisFile: 'genesis.json',
  dataDir: 'data',
  nodeKeyFile: 'node_key.json',
  validatorKeyFile: 'validator_key.json',
  rpc: {
    host: '127.0.0.1',
    port: DEFAULT_RPC_PORT,
    bodyLimitBytes: 4 * 1024 * 1024,
    waitTimeoutMs: 30_000,
    maxConnections: 256,
    requestTimeoutMs: 30_000,
    idleTimeoutMs: 5_000,
    maxBodyBytesInFlight: 64 * 1024 * 1024,
    maxWaiters: 256,
    maxBatchTxs: 1000,
    rateLimitPerSecond: 200,
    rateLimitBurst: 400,
    rateLimitExempt: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
  },
  p2p: {
    listen: [`/ip4/0.0.0.0/tcp/${DEFAULT_P2P_PORT}`],
    bootstrap: [],
    allow: [],
    // A few milliseconds add nothing noticeable to finality (blocks are 100 ms apart at the
    // fastest) and collect what a batch submission admits in one go; past a few hundred
    // transactions a bundle saves nothing more per message and only makes its receivers wait.
    txBundle: { windowMs: 5, maxTxs: 256, maxBytes: 1024 * 1024 },
  },
  consensus: {
    blockIntervalMs: 100,
    heartbeatIntervalMs: 10_000,
    timeoutProposeMs: 3000,
    timeoutPrevoteMs: 1000,
    timeoutPrecommitMs: 1000,
    timeoutDeltaMs: 500,
    gossipIntervalMs: 1000,
    maxClockDriftMs: 10_000,
  },
  mempool: { maxTxs: 100_000, maxBytes: 512 * 1024 * 1024 },
  log: { level: 'info' },
  verifyThreads: 'auto',
  verifier: { name: '', maxOutstandingRequests: 10_000 },
  stateSync: {
    enabled: false,
    trustFile: '',
    snapshotInterval: 0,
    snapshotKeep: 2,
    chunkBytes: 1024 * 1024,
    fetchers: 4,
    discoveryTimeoutMs: 30_000,
  },
  pruning: { keepBlocks: 0 },
})

/** More verification threads than this would only compete for cores with the main thread. */
const MAX_VERIFY_THREADS = 64

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

type Json = Record<string, unknown>

/**
 * Validates a config object against the defaults: every known field keeps its default when
 * absent, unknown fields and wrong types fail with the field's name. The result is frozen.
 */
export function parseConfig(input: unknown, source = 'config'): NodeConfig {
  const problems: string[] = []
  const merge = (defaults: Json, value: unknown, path: string): Json => {
    if (value === undefined) return defaults
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      problems.push(`${path || 'config'} must be an object`)
      return defaults
    }
    const out: Json = { ...defaults }
    for (const [key, v] of Object.entries(value as Json)) {
      const where = path ? `${path}.${key}` : key
      if (!(key in defaults)) {
        problems.push(`${where} is not a known setting`)
        continue
      }
      const d = defaults[key]
      if (key === 'validatorKeyFile' && (v === null || typeof v === 'string')) out[key] = v
      else if (key === 'verifyThreads') {
        if (v === 'auto' || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= MAX_VERIFY_THREADS)) out[key] = v
        else problems.push(`${where} must be "auto" or an integer from 0 to ${MAX_VERIFY_THREADS}`)
      }
      else if (Array.isArray(d)) {
        if (Array.isArray(v) && v.every((s) => typeof s === 'string')) out[key] = Object.freeze([...v])
        else problems.push(`${where} must be a list of strings`)
      } else if (d !== null && typeof d === 'object') out[key] = merge(d as Json, v, where)
      else if (typeof d === 'number') {
        if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) out[key] = v
        else problems.push(`${where} must be a non-negative integer`)
      } else if (typeof v === typeof d) out[key] = v
      else problems.push(`${where} must be a ${typeof d}`)
    }
    return Object.freeze(out)
  }
  const config = merge(DEFAULT_CONFIG as unknown as Json, input, '') as unknown as NodeConfig
  if (!LOG_LEVELS.includes(config.log.level)) problems.push(`log.level must be one of ${LOG_LEVELS.join(', ')}`)
  if (config.rpc.port > 65535) problems.push('rpc.port must be at most 65535')
  for (const key of ['maxConnections', 'requestTimeoutMs', 'idleTimeoutMs', 'maxWaiters', 'maxBatchTxs', 'rateLimitBurst'] as const) {
    if (config.rpc[key] < 1) problems.push(`rpc.${key} must be at least 1`)
  }
  if (config.rpc.maxBodyBytesInFlight < config.rpc.bodyLimitBytes) {
    problems.push('rpc.maxBodyBytesInFlight must be at least rpc.bodyLimitBytes (or no body of the largest size could ever be received)')
  }
  if (config.consensus.blockIntervalMs > config.consensus.heartbeatIntervalMs) {
    problems.push('consensus.blockIntervalMs must not exceed consensus.heartbeatIntervalMs')
  }
  if (config.stateSync.chunkBytes < 64 * 1024 || config.stateSync.chunkBytes > DEFAULT_SNAPSHOT_LIMITS.maxChunkBytes - 64 * 1024) {
    problems.push(`stateSync.chunkBytes must be between 65536 and ${DEFAULT_SNAPSHOT_LIMITS.maxChunkBytes - 64 * 1024}`)
  }
  const bundle = config.p2p.txBundle
  if (bundle.windowMs > 1000) problems.push('p2p.txBundle.windowMs must be at most 1000 (it delays every transaction this node relays)')
  if (bundle.maxTxs < 1) problems.push('p2p.txBundle.maxTxs must be at least 1')
  if (bundle.maxBytes < 1024 || bundle.maxBytes > MAX_GOSSIP_MESSAGE_BYTES) problems.push(`p2p.txBundle.maxBytes must be between 1024 and ${MAX_GOSSIP_MESSAGE_BYTES}`)
  if (config.stateSync.snapshotKeep < 1) problems.push('stateSync.snapshotKeep must be at least 1')
  if (config.stateSync.fetchers < 1 || config.stateSync.fetchers > 16) problems.push('stateSync.fetchers must be between 1 and 16')
  if (problems.length > 0) throw new CertchainError('INVALID_CONFIG', `${source}: ${problems.join('; ')}`)
  return config
}

export async function loadConfig(home: string): Promise<NodeConfig> {
  const path = join(home, 'config.json')
  let text: string
  try {
    text = (await readLocalFile(path, { what: 'config', maxBytes: MAX_CONFIG_FILE_BYTES, code: 'INVALID_CONFIG' })).toString('utf8')
  } catch (err) {
    if (!existsSync(path)) throw new CertchainError('INVALID_CONFIG', `${path} does not exist; create a node home with "certchain init --home ${home}"`)
    throw err
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new CertchainError('INVALID_CONFIG', `${path} is not valid JSON: ${(err as Error).message}`)
  }
  return parseConfig(json, path)
}

/** Resolves a config path against the home directory. */
export function homePath(home: string, path: string): string {
  return isAbsolute(path) ? path : join(home, path)
}
