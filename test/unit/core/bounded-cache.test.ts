import { describe, expect, it } from 'vitest'
import { BoundedCache } from '../../../src/core/bounded-cache.js'

describe('BoundedCache', () => {
  it('never holds more than its limit, keeps at least the newest half, and forgets the oldest', () => {
    const cache = new BoundedCache<number, string>(10)
    for (let i = 0; i < 95; i++) {
      cache.set(i, `v${i}`)
      expect(cache.size).toBeLessThanOrEqual(10)
    }
    for (let i = 90; i < 95; i++) expect(cache.get(i)).toBe(`v${i}`)
    expect(cache.has(0)).toBe(false)
    expect(cache.get(0)).toBeUndefined()
  })

  it('a hit in the old generation survives the next turnover', () => {
    const cache = new BoundedCache<string, number>(4)
    cache.set('a', 1)
    cache.set('b', 2) // young is full: a and b become the old generation
    expect(cache.get('a')).toBe(1) // moved to the young generation
    cache.set('c', 3) // turnover: b (old, never used again) is forgotten
    expect(cache.get('a')).toBe(1)
    expect(cache.has('b')).toBe(false)
    expect(cache.get('c')).toBe(3)
  })

  it('delete and clear reach both generations; a value set again replaces the old one', () => {
    const cache = new BoundedCache<string, number>(4)
    cache.set('a', 1)
    cache.set('b', 2)
    cache.set('a', 3)
    expect(cache.get('a')).toBe(3)
    cache.delete('a')
    expect(cache.has('a')).toBe(false)
    expect(cache.get('b')).toBe(2)
    cache.clear()
    expect(cache.size).toBe(0)
    expect([...cache.entries()]).toEqual([])
  })

  it('refuses a limit below 2', () => {
    expect(() => new BoundedCache(1)).toThrow(RangeError)
    expect(() => new BoundedCache(2.5)).toThrow(RangeError)
  })
})
