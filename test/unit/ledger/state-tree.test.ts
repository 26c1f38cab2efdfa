import { describe, expect, it } from 'vitest'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { sha256 } from '../../../src/core/hash.js'
import { merkleNode } from '../../../src/core/merkle.js'
import { sparsePathRoot, sparseZeros } from '../../../src/core/merkle-path.js'
import { EMPTY_TREE_ROOT, StateTree, TIERS, TREE_DEPTH, TreeChunk, type TreeChunkWrite } from '../../../src/ledger/state-tree.js'

/** A status tree over an in-memory chunk store (packed values, as LevelDB holds them), committing like the ledger does. */
function memoryTree(): { tree: StateTree; commit(writes: readonly TreeChunkWrite[]): void; reads: number[]; stored: Map<string, Bytes> } {
  const stored = new Map<string, Bytes>()
  const reads: number[] = []
  const tree = new StateTree((tier, indices) => {
    reads.push(indices.length)
    return Promise.resolve(indices.map((i) => stored.get(`${tier}:${i}`)))
  })
  return {
    tree,
    reads,
    stored,
    commit(writes) {
      for (const w of writes) stored.set(`${w.tier}:${w.index}`, w.chunk.pack())
      tree.committed(writes)
    },
  }
}

const leaf = (n: number): Bytes => sha256(Uint8Array.of(n))

/** Independent root: fold the full tree of depth TREE_DEPTH over sparse leaves, zero-filled. */
function referenceRoot(leaves: ReadonlyMap<number, Bytes>): Bytes {
  let zero: Bytes = new Uint8Array(32)
  let level = new Map(leaves)
  for (let l = 0; l < TREE_DEPTH; l++) {
    const next = new Map<number, Bytes>()
    for (const i of level.keys()) {
      const p = Math.floor(i / 2)
      if (next.has(p)) continue
      next.set(p, merkleNode(level.get(2 * p) ?? zero, level.get(2 * p + 1) ?? zero))
    }
    zero = merkleNode(zero, zero)
    level = next
  }
  return level.get(0) ?? zero
}

describe('StateTree', () => {
  it('the empty tree root is the zero hash folded TREE_DEPTH times', () => {
    expect(TREE_DEPTH).toBe(40)
    expect(toHex(EMPTY_TREE_ROOT)).toBe(toHex(referenceRoot(new Map())))
  })

  it('roots match an independent fold of the sparse tree', async () => {
    for (const indices of [[0], [1], [0, 1, 2], [5, 9, 1000], [2 ** 39, 3]]) {
      const leaves = new Map(indices.map((i) => [i, leaf(i)]))
      const { tree } = memoryTree()
      const { root } = await tree.update(leaves)
      expect(toHex(root), indices.join(',')).toBe(toHex(referenceRoot(leaves)))
    }
  })

  it('incremental updates over committed nodes equal one update from scratch', async () => {
    const a = memoryTree()
    const first = new Map([0, 1, 2].map((i) => [i, leaf(i)]))
    a.commit((await a.tree.update(first)).writes)
    // a new leaf and a changed one
    const second = new Map([
      [3, leaf(3)],
      [1, leaf(101)],
    ])
    const { root } = await a.tree.update(second)
    const all = new Map([...first, ...second])
    expect(toHex(root)).toBe(toHex(referenceRoot(all)))
    expect(toHex(root)).toBe(toHex((await memoryTree().tree.update(all)).root))
  })

  it('an update that is not committed leaves no trace', async () => {
    const a = memoryTree()
    a.commit((await a.tree.update(new Map([[0, leaf(0)]]))).writes)
    await a.tree.update(new Map([[1, leaf(1)]])) // dropped
    const { root } = await a.tree.update(new Map([[2, leaf(2)]]))
    expect(toHex(root)).toBe(toHex(referenceRoot(new Map([[0, leaf(0)], [2, leaf(2)]]))))
  })

  it('writes one chunk per tier, the top one included, for a single changed leaf', async () => {
    const { tree } = memoryTree()
    const { writes } = await tree.update(new Map([[7, leaf(7)]]))
    expect(TIERS * 8).toBe(TREE_DEPTH)
    expect(writes.map((w) => [w.tier, w.index])).toEqual(Array.from({ length: TIERS }, (_, t) => [t, 0]))
  })

  it('adjacent leaves share chunks: 1,000 leaves write 4 bottom chunks of 32-byte hashes, not 2,000 nodes', async () => {
    const a = memoryTree()
    const leaves = new Map(Array.from({ length: 1000 }, (_, i) => [i, leaf(i)]))
    const { root, writes } = await a.tree.update(leaves)
    expect(writes.filter((w) => w.tier === 0).map((w) => w.index)).toEqual([0, 1, 2, 3])
    expect(writes).toHaveLength(4 + TIERS - 1)
    a.commit(writes)
    // 32 bytes of bitmap per chunk and 32 per non-empty bottom node
    expect(a.stored.get('0:3')!.length).toBe(32 + (1000 - 768) * 32)
    expect(toHex(root)).toBe(toHex(referenceRoot(leaves)))
  })

  it('a chunk read back from its packed value is the chunk that was written', async () => {
    const a = memoryTree()
    const leaves = new Map([3, 200, 255].map((i) => [i, leaf(i)]))
    const { writes } = await a.tree.update(leaves)
    const written = writes[0]!.chunk
    const read = TreeChunk.unpack(0, 0, written.pack())
    for (let s = 0; s <= 8; s++) for (let p = 0; p < 256 >> s; p++) expect(toHex(read.node(s, p))).toBe(toHex(written.node(s, p)))
    expect(() => TreeChunk.unpack(0, 0, written.pack().subarray(0, 40))).toThrow(/bitmap/)
  })

  it('paths from chunks read back from storage (a fresh tree, cold cache) prove the leaves against the root', async () => {
    const a = memoryTree()
    const leaves = new Map([0, 1, 255, 256, 70_000, 2 ** 39 + 5].map((i) => [i, leaf(i)]))
    const { root, writes } = await a.tree.update(leaves)
    a.commit(writes)
    const cold = new StateTree((tier, indices) => Promise.resolve(indices.map((i) => a.stored.get(`${tier}:${i}`))))
    for (const [i, hash] of leaves) {
      const path = await cold.path(i)
      expect(toHex(sparsePathRoot(sha256, sparseZeros(sha256), hash, path)!), `leaf ${i}`).toBe(toHex(root))
    }
  })

  // Regression: with no changed leaves the root once fell back to the empty tree's root, so every
  // block that changed no status committed a false state root.
  it('an update with no changed leaves returns the committed root', async () => {
    const a = memoryTree()
    const leaves = new Map([[0, leaf(0)]])
    const { root, writes } = await a.tree.update(leaves)
    a.commit(writes)
    expect(toHex((await a.tree.update(new Map())).root)).toBe(toHex(root))
  })
})
