import type * as M from 'fp-ts/lib/Monoid.js'

/** Outcome counts: how many calls, how many of them failed, how many were slow. */
export interface Counts {
  /** Calls counted. */
  readonly calls: number
  /** Of those, the failures. */
  readonly failures: number
  /** Of those, the slow ones. */
  readonly slow: number
}

/** Counts add up: `concat` sums each field, `empty` is all zeros. */
export const MonoidCounts: M.Monoid<Counts> = {
  concat: (x, y) => ({ calls: x.calls + y.calls, failures: x.failures + y.failures, slow: x.slow + y.slow }),
  empty: { calls: 0, failures: 0, slow: 0 },
}

/** The share of `part` in `calls`, or `null` below `minimumCalls` (no rate exists yet). */
export const rateOf = (part: number, calls: number, minimumCalls: number): number | null =>
  calls === 0 || calls < minimumCalls ? null : part / calls
