import { bytesEqual, isBytes, toHex, type Bytes } from '../core/bytes.js'
import * as dagCbor from '@ipld/dag-cbor'
import { blockHash } from '../core/block.js'
import { certificateId } from '../core/certificate.js'
import { encode, decodeCanonical, pruneUndefined } from '../core/encoding.js'
import { CertchainError } from '../core/errors.js'
import type { Genesis } from '../core/genesis.js'
import { sha256 } from '../core/hash.js'
import { merkleRoot } from '../core/merkle.js'
import type { StateRoots } from '../core/state.js'
import type { BlockHeader, Commit, Millis } from '../core/types.js'
import { heightLeaf, statusLeaf, stateRoot } from './execute.js'
import { EMPTY_PROPOSALS, proposalsHash, type ProposalsState } from './governance.js'
import { Registry, registryStateFromGenesis, type RegistryState } from './registry.js'
import { EMPTY_TREE_ROOT as EMPTY_ROOT, StateTree } from './state-tree.js'
import type { CertificateEntry, Head, HeightInfo, LedgerStore, StateReader } from './store.js'

/**
 * Snapshots of the ledger state for state sync (README, "State sync"). A snapshot at height h is
 * a list of chunks, each the canonical encoding of {items}; an item is [kind, key, value]:
 *   [0, height, RegistryState]   the registry after each height that changed it (ascending)
 *   [1, height, HeightInfo]      the time and state roots after every height 1..h (ascending)
 *   [2, id, CertificateEntry]    every certificate
 * in that order. The manifest names the height, the block hash, the roots that the header's state
 * root is the hash of, the open proposals, and each chunk's SHA-256 with the Merkle root over
 * them. Chunks are cut deterministically, so every node of one chain makes the same snapshot of
 * one height and a syncing node can fetch its chunks from several of them.
 */
export const SNAPSHOT_FORMAT = 1

const Item = { REGISTRY: 0, HEIGHT: 1, CERTIFICATE: 2 } as const
type Item = (typeof Item)[keyof typeof Item]

export interface SnapshotManifest {
  readonly format: number
  readonly chainId: string
  readonly height: number
  readonly blockHash: Bytes
  readonly time: Millis
  /** stateRoot(roots) is the state root of the header at `height`. */
  readonly roots: StateRoots
  readonly proposals: ProposalsState
  /** Transactions up to `height` (a statistic; not committed to by the state root). */
  readonly txCount: number
  readonly chunks: readonly Bytes[]
  /** Merkle root over `chunks`: the snapshot's name together with its height. */
  readonly root: Bytes
}

export interface SnapshotLimits {
  /** Largest chunk accepted (a chunk is cut at the first item that reaches `chunkBytes`). */
  readonly maxChunkBytes: number
  readonly maxChunks: number
}

export const DEFAULT_SNAPSHOT_LIMITS: SnapshotLimits = Object.freeze({ maxChunkBytes: 3 * 1024 * 1024, maxChunks: 65_536 })

/** Largest encoded manifest: the chunk hashes, 256 open proposals and the rest. */
export function maxManifestBytes(limits: SnapshotLimits): number {
  return limits.maxChunks * 40 + 2 * 1024 * 1024
}

/**
 * Writes a snapshot of what `reader` sees (a consistent read) as chunks of about `chunkBytes`,
 * handing each to `onChunk` as it is cut (so memory stays at one chunk), and returns the manifest.
 */
export async function takeSnapshot(
  chainId: string,
  reader: StateReader,
  chunkBytes: number,
  onChunk: (index: number, bytes: Bytes) => Promise<void>,
): Promise<SnapshotManifest> {
  const head = await reader.head()
  const proposals = await reader.proposals()
  const hashes: Bytes[] = []
  let items: Bytes[] = []
  let size = 0
  let roots: StateRoots | undefined
  const flush = async (): Promise<void> => {
    if (items.length === 0) return
    const bytes = chunkBytesOf(items)
    hashes.push(sha256(bytes))
    await onChunk(hashes.length - 1, bytes)
    items = []
    size = 0
  }
  // Each item is encoded once: its bytes decide where the chunk is cut and go into it as they are.
  const add = async (item: unknown[]): Promise<void> => {
    const encoded = encode(item)
    if (items.length > 0 && size + encoded.length > chunkBytes) await flush()
    items.push(encoded)
    size += encoded.length
  }
  for await (const { height, state } of reader.registries()) if (height <= head.height) await add([Item.REGISTRY, height, pruneUndefined(state)])
  for await (const { height, info } of reader.heights()) {
    if (height > head.height) continue
    if (height === head.height) roots = info.roots
    await add([Item.HEIGHT, height, info])
  }
  for await (const { id, entry } of reader.certificates()) await add([Item.CERTIFICATE, id, pruneUndefined(entry)])
  await flush()
  if (!roots) throw new CertchainError('INTERNAL', `no state record for height ${head.height}: nothing to snapshot`)
  return {
    format: SNAPSHOT_FORMAT,
    chainId,
    height: head.height,
    blockHash: head.hash,
    time: head.time,
    roots,
    proposals: proposals ?? EMPTY_PROPOSALS,
    txCount: head.txCount,
    chunks: hashes,
    root: merkleRoot(hashes),
  }
}

/** The canonical encoding of {items} from the items' own canonical encodings (a one-key map, then the array). */
function chunkBytesOf(items: readonly Bytes[]): Bytes {
  const n = items.length
  const head =
    n < 24 ? [0x80 | n] : n < 0x100 ? [0x98, n] : n < 0x10000 ? [0x99, n >> 8, n & 0xff] : [0x9a, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
  const out = Buffer.concat([CHUNK_PREFIX, Uint8Array.from(head), ...items])
  return new Uint8Array(out.buffer, out.byteOffset, out.length)
}

/** `{` one key, the text "items" `:`: the start of every chunk. */
const CHUNK_PREFIX = Uint8Array.of(0xa1, 0x65, ...new TextEncoder().encode('items'))

export function encodeManifest(manifest: SnapshotManifest): Bytes {
  return encode(pruneUndefined(manifest))
}

function invalid(message: string): never {
  throw new CertchainError('SNAPSHOT_INVALID', message)
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)

/**
 * Parses a manifest from a peer: size first, then shape, then that the chunk hashes give its root.
 * Whether it belongs to the chain is {@link SnapshotRestore}'s check against a verified header.
 */
export function decodeManifest(bytes: Bytes, limits: SnapshotLimits): SnapshotManifest {
  const m = decodeCanonical(bytes, maxManifestBytes(limits), 'SNAPSHOT_INVALID')
  if (!isMap(m)) return invalid('manifest must be a map')
  if (m.format !== SNAPSHOT_FORMAT) invalid(`manifest format must be ${SNAPSHOT_FORMAT}`)
  if (typeof m.chainId !== 'string' || ![m.height, m.time, m.txCount].every(isCount) || (m.height as number) < 1) invalid('manifest chainId, height, time or txCount is malformed')
  if (!isBytes(m.blockHash, 32) || !isBytes(m.root, 32)) invalid('manifest blockHash and root must be 32 bytes')
  const roots = m.roots
  if (!isMap(roots) || !isCount(roots.certificateCount) || ![roots.certificates, roots.history, roots.proposals, roots.registry].every((b) => isBytes(b, 32))) {
    invalid('manifest roots are malformed')
  }
  const proposals = m.proposals
  if (!isMap(proposals) || !isCount(proposals.next) || !Array.isArray(proposals.open)) invalid('manifest proposals are malformed')
  const chunks = m.chunks
  if (!Array.isArray(chunks) || chunks.length === 0 || chunks.length > limits.maxChunks || !chunks.every((c) => isBytes(c, 32))) {
    invalid(`manifest must list 1 to ${limits.maxChunks} chunk hashes of 32 bytes`)
  }
  const manifest = m as unknown as SnapshotManifest
  if (!bytesEqual(merkleRoot(manifest.chunks), manifest.root)) invalid('manifest chunk hashes do not give its root')
  return manifest
}

/** What the installing ledger supplies: its store (empty), chain and genesis. */
export interface RestoreTarget {
  readonly store: LedgerStore
  readonly genesis: Genesis
}

/** Entries written per store batch while restoring. */
const WRITE_BATCH = 8192
/** Leaves added to a tree per update while rebuilding it. */
const TREE_BATCH = 1 << 16

/**
 * Installs a snapshot into an empty store, checking as it goes. The caller has verified `header`
 * (light verification from its trust anchor); everything installed is checked against it:
 * the manifest's roots hash to its state root; chunks match the manifest's hashes (each alone,
 * {@link checkChunk}); every height record's roots hash to the state root its history leaf
 * holds and the history tree rebuilt from them has the root the header commits to; the registry
 * in effect at every height hashes to that height's registry root; every certificate's id is the
 * hash of its record and the status tree rebuilt from the entries has the committed root; the
 * open proposals hash to the proposals root. Chunks must be applied in order.
 */
export class SnapshotRestore {
  private next = 0
  private phase: number = Item.REGISTRY
  private readonly registries: { height: number; hash: Bytes }[] = []
  private readonly genesisRegistryHash: Bytes
  private lastHeight = 0
  private lastTime: Millis
  private readonly historyLeaves: Bytes[] = []
  private readonly statusLeaves: Uint8Array
  private readonly seen: Uint8Array
  private seenCount = 0

  constructor(
    private readonly target: RestoreTarget,
    readonly manifest: SnapshotManifest,
    private readonly signed: { header: BlockHeader; commit: Commit },
    private readonly limits: SnapshotLimits,
  ) {
    const { header } = signed
    const genesis = target.genesis
    if (manifest.chainId !== genesis.chainId) invalid(`snapshot of chain "${manifest.chainId}"`)
    if (header.height !== manifest.height) invalid(`manifest height ${manifest.height} is not the verified header's ${header.height}`)
    if (!bytesEqual(blockHash(header), manifest.blockHash)) invalid('manifest block hash is not the verified header\'s')
    if (header.time !== manifest.time) invalid('manifest time is not the verified header\'s')
    if (!bytesEqual(stateRoot(manifest.roots), header.stateRoot)) invalid('manifest roots do not hash to the verified header\'s state root')
    if (!bytesEqual(proposalsHash(manifest.proposals), manifest.roots.proposals)) invalid('manifest proposals do not hash to the proposals root')
    if (target.store.head.height !== 0) throw new CertchainError('INTERNAL', 'a snapshot is installed into an empty ledger only')
    this.genesisRegistryHash = new Registry(genesis.chainId, registryStateFromGenesis(genesis)).hash
    this.lastTime = genesis.genesisTime
    const count = manifest.roots.certificateCount
    // Bounded by what the verified header commits to: the chain's own certificate count.
    this.statusLeaves = new Uint8Array(count * 32)
    this.seen = new Uint8Array(Math.ceil(count / 8))
    this.historyLeaves.push(heightLeaf({ height: 0, time: genesis.genesisTime, stateRoot: stateRoot(genesisRootsOf(this.genesisRegistryHash)) }))
  }

  get chunksDone(): number {
    return this.next
  }

  get chunkCount(): number {
    return this.manifest.chunks.length
  }

  /** Size and hash of chunk `index` against the manifest: cheap, and enough to blame whoever served it. */
  checkChunk(index: number, bytes: Bytes): boolean {
    const expected = this.manifest.chunks[index]
    return expected !== undefined && bytes.length <= this.limits.maxChunkBytes && bytesEqual(sha256(bytes), expected)
  }

  /** Applies the next chunk (index {@link chunksDone}); it must have passed {@link checkChunk}. */
  async apply(index: number, bytes: Bytes): Promise<void> {
    if (index !== this.next) throw new CertchainError('INTERNAL', `chunk ${index} applied out of order (expected ${this.next})`)
    if (!this.checkChunk(index, bytes)) invalid(`chunk ${index} does not match the manifest`)
    // Not held to canonical form: nothing of it is trusted as encoded, every value is recomputed or checked.
    let chunk: unknown
    try {
      chunk = dagCbor.decode(bytes)
    } catch (err) {
      invalid(`chunk ${index} is not DAG-CBOR: ${(err as Error).message}`)
    }
    if (!isMap(chunk) || !Array.isArray(chunk.items) || chunk.items.length === 0) invalid(`chunk ${index} must be {items} with at least one item`)
    const certificates: { id: Bytes; entry: CertificateEntry }[] = []
    const heights: { height: number; info: HeightInfo }[] = []
    const registries: { height: number; state: RegistryState }[] = []
    try {
      for (const item of (chunk as { items: unknown[] }).items) {
        if (!Array.isArray(item) || item.length !== 3 || !isCount(item[0]) || item[0] > Item.CERTIFICATE) invalid(`chunk ${index}: an item is not [kind, key, value]`)
        const [kind, k, value] = item as [Item, unknown, unknown]
        if (kind < this.phase) invalid(`chunk ${index}: items out of order`)
        this.phase = kind
        if (kind === Item.REGISTRY) registries.push(this.registry(k, value))
        else if (kind === Item.HEIGHT) heights.push(this.height(k, value))
        else certificates.push(this.certificate(k, value))
        if (certificates.length >= WRITE_BATCH) await this.target.store.putRestored({ certificates: certificates.splice(0) })
      }
    } catch (err) {
      // A provider may put anything in a chunk its own manifest lists: a shape that trips a
      // TypeError is a bad snapshot like any other.
      if (err instanceof CertchainError) throw err
      invalid(`chunk ${index}: ${(err as Error).message}`)
    }
    await this.target.store.putRestored({ certificates, heights, registries })
    this.next++
  }

  private registry(k: unknown, value: unknown): { height: number; state: RegistryState } {
    const last = this.registries.at(-1)?.height ?? 0
    if (!isCount(k) || k <= last || k > this.manifest.height) invalid(`registry height ${String(k)} is not ascending within 1..${this.manifest.height}`)
    if (!isMap(value)) invalid(`registry of height ${k} is not a map`)
    const state = value as unknown as RegistryState
    this.registries.push({ height: k, hash: new Registry(this.manifest.chainId, state).hash })
    return { height: k, state }
  }

  private height(k: unknown, value: unknown): { height: number; info: HeightInfo } {
    if (k !== this.lastHeight + 1 || k > this.manifest.height) invalid(`height record ${String(k)} where ${this.lastHeight + 1} was due`)
    const height = k
    if (!isMap(value) || !isCount(value.time) || !isMap(value.roots)) invalid(`height record ${height} is malformed`)
    const info = value as unknown as HeightInfo
    if (info.time <= this.lastTime) invalid(`height ${height}: time is not after the previous height's`)
    const registryHash = this.registryHashAt(height)
    if (!bytesEqual(registryHash, info.roots.registry)) invalid(`height ${height}: the registry in effect does not hash to its registry root`)
    const root = stateRoot(info.roots)
    if (height === this.manifest.height) {
      if (!bytesEqual(root, stateRoot(this.manifest.roots)) || info.time !== this.manifest.time) invalid(`height ${height}: record differs from the manifest`)
    } else this.historyLeaves.push(heightLeaf({ height, time: info.time, stateRoot: root }))
    this.lastHeight = height
    this.lastTime = info.time
    return { height, info: { time: info.time, roots: info.roots } }
  }

  private registryHashAt(height: number): Bytes {
    let hash = this.genesisRegistryHash
    for (const r of this.registries) if (r.height <= height) hash = r.hash
    return hash
  }

  private certificate(k: unknown, value: unknown): { id: Bytes; entry: CertificateEntry } {
    if (!isBytes(k, 32) || !isMap(value) || !isMap(value.record)) invalid('a certificate item is malformed')
    const id = k
    const entry = value as unknown as CertificateEntry
    if (!bytesEqual(certificateId(entry.record), id)) invalid(`certificate ${toHex(id)}: its id is not the hash of its record`)
    const seq = entry.seq
    if (!isCount(seq) || seq >= this.manifest.roots.certificateCount) invalid(`certificate ${toHex(id)}: sequence number out of range`)
    if (!isCount(entry.height) || entry.height > this.manifest.height || entry.height < 1) invalid(`certificate ${toHex(id)}: height out of range`)
    if ((this.seen[seq >> 3]! & (1 << (seq & 7))) !== 0) invalid(`certificate sequence number ${seq} appears twice`)
    this.seen[seq >> 3]! |= 1 << (seq & 7)
    this.seenCount++
    this.statusLeaves.set(statusLeaf(id, entry), seq * 32)
    return { id, entry }
  }

  /**
   * After the last chunk: rebuilds both trees, compares their roots with the verified ones and
   * makes the state the ledger's head (the one fsynced write, last). `headers` are verified
   * headers with commits to keep (the set changes followed and the header of the snapshot).
   */
  async finish(headers: readonly { header: BlockHeader; commit: Commit }[]): Promise<Head> {
    const { manifest, target } = this
    if (this.next !== manifest.chunks.length) throw new CertchainError('INTERNAL', `${manifest.chunks.length - this.next} chunks not applied`)
    if (this.lastHeight !== manifest.height) invalid(`height records end at ${this.lastHeight}, not ${manifest.height}`)
    const count = manifest.roots.certificateCount
    if (this.seenCount !== count) invalid(`snapshot holds ${this.seenCount} certificates; the state root commits to ${count}`)
    const status = await rebuild(target.store, 'treeNodes', count, (i) => this.statusLeaves.subarray(i * 32, i * 32 + 32))
    if (!bytesEqual(status, manifest.roots.certificates)) invalid('the rebuilt status tree does not have the committed root')
    const history = await rebuild(target.store, 'historyNodes', this.historyLeaves.length, (i) => this.historyLeaves[i]!)
    if (!bytesEqual(history, manifest.roots.history)) invalid('the rebuilt height history does not have the committed root')
    const open = manifest.proposals.open
    await target.store.putRestored({ proposals: open, headers: [...headers, this.signed] })
    const head: Head = {
      height: manifest.height,
      hash: manifest.blockHash,
      time: manifest.time,
      stateRoot: this.signed.header.stateRoot,
      certificateCount: count,
      txCount: manifest.txCount,
    }
    await target.store.finishRestore(head, manifest.proposals)
    return head
  }
}

/** The genesis state roots from the genesis registry's hash (see ledger.genesisRoots). */
function genesisRootsOf(registry: Bytes): StateRoots {
  return { certificates: EMPTY_ROOT, history: EMPTY_ROOT, certificateCount: 0, registry, proposals: proposalsHash(EMPTY_PROPOSALS) }
}

/** Rebuilds a tree of `count` leaves in batches (each batch's nodes written before the next reads them); returns its root. */
async function rebuild(store: LedgerStore, kind: 'treeNodes' | 'historyNodes', count: number, leaf: (i: number) => Bytes): Promise<Bytes> {
  const tree = new StateTree(kind === 'treeNodes' ? store.readTreeChunks : store.readHistoryChunks)
  if (count === 0) return EMPTY_ROOT
  let root = EMPTY_ROOT
  for (let start = 0; start < count; start += TREE_BATCH) {
    const leaves = new Map<number, Bytes>()
    for (let i = start; i < Math.min(count, start + TREE_BATCH); i++) leaves.set(i, leaf(i))
    const update = await tree.update(leaves)
    await store.putRestored({ [kind]: update.writes })
    // The tree caches the chunks it read (empty ones, at first): it must see this batch's instead.
    tree.committed(update.writes)
    root = update.root
  }
  return root
}
