import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { DurationMs, literal, Ratio, refine, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import { MinimumCalls, minimumCallsFitWindow } from './FailureRate.js'
import { WindowSpec } from './Window.js'
import { type WindowDetectorState, windowDetector } from './WindowDetector.js'

// ---- codecs ------------------------------------------------------------------------------

/**
 * Config codec: `{ kind: 'slow-call-rate', threshold, slowCallMs, minimumCalls = 10, window }`.
 * Trip when the share of calls taking `slowCallMs` or more reaches `threshold`, once the window
 * holds `minimumCalls`.
 */
export const SlowCallRateConfig = refine(
  struct(
    'a slow-call-rate detector',
    { kind: literal('slow-call-rate'), threshold: Ratio, slowCallMs: DurationMs, window: WindowSpec },
    { minimumCalls: MinimumCalls },
    { minimumCalls: 10 },
  ),
  minimumCallsFitWindow,
)
/** A decoded slow-call-rate config (defaults filled). */
export type SlowCallRateConfig = t.TypeOf<typeof SlowCallRateConfig>

// ---- constructors ------------------------------------------------------------------------

/**
 * Trips when the share of calls that took `slowCallMs` or longer (successes and failures alike)
 * reaches `threshold` (inclusive), once the window holds `minimumCalls` calls. Catches an
 * upstream that slows down before it starts failing.
 *
 * @example
 * import { slowCallRate } from '@datapunk/breaker'
 * const detector = slowCallRate({ threshold: 0.5, slowCallMs: 1000, minimumCalls: 2, window: { kind: 'count', size: 10 } })
 * let s = detector.initial(0)
 * s = detector.record(s, false, 1500, 0)
 * s = detector.record(s, false, 20, 0)
 * detector.tripped(s) // true: 1 slow of 2
 */
export const slowCallRate = (
  config: Omit<SlowCallRateConfig, 'kind' | 'minimumCalls'> & { readonly minimumCalls?: number },
): Detector<WindowDetectorState> => {
  const full = decodeOrThrow(SlowCallRateConfig, { ...config, kind: 'slow-call-rate' })
  const { threshold, minimumCalls } = full
  return windowDetector({
    kind: full.kind,
    config: full,
    slowCallMs: full.slowCallMs,
    minimumCalls,
    tripped: (w) => w.calls >= minimumCalls && w.slow / w.calls >= threshold,
  })
}
