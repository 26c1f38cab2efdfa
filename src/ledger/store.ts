import { Level } from 'level'
import { bytesEqual, toHex, type Bytes } from '../core/bytes.js'
import { decodeFinalizedBlock, encodeFinalizedBlock } from '../core/block.js'
import * as dagCbor from '@ipld/dag-cbor'
import { encode, pruneUndefined } from '../core/encoding.js'
import { CertchainError } from '../core/errors.js'
import { CHAIN_FORMAT_VERSION, type Block, type BlockHeader, type CertificateRecord, type CertificateState, type Commit, type FinalizedBlock, type Millis } from '../core/types.js'
import type { StateRoots } from '../core/state.js'
import type { VoteType } from '../core/vote.js'
import type { GovEvent, ProposalRecord, ProposalsState } from './governance.js'
import type { Registry, RegistryState } from './registry.js'
import type { TreeChunkWrite } from './state-tree.js'
import { Pacer } from './pace.js'
import { decodeStoredEntry, type StoredEntry } from './stored-entry.js'
import { BoundedCache } from '../core/bounded-cache.js'

/**
 * Buckets: the first key byte. Never renumber a bucket; add new ones at the end.
 *   META       name (utf8)                -> value (see each use)
 *   BLOCK      height (u64 BE)            -> encoded FinalizedBlock (block and its commit)
 *   BLOCK_HASH header hash                 -> height (u64 BE); written with each block for lookups by hash (no reader yet)
 *   TX         transaction id              -> encoded TxLocation
 *   CERT       certificate id              -> encoded StoredEntry: a CertificateEntry without its issuance's
 *              transaction id and key, which ISSUANCE holds once per transaction (see stored-entry.ts)
 *   TREE       tier (u8) + index (u64 BE) -> packed chunk of the status tree (state-tree.ts: 8 levels per tier, root: tier 4)
 *   EVIDENCE   height (u64 BE) + round (u64 BE) + vote type (u8: 0 prevote, 1 precommit) + validator id (utf8)
 *              -> encoded evidence (two conflicting signed votes). Records written before the type
 *              was part of the key have no type byte; they list like the others.
 *   REGISTRY   height (u64 BE)            -> encoded RegistryState after that block (only heights that changed it)
 *   PROPOSAL   proposal number (u64 BE)   -> encoded ProposalRecord (open and closed)
 *   HISTORY    tier (u8) + index (u64 BE) -> packed chunk of the height history tree (as TREE)
 *   HEIGHT     height (u64 BE)            -> encoded HeightInfo {time, roots} after that block (time -> height lookups, proofs)
 *   SET_CHANGE height (u64 BE)            -> empty; heights whose header's nextValidatorsHash differs from its validatorsHash
 *   ISSUANCE   height (u64 BE) + index in its block (u32 BE) -> encoded [transaction id, signing key] of an issuance
 *   HEADER     height (u64 BE)            -> encoded {header, commit} of a height whose body was pruned or that a
 *              state sync received verified (a set-change header); BLOCK holds the others
 */
const enum Bucket {
  META = 0,
  BLOCK = 1,
  BLOCK_HASH = 2,
  TX = 3,
  CERT = 4,
  TREE = 5,
  EVIDENCE = 6,
  REGISTRY = 7,
  PROPOSAL = 8,
  HISTORY = 9,
  HEIGHT = 10,
  SET_CHANGE = 11,
  ISSUANCE = 12,
  HEADER = 13,
}

const META_HEAD = 'head'
const META_GENESIS = 'genesis'
/** The chain format the store was written in (CHAIN_FORMAT_VERSION); absent in stores of format 1. */
const META_FORMAT = 'format'
/** Open proposals and the next proposal number (ProposalsState). */
const META_PROPOSALS = 'proposals'
/** Lowest height whose block body is stored (absent: 1). Pruning and state sync raise it. */
const META_BASE = 'base'
/**
 * How this store lays out its buckets (independent of the chain format, which is hashed): 2 since
 * the trees are stored in chunks, 3 since certificate entries refer to their issuance in
 * ISSUANCE. Absent in stores of layout 1 (one record per tree node).
 */
const META_LAYOUT = 'layout'
export const STORE_LAYOUT_VERSION = 3

/** Everything a verifier needs about one certificate, as the chain knows it. */
export interface CertificateEntry {
  readonly record: CertificateRecord
  /** Leaf index in the status tree: the n-th certificate ever issued on this chain. */
  readonly seq: number
  readonly txId: Bytes
  /** The key that signed the issuance (issuer keys rotate later; verification is "as of" issue). */
  readonly key: Bytes
  readonly height: number
  readonly time: Millis
  readonly state: CertificateState
  /** Last status change, absent while the certificate was never revoked or suspended. */
  readonly change?: StatusChange
  /** The changes before `change`, oldest first, each with the state it set. */
  readonly earlier?: readonly (StatusChange & { readonly state: CertificateState })[]
}

export interface StatusChange {
  readonly height: number
  readonly time: Millis
  readonly by: string
  /** The key that signed the change; absent for a revocation read from a key compromise. */
  readonly key?: Bytes
  readonly reason?: string
  readonly note?: string
}

export interface TxLocation {
  readonly height: number
  readonly index: number
}

/** The committed chain tip. Height 0 is genesis (no block). */
export interface Head {
  readonly height: number
  readonly hash: Bytes
  readonly time: Millis
  readonly stateRoot: Bytes
  readonly certificateCount: number
  readonly txCount: number
}

/** Governance changes of one block: the new registry and proposals when they changed. */
export interface GovernanceWrites {
  readonly registry?: Registry
  readonly proposals?: ProposalsState
  readonly records: readonly ProposalRecord[]
  readonly events: readonly GovEvent[]
}

/** A consistent read of the committed state (see {@link LedgerStore.readState}); close it when done. */
export interface StateReader {
  head(): Promise<Head>
  proposals(): Promise<ProposalsState | undefined>
  /** Heights that changed the registry, ascending, with the registry after them. */
  registries(): AsyncIterable<{ height: number; state: RegistryState }>
  heights(): AsyncIterable<{ height: number; info: HeightInfo }>
  /** Every certificate entry, in key order. */
  certificates(): AsyncIterable<{ id: Bytes; entry: CertificateEntry }>
  close(): Promise<void>
}

/** Part of a state restored from a snapshot (state sync). */
export interface RestoredState {
  readonly certificates?: readonly { id: Bytes; entry: CertificateEntry }[]
  readonly heights?: readonly { height: number; info: HeightInfo }[]
  readonly registries?: readonly { height: number; state: RegistryState }[]
  readonly treeNodes?: readonly TreeChunkWrite[]
  readonly historyNodes?: readonly TreeChunkWrite[]
  readonly proposals?: readonly ProposalRecord[]
  /** Verified headers with their commits (the set changes a state sync followed). */
  readonly headers?: readonly { header: BlockHeader; commit: Commit }[]
  readonly txIds?: readonly { id: Bytes; height: number; index: number }[]
}

/** All writes of one executed block; committed with its commit in one atomic, fsynced batch. */
export interface BlockWrites {
  readonly block: Block
  readonly hash: Bytes
  readonly txIds: readonly Bytes[]
  readonly certificates: ReadonlyMap<string, { id: Bytes; entry: CertificateEntry }>
  /** Changed chunks of the status tree and the height history. */
  readonly treeNodes: readonly TreeChunkWrite[]
  readonly historyNodes: readonly TreeChunkWrite[]
  /** What the block's state root commits to. */
  readonly roots: StateRoots
  readonly governance?: GovernanceWrites
  readonly head: Head
}

function key(bucket: Bucket, ...parts: Bytes[]): Bytes {
  return Buffer.concat([Uint8Array.of(bucket), ...parts])
}

/** Entry cache key of a certificate id: its bytes as latin1, half the cost of hex to build and to hash. */
function entryKey(id: Bytes): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1')
}

/** CERT key of a certificate id (one allocation: every lookup builds one per id). */
function certKey(id: Bytes): Bytes {
  const k = Buffer.allocUnsafe(1 + id.length)
  k[0] = Bucket.CERT
  k.set(id, 1)
  return k
}

function u64(n: number): Bytes {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

function metaKey(name: string): Bytes {
  return key(Bucket.META, Buffer.from(name, 'utf8'))
}

function treeKey(bucket: Bucket.TREE | Bucket.HISTORY, tier: number, index: number): Bytes {
  return key(bucket, Uint8Array.of(tier), u64(index))
}

/** The state after one height, as the HEIGHT bucket keeps it: the block time and what its state root commits to. */
export interface HeightInfo {
  readonly time: Millis
  readonly roots: StateRoots
}

const MAX_STORED_VALUE = 64 * 1024 * 1024

/** Values this store wrote itself: decoded without the canonical re-encode check (the hot read path). */
function decodeStored<T>(bytes: Bytes): T {
  return dagCbor.decode<T>(bytes)
}

const STATES: readonly CertificateState[] = ['active', 'revoked', 'suspended']

/** A CERT value of `entry` (layout in {@link StoredEntry}). */
function storedEntry(entry: CertificateEntry, index: number): StoredEntry {
  const { record } = entry
  const out: StoredEntry = [
    entry.seq,
    entry.height,
    index,
    entry.time,
    STATES.indexOf(entry.state),
    record.type,
    record.issuer,
    record.docHash,
    record.validFrom,
    record.validUntil,
    record.holder ?? null,
  ]
  if (entry.change || entry.earlier) out.push(pruneUndefined({ change: entry.change, earlier: entry.earlier }))
  return out
}

interface Issuance {
  readonly txId: Bytes
  readonly key: Bytes
}

function issuanceKey(height: number, index: number): Bytes {
  const k = Buffer.alloc(13)
  k[0] = Bucket.ISSUANCE
  k.writeBigUInt64BE(BigInt(height), 1)
  k.writeUInt32BE(index, 9)
  return k
}

/**
 * Reads of up to this many keys are synchronous (LevelDB's own cache and the page cache answer in
 * microseconds): an asynchronous read costs about ten times the CPU in thread-pool hand-offs, which
 * is most of a single-id lookup's and a single-certificate admission's cost. Larger reads stay
 * asynchronous, so they neither block the event loop nor stop using the second core.
 */
const SYNC_READ_MAX = 8

/** Issuances kept in memory: a certificate lookup needs its issuance's id and key. */
const ISSUANCE_CACHE_LIMIT = 65_536

/**
 * Decoded certificate entries kept for lookups (about 400 B each, so ~13 MB when full): a hit
 * skips the LevelDB read, the decoding and the issuance join, the largest part of a single-id
 * lookup after HTTP itself. The older half goes first (BoundedCache); a commit drops every entry it rewrites.
 */
export const ENTRY_CACHE_LIMIT = 32_768

export class LedgerStore {
  /** Issuances by "height:index": immutable once committed, so any read may be cached. */
  private readonly issuances = new BoundedCache<string, Issuance>(ISSUANCE_CACHE_LIMIT)
  /** While a state sync restores: the number given to each (height, transaction) issuance, and the next per height. */
  private readonly restoredIssuances = new Map<string, number>()
  private readonly restoredPerHeight = new Map<number, number>()
  /** Committed certificate entries by id ({@link entryKey}), filled by {@link getCertificates}; never an absent id. */
  private readonly entryCache = new BoundedCache<string, CertificateEntry>(ENTRY_CACHE_LIMIT)
  /**
   * Counts changes to CERT (commits, restores). A read that started under another count fills no
   * cache: it may have read a value the change replaced after the change dropped it.
   */
  private certChanges = 0

  private constructor(
    private readonly db: Level<Bytes, Bytes>,
    private headState: Head,
    private baseHeight: number,
  ) {}

  /**
   * Opens (or creates) the store in `dir`. A second process on the same directory gets
   * DATA_DIR_LOCKED; a directory made for another genesis gets GENESIS_MISMATCH.
   */
  static async open(dir: string, genesisHash: Bytes, genesisTime: Millis, emptyStateRoot: Bytes): Promise<LedgerStore> {
    const db = new Level<Bytes, Bytes>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new CertchainError('DATA_DIR_LOCKED', `data directory ${dir} is in use by another certchain process`, { cause: err })
      }
      throw new CertchainError('INTERNAL', `cannot open data directory ${dir}: ${(err as Error).message}`, { cause: err })
    }
    const storedGenesis = await db.get(metaKey(META_GENESIS))
    if (storedGenesis === undefined) {
      const head: Head = { height: 0, hash: genesisHash, time: genesisTime, stateRoot: emptyStateRoot, certificateCount: 0, txCount: 0 }
      await db.batch(
        [
          { type: 'put', key: metaKey(META_GENESIS), value: genesisHash },
          { type: 'put', key: metaKey(META_FORMAT), value: encode(CHAIN_FORMAT_VERSION) },
          { type: 'put', key: metaKey(META_LAYOUT), value: encode(STORE_LAYOUT_VERSION) },
          { type: 'put', key: metaKey(META_HEAD), value: encode(head) },
        ],
        { sync: true },
      )
      return new LedgerStore(db, head, 1)
    }
    if (!bytesEqual(storedGenesis, genesisHash)) {
      await db.close()
      throw new CertchainError(
        'GENESIS_MISMATCH',
        `data directory ${dir} belongs to genesis ${toHex(storedGenesis)}, not ${toHex(genesisHash)}`,
      )
    }
    // Chain format (hashed) and store layout: a store of either older kind is refused as a whole.
    for (const [name, what, expected] of [
      [META_FORMAT, 'chain format', CHAIN_FORMAT_VERSION],
      [META_LAYOUT, 'store layout', STORE_LAYOUT_VERSION],
    ] as const) {
      const stored = await db.get(metaKey(name))
      const version = stored === undefined ? 1 : decodeStored<number>(stored)
      if (version !== expected) {
        await db.close()
        throw new CertchainError(
          'STORE_FORMAT_MISMATCH',
          `data directory ${dir} holds ${what} ${version}; this node writes ${what.split(' ')[1]} ${expected} (move the directory away and sync again)`,
        )
      }
    }
    const head = decodeStored<Head>((await db.get(metaKey(META_HEAD))))
    const base = await db.get(metaKey(META_BASE))
    return new LedgerStore(db, head, base === undefined ? 1 : decodeStored<number>(base))
  }

  get head(): Head {
    return this.headState
  }

  /** Lowest height whose block body this store holds; below it only headers and commits remain (or nothing). */
  get base(): number {
    return this.baseHeight
  }

  /** Values of `keys` (see {@link SYNC_READ_MAX}). */
  private read(keys: readonly Bytes[]): Promise<(Bytes | undefined)[]> | (Bytes | undefined)[] {
    if (keys.length > SYNC_READ_MAX) return this.db.getMany(keys as Bytes[])
    return keys.map((k) => this.db.getSync(k))
  }

  private async readOne(k: Bytes): Promise<Bytes | undefined> {
    return (await this.read([k]))[0]
  }

  async close(): Promise<void> {
    await this.db.close()
  }

  async getBlock(height: number): Promise<FinalizedBlock | undefined> {
    const bytes = await this.getBlockBytes(height)
    return bytes === undefined ? undefined : decodeFinalizedBlock(bytes, MAX_STORED_VALUE)
  }

  /** The stored encoding of a block and its commit (served as is to syncing peers); undefined below {@link base}. */
  getBlockBytes(height: number): Promise<Bytes | undefined> {
    return this.db.get(key(Bucket.BLOCK, u64(height)))
  }

  /** Header and commit of `height`, from its block or, once the body is pruned, from the header bucket. */
  async getSignedHeader(height: number): Promise<{ header: BlockHeader; commit: Commit } | undefined> {
    const full = await this.getBlock(height)
    if (full) return { header: full.block.header, commit: full.commit }
    const bytes = await this.db.get(key(Bucket.HEADER, u64(height)))
    return bytes === undefined ? undefined : decodeStored<{ header: BlockHeader; commit: Commit }>(bytes)
  }

  /**
   * Drops the bodies of blocks below `below` (at most `limit` of them, oldest first), keeping each
   * header and commit; the certificate index, transaction index and both trees stay. Returns the
   * new base. Each step is one batch that moves the base with it, so a crash leaves no gap.
   */
  async pruneBlocks(below: number, limit: number): Promise<number> {
    const end = Math.min(below, this.headState.height + 1, this.baseHeight + limit)
    if (end <= this.baseHeight) return this.baseHeight
    const ops: ({ type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes })[] = []
    for (let h = this.baseHeight; h < end; h++) {
      const block = await this.getBlock(h)
      if (block) ops.push({ type: 'put', key: key(Bucket.HEADER, u64(h)), value: encode({ header: block.block.header, commit: block.commit }) })
      ops.push({ type: 'del', key: key(Bucket.BLOCK, u64(h)) })
    }
    ops.push({ type: 'put', key: metaKey(META_BASE), value: encode(end) })
    await this.db.batch(ops, { sync: true })
    this.baseHeight = end
    return end
  }

  /**
   * A consistent view of the committed state as of now (a LevelDB snapshot): blocks committed
   * while it is read are not seen, so a snapshot of the state can be taken off the commit path.
   */
  readState(): StateReader {
    const snapshot = this.db.snapshot()
    const db = this.db
    const joinEntries = (values: readonly Bytes[]) => this.entries(values)
    const range = (bucket: Bucket) => ({ gt: key(bucket), lt: key(bucket + 1), snapshot })
    const height = (k: Bytes): number => Number(Buffer.from(k).readBigUInt64BE(1))
    return {
      async head() {
        return decodeStored<Head>(await db.get(metaKey(META_HEAD), { snapshot }))
      },
      async proposals() {
        const bytes = await db.get(metaKey(META_PROPOSALS), { snapshot })
        return bytes === undefined ? undefined : decodeStored<ProposalsState>(bytes)
      },
      async *registries() {
        for await (const [k, v] of db.iterator(range(Bucket.REGISTRY))) yield { height: height(k), state: decodeStored<RegistryState>(v) }
      },
      async *heights() {
        for await (const [k, v] of db.iterator(range(Bucket.HEIGHT))) yield { height: height(k), info: decodeStored<HeightInfo>(v) }
      },
      // Entries are joined with their issuances in batches (ISSUANCE records never change once written).
      certificates: async function* (this: void) {
        let ids: Bytes[] = []
        let values: Bytes[] = []
        const flush = async function* () {
          const entries = await joinEntries(values)
          for (const [i, entry] of entries.entries()) yield { id: ids[i]!, entry: entry! }
          ids = []
          values = []
        }
        for await (const [k, v] of db.iterator(range(Bucket.CERT))) {
          ids.push(k.subarray(1))
          values.push(v)
          if (values.length === 256) yield* flush()
        }
        yield* flush()
      },
      close: () => snapshot.close(),
    }
  }

  /**
   * Writes part of a restored state (state sync). Not fsynced: nothing is visible or trusted
   * before {@link finishRestore} writes the head, which is fsynced and comes last.
   */
  async putRestored(part: RestoredState): Promise<void> {
    const ops: { type: 'put'; key: Bytes; value: Bytes }[] = []
    for (const { id, entry } of part.certificates ?? []) {
      const index = this.restoredIssuance(entry, ops)
      ops.push({ type: 'put', key: key(Bucket.CERT, id), value: encode(storedEntry(entry, index)) })
    }
    for (const { height, info } of part.heights ?? []) ops.push({ type: 'put', key: key(Bucket.HEIGHT, u64(height)), value: encode(info) })
    for (const { height, state } of part.registries ?? []) ops.push({ type: 'put', key: key(Bucket.REGISTRY, u64(height)), value: encode(pruneUndefined(state)) })
    for (const c of part.treeNodes ?? []) ops.push({ type: 'put', key: treeKey(Bucket.TREE, c.tier, c.index), value: c.chunk.pack() })
    for (const c of part.historyNodes ?? []) ops.push({ type: 'put', key: treeKey(Bucket.HISTORY, c.tier, c.index), value: c.chunk.pack() })
    for (const p of part.proposals ?? []) ops.push({ type: 'put', key: key(Bucket.PROPOSAL, u64(p.id)), value: encode(pruneUndefined(p)) })
    for (const { header, commit } of part.headers ?? []) {
      ops.push({ type: 'put', key: key(Bucket.HEADER, u64(header.height)), value: encode({ header, commit }) })
      if (!bytesEqual(header.validatorsHash, header.nextValidatorsHash)) ops.push({ type: 'put', key: key(Bucket.SET_CHANGE, u64(header.height)), value: new Uint8Array(0) })
    }
    for (const id of part.txIds ?? []) ops.push({ type: 'put', key: key(Bucket.TX, id.id), value: encode({ height: id.height, index: id.index }) })
    if (ops.length > 0) await this.db.batch(ops)
    if (part.certificates?.length) this.forgetEntries()
  }

  /**
   * The issuance a restored entry refers to. A snapshot carries each certificate's issuance (its
   * transaction id, key and height) but not the transaction's place in its block, which only the
   * pruned block body knew: the issuances of one height are numbered in the order the snapshot
   * lists them, which is all CERT and ISSUANCE need to refer to each other.
   */
  private restoredIssuance(entry: CertificateEntry, ops: { type: 'put'; key: Bytes; value: Bytes }[]): number {
    const byTx = `${entry.height}:${toHex(entry.txId)}`
    const known = this.restoredIssuances.get(byTx)
    if (known !== undefined) return known
    const index = this.restoredPerHeight.get(entry.height) ?? 0
    this.restoredPerHeight.set(entry.height, index + 1)
    this.restoredIssuances.set(byTx, index)
    ops.push({ type: 'put', key: issuanceKey(entry.height, index), value: encode([entry.txId, entry.key]) })
    return index
  }

  /**
   * Empties an uncommitted store (head still at genesis) of whatever an interrupted restore left,
   * so a new one starts clean: a stale tree node would otherwise stand in for an empty subtree.
   */
  async clearRestored(): Promise<void> {
    if (this.headState.height !== 0) throw new CertchainError('INTERNAL', 'only a store at genesis can be cleared for a restore')
    for (const bucket of [Bucket.BLOCK, Bucket.BLOCK_HASH, Bucket.TX, Bucket.CERT, Bucket.TREE, Bucket.REGISTRY, Bucket.PROPOSAL, Bucket.HISTORY, Bucket.HEIGHT, Bucket.SET_CHANGE, Bucket.ISSUANCE, Bucket.HEADER]) {
      await this.db.clear({ gte: key(bucket), lt: key(bucket + 1) })
    }
    this.restoredIssuances.clear()
    this.restoredPerHeight.clear()
    this.issuances.clear()
    this.forgetEntries()
  }

  /** Makes a restored state the committed one: the head (fsynced, last), the open proposals and the base. */
  async finishRestore(head: Head, proposals: ProposalsState): Promise<void> {
    await this.db.batch(
      [
        { type: 'put', key: metaKey(META_PROPOSALS), value: encode(pruneUndefined(proposals)) },
        { type: 'put', key: metaKey(META_BASE), value: encode(head.height + 1) },
        { type: 'put', key: metaKey(META_HEAD), value: encode(head) },
      ],
      { sync: true },
    )
    this.headState = head
    this.baseHeight = head.height + 1
    this.forgetEntries()
  }


  async getTxLocation(txId: Bytes): Promise<TxLocation | undefined> {
    const bytes = await this.readOne(key(Bucket.TX, txId))
    return bytes === undefined ? undefined : decodeStored<TxLocation>(bytes)
  }

  async hasTxs(txIds: readonly Bytes[]): Promise<boolean[]> {
    if (txIds.length === 0) return []
    const found = await this.read(txIds.map((id) => key(Bucket.TX, id)))
    return found.map((v) => v !== undefined)
  }

  /** Certificate entries (committed), from the entry cache where it holds them. */
  async getCertificates(ids: readonly Bytes[]): Promise<(CertificateEntry | undefined)[]> {
    if (ids.length === 0) return []
    const keys = ids.map(entryKey)
    const out = keys.map((k) => this.entryCache.get(k))
    const missing: number[] = []
    for (const [i, e] of out.entries()) if (e === undefined) missing.push(i)
    if (missing.length === 0) return out
    const changes = this.certChanges
    const found = await this.entries(await this.read(missing.map((i) => certKey(ids[i]!))))
    const fill = changes === this.certChanges
    missing.forEach((i, n) => {
      const entry = found[n]
      out[i] = entry
      if (entry && fill) this.rememberEntry(keys[i]!, entry)
    })
    return out
  }

  private rememberEntry(id: string, entry: CertificateEntry): void {
    this.entryCache.set(id, entry)
  }

  /** After CERT changed other than by a commit (a restore): nothing cached stays, no read in flight fills. */
  private forgetEntries(): void {
    this.certChanges++
    this.entryCache.clear()
  }

  /** Which transactions are committed and the certificate entries, in one LevelDB round trip (two when issuances are not in memory). */
  async lookup(txIds: readonly Bytes[], certificateIds: readonly Bytes[]): Promise<{ txs: boolean[]; certificates: (CertificateEntry | undefined)[] }> {
    const keys = [...txIds.map((id) => key(Bucket.TX, id)), ...certificateIds.map(certKey)]
    const found = keys.length === 0 ? [] : await this.read(keys)
    return {
      txs: found.slice(0, txIds.length).map((v) => v !== undefined),
      certificates: await this.entries(found.slice(txIds.length)),
    }
  }

  /** Stored entries joined with their issuances (from memory, else one batched read). */
  private async entries(values: readonly (Bytes | undefined)[]): Promise<(CertificateEntry | undefined)[]> {
    const stored = values.map((v) => (v === undefined ? undefined : decodeStoredEntry(v)))
    const resolved = new Map<string, Issuance>()
    const missing = new Map<string, [number, number]>()
    for (const e of stored) {
      if (e === undefined) continue
      const ref = `${e[1]}:${e[2]}`
      const known = this.issuances.get(ref)
      if (known) resolved.set(ref, known)
      else missing.set(ref, [e[1], e[2]])
    }
    if (missing.size > 0) {
      const refs = [...missing]
      const found = await this.read(refs.map(([, [h, i]]) => issuanceKey(h, i)))
      refs.forEach(([ref, [h, i]], n) => {
        const v = found[n]
        if (v === undefined) throw new CertchainError('INTERNAL', `issuance ${i} of block ${h} is missing from the store`)
        const [txId, key] = decodeStored<[Bytes, Bytes]>(v)
        resolved.set(ref, { txId, key })
        this.rememberIssuance(ref, { txId, key })
      })
    }
    return stored.map((e) => {
      if (e === undefined) return undefined
      const [seq, height, index, time, state, type, issuer, docHash, validFrom, validUntil, holder, rest] = e
      const { txId, key } = resolved.get(`${height}:${index}`)!
      return {
        record: { type, issuer, docHash, ...(holder === null ? {} : { holder }), validFrom, validUntil },
        seq,
        txId,
        key,
        height,
        time,
        state: STATES[state]!,
        ...rest,
      }
    })
  }

  private rememberIssuance(ref: string, issuance: Issuance): void {
    this.issuances.set(ref, issuance)
  }

  async getCertificate(id: Bytes): Promise<CertificateEntry | undefined> {
    return (await this.getCertificates([id]))[0]
  }

  /**
   * Persists misbehaviour evidence (fsynced: it is the record of a validator's fault), one record
   * per (height, round, vote type, validator): a prevote and a precommit equivocation of one
   * round are two faults.
   */
  async saveEvidence(at: { height: number; round: number; type: VoteType; validator: string }, evidence: Bytes): Promise<void> {
    const type = Uint8Array.of(at.type === 'prevote' ? 0 : 1)
    await this.db.put(key(Bucket.EVIDENCE, u64(at.height), u64(at.round), type, Buffer.from(at.validator, 'utf8')), evidence, { sync: true })
  }

  /** The newest `limit` evidence records (highest height first). */
  async listEvidence(limit: number): Promise<Bytes[]> {
    const out: Bytes[] = []
    for await (const value of this.db.values({ gte: key(Bucket.EVIDENCE), lt: key(Bucket.EVIDENCE + 1), limit, reverse: true })) out.push(value)
    return out
  }

  /** Heights after which the registry changed (ascending); genesis (0) is not stored. */
  async registryHeights(): Promise<number[]> {
    const out: number[] = []
    for await (const k of this.db.keys({ gt: key(Bucket.REGISTRY), lt: key(Bucket.REGISTRY + 1) })) out.push(Number(Buffer.from(k).readBigUInt64BE(1)))
    return out
  }

  async getRegistryState(height: number): Promise<RegistryState | undefined> {
    const bytes = await this.db.get(key(Bucket.REGISTRY, u64(height)))
    return bytes === undefined ? undefined : decodeStored<RegistryState>(bytes)
  }

  async getProposalsState(): Promise<ProposalsState | undefined> {
    const bytes = await this.db.get(metaKey(META_PROPOSALS))
    return bytes === undefined ? undefined : decodeStored<ProposalsState>(bytes)
  }

  async getProposal(id: number): Promise<ProposalRecord | undefined> {
    const bytes = await this.db.get(key(Bucket.PROPOSAL, u64(id)))
    return bytes === undefined ? undefined : decodeStored<ProposalRecord>(bytes)
  }

  /** Proposals, newest first. */
  async listProposals(limit: number): Promise<ProposalRecord[]> {
    const out: ProposalRecord[] = []
    for await (const v of this.db.values({ gte: key(Bucket.PROPOSAL), lt: key(Bucket.PROPOSAL + 1), reverse: true, limit })) {
      out.push(decodeStored<ProposalRecord>(v))
    }
    return out
  }

  readTreeChunks = async (tier: number, indices: readonly number[]): Promise<(Bytes | undefined)[]> => {
    return this.read(indices.map((i) => treeKey(Bucket.TREE, tier, i)))
  }

  readHistoryChunks = async (tier: number, indices: readonly number[]): Promise<(Bytes | undefined)[]> => {
    return this.read(indices.map((i) => treeKey(Bucket.HISTORY, tier, i)))
  }

  async getHeightInfo(height: number): Promise<HeightInfo | undefined> {
    const bytes = await this.readOne(key(Bucket.HEIGHT, u64(height)))
    return bytes === undefined ? undefined : decodeStored<HeightInfo>(bytes)
  }

  /** The newest height (at most `maxHeight`) whose block time is at or before `time`; 0 when none. */
  async heightAtTime(time: Millis, maxHeight: number): Promise<number> {
    let lo = 1
    let hi = maxHeight
    let found = 0
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2)
      const info = await this.getHeightInfo(mid)
      if (info === undefined) throw new CertchainError('INTERNAL', `height ${mid} has no record in the store`)
      if (info.time <= time) {
        found = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  /** Heights (ascending) whose header announces a different validator set for the next height. */
  async setChangeHeights(): Promise<number[]> {
    const out: number[] = []
    for await (const k of this.db.keys({ gt: key(Bucket.SET_CHANGE), lt: key(Bucket.SET_CHANGE + 1) })) out.push(Number(Buffer.from(k).readBigUInt64BE(1)))
    return out
  }

  /**
   * Commits one block: block, hash index, transaction index, certificate entries, status tree
   * nodes and the new head, in a single fsynced batch. Either all of it is on disk or none.
   */
  async commit(writes: BlockWrites, commit: Commit, onDurable?: () => void): Promise<void> {
    const { block, hash, head } = writes
    const height = u64(block.header.height)
    const ops: { type: 'put'; key: Bytes; value: Bytes }[] = [
      { type: 'put', key: key(Bucket.BLOCK, height), value: encodeFinalizedBlock({ block, commit }) },
      { type: 'put', key: key(Bucket.BLOCK_HASH, hash), value: height },
    ]
    // By the id's object: the entries a transaction issued share its id's bytes.
    const indexOf = new Map<Bytes, number>()
    writes.txIds.forEach((id, index) => {
      ops.push({ type: 'put', key: key(Bucket.TX, id), value: encode({ height: block.header.height, index }) })
      indexOf.set(id, index)
    })
    // Status changes of certificates issued by earlier blocks keep the issuance reference of their
    // stored entry (after a state sync the transaction index of those blocks is not installed).
    const earlier = [...writes.certificates.values()].filter(({ entry }) => entry.height !== block.header.height)
    const stored = earlier.length === 0 ? [] : await this.read(earlier.map(({ id }) => key(Bucket.CERT, id)))
    earlier.forEach(({ entry }, i) => {
      const value = stored[i]
      if (value === undefined) throw new CertchainError('INTERNAL', `the entry of certificate ${entry.seq} is missing from the store`)
      indexOf.set(entry.txId, decodeStoredEntry(value)[2])
    })
    const issued = new Map<number, Issuance>()
    // Encoding a large block's entries takes long: lookups get turns meanwhile (nothing is written yet).
    const pacer = new Pacer()
    for (const { id, entry } of writes.certificates.values()) {
      if (ops.length % 256 === 0) await pacer.pause()
      const index = indexOf.get(entry.txId) ?? indexOf.get(writes.txIds.find((t) => bytesEqual(t, entry.txId))!)!
      if (entry.height === block.header.height && !issued.has(index)) {
        ops.push({ type: 'put', key: issuanceKey(entry.height, index), value: encode([entry.txId, entry.key]) })
        issued.set(index, { txId: entry.txId, key: entry.key })
      }
      ops.push({ type: 'put', key: key(Bucket.CERT, id), value: encode(storedEntry(entry, index)) })
    }
    for (const c of writes.treeNodes) ops.push({ type: 'put', key: treeKey(Bucket.TREE, c.tier, c.index), value: c.chunk.pack() })
    for (const c of writes.historyNodes) ops.push({ type: 'put', key: treeKey(Bucket.HISTORY, c.tier, c.index), value: c.chunk.pack() })
    const info: HeightInfo = { time: block.header.time, roots: writes.roots }
    ops.push({ type: 'put', key: key(Bucket.HEIGHT, height), value: encode(info) })
    if (!bytesEqual(block.header.validatorsHash, block.header.nextValidatorsHash)) {
      ops.push({ type: 'put', key: key(Bucket.SET_CHANGE, height), value: new Uint8Array(0) })
    }
    const gov = writes.governance
    if (gov?.registry) ops.push({ type: 'put', key: key(Bucket.REGISTRY, height), value: encode(pruneUndefined(gov.registry.state)) })
    if (gov?.proposals) ops.push({ type: 'put', key: metaKey(META_PROPOSALS), value: encode(pruneUndefined(gov.proposals)) })
    for (const p of gov?.records ?? []) ops.push({ type: 'put', key: key(Bucket.PROPOSAL, u64(p.id)), value: encode(pruneUndefined(p)) })
    ops.push({ type: 'put', key: metaKey(META_HEAD), value: encode(head) })
    // A chained batch is filled op by op, so handing a block's tens of thousands of puts to
    // LevelDB (a few microseconds each, on this thread) pauses for lookups too; it is still one
    // atomic, fsynced write.
    const batch = this.db.batch()
    try {
      for (const [i, op] of ops.entries()) {
        batch.put(op.key, op.value)
        if (i % 256 === 255) await pacer.pause()
      }
      await batch.write({ sync: true })
    } catch (err) {
      // Nothing of a failed batch is written; release it (a no-op once write() closed it).
      await batch.close().catch(() => undefined)
      throw err
    }
    for (const [index, issuance] of issued) this.rememberIssuance(`${block.header.height}:${index}`, issuance)
    // The entries this block changed leave the cache with the new head, in one synchronous step.
    // Only those of earlier blocks can be cached: an id is issued once, and the cache never holds
    // an absent id.
    this.certChanges++
    for (const { id } of earlier) this.entryCache.delete(entryKey(id))
    this.headState = head
    // In the same synchronous step as the new head: no reader sees the head without the rest.
    onDurable?.()
  }
}
