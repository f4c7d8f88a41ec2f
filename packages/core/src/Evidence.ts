/**
 * Evidence: the outcome counts a detector gathered, bucket by bucket, in a form other breakers can
 * merge. A fleet of replicas shares it (see `@datapunk/breaker-redis`): each replica publishes its
 * own detectors' evidence and takes in the sum of everyone else's, which the pure core absorbs as an
 * event (`BreakerEvent.evidence`). The trip decision stays local; evidence only adds counts.
 *
 * Evidence is keyed by the detector's `key` (its canonical config), so only detectors that count the
 * same way (same window, same bucket width) ever merge; buckets are numbered by epoch, the index of
 * the bucket on the breaker's clock (`floor(time / bucketMs)`), so replicas whose clocks agree agree
 * on the buckets.
 */
import { Limits } from './Limits.js'

// ---- model -------------------------------------------------------------------------------

/** One bucket's counts: `[epoch, calls, failures, slow]`. */
export type EvidenceBucket = readonly [epoch: number, calls: number, failures: number, slow: number]

/** What one detector (by key) counted in the buckets of its window, oldest bucket first. */
export interface Evidence {
  /** The `key` of the detector that counted (its canonical config). */
  readonly key: string
  /** The width of a bucket in ms (the same for every detector with this key). */
  readonly bucketMs: number
  /** How many buckets the window holds (buckets older than the newest by this many have left it). */
  readonly span: number
  /** The counts per bucket, newest last. */
  readonly buckets: ReadonlyArray<EvidenceBucket>
}

// ---- guards ------------------------------------------------------------------------------

/** The most calls one bucket of evidence may claim: beyond it the bucket is not believed. */
export const maxEvidenceCalls = 1e12

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= maxEvidenceCalls

/**
 * True for a well-formed bucket: a safe-integer epoch and counts that are non-negative safe
 * integers, with no more failures or slow calls than calls.
 */
export const isEvidenceBucket = (bucket: unknown): bucket is EvidenceBucket => {
  if (!Array.isArray(bucket) || bucket.length !== 4) return false
  const [epoch, calls, failures, slow] = bucket as ReadonlyArray<unknown>
  return (
    typeof epoch === 'number' &&
    Number.isSafeInteger(epoch) &&
    isCount(calls) &&
    isCount(failures) &&
    isCount(slow) &&
    failures <= calls &&
    slow <= calls
  )
}

/**
 * True for well-formed evidence: a key, a bucket width and span in range, and at most
 * `maxTimeWindowBuckets` well-formed buckets.
 */
export const isEvidence = (evidence: unknown): evidence is Evidence => {
  if (typeof evidence !== 'object' || evidence === null) return false
  const { key, bucketMs, span, buckets } = evidence as { key?: unknown; bucketMs?: unknown; span?: unknown; buckets?: unknown }
  return (
    typeof key === 'string' &&
    typeof span === 'number' &&
    Number.isInteger(span) &&
    span >= 1 &&
    span <= Limits.maxTimeWindowBuckets &&
    typeof bucketMs === 'number' &&
    bucketMs >= 1 &&
    bucketMs <= Limits.maxDurationMs &&
    Array.isArray(buckets) &&
    buckets.length <= Limits.maxTimeWindowBuckets &&
    buckets.every(isEvidenceBucket)
  )
}

// ---- combinators -------------------------------------------------------------------------

/**
 * Adds up evidence: buckets of the same key and epoch sum their counts (evidence forms a
 * commutative monoid, the empty list its identity). Keys keep their first-seen order; buckets come
 * out oldest first.
 *
 * @example
 * import { mergeEvidence } from '@datapunk/breaker'
 * const merged = mergeEvidence([
 *   { key: 'k', bucketMs: 1000, span: 10, buckets: [[5, 10, 2, 0]] },
 *   { key: 'k', bucketMs: 1000, span: 10, buckets: [[5, 4, 4, 0], [6, 1, 0, 0]] },
 * ])
 * merged.length // 1
 * merged[0].buckets // [[5, 14, 6, 0], [6, 1, 0, 0]]
 */
export const mergeEvidence = (evidence: ReadonlyArray<Evidence>): ReadonlyArray<Evidence> => {
  const byKey = new Map<string, { bucketMs: number; span: number; epochs: Map<number, [number, number, number, number]> }>()
  for (const e of evidence) {
    let entry = byKey.get(e.key)
    if (entry === undefined) {
      entry = { bucketMs: e.bucketMs, span: e.span, epochs: new Map() }
      byKey.set(e.key, entry)
    }
    for (const [epoch, calls, failures, slow] of e.buckets) {
      const sum = entry.epochs.get(epoch)
      if (sum === undefined) entry.epochs.set(epoch, [epoch, calls, failures, slow])
      else {
        sum[1] += calls
        sum[2] += failures
        sum[3] += slow
      }
    }
  }
  return [...byKey].map(([key, { bucketMs, span, epochs }]) => ({
    key,
    bucketMs,
    span,
    buckets: [...epochs.values()].sort((a, b) => a[0] - b[0]),
  }))
}
