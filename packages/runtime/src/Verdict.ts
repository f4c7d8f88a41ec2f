/**
 * How a settled call counts, as a classifier (`classifyResult`, `classifyError`) says: a success,
 * a failure (possibly with the upstream's retry hint), or nothing at all.
 */
import { isValidLatency } from '@datapunk/breaker'

/** A failure the upstream told us how long to stay away from (an HTTP `Retry-After`). */
export interface HintedFailure {
  /** Always `failure`. */
  readonly verdict: 'failure'
  /** How long the upstream asked to be left alone, in ms (finite, zero or more). */
  readonly retryAfterMs: number
}

/**
 * A classifier's answer for one call:
 * - `'success'`: the upstream did its job (a 404 for a missing item, say);
 * - `'failure'`: the upstream's fault, counted against it;
 * - `'ignore'`: counts nowhere (not the upstream's fault, nor proof of its health), and gives back
 *   a probe permit;
 * - a {@link HintedFailure} (`Verdict.failure(ms)`): a failure with a retry hint, which a
 *   `retry-after` open duration honours at the trip.
 */
export type Verdict = 'success' | 'failure' | 'ignore' | HintedFailure

/**
 * Verdict constructors.
 *
 * @example
 * import { Verdict } from '@datapunk/breaker-runtime'
 * Verdict.failure(30_000) // { verdict: 'failure', retryAfterMs: 30000 }
 * Verdict.failure() // 'failure'
 */
export const Verdict = {
  /** A failure, with the upstream's retry hint if one is given (a hint that is not a finite number of ms, zero or more, is dropped). */
  failure: (retryAfterMs?: number): Verdict =>
    retryAfterMs !== undefined && isValidLatency(retryAfterMs) ? { verdict: 'failure', retryAfterMs } : 'failure',
} as const

/** A classifier as the call options take it. */
export type Classifier<in V> = (value: V) => Verdict

/** What the bookkeeping settles with: an outcome (0 success, 1 failure, 2 cancel) or a hinted failure. */
export type Judged = 0 | 1 | 2 | HintedFailure

const describe = (value: unknown): string => {
  if (typeof value === 'string') return JSON.stringify(value)
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** A verdict that is not one of the three words: a hinted failure, or no verdict (reported). */
const judgeOther = (verdict: unknown, reporter: { classifierFailed(error: unknown): void }, what: string): Judged => {
  if (typeof verdict === 'object' && verdict !== null && (verdict as { verdict?: unknown }).verdict === 'failure') {
    const ms = (verdict as { retryAfterMs?: unknown }).retryAfterMs
    return isValidLatency(ms) ? { verdict: 'failure', retryAfterMs: ms } : 1
  }
  reporter.classifierFailed(
    new TypeError(
      `${what} returned ${describe(verdict)}; expected 'success', 'failure', 'ignore' or { verdict: 'failure', retryAfterMs } (the call counted as a failure)`,
    ),
  )
  return 1
}

/**
 * Runs a classifier: its verdict, or a failure (reported on the breaker through `reporter`) if
 * it threw or answered something that is not a verdict. Never throws. Small, with the three
 * words first and the rest apart, so it inlines where every answer of the closed path runs it.
 */
export const judge = <V>(
  classifier: Classifier<V>,
  value: V,
  reporter: { classifierFailed(error: unknown): void },
  what: string,
): Judged => {
  let verdict: unknown
  try {
    verdict = classifier(value)
  } catch (thrown) {
    reporter.classifierFailed(thrown)
    return 1
  }
  return verdict === 'success' ? 0 : verdict === 'failure' ? 1 : verdict === 'ignore' ? 2 : judgeOther(verdict, reporter, what)
}
