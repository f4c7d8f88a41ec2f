import type { CompositeState } from './Composite.js'
import { composite } from './Composite.js'
import type { Detector } from './Detector.js'

/**
 * Trips when any of `detectors` trips; each counts in its own state. Combine, for instance, a
 * failure rate for busy periods with an absolute failure count for quiet ones. Members may be
 * any detectors, composites and your own included. Throws a `ConfigError` beyond the limits
 * (`Limits.maxDetectorMembers`, `Limits.maxDetectorDepth`).
 *
 * @example
 * import { anyOf, consecutiveFailures, failureRate } from '@datapunk/breaker'
 * const detector = anyOf([
 *   consecutiveFailures({ threshold: 5 }),
 *   failureRate({ threshold: 0.5, minimumCalls: 20, window: { kind: 'count', size: 100 } }),
 * ])
 * detector.tripped(detector.initial(0)) // false
 */
export const anyOf = (detectors: ReadonlyArray<Detector<unknown>>): Detector<CompositeState> =>
  composite('any-of', detectors, (count, tripped) => {
    for (let i = 0; i < count; i++) if (tripped(i)) return true
    return false
  })
