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
import type { TreeNodeWrite } from './state-tree.js'

/**
 * Buckets: the first key byte. Never renumber a bucket; add new ones at the end.
 *   META       name (utf8)                -> value (see each use)
 *   BLOCK      height (u64 BE)            -> encoded FinalizedBlock (block and its commit)
 *   BLOCK_HASH header hash                 -> height (u64 BE); written with each block for lookups by hash (no reader yet)
 *   TX         transaction id              -> encoded TxLocation
 *   CERT       certificate id              -> encoded CertificateEntry
 *   TREE       level (u8) + index (u64 BE) -> 32-byte node hash of the status tree (root: level 40)
 *   EVIDENCE   height (u64 BE) + round (u64 BE) + vote type (u8: 0 prevote, 1 precommit) + validator id (utf8)
 *              -> encoded evidence (two conflicting signed votes). Records written before the type
 *              was part of the key have no type byte; they list like the others.
 *   REGISTRY   height (u64 BE)            -> encoded RegistryState after that block (only heights that changed it)
 *   PROPOSAL   proposal number (u64 BE)   -> encoded ProposalRecord (open and closed)
 *   HISTORY    level (u8) + index (u64 BE) -> 32-byte node hash of the height history tree (root: level 40)
 *   HEIGHT     height (u64 BE)            -> encoded HeightInfo {time, roots} after that block (time -> height lookups, proofs)
 *   SET_CHANGE height (u64 BE)            -> empty; heights whose header's nextValidatorsHash differs from its validatorsHash
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
  HEADER = 12,
}

const META_HEAD = 'head'
const META_GENESIS = 'genesis'
/** The chain format the store was written in (CHAIN_FORMAT_VERSION); absent in stores of format 1. */
const META_FORMAT = 'format'
/** Open proposals and the next proposal number (ProposalsState). */
const META_PROPOSALS = 'proposals'
/** Lowest height whose block body is stored (absent: 1). Pruning and state sync raise it. */
const META_BASE = 'base'

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
  readonly treeNodes?: readonly TreeNodeWrite[]
  readonly historyNodes?: readonly TreeNodeWrite[]
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
  readonly treeNodes: readonly TreeNodeWrite[]
  readonly historyNodes: readonly TreeNodeWrite[]
  /** What the block's state root commits to. */
  readonly roots: StateRoots
  readonly governance?: GovernanceWrites
  readonly head: Head
}

function key(bucket: Bucket, ...parts: Bytes[]): Bytes {
  return Buffer.concat([Uint8Array.of(bucket), ...parts])
}

function u64(n: number): Bytes {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt(n))
  return b
}

function metaKey(name: string): Bytes {
  return key(Bucket.META, Buffer.from(name, 'utf8'))
}

function treeKey(bucket: Bucket.TREE | Bucket.HISTORY, level: number, index: number): Bytes {
  return key(bucket, Uint8Array.of(level), u64(index))
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

export class LedgerStore {
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
    const format = await db.get(metaKey(META_FORMAT))
    const version = format === undefined ? 1 : decodeStored<number>(format)
    if (version !== CHAIN_FORMAT_VERSION) {
      await db.close()
      throw new CertchainError(
        'STORE_FORMAT_MISMATCH',
        `data directory ${dir} holds chain format ${version}; this node writes format ${CHAIN_FORMAT_VERSION} (move the directory away and sync again)`,
      )
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
      async *certificates() {
        for await (const [k, v] of db.iterator(range(Bucket.CERT))) yield { id: k.subarray(1), entry: decodeStored<CertificateEntry>(v) }
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
    for (const { id, entry } of part.certificates ?? []) ops.push({ type: 'put', key: key(Bucket.CERT, id), value: encode(pruneUndefined(entry)) })
    for (const { height, info } of part.heights ?? []) ops.push({ type: 'put', key: key(Bucket.HEIGHT, u64(height)), value: encode(info) })
    for (const { height, state } of part.registries ?? []) ops.push({ type: 'put', key: key(Bucket.REGISTRY, u64(height)), value: encode(pruneUndefined(state)) })
    for (const n of part.treeNodes ?? []) ops.push({ type: 'put', key: treeKey(Bucket.TREE, n.level, n.index), value: n.hash })
    for (const n of part.historyNodes ?? []) ops.push({ type: 'put', key: treeKey(Bucket.HISTORY, n.level, n.index), value: n.hash })
    for (const p of part.proposals ?? []) ops.push({ type: 'put', key: key(Bucket.PROPOSAL, u64(p.id)), value: encode(pruneUndefined(p)) })
    for (const { header, commit } of part.headers ?? []) {
      ops.push({ type: 'put', key: key(Bucket.HEADER, u64(header.height)), value: encode({ header, commit }) })
      if (!bytesEqual(header.validatorsHash, header.nextValidatorsHash)) ops.push({ type: 'put', key: key(Bucket.SET_CHANGE, u64(header.height)), value: new Uint8Array(0) })
    }
    for (const id of part.txIds ?? []) ops.push({ type: 'put', key: key(Bucket.TX, id.id), value: encode({ height: id.height, index: id.index }) })
    if (ops.length > 0) await this.db.batch(ops)
  }

  /**
   * Empties an uncommitted store (head still at genesis) of whatever an interrupted restore left,
   * so a new one starts clean: a stale tree node would otherwise stand in for an empty subtree.
   */
  async clearRestored(): Promise<void> {
    if (this.headState.height !== 0) throw new CertchainError('INTERNAL', 'only a store at genesis can be cleared for a restore')
    for (const bucket of [Bucket.BLOCK, Bucket.BLOCK_HASH, Bucket.TX, Bucket.CERT, Bucket.TREE, Bucket.REGISTRY, Bucket.PROPOSAL, Bucket.HISTORY, Bucket.HEIGHT, Bucket.SET_CHANGE, Bucket.HEADER]) {
      await this.db.clear({ gte: key(bucket), lt: key(bucket + 1) })
    }
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
  }


  async getTxLocation(txId: Bytes): Promise<TxLocation | undefined> {
    const bytes = await this.db.get(key(Bucket.TX, txId))
    return bytes === undefined ? undefined : decodeStored<TxLocation>(bytes)
  }

  async hasTxs(txIds: readonly Bytes[]): Promise<boolean[]> {
    if (txIds.length === 0) return []
    const found = await this.db.getMany(txIds.map((id) => key(Bucket.TX, id)))
    return found.map((v) => v !== undefined)
  }

  async getCertificates(ids: readonly Bytes[]): Promise<(CertificateEntry | undefined)[]> {
    if (ids.length === 0) return []
    const found = await this.db.getMany(ids.map((id) => key(Bucket.CERT, id)))
    return found.map((v) => (v === undefined ? undefined : decodeStored<CertificateEntry>(v)))
  }

  /** Which transactions are committed and the certificate entries, in one LevelDB round trip. */
  async lookup(txIds: readonly Bytes[], certificateIds: readonly Bytes[]): Promise<{ txs: boolean[]; certificates: (CertificateEntry | undefined)[] }> {
    const keys = [...txIds.map((id) => key(Bucket.TX, id)), ...certificateIds.map((id) => key(Bucket.CERT, id))]
    const found = keys.length === 0 ? [] : await this.db.getMany(keys)
    return {
      txs: found.slice(0, txIds.length).map((v) => v !== undefined),
      certificates: found.slice(txIds.length).map((v) => (v === undefined ? undefined : decodeStored<CertificateEntry>(v))),
    }
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

  readTreeNodes = async (level: number, indices: readonly number[]): Promise<(Bytes | undefined)[]> => {
    return this.db.getMany(indices.map((i) => treeKey(Bucket.TREE, level, i)))
  }

  readHistoryNodes = async (level: number, indices: readonly number[]): Promise<(Bytes | undefined)[]> => {
    return this.db.getMany(indices.map((i) => treeKey(Bucket.HISTORY, level, i)))
  }

  async getHeightInfo(height: number): Promise<HeightInfo | undefined> {
    const bytes = await this.db.get(key(Bucket.HEIGHT, u64(height)))
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
    writes.txIds.forEach((id, index) => {
      ops.push({ type: 'put', key: key(Bucket.TX, id), value: encode({ height: block.header.height, index }) })
    })
    for (const { id, entry } of writes.certificates.values()) {
      ops.push({ type: 'put', key: key(Bucket.CERT, id), value: encode(pruneUndefined(entry)) })
    }
    for (const n of writes.treeNodes) ops.push({ type: 'put', key: treeKey(Bucket.TREE, n.level, n.index), value: n.hash })
    for (const n of writes.historyNodes) ops.push({ type: 'put', key: treeKey(Bucket.HISTORY, n.level, n.index), value: n.hash })
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
    await this.db.batch(ops, { sync: true })
    this.headState = head
    // In the same synchronous step as the new head: no reader sees the head without the rest.
    onDurable?.()
  }
}
