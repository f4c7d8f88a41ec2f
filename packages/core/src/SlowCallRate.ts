import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { literal, PositiveInt, PositiveMillis, Ratio, refine, struct } from './codecs.js'
import type { Detector } from './Detector.js'
import { minimumCallsFitWindow } from './FailureRate.js'
import { WindowSpec, type WindowState } from './Window.js'
import { windowDetector } from './WindowDetector.js'

// ---- model -------------------------------------------------------------------------------

/** Trip when the share of calls taking `slowCallMs` or more reaches `threshold`, once the window holds `minimumCalls`. */
export interface SlowCallRateConfig {
  readonly kind: 'slow-call-rate'
  readonly threshold: number
  readonly slowCallMs: number
  readonly minimumCalls: number
  readonly window: WindowSpec
}

// ---- codecs ------------------------------------------------------------------------------

/** Config codec: `{ kind: 'slow-call-rate', threshold, slowCallMs, minimumCalls = 10, window }`. */
export const SlowCallRateConfig: t.Type<SlowCallRateConfig, SlowCallRateConfig, unknown> = refine(
  struct(
    'a slow-call-rate detector',
    { kind: literal('slow-call-rate'), threshold: Ratio, slowCallMs: PositiveMillis, window: WindowSpec },
    { minimumCalls: PositiveInt },
    { minimumCalls: 10 },
  ) as t.Type<SlowCallRateConfig, SlowCallRateConfig, unknown>,
  minimumCallsFitWindow,
)

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
): Detector<WindowState> => {
  const full = decodeOrThrow(SlowCallRateConfig, { ...config, kind: 'slow-call-rate' })
  const { threshold, minimumCalls } = full
  return windowDetector(full, (w) => w.calls >= minimumCalls && w.slow / w.calls >= threshold)
}
