import type { Bytes } from './bytes.js'

/**
 * The Merkle rules of certchain as pure functions of a SHA-256 implementation: the node passes
 * OpenSSL's (`node:crypto`), the light verifier (browser-safe) passes `@noble/hashes`. Both must
 * hash the same way, so the rules live here once.
 *
 * Trees follow RFC 6962: a leaf is SHA-256(0x00 ‖ data), an inner node SHA-256(0x01 ‖ left ‖ right),
 * so a leaf can never be passed off as an inner node.
 */
export type Sha256 = (...parts: Bytes[]) => Bytes

const LEAF = Uint8Array.of(0)
const NODE = Uint8Array.of(1)

export function leafHash(sha256: Sha256, data: Bytes): Bytes {
  return sha256(LEAF, data)
}

export function nodeHash(sha256: Sha256, left: Bytes, right: Bytes): Bytes {
  return sha256(NODE, left, right)
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

/**
 * Recomputes the root of an RFC 6962 tree of `size` items from one item, its index and its audit
 * path (leaf side first). Null when the path cannot belong to that position.
 */
export function auditPathRoot(sha256: Sha256, item: Bytes, index: number, size: number, path: readonly Bytes[]): Bytes | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null
  // Descend the recursive split to learn, for each level, which side the sibling is on.
  const sides: boolean[] = [] // true: sibling is on the right
  let lo = 0
  let hi = size
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo)
    if (index < lo + k) {
      sides.push(true)
      hi = lo + k
    } else {
      sides.push(false)
      lo = lo + k
    }
  }
  if (sides.length !== path.length) return null
  let acc = leafHash(sha256, item)
  for (let i = 0; i < path.length; i++) {
    const sibling = path[i]!
    acc = sides[sides.length - 1 - i]! ? nodeHash(sha256, acc, sibling) : nodeHash(sha256, sibling, acc)
  }
  return acc
}

/**
 * Fixed-depth sparse trees (the status tree and the height history): leaf i sits at position i of
 * a complete tree of depth SPARSE_DEPTH, and an empty subtree of level l hashes to `zeros[l]`
 * (zeros[0] is 32 zero bytes, zeros[l+1] = node(zeros[l], zeros[l])). Only touched nodes exist.
 */
export const SPARSE_DEPTH = 40 // 2^40 leaves: over a thousand years of Korea's yearly volume

export function sparseZeros(sha256: Sha256): Bytes[] {
  const zeros: Bytes[] = [new Uint8Array(32)]
  for (let l = 1; l <= SPARSE_DEPTH; l++) zeros.push(nodeHash(sha256, zeros[l - 1]!, zeros[l - 1]!))
  return zeros
}

/**
 * A compressed path in a sparse tree: the siblings from the leaf up, leaving out those that are
 * empty subtrees; bit l of `present` says whether the sibling at level l is listed. On a chain of
 * n leaves about log2(n) siblings are listed, not 40.
 */
export interface SparsePath {
  readonly index: number
  readonly present: number
  readonly siblings: readonly Bytes[]
}

export const SPARSE_MAX_INDEX = 2 ** SPARSE_DEPTH - 1

/** Root of the sparse tree holding `leaf` (an already hashed leaf) at `path.index`; null if malformed. */
export function sparsePathRoot(sha256: Sha256, zeros: readonly Bytes[], leaf: Bytes, path: SparsePath): Bytes | null {
  const { index, present, siblings } = path
  if (!Number.isSafeInteger(index) || index < 0 || index > SPARSE_MAX_INDEX) return null
  if (!Number.isSafeInteger(present) || present < 0 || present > SPARSE_MAX_INDEX) return null
  let acc = leaf
  let used = 0
  let position = index
  let mask = present
  for (let level = 0; level < SPARSE_DEPTH; level++) {
    const listed = mask % 2 === 1
    mask = Math.floor(mask / 2)
    const sibling = listed ? siblings[used++] : zeros[level]!
    if (sibling === undefined || sibling.length !== 32) return null
    acc = position % 2 === 0 ? nodeHash(sha256, acc, sibling) : nodeHash(sha256, sibling, acc)
    position = Math.floor(position / 2)
  }
  return used === siblings.length ? acc : null
}
