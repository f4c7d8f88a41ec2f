import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { literal, PositiveInt, refine, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import { WindowSpec } from './Window.js'
import { type WindowDetectorState, windowDetector } from './WindowDetector.js'

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec: `{ kind: 'failure-count', threshold, window }`: trip when the window holds
 * `threshold` failures or more (absolute count, no rate); the threshold must fit a count window.
 */
export const FailureCountConfig = refine(
  struct('a failure-count detector', { kind: literal('failure-count'), threshold: PositiveInt, window: WindowSpec }),
  (c) =>
    c.window.kind === 'count' && c.threshold > c.window.size
      ? { path: 'threshold', value: c.threshold, message: `expected at most the window size (${c.window.size}), got ${c.threshold}` }
      : undefined,
)
/** A decoded failure-count config. */
export type FailureCountConfig = t.TypeOf<typeof FailureCountConfig>

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips when the window holds `threshold` failures or more: an absolute count, whatever the
 * traffic (the seed's "absolute failure count"). Useful for low-traffic upstreams where a rate
 * says little.
 *
 * @example
 * import { failureCount } from '@datapunk/breaker'
 * const detector = failureCount({ threshold: 3, window: { kind: 'time', durationMs: 10_000, buckets: 10 } })
 * let s = detector.initial(0)
 * for (const at of [0, 100, 200]) s = detector.record(s, true, 5, at)
 * detector.tripped(s) // true
 */
export const failureCount = (config: Omit<FailureCountConfig, 'kind'>): Detector<WindowDetectorState> => {
  const full = decodeOrThrow(FailureCountConfig, { ...config, kind: 'failure-count' })
  const threshold = full.threshold
  return windowDetector({
    kind: full.kind,
    config: full,
    slowCallMs: Number.POSITIVE_INFINITY,
    minimumCalls: 1,
    tripped: (window) => window.failures >= threshold,
  })
}
