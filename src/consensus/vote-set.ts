import { hashKey, type Vote } from './messages.js'

/** Two signed votes from one validator for different blocks at the same (height, round, type). */
export interface Equivocation {
  readonly first: Vote
  readonly second: Vote
}

/**
 * The votes of one type in one round. Counts are per distinct block hash (and nil); every
 * validator has equal weight. A second, different vote from the same validator is not counted
 * and is reported as equivocation evidence.
 */
export class VoteSet {
  private readonly byValidator = new Map<string, Vote>()
  private readonly tally = new Map<string, number>()
  /** Validators already reported here: one pair proves the fault, more would cost a report (and an fsync) each. */
  private readonly equivocators = new Set<string>()

  add(vote: Vote): { added: boolean; equivocation?: Equivocation } {
    const previous = this.byValidator.get(vote.validator)
    if (previous) {
      if (hashKey(previous.blockHash) === hashKey(vote.blockHash) || this.equivocators.has(vote.validator)) return { added: false }
      this.equivocators.add(vote.validator)
      return { added: false, equivocation: { first: previous, second: vote } }
    }
    this.byValidator.set(vote.validator, vote)
    const key = hashKey(vote.blockHash)
    this.tally.set(key, (this.tally.get(key) ?? 0) + 1)
    return { added: true }
  }

  get size(): number {
    return this.byValidator.size
  }

  count(key: string): number {
    return this.tally.get(key) ?? 0
  }

  /** The block hash key (or 'nil') that has at least `threshold` votes, if any. */
  majority(threshold: number): string | undefined {
    for (const [key, n] of this.tally) if (n >= threshold) return key
    return undefined
  }

  votesFor(key: string): Vote[] {
    return [...this.byValidator.values()].filter((v) => hashKey(v.blockHash) === key)
  }

  all(): Vote[] {
    return [...this.byValidator.values()]
  }
}

/** Quorum of n equal-weight validators: more than two thirds. */
export function quorum(n: number): number {
  return Math.floor((2 * n) / 3) + 1
}

/** Enough validators that at least one is honest (f + 1): a reason to move to a later round. */
export function honestThreshold(n: number): number {
  return Math.floor((n - 1) / 3) + 1
}
