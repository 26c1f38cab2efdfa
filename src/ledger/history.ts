import { CertchainError } from '../core/errors.js'
import { Registry, type ActiveValidator } from './registry.js'
import type { LedgerStore } from './store.js'

/** Registries kept in memory besides genesis and the two newest. */
const CACHED_REGISTRIES = 32

/**
 * The registry as of every height. Only heights whose block changed it are stored; the registry
 * after height h is the newest stored one at or below h. Genesis and the two newest stay in memory
 * because consensus asks synchronously for the validators of the next two heights (h + 1 uses the
 * registry after h - 1); older ones are read on demand and cached.
 */
export class RegistryHistory {
  private readonly cache = new Map<number, Registry>()

  private constructor(
    private readonly store: LedgerStore,
    private readonly genesis: Registry,
    /** Ascending heights that have a stored registry. */
    private readonly heights: number[],
    private recent: Registry[],
  ) {}

  static async open(store: LedgerStore, genesis: Registry): Promise<RegistryHistory> {
    const heights = await store.registryHeights()
    const recent: Registry[] = []
    for (const h of heights.slice(-2)) {
      const state = await store.getRegistryState(h)
      if (!state) throw new CertchainError('INTERNAL', `registry of height ${h} is missing from the store`)
      recent.push(new Registry(genesis.chainId, state))
    }
    const history = new RegistryHistory(store, genesis, heights, [])
    heights.slice(-2).forEach((h, i) => history.cache.set(h, recent[i]!))
    history.recent = recent
    return history
  }

  /** The newest registry (after the last committed block). */
  get latest(): Registry {
    return this.recent.at(-1) ?? this.genesis
  }

  /** Records the registry a committed block produced. */
  committed(height: number, registry: Registry): void {
    this.heights.push(height)
    this.recent = [...this.recent.slice(-1), registry]
    this.remember(height, registry)
  }

  /** The registry after block `height` (genesis for 0), from memory when possible. */
  async at(height: number): Promise<Registry> {
    const h = this.snapshotHeight(height)
    if (h === 0) return this.genesis
    const cached = this.cache.get(h)
    if (cached) return cached
    const state = await this.store.getRegistryState(h)
    if (!state) throw new CertchainError('INTERNAL', `registry of height ${h} is missing from the store`)
    const registry = new Registry(this.genesis.chainId, state)
    this.remember(h, registry)
    return registry
  }

  /** Like {@link at}, for heights whose registry is in memory (the newest two, genesis, cached). */
  atSync(height: number): Registry {
    const h = this.snapshotHeight(height)
    const registry = h === 0 ? this.genesis : this.cache.get(h)
    if (!registry) throw new CertchainError('INTERNAL', `registry of height ${height} is not in memory; use the asynchronous lookup`)
    return registry
  }

  /** Validators of consensus at `height`: those of the registry two heights earlier. */
  static validatorHeight(height: number): number {
    return Math.max(0, height - 2)
  }

  validators(height: number): readonly ActiveValidator[] {
    return this.atSync(RegistryHistory.validatorHeight(height)).activeValidators()
  }

  async validatorsAt(height: number): Promise<readonly ActiveValidator[]> {
    return (await this.at(RegistryHistory.validatorHeight(height))).activeValidators()
  }

  private snapshotHeight(height: number): number {
    // Binary search: the newest stored height at or below `height`.
    let lo = 0
    let hi = this.heights.length - 1
    let found = 0
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (this.heights[mid]! <= height) {
        found = this.heights[mid]!
        lo = mid + 1
      } else hi = mid - 1
    }
    return found
  }

  private remember(height: number, registry: Registry): void {
    this.cache.set(height, registry)
    const keep = new Set(this.heights.slice(-2))
    for (const h of this.cache.keys()) {
      if (this.cache.size <= CACHED_REGISTRIES + 2) break
      if (!keep.has(h)) this.cache.delete(h)
    }
  }
}
