/** What a circuit reports: the snapshot of its state, for metrics, logs and dashboards. */
import { CircuitState } from '../CircuitState.js'
import { PPM } from '../credit.js'
import type { DetectorSnapshot } from '../Detector.js'
import type { Snapshot } from '../Strategy.js'
import type { CircuitData, CircuitParts } from './model.js'

// ---- inspection --------------------------------------------------------------------------

export const firstFigure = (
  detectors: ReadonlyArray<DetectorSnapshot>,
  key: keyof Omit<DetectorSnapshot, 'kind' | 'figures'>,
): number | null => {
  for (const d of detectors) {
    const value = d[key]
    if (value !== null) return value
  }
  return null
}

/** Probes admitted before a swap to another recovery policy and still in flight: they block new probes. */
export const carriedProbes = <D, R>(s: CircuitData<D, R>): number => {
  let carried = 0
  for (let i = 0; i < s.probes.length; i += 2) if ((s.probes[i] ?? 0) < s.phase.probesFrom) carried++
  return carried
}

export const inspect = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>): Snapshot => {
  const detectors = p.detector.measure(s.detector)
  const phase = s.phase
  const carried = carriedProbes(s)
  // The recovery reports on its own probes; while probes carried over a swap fly, nothing is admitted.
  const following = phase.state === CircuitState.HalfOpen ? phase.follow : null
  const recovery =
    following !== null
      ? { kind: 'following', admitRate: following.ratePpm / PPM, inFlight: s.inFlight }
      : phase.state === CircuitState.HalfOpen && s.recovery !== null
        ? p.recovery.measure(s.recovery, s.inFlight - carried)
        : null
  return {
    state: phase.state,
    mode: phase.mode,
    generation: phase.generation,
    openUntil: phase.openUntil,
    since: phase.since,
    reason: phase.reason,
    trips: phase.trips,
    admitRate:
      phase.state === CircuitState.Closed
        ? 1
        : recovery === null || (carried > 0 && following === null)
          ? 0
          : Math.min(1, Math.max(0, recovery.admitRate)),
    inFlight: s.inFlight,
    isolations: phase.isolations.length,
    calls: firstFigure(detectors, 'calls'),
    failures: firstFigure(detectors, 'failures'),
    slowCalls: firstFigure(detectors, 'slowCalls'),
    failureRate: firstFigure(detectors, 'failureRate'),
    failureRateThreshold: p.detector.failureRateThreshold ?? null,
    slowCallRate: firstFigure(detectors, 'slowCallRate'),
    consecutiveFailures: firstFigure(detectors, 'consecutiveFailures'),
    detectors,
    recovery,
  }
}
