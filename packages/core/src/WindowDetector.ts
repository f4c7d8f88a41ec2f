/**
 * The shared body of the window-based detectors (failure count, failure rate, slow-call rate):
 * each records outcomes into a window and differs only in its trip condition.
 */
import { rateOf } from './Counts.js'
import { canonical, type Detector, type DetectorSnapshot } from './Detector.js'
import { type WindowSpec, type WindowState, windowOps } from './Window.js'

/** What distinguishes one window detector from another. */
export interface WindowDetectorSpec {
  readonly kind: string
  /** The decoded config, as it appears in snapshots and keys. */
  readonly config: { readonly window: WindowSpec }
  /** A call at least this slow counts as slow (`Infinity`: slowness is not tracked). */
  readonly slowCallMs: number
  /** Calls the window must hold before a rate exists. */
  readonly minimumCalls: number
  readonly tripped: (window: WindowState) => boolean
  readonly failureRateThreshold?: number
}

/** Builds a detector counting in `spec.config.window` that trips when `spec.tripped(window)` holds. */
export const windowDetector = (spec: WindowDetectorSpec): Detector<WindowState> => {
  const ops = windowOps(spec.config.window)
  const { kind, slowCallMs, minimumCalls } = spec
  const tracksSlow = slowCallMs < Number.POSITIVE_INFINITY
  const detector: Detector<WindowState> = {
    kind,
    config: spec.config,
    key: canonical(spec.config),
    initial: (now) => ops.initial(now),
    record: (window, failed, latencyMs, now) => ops.add(window, failed, latencyMs >= slowCallMs, now),
    advance: (window, now) => ops.advance(window, now),
    rebase: (window, deltaMs) => ops.rebase(window, deltaMs),
    tripped: spec.tripped,
    measure: (window): ReadonlyArray<DetectorSnapshot> => [
      {
        kind,
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
  return spec.failureRateThreshold === undefined ? detector : { ...detector, failureRateThreshold: spec.failureRateThreshold }
}
