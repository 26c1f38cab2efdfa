import { describe, expect, it } from 'vitest'
import { toHex, type Bytes } from '../../../src/core/bytes.js'
import { sha256 } from '../../../src/core/hash.js'
import { merkleNode } from '../../../src/core/merkle.js'
import { EMPTY_TREE_ROOT, StateTree, TREE_DEPTH, type TreeNodeWrite } from '../../../src/ledger/state-tree.js'

/** A status tree over an in-memory node store, committing like the ledger does. */
function memoryTree(): { tree: StateTree; commit(writes: readonly TreeNodeWrite[]): void; reads: number[] } {
  const nodes = new Map<string, Bytes>()
  const reads: number[] = []
  const tree = new StateTree((level, indices) => {
    reads.push(indices.length)
    return Promise.resolve(indices.map((i) => nodes.get(`${level}:${i}`)))
  })
  return {
    tree,
    reads,
    commit(writes) {
      for (const w of writes) nodes.set(`${w.level}:${w.index}`, w.hash)
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

  it('writes one node per level, root included, for a single changed leaf', async () => {
    const { tree } = memoryTree()
    const { writes } = await tree.update(new Map([[7, leaf(7)]]))
    expect(writes).toHaveLength(TREE_DEPTH + 1)
    expect(writes.map((w) => w.level)).toEqual(Array.from({ length: TREE_DEPTH + 1 }, (_, l) => l))
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
