import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { literal, PositiveInt, refine, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import { WindowSpec, type WindowState } from './Window.js'
import { windowDetector } from './WindowDetector.js'

// ---- model -------------------------------------------------------------------------------

/** Trip when the window holds `threshold` failures or more (absolute count, no rate). */
export interface FailureCountConfig {
  readonly kind: 'failure-count'
  readonly threshold: number
  readonly window: WindowSpec
}

// ---- codecs ------------------------------------------------------------------------------

/** Config codec: `{ kind: 'failure-count', threshold, window }`; the threshold must fit a count window. */
export const FailureCountConfig: t.Type<FailureCountConfig, FailureCountConfig, unknown> = refine(
  struct('a failure-count detector', { kind: literal('failure-count'), threshold: PositiveInt, window: WindowSpec }),
  (c) =>
    c.window.kind === 'count' && c.threshold > c.window.size
      ? { path: 'threshold', value: c.threshold, message: `expected at most the window size (${c.window.size}), got ${c.threshold}` }
      : undefined,
)

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
export const failureCount = (config: Omit<FailureCountConfig, 'kind'>): Detector<WindowState> => {
  const full = decodeOrThrow(FailureCountConfig, { ...config, kind: 'failure-count' })
  const threshold = full.threshold
  return windowDetector(full, (window) => window.failures >= threshold)
}
