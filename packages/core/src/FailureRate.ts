import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { intIn, literal, Ratio, refine, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import { Limits } from './Limits.js'
import { WindowSpec } from './Window.js'
import { type WindowDetectorState, windowDetector } from './WindowDetector.js'

// ---- codecs ------------------------------------------------------------------------------

/** Calls a window must hold before a rate exists: 1 to 1,000,000 (default 10). */
export const MinimumCalls = intIn(1, Limits.maxStageCalls)

/**
 * Config codec: `{ kind: 'failure-rate', threshold, minimumCalls = 10, window }`. Trip when
 * `failures / calls >= threshold` in the window, once it holds `minimumCalls` calls.
 */
export const FailureRateConfig = refine(
  struct(
    'a failure-rate detector',
    { kind: literal('failure-rate'), threshold: Ratio, window: WindowSpec },
    {
      /** Calls the window must hold before a rate exists (below it nothing trips). Default 10. */
      minimumCalls: MinimumCalls,
    },
    { minimumCalls: 10 },
  ),
  minimumCallsFitWindow,
)
/** A decoded failure-rate config (defaults filled). */
export type FailureRateConfig = t.TypeOf<typeof FailureRateConfig>

/** A count window of N calls can never hold more than N: a larger `minimumCalls` would never trip. */
export function minimumCallsFitWindow(c: { readonly minimumCalls: number; readonly window: WindowSpec }) {
  return c.window.kind === 'count' && c.minimumCalls > c.window.size
    ? { path: 'minimumCalls', value: c.minimumCalls, message: `expected at most the window size (${c.window.size}), got ${c.minimumCalls}` }
    : undefined
}

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips when `failures / calls >= threshold` (inclusive) in the window, once the window holds at
 * least `minimumCalls` calls; below that no rate exists and nothing trips.
 *
 * @example
 * import { failureRate } from '@datapunk/breaker'
 * const detector = failureRate({ threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 10 } })
 * let s = detector.initial(0)
 * for (const failed of [true, false, true]) s = detector.record(s, failed, 5, 0)
 * detector.tripped(s) // false: 3 calls < minimumCalls
 * s = detector.record(s, false, 5, 0)
 * detector.tripped(s) // true: 2 / 4 >= 0.5
 */
export const failureRate = (
  config: Omit<FailureRateConfig, 'kind' | 'minimumCalls'> & { readonly minimumCalls?: number },
): Detector<WindowDetectorState> => {
  const full = decodeOrThrow(FailureRateConfig, { ...config, kind: 'failure-rate' })
  const { threshold, minimumCalls } = full
  return windowDetector({
    kind: full.kind,
    config: full,
    slowCallMs: Number.POSITIVE_INFINITY,
    minimumCalls,
    // Divide rather than multiply: 7 / 10 >= 0.7 holds, 7 >= 0.7 * 10 does not (0.7 * 10 = 7.000000000000001).
    tripped: (w) => w.calls >= minimumCalls && w.failures / w.calls >= threshold,
    failureRateThreshold: threshold,
  })
}
