/**
 * Whether two replicas see the same upstream: a one-sided two-proportion test between their
 * recent counts. Fleet mode lets a replica take in another's evidence, or follow its trip, only
 * where the two agree; a replica whose own calls fail far more (or far less) than a peer's has a
 * fault of its own (or none), and decides on its own evidence.
 */
import type { Evidence } from '../Evidence.js'
import { normalQuantile } from '../statistics.js'

/** Calls, failed calls and slow calls one replica made recently, for one detector key. */
export interface Tally {
  /** Calls counted. */
  readonly calls: number
  /** Of those, the failures. */
  readonly failures: number
  /** Of those, the slow ones. */
  readonly slow: number
}

/** How one replica's recent calls compare with another's. */
export type Agreement =
  /** No significant difference (too few calls to tell counts as agreeing). */
  | 'agrees'
  /** Significantly fewer failed (or slow) calls than the other. */
  | 'healthier'
  /** Significantly more failed (or slow) calls than the other. */
  | 'sicker'

/** How many of a window's newest buckets count as recent: a fifth of the window, at least 2. */
export const recentBuckets = (span: number): number => Math.max(2, Math.ceil(span / 5))

/**
 * The recent counts of each detector key: the sum of the buckets among the newest
 * {@link recentBuckets} at `now` (on the clock the buckets were numbered on).
 *
 * @example
 * import { recentTallies } from '@datapunk/breaker'
 * const tallies = recentTallies([{ key: 'k', bucketMs: 1000, span: 10, buckets: [[1, 50, 0, 0], [8, 10, 4, 0], [9, 5, 5, 0]] }], 9_500)
 * tallies.get('k') // { calls: 15, failures: 9, slow: 0 }
 */
export const recentTallies = (evidence: ReadonlyArray<Evidence>, now: number): ReadonlyMap<string, Tally> =>
  sumBuckets(evidence, (e) => {
    const newest = Math.floor(now / e.bucketMs)
    return [newest - recentBuckets(e.span) + 1, newest]
  })

/** Every count of the windows, key by key (what taking them in adds to a detector). */
export const windowTallies = (evidence: ReadonlyArray<Evidence>): Map<string, Tally> => sumBuckets(evidence, () => EVERY_EPOCH)

/** Two sets of tallies added up, key by key. */
export const addTallies = (a: ReadonlyMap<string, Tally>, b: ReadonlyMap<string, Tally>): Map<string, Tally> => {
  const out = new Map(a)
  for (const [key, t] of b) out.set(key, add(out.get(key), t))
  return out
}

const EVERY_EPOCH = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY] as const

const add = (a: Tally | undefined, b: Tally): Tally =>
  a === undefined ? b : { calls: a.calls + b.calls, failures: a.failures + b.failures, slow: a.slow + b.slow }

/** The counts of the buckets whose epoch is within `bounds(evidence)` (both ends included), key by key. */
const sumBuckets = (
  evidence: ReadonlyArray<Evidence>,
  bounds: (e: Evidence) => readonly [oldest: number, newest: number],
): Map<string, Tally> => {
  const out = new Map<string, Tally>()
  for (const e of evidence) {
    const [oldest, newest] = bounds(e)
    let calls = 0
    let failures = 0
    let slow = 0
    for (const [epoch, c, f, sl] of e.buckets)
      if (epoch >= oldest && epoch <= newest) {
        calls += c
        failures += f
        slow += sl
      }
    out.set(e.key, add(out.get(e.key), { calls, failures, slow }))
  }
  return out
}

/** The z score past which a difference is significant at `significance` (one-sided). */
const zOf = (significance: number): number => normalQuantile(1 - significance)

/** `1` when `k1/n1` is significantly above `k2/n2`, `-1` when below, `0` otherwise (pooled z-test). */
const differs = (k1: number, n1: number, k2: number, n2: number, z: number): -1 | 0 | 1 => {
  if (n1 === 0 || n2 === 0) return 0
  const pooled = (k1 + k2) / (n1 + n2)
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
  // Both all failed, or neither failed at all: the same.
  if (!(se > 0)) return 0
  const score = (k1 / n1 - k2 / n2) / se
  return score >= z ? 1 : score <= -z ? -1 : 0
}

/**
 * Compares two replicas' recent tallies, key by key (only keys both have count), on failed calls
 * and on slow calls: `'sicker'` if `local` is significantly worse on either, else `'healthier'` if
 * significantly better on either, else `'agrees'`. `significance` is the chance of calling two
 * replicas of one upstream different (0.05 by default in fleet mode: see `FleetPolicy`).
 *
 * @example
 * import { compareTallies } from '@datapunk/breaker'
 * const bad = new Map([['k', { calls: 40, failures: 40, slow: 0 }]])
 * const good = new Map([['k', { calls: 120, failures: 1, slow: 0 }]])
 * compareTallies(bad, good, 0.001) // 'sicker'
 * compareTallies(good, bad, 0.001) // 'healthier'
 * compareTallies(new Map([['k', { calls: 2, failures: 0, slow: 0 }]]), new Map([['k', { calls: 3, failures: 1, slow: 0 }]]), 0.001) // 'agrees'
 */
export const compareTallies = (local: ReadonlyMap<string, Tally>, other: ReadonlyMap<string, Tally>, significance: number): Agreement => {
  const z = zOf(significance)
  let healthier = false
  for (const [key, mine] of local) {
    const theirs = other.get(key)
    if (theirs === undefined) continue
    const f = differs(mine.failures, mine.calls, theirs.failures, theirs.calls, z)
    const s = differs(mine.slow, mine.calls, theirs.slow, theirs.calls, z)
    if (f > 0 || s > 0) return 'sicker'
    if (f < 0 || s < 0) healthier = true
  }
  return healthier ? 'healthier' : 'agrees'
}
