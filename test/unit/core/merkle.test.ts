import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { concatBytes, toHex, type Bytes } from '../../../src/core/bytes.js'
import { merkleLeaf, merkleNode, merkleProofs, merkleRoot, merkleRootFromProof } from '../../../src/core/merkle.js'

function sha256(...parts: Bytes[]): Bytes {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

function items(n: number): Bytes[] {
  return Array.from({ length: n }, (_, i) => new TextEncoder().encode(`item-${i}`))
}

/** RFC 6962 section 2.1, written recursively and independently of the implementation. */
function referenceRoot(data: readonly Bytes[]): Bytes {
  if (data.length === 0) return sha256(new Uint8Array(0))
  if (data.length === 1) return sha256(Uint8Array.of(0), data[0]!)
  let k = 1
  while (k * 2 < data.length) k *= 2
  return sha256(Uint8Array.of(1), referenceRoot(data.slice(0, k)), referenceRoot(data.slice(k)))
}

function flip(b: Bytes): Bytes {
  const out = Uint8Array.from(b)
  out[0]! ^= 1
  return out
}

describe('merkle hashing', () => {
  it('leaves and inner nodes are domain separated (0x00 / 0x01 prefixes)', () => {
    const a = new TextEncoder().encode('a')
    expect(merkleLeaf(a)).toEqual(sha256(Uint8Array.of(0), a))
    const l = merkleLeaf(a)
    const r = merkleLeaf(new TextEncoder().encode('b'))
    expect(merkleNode(l, r)).toEqual(sha256(Uint8Array.of(1), l, r))
    // an inner node can not be passed off as a leaf
    expect(merkleRoot([concatBytes(l, r)])).not.toEqual(merkleNode(l, r))
  })

  it('the root of no items is SHA-256 of the empty string', () => {
    expect(toHex(merkleRoot([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  })

  it('the root of one item is its leaf hash', () => {
    const [x] = items(1)
    expect(merkleRoot([x!])).toEqual(merkleLeaf(x!))
  })

  it('RFC 6962 structure for 3 leaves: root = node(node(l0, l1), l2)', () => {
    const [a, b, c] = items(3) as [Bytes, Bytes, Bytes]
    const expected = merkleNode(merkleNode(merkleLeaf(a), merkleLeaf(b)), merkleLeaf(c))
    expect(merkleRoot([a, b, c])).toEqual(expected)
    const proofs = merkleProofs([a, b, c])
    expect(proofs[0]).toEqual([merkleLeaf(b), merkleLeaf(c)])
    expect(proofs[1]).toEqual([merkleLeaf(a), merkleLeaf(c)])
    expect(proofs[2]).toEqual([merkleNode(merkleLeaf(a), merkleLeaf(b))])
  })

  it('RFC 6962 structure for 5 leaves: root = node(node(node(l0,l1), node(l2,l3)), l4)', () => {
    const l = items(5).map(merkleLeaf) as [Bytes, Bytes, Bytes, Bytes, Bytes]
    const expected = merkleNode(merkleNode(merkleNode(l[0], l[1]), merkleNode(l[2], l[3])), l[4])
    expect(merkleRoot(items(5))).toEqual(expected)
  })

  it('the root matches the recursive RFC 6962 definition for sizes 0..64', () => {
    for (let n = 0; n <= 64; n++) {
      expect(toHex(merkleRoot(items(n))), `size ${n}`).toBe(toHex(referenceRoot(items(n))))
    }
  })

  it('order matters', () => {
    const [a, b] = items(2) as [Bytes, Bytes]
    expect(merkleRoot([a, b])).not.toEqual(merkleRoot([b, a]))
  })
})

describe('merkle proofs', () => {
  it('for sizes 1..40 every audit path recomputes the root', () => {
    for (let n = 1; n <= 40; n++) {
      const data = items(n)
      const root = merkleRoot(data)
      const proofs = merkleProofs(data)
      expect(proofs.length).toBe(n)
      for (let i = 0; i < n; i++) {
        const got = merkleRootFromProof(data[i]!, i, n, proofs[i]!)
        expect(got && toHex(got), `size ${n} index ${i}`).toBe(toHex(root))
      }
    }
  })

  it('audit paths are at most ceil(log2 n) long', () => {
    for (let n = 1; n <= 40; n++) {
      const max = Math.ceil(Math.log2(n))
      for (const p of merkleProofs(items(n))) expect(p.length).toBeLessThanOrEqual(max)
    }
  })

  it('a tampered path element fails', () => {
    for (let n = 2; n <= 40; n++) {
      const data = items(n)
      const root = toHex(merkleRoot(data))
      merkleProofs(data).forEach((path, i) => {
        for (let j = 0; j < path.length; j++) {
          const bad = path.map((p, k) => (k === j ? flip(p) : p))
          const got = merkleRootFromProof(data[i]!, i, n, bad)
          expect(got && toHex(got), `size ${n} index ${i} element ${j}`).not.toBe(root)
        }
      })
    }
  })

  it('a path with a missing or an extra element gives null', () => {
    const data = items(13)
    const proofs = merkleProofs(data)
    const path = proofs[5]!
    expect(merkleRootFromProof(data[5]!, 5, 13, path.slice(1))).toBeNull()
    expect(merkleRootFromProof(data[5]!, 5, 13, [...path, path[0]!])).toBeNull()
  })

  it('a tampered item fails', () => {
    const data = items(9)
    const root = toHex(merkleRoot(data))
    const proofs = merkleProofs(data)
    for (let i = 0; i < 9; i++) {
      const got = merkleRootFromProof(flip(data[i]!), i, 9, proofs[i]!)
      expect(got && toHex(got)).not.toBe(root)
    }
  })

  it('a tampered index fails', () => {
    for (let n = 2; n <= 40; n++) {
      const data = items(n)
      const root = toHex(merkleRoot(data))
      const proofs = merkleProofs(data)
      for (let i = 0; i < n; i++) {
        for (const j of [i - 1, i + 1, n - 1 - i]) {
          if (j === i || j < 0 || j >= n) continue
          const got = merkleRootFromProof(data[i]!, j, n, proofs[i]!)
          expect(got && toHex(got), `size ${n} index ${i} claimed as ${j}`).not.toBe(root)
        }
      }
    }
  })

  it('a tampered size fails for the last leaf', () => {
    for (let n = 1; n <= 40; n++) {
      const data = items(n)
      const root = toHex(merkleRoot(data))
      const path = merkleProofs(data)[n - 1]!
      for (const size of [n + 1, n + 2, n * 2]) {
        const got = merkleRootFromProof(data[n - 1]!, n - 1, size, path)
        expect(got && toHex(got), `size ${n} claimed as ${size}`).not.toBe(root)
      }
    }
  })

  it('index outside the tree or non-integers give null', () => {
    const data = items(4)
    const path = merkleProofs(data)[0]!
    expect(merkleRootFromProof(data[0]!, 4, 4, path)).toBeNull()
    expect(merkleRootFromProof(data[0]!, -1, 4, path)).toBeNull()
    expect(merkleRootFromProof(data[0]!, 0, 0, [])).toBeNull()
    expect(merkleRootFromProof(data[0]!, 0.5, 4, path)).toBeNull()
    expect(merkleRootFromProof(data[0]!, 0, Number.NaN, path)).toBeNull()
    expect(merkleRootFromProof(data[0]!, 0, 2 ** 60, path)).toBeNull()
  })

  it('merkleProofs of nothing is empty', () => {
    expect(merkleProofs([])).toEqual([])
  })
})
