import type { CompositeState } from './Composite.js'
import { composite } from './Composite.js'
import type { Detector } from './Detector.js'

/**
 * Trips when every one of `detectors` trips at once: for instance a failure rate that only
 * counts once there is also a run of consecutive failures, so a burst of errors spread over a
 * busy window does not open the circuit alone.
 *
 * @example
 * import { allOf, consecutiveFailures, failureRate } from '@datapunk/breaker'
 * const detector = allOf([
 *   consecutiveFailures({ threshold: 3 }),
 *   failureRate({ threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 10 } }),
 * ])
 * let s = detector.initial(0)
 * for (const failed of [false, true, true]) s = detector.record(s, failed, 5, 0)
 * detector.tripped(s) // false: 2 in a row
 * s = detector.record(s, true, 5, 0)
 * detector.tripped(s) // true: 3 in a row and 3 of 4 failed
 */
export const allOf = (detectors: ReadonlyArray<Detector<unknown>>): Detector<CompositeState> =>
  composite('all-of', detectors, (count, tripped) => {
    for (let i = 0; i < count; i++) if (!tripped(i)) return false
    return true
  })
