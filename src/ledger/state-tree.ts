import { bytesEqual, type Bytes } from '../core/bytes.js'
import { sha256 } from '../core/hash.js'
import { merkleNode } from '../core/merkle.js'
import { SPARSE_DEPTH, sparseZeros, type SparsePath } from '../core/merkle-path.js'

/**
 * A fixed-depth sparse Merkle tree over LevelDB (rules in core/merkle-path.ts): the status tree,
 * whose leaf i is the status of the i-th certificate ever issued, and the height history, whose
 * leaf h records the state after block h. Empty subtrees hash to precomputed constants, so only
 * touched nodes are stored. Issuing n certificates in one block touches about 2n nodes (they are
 * adjacent leaves); a status change or a new height touches TREE_DEPTH nodes. Every node keeps
 * every current node, so it can serve an inclusion proof of any leaf against the head's state.
 */
export const TREE_DEPTH = SPARSE_DEPTH

const ZERO: Bytes[] = sparseZeros(sha256)

export const EMPTY_TREE_ROOT = ZERO[TREE_DEPTH]!

export interface TreeNodeWrite {
  readonly level: number
  readonly index: number
  readonly hash: Bytes
}

export type TreeNodeReader = (level: number, indices: readonly number[]) => Promise<(Bytes | undefined)[]>

const CACHE_LIMIT = 1_000_000

export class StateTree {
  // Committed nodes only: a block that is computed but never committed must leave no trace.
  private readonly cache = new Map<string, Bytes>()

  constructor(private readonly read: TreeNodeReader) {}

  /** New root and the nodes to store if the given leaves change (leaf index -> leaf hash). */
  async update(leaves: ReadonlyMap<number, Bytes>): Promise<{ root: Bytes; writes: TreeNodeWrite[] }> {
    // The root is stored like any node (level TREE_DEPTH), so an update that changes nothing
    // answers the committed root.
    if (leaves.size === 0) return { root: (await this.nodes(TREE_DEPTH, [0])).get(0)!, writes: [] }
    const writes: TreeNodeWrite[] = []
    let current = new Map(leaves)
    for (let level = 0; level < TREE_DEPTH; level++) {
      for (const [index, hash] of current) writes.push({ level, index, hash })
      const missing: number[] = []
      for (const index of current.keys()) {
        const sibling = index % 2 === 0 ? index + 1 : index - 1
        if (!current.has(sibling)) missing.push(sibling)
      }
      const siblings = await this.nodes(level, missing)
      const parents = new Map<number, Bytes>()
      for (const index of current.keys()) {
        const parent = Math.floor(index / 2)
        if (parents.has(parent)) continue
        const left = current.get(parent * 2) ?? siblings.get(parent * 2)!
        const right = current.get(parent * 2 + 1) ?? siblings.get(parent * 2 + 1)!
        parents.set(parent, merkleNode(left, right))
      }
      current = parents
    }
    const root = current.get(0)!
    writes.push({ level: TREE_DEPTH, index: 0, hash: root })
    return { root, writes }
  }

  /**
   * The compressed path of leaf `index` in the committed tree (siblings that are empty subtrees
   * left out). The 40 levels are read concurrently; a caller that needs it to match a given root checks.
   */
  async path(index: number): Promise<SparsePath> {
    const levels = Array.from({ length: TREE_DEPTH }, (_, level) => {
      const position = Math.floor(index / 2 ** level)
      const sibling = position % 2 === 0 ? position + 1 : position - 1
      return this.nodes(level, [sibling]).then((found) => found.get(sibling)!)
    })
    let present = 0
    const siblings: Bytes[] = []
    for (const [level, hash] of (await Promise.all(levels)).entries()) {
      if (bytesEqual(hash, ZERO[level]!)) continue
      present += 2 ** level
      siblings.push(hash)
    }
    return { index, present, siblings }
  }

  /** Records nodes that are now durable, so the next block reads them from memory. */
  committed(writes: readonly TreeNodeWrite[]): void {
    if (this.cache.size + writes.length > CACHE_LIMIT) this.cache.clear()
    for (const w of writes) this.cache.set(`${w.level}:${w.index}`, w.hash)
  }

  private async nodes(level: number, indices: readonly number[]): Promise<Map<number, Bytes>> {
    const out = new Map<number, Bytes>()
    const unknown: number[] = []
    for (const index of indices) {
      const hit = this.cache.get(`${level}:${index}`)
      if (hit) out.set(index, hit)
      else unknown.push(index)
    }
    if (unknown.length > 0) {
      const found = await this.read(level, unknown)
      unknown.forEach((index, i) => out.set(index, found[i] ?? ZERO[level]!))
    }
    return out
  }
}
