import type { Bytes } from './bytes.js'
import { sha256 } from './hash.js'
import { auditPathRoot, leafHash, nodeHash } from './merkle-path.js'

// RFC 6962 style binary Merkle tree (rules in merkle-path.ts), hashed with OpenSSL. Used for the
// transactions of a block, the records of an issuance batch (so each holder's certificate file
// carries a short proof, not the whole batch) and the registry's entries.
export function merkleLeaf(data: Bytes): Bytes {
  return leafHash(sha256, data)
}

export function merkleNode(left: Bytes, right: Bytes): Bytes {
  return nodeHash(sha256, left, right)
}

const EMPTY_ROOT = sha256(new Uint8Array(0))

function merkleLevels(items: readonly Bytes[]): Bytes[][] {
  const levels: Bytes[][] = [items.map(merkleLeaf)]
  // Bottom-up pairing with the odd last node promoted unchanged yields the same tree as the
  // recursive RFC 6962 split (largest power of two on the left), without recursion.
  for (let level = levels[0]!; level.length > 1; ) {
    const next: Bytes[] = []
    for (let i = 0; i + 1 < level.length; i += 2) next.push(merkleNode(level[i]!, level[i + 1]!))
    if (level.length % 2 === 1) next.push(level[level.length - 1]!)
    levels.push(next)
    level = next
  }
  return levels
}

/** Root over the given items (each is hashed as a leaf). */
export function merkleRoot(items: readonly Bytes[]): Bytes {
  if (items.length === 0) return EMPTY_ROOT
  const levels = merkleLevels(items)
  return levels[levels.length - 1]![0]!
}

/** Audit paths (leaf-side first) for every item, built from one pass over the tree. */
export function merkleProofs(items: readonly Bytes[]): Bytes[][] {
  const levels = merkleLevels(items)
  return items.map((_, index) => {
    const path: Bytes[] = []
    let i = index
    for (let l = 0; l < levels.length - 1; l++) {
      const level = levels[l]!
      const sibling = i % 2 === 1 ? level[i - 1] : level[i + 1]
      // A promoted last node has no sibling at this level.
      if (sibling !== undefined) path.push(sibling)
      i = Math.floor(i / 2)
    }
    return path
  })
}

/** Recomputes the root from one item, its index, the tree size and its audit path. */
export function merkleRootFromProof(item: Bytes, index: number, size: number, path: readonly Bytes[]): Bytes | null {
  return auditPathRoot(sha256, item, index, size, path)
}
