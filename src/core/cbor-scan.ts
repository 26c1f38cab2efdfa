/**
 * A byte-level reading of DAG-CBOR for the hot path: proving that decoded bytes are already in
 * canonical form without encoding the value again, and finding where an item sits inside them.
 * Pure and allocation-free apart from a small stack; no node:* imports (the light verifier may
 * use it in a browser).
 */
import type { Bytes } from './bytes.js'

const MAJOR_UINT = 0
const MAJOR_NEGINT = 1
const MAJOR_BYTES = 2
const MAJOR_STRING = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5
const SIMPLE_FALSE = 0xf4
const SIMPLE_TRUE = 0xf5
const SIMPLE_NULL = 0xf6

/** The head of one item: major type, its argument (a length, a count or an integer) and where its content starts. */
interface Head {
  major: number
  value: number
  next: number
}

/**
 * Reads the head at `pos`, or returns undefined when it is outside the subset this module proves
 * canonical: indefinite or reserved lengths, arguments above 2^53 - 1, or not in minimal form.
 */
function readHead(bytes: Bytes, pos: number, out: Head): boolean {
  if (pos >= bytes.length) return false
  const initial = bytes[pos]!
  const info = initial & 0x1f
  out.major = initial >> 5
  if (info < 24) {
    out.value = info
    out.next = pos + 1
    return true
  }
  let value: number
  let next: number
  switch (info) {
    case 24:
      if (pos + 2 > bytes.length) return false
      value = bytes[pos + 1]!
      if (value < 24) return false
      next = pos + 2
      break
    case 25:
      if (pos + 3 > bytes.length) return false
      value = (bytes[pos + 1]! << 8) | bytes[pos + 2]!
      if (value < 0x100) return false
      next = pos + 3
      break
    case 26:
      if (pos + 5 > bytes.length) return false
      value = ((bytes[pos + 1]! << 24) >>> 0) + ((bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 8) | bytes[pos + 4]!)
      if (value < 0x10000) return false
      next = pos + 5
      break
    case 27: {
      if (pos + 9 > bytes.length) return false
      const high = ((bytes[pos + 1]! << 24) >>> 0) + ((bytes[pos + 2]! << 16) | (bytes[pos + 3]! << 8) | bytes[pos + 4]!)
      const low = ((bytes[pos + 5]! << 24) >>> 0) + ((bytes[pos + 6]! << 16) | (bytes[pos + 7]! << 8) | bytes[pos + 8]!)
      // Above 2^53 - 1 the decoder yields a BigInt: left to the full re-encode.
      if (high === 0 || high > 0x1fffff) return false
      value = high * 0x1_0000_0000 + low
      next = pos + 9
      break
    }
    default:
      return false
  }
  out.value = value
  out.next = next
  return true
}

/** Whether the key at [a, a+aLength) sorts strictly before the key at [b, b+bLength): shorter first, then bytewise (DAG-CBOR). */
function keyBefore(bytes: Bytes, a: number, aLength: number, b: number, bLength: number): boolean {
  if (aLength !== bLength) return aLength < bLength
  for (let i = 0; i < aLength; i++) {
    const x = bytes[a + i]!
    const y = bytes[b + i]!
    if (x !== y) return x < y
  }
  return false
}

function asciiOnly(bytes: Bytes, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false
  return true
}

/**
 * Whether `bytes` is, provably, one complete item in canonical DAG-CBOR: minimal heads, definite
 * lengths, map keys that are ASCII strings in strictly increasing canonical order, only integers
 * in the safe range, byte strings, ASCII text, arrays, maps, true, false and null, and nothing
 * after the item.
 *
 * Sound but not complete: `true` means encoding the decoded value gives exactly these bytes;
 * `false` means "not shown here" (it may still be canonical, e.g. non-ASCII text, floats or
 * CID tags), and the caller re-encodes to decide.
 */
export function isPlainCanonical(bytes: Bytes): boolean {
  const head: Head = { major: 0, value: 0, next: 0 }
  // Per open array or map: items still to read (a map counts keys and values), and for a map
  // the previous key's start and length, to check the order.
  const remaining: number[] = []
  const isMap: boolean[] = []
  const lastKey: number[] = []
  const lastKeyLength: number[] = []
  let pos = 0
  let pending = 1
  for (;;) {
    if (pending === 0) {
      if (remaining.length === 0) return pos === bytes.length
      pending = remaining.pop()!
      isMap.pop()
      lastKey.pop()
      lastKeyLength.pop()
      continue
    }
    pending--
    const top = remaining.length
    // In a map, an odd count of items left after this one means this item is a key.
    const keyPosition = top > 0 && isMap[top - 1] === true && pending % 2 === 1
    const initial = bytes[pos]
    if (initial === undefined) return false
    if (keyPosition) {
      if (!readHead(bytes, pos, head) || head.major !== MAJOR_STRING) return false
      const end = head.next + head.value
      if (end > bytes.length || !asciiOnly(bytes, head.next, end)) return false
      // The decoder keeps "__proto__" as an own key, but no shortcut is worth a doubt here.
      if (head.value === 9 && sameAscii(bytes, head.next, '__proto__')) return false
      const previous = lastKey[top - 1]!
      if (previous >= 0 && !keyBefore(bytes, previous, lastKeyLength[top - 1]!, head.next, head.value)) return false
      lastKey[top - 1] = head.next
      lastKeyLength[top - 1] = head.value
      pos = end
      continue
    }
    const next = step(bytes, pos, head, true)
    if (next < 0) return false
    if (head.major === MAJOR_ARRAY || head.major === MAJOR_MAP) {
      remaining.push(pending)
      isMap.push(head.major === MAJOR_MAP)
      lastKey.push(-1)
      lastKeyLength.push(0)
      pending = head.value
    }
    pos = next
  }
}

/**
 * One step of a walk over the subset: the item at `pos`. Returns where the walk goes on (after a
 * scalar, or to a container's first item, with its item count, keys and values both counted, in
 * `head.value`), or -1 for anything outside the subset. `asciiText` also refuses non-ASCII text.
 */
function step(bytes: Bytes, pos: number, head: Head, asciiText: boolean): number {
  const initial = bytes[pos]
  if (initial === undefined) return -1
  if (initial === SIMPLE_FALSE || initial === SIMPLE_TRUE || initial === SIMPLE_NULL) {
    head.major = 7
    return pos + 1
  }
  if (!readHead(bytes, pos, head)) return -1
  switch (head.major) {
    case MAJOR_UINT:
    case MAJOR_NEGINT:
      return head.next
    case MAJOR_BYTES:
    case MAJOR_STRING: {
      const end = head.next + head.value
      if (end > bytes.length) return -1
      if (asciiText && head.major === MAJOR_STRING && !asciiOnly(bytes, head.next, end)) return -1
      return end
    }
    case MAJOR_ARRAY:
    case MAJOR_MAP: {
      const items = head.major === MAJOR_MAP ? head.value * 2 : head.value
      // Every item takes at least a byte: a count beyond what is left cannot be honest.
      if (items > bytes.length - head.next) return -1
      head.value = items
      return head.next
    }
    default:
      // Tags (CIDs), floats and other simple values: the re-encode decides.
      return -1
  }
}

/** Where the item starting at `pos` ends, or undefined if it is cut short or outside {@link readHead}'s subset (floats included). */
export function itemEnd(bytes: Bytes, pos: number): number | undefined {
  const head: Head = { major: 0, value: 0, next: 0 }
  let pending = 1
  while (pending > 0) {
    pending--
    const next = step(bytes, pos, head, false)
    if (next < 0) return undefined
    if (head.major === MAJOR_ARRAY || head.major === MAJOR_MAP) pending += head.value
    pos = next
  }
  return pos
}

/**
 * Where the value under ASCII `key` starts in the map starting at `pos`, if there is one. Only the
 * values before it are walked (its own end is not needed to read into it).
 */
export function mapValueStart(bytes: Bytes, pos: number, key: string): number | undefined {
  const head: Head = { major: 0, value: 0, next: 0 }
  if (!readHead(bytes, pos, head) || head.major !== MAJOR_MAP) return undefined
  const keyHead: Head = { major: 0, value: 0, next: 0 }
  let at: number | undefined = head.next
  for (let i = 0; i < head.value && at !== undefined; i++) {
    if (!readHead(bytes, at, keyHead) || keyHead.major !== MAJOR_STRING) return undefined
    const valueStart = keyHead.next + keyHead.value
    if (keyHead.value === key.length && valueStart < bytes.length && sameAscii(bytes, keyHead.next, key)) return valueStart
    at = itemEnd(bytes, valueStart)
  }
  return undefined
}

/** The spans of the items of the array starting at `pos`. */
export function arrayItemSpans(bytes: Bytes, pos: number): [number, number][] | undefined {
  const head: Head = { major: 0, value: 0, next: 0 }
  if (!readHead(bytes, pos, head) || head.major !== MAJOR_ARRAY || head.value > bytes.length - head.next) return undefined
  const spans: [number, number][] = []
  let at = head.next
  for (let i = 0; i < head.value; i++) {
    const end = itemEnd(bytes, at)
    if (end === undefined) return undefined
    spans.push([at, end])
    at = end
  }
  return spans
}

function sameAscii(bytes: Bytes, start: number, text: string): boolean {
  for (let i = 0; i < text.length; i++) if (bytes[start + i] !== text.charCodeAt(i)) return false
  return true
}
