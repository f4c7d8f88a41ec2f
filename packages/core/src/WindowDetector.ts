/**
 * The shared body of the window-based detectors (failure count, failure rate, slow-call rate):
 * each records outcomes into a window and differs only in its trip condition.
 */
import { rateOf } from './Counts.js'
import {
  canonical,
  type Detector,
  type DetectorSnapshot,
  type FailureCountConfig,
  type FailureRateConfig,
  type SlowCallRateConfig,
} from './Detector.js'
import { type WindowState, windowOps } from './Window.js'

type WindowConfig = FailureCountConfig | FailureRateConfig | SlowCallRateConfig

/** Builds a detector counting in `config.window` that trips when `tripped(window)` holds. */
export const windowDetector = (config: WindowConfig, tripped: (window: WindowState) => boolean): Detector<WindowState> => {
  const ops = windowOps(config.window)
  const slowCallMs = config.kind === 'slow-call-rate' ? config.slowCallMs : Number.POSITIVE_INFINITY
  const minimumCalls = config.kind === 'failure-count' ? 1 : config.minimumCalls
  const tracksSlow = config.kind === 'slow-call-rate'
  return {
    config,
    key: canonical(config),
    initial: (now) => ops.initial(now),
    record: (window, failed, latencyMs, now) => ops.add(window, failed, latencyMs >= slowCallMs, now),
    advance: (window, now) => ops.advance(window, now),
    tripped,
    measure: (window): ReadonlyArray<DetectorSnapshot> => [
      {
        kind: config.kind,
        calls: window.calls,
        failures: window.failures,
        slowCalls: tracksSlow ? window.slow : null,
        failureRate: rateOf(window.failures, window.calls, minimumCalls),
        slowCallRate: tracksSlow ? rateOf(window.slow, window.calls, minimumCalls) : null,
        consecutiveFailures: null,
      },
    ],
    codec: ops.codec,
  }
}
