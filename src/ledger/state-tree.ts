import { BoundedCache } from '../core/bounded-cache.js'
import { hash as nodeCryptoHash } from 'node:crypto'
import { bytesEqual, type Bytes } from '../core/bytes.js'
import { sha256 } from '../core/hash.js'
import { SPARSE_DEPTH, sparseZeros, type SparsePath } from '../core/merkle-path.js'
import type { Pacer } from './pace.js'

/**
 * A fixed-depth sparse Merkle tree over LevelDB (hashing rules in core/merkle-path.ts, unchanged):
 * the status tree, whose leaf i is the status of the i-th certificate ever issued, and the height
 * history, whose leaf h records the state after block h. Empty subtrees hash to precomputed
 * constants. Every node keeps every current node, so it can serve an inclusion proof of any leaf
 * against the head's state.
 *
 * Stored layout: the 40 levels are cut into 5 tiers of 8. A chunk (tier t, index c) is the
 * 8-level subtree whose bottom row is the 256 nodes c·256 … c·256+255 of level 8t; only that row
 * is stored (a presence bitmap and the non-empty hashes), the 255 nodes above it are recomputed
 * when the chunk is read. The chunk's top node is a bottom node of the chunk above it. So issuing
 * n adjacent certificates writes about n/256 values (n leaf hashes, 32 bytes each) instead of 2n
 * one-hash records, and a proof reads 5 values instead of 40.
 */
export const TREE_DEPTH = SPARSE_DEPTH

const ZERO: Bytes[] = sparseZeros(sha256)

export const EMPTY_TREE_ROOT = ZERO[TREE_DEPTH]!

/** Levels per chunk, and nodes in a chunk's bottom row. */
export const CHUNK_LEVELS = 8
const WIDTH = 2 ** CHUNK_LEVELS
export const TIERS = TREE_DEPTH / CHUNK_LEVELS
/** Node slots of a chunk: its bottom row, the rows above, and its top node (the last slot). */
const SLOTS = 2 * WIDTH - 1
const TOP = SLOTS - 1
const BITMAP_BYTES = WIDTH / 8

/** First slot of row `s` (0: bottom, CHUNK_LEVELS: top). */
function rowStart(s: number): number {
  return 2 * WIDTH - (2 * WIDTH) / 2 ** s
}

// One reused input buffer: 0x01 ‖ left ‖ right is an inner node's preimage (RFC 6962, as nodeHash).
const nodeInput = Buffer.alloc(65)
nodeInput[0] = 1

/**
 * One chunk with all its rows, in one contiguous buffer: 511 hashes of 32 bytes, and a flag per
 * slot (0: empty subtree, whose hash is the zero constant of its level).
 */
export class TreeChunk {
  private constructor(
    readonly tier: number,
    readonly index: number,
    private readonly data: Uint8Array,
    private readonly present: Uint8Array,
  ) {}

  static empty(tier: number, index: number): TreeChunk {
    return new TreeChunk(tier, index, new Uint8Array(SLOTS * 32), new Uint8Array(SLOTS))
  }

  /** A stored chunk: the bottom row from its packed value, the rows above recomputed. */
  static unpack(tier: number, index: number, value: Bytes): TreeChunk {
    const chunk = TreeChunk.empty(tier, index)
    let offset = BITMAP_BYTES
    for (let i = 0; i < WIDTH; i++) {
      if ((value[i >> 3]! & (1 << (i & 7))) === 0) continue
      chunk.data.set(value.subarray(offset, offset + 32), i * 32)
      chunk.present[i] = 1
      offset += 32
    }
    if (offset !== value.length) throw new Error(`tree chunk ${tier}:${index} has ${value.length} bytes, its bitmap says ${offset}`)
    const all = Array.from({ length: WIDTH }, (_, i) => i)
    chunk.recompute(all)
    return chunk
  }

  /** The stored value: presence bitmap of the bottom row, then its non-empty hashes in order. */
  pack(): Bytes {
    let count = 0
    for (let i = 0; i < WIDTH; i++) count += this.present[i]!
    const out = new Uint8Array(BITMAP_BYTES + count * 32)
    let offset = BITMAP_BYTES
    for (let i = 0; i < WIDTH; i++) {
      if (this.present[i] === 0) continue
      out[i >> 3]! |= 1 << (i & 7)
      out.set(this.data.subarray(i * 32, i * 32 + 32), offset)
      offset += 32
    }
    return out
  }

  /** A copy to change: committed chunks are shared with readers and never mutated. */
  clone(): TreeChunk {
    return new TreeChunk(this.tier, this.index, this.data.slice(), this.present.slice())
  }

  /** Node at row `s`, position `p` within the chunk (the zero constant for an empty subtree). */
  node(s: number, p: number): Bytes {
    const slot = rowStart(s) + p
    if (this.present[slot] === 0) return ZERO[this.tier * CHUNK_LEVELS + s]!
    return this.data.slice(slot * 32, slot * 32 + 32)
  }

  /** The chunk's top node: a bottom-row node of the chunk above (undefined: an empty subtree). */
  get top(): Bytes | undefined {
    return this.present[TOP] === 0 ? undefined : this.node(CHUNK_LEVELS, 0)
  }

  /** Sets bottom-row nodes (undefined: empty) and recomputes their ancestors. */
  setBottom(changes: ReadonlyMap<number, Bytes | undefined>): void {
    for (const [p, hash] of changes) {
      if (hash === undefined) this.present[p] = 0
      else {
        this.data.set(hash, p * 32)
        this.present[p] = 1
      }
    }
    this.recompute([...changes.keys()])
  }

  /** Rehashes the ancestors of the given bottom-row positions, row by row. */
  private recompute(positions: readonly number[]): void {
    let changed = positions
    for (let s = 1; s <= CHUNK_LEVELS; s++) {
      const below = rowStart(s - 1)
      const here = rowStart(s)
      const zero = ZERO[this.tier * CHUNK_LEVELS + s - 1]!
      const next: number[] = []
      let last = -1
      for (const p of changed) {
        const parent = p >> 1
        if (parent === last) continue
        last = parent
        next.push(parent)
        const left = below + 2 * parent
        const right = left + 1
        const slot = here + parent
        if (this.present[left] === 0 && this.present[right] === 0) {
          this.present[slot] = 0
          continue
        }
        if (this.present[left] === 0) nodeInput.set(zero, 1)
        else nodeInput.set(this.data.subarray(left * 32, left * 32 + 32), 1)
        if (this.present[right] === 0) nodeInput.set(zero, 33)
        else nodeInput.set(this.data.subarray(right * 32, right * 32 + 32), 33)
        this.data.set(nodeCryptoHash('sha256', nodeInput, 'buffer'), slot * 32)
        this.present[slot] = 1
      }
      changed = next
    }
  }
}

/** A chunk that changed in an update; its packed value goes to storage when the block commits. */
export interface TreeChunkWrite {
  readonly tier: number
  readonly index: number
  readonly chunk: TreeChunk
}

/** Packed chunk values by tier and chunk index (undefined: never stored, all empty). */
export type TreeChunkReader = (tier: number, indices: readonly number[]) => Promise<(Bytes | undefined)[]>

/** Chunks kept in memory (each about 16 KiB): the newest ones, which the next blocks extend. */
const CACHE_LIMIT = 4096

export class StateTree {
  // Committed chunks only: a block that is computed but never committed must leave no trace.
  private readonly cache = new BoundedCache<string, TreeChunk>(CACHE_LIMIT)
  /** Bumped on every commit: a read that started before one must not be cached. */
  private generation = 0

  constructor(private readonly read: TreeChunkReader) {}

  /** New root and the chunks to store if the given leaves change (leaf index -> leaf hash). */
  async update(leaves: ReadonlyMap<number, Bytes>, pacer?: Pacer): Promise<{ root: Bytes; writes: TreeChunkWrite[] }> {
    // The top chunk is stored like any other, so an update that changes nothing answers the
    // committed root.
    if (leaves.size === 0) return { root: (await this.chunks(TIERS - 1, [0])).get(0)!.top ?? EMPTY_TREE_ROOT, writes: [] }
    const writes: TreeChunkWrite[] = []
    let changes: Map<number, Bytes | undefined> = new Map([...leaves].sort((a, b) => a[0] - b[0]))
    for (let tier = 0; tier < TIERS; tier++) {
      const byChunk = new Map<number, Map<number, Bytes | undefined>>()
      for (const [i, hash] of changes) {
        const c = Math.floor(i / WIDTH)
        let group = byChunk.get(c)
        if (!group) byChunk.set(c, (group = new Map<number, Bytes | undefined>()))
        group.set(i - c * WIDTH, hash)
      }
      const loaded = await this.chunks(tier, [...byChunk.keys()])
      const next = new Map<number, Bytes | undefined>()
      for (const [c, group] of byChunk) {
        const chunk = loaded.get(c)!.clone()
        chunk.setBottom(group)
        writes.push({ tier, index: c, chunk })
        next.set(c, chunk.top)
        await pacer?.pause()
      }
      changes = next
    }
    return { root: changes.get(0) ?? EMPTY_TREE_ROOT, writes }
  }

  /**
   * The compressed path of leaf `index` in the committed tree (siblings that are empty subtrees
   * left out): one chunk per tier, read concurrently. A caller that needs it to match a given root checks.
   */
  async path(index: number): Promise<SparsePath> {
    const positions = Array.from({ length: TIERS }, (_, tier) => Math.floor(index / WIDTH ** tier))
    const chunks = await Promise.all(positions.map((pos, tier) => this.chunks(tier, [Math.floor(pos / WIDTH)])))
    let present = 0
    const siblings: Bytes[] = []
    for (let tier = 0; tier < TIERS; tier++) {
      const chunk = chunks[tier]!.get(Math.floor(positions[tier]! / WIDTH))!
      const p = positions[tier]! % WIDTH
      for (let s = 0; s < CHUNK_LEVELS; s++) {
        const level = tier * CHUNK_LEVELS + s
        const hash = chunk.node(s, (p >> s) ^ 1)
        if (bytesEqual(hash, ZERO[level]!)) continue
        present += 2 ** level
        siblings.push(hash)
      }
    }
    return { index, present, siblings }
  }

  /** Records chunks that are now durable, so the next block reads them from memory. */
  committed(writes: readonly TreeChunkWrite[]): void {
    this.generation++
    for (const w of writes) this.remember(w.chunk)
  }

  private remember(chunk: TreeChunk): void {
    // The chunks blocks no longer extend age out with the older generation.
    this.cache.set(`${chunk.tier}:${chunk.index}`, chunk)
  }

  private async chunks(tier: number, indices: readonly number[]): Promise<Map<number, TreeChunk>> {
    const out = new Map<number, TreeChunk>()
    const unknown: number[] = []
    for (const index of indices) {
      const hit = this.cache.get(`${tier}:${index}`)
      if (hit) out.set(index, hit)
      else unknown.push(index)
    }
    if (unknown.length > 0) {
      const generation = this.generation
      const found = await this.read(tier, unknown)
      unknown.forEach((index, i) => {
        const value = found[i]
        const chunk = value === undefined ? TreeChunk.empty(tier, index) : TreeChunk.unpack(tier, index, value)
        out.set(index, chunk)
        // Still the committed chunk only if no block committed while it was read.
        if (value !== undefined && generation === this.generation) this.remember(chunk)
      })
    }
    return out
  }
}
