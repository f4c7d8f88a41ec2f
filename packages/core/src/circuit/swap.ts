/** Swaps: a circuit's hand-off (plain data) and how a circuit adopts any hand-off. */
import { CircuitState, Mode, type TransitionReason } from '../CircuitState.js'
import { carryDetectorState, type Detector, detectorHandoff } from '../Detector.js'
import { Limits } from '../Limits.js'
import type { OpenFor } from '../OpenDuration.js'
import type { Handoff } from '../Strategy.js'
import { inspect } from './inspect.js'
import {
  type CircuitData,
  type CircuitHandoff,
  type CircuitParts,
  circuitData,
  isCircuitHandoff,
  isTime,
  NONE,
  type PhaseData,
  phaseData,
  phaseWith,
} from './model.js'
import { enter, halfOpen } from './transitions.js'

// ---- swaps -------------------------------------------------------------------------------

/** The longest an open phase entered for `reason` may last under `openFor`. */
export const maxOpenMs = (openFor: OpenFor, reason: TransitionReason): number =>
  reason === 'tripped' || reason === 'recovery-failed' || reason === 'peer-tripped' ? openFor.maxMs : Limits.maxDurationMs

/**
 * Keeps an open phase's `openUntil` across a swap. If it is longer than the new policy could
 * ever have set, the phase is marked as held by the swap (reason `swapped`), which is what it now is.
 */
export const keepOpen = (phase: PhaseData, openFor: OpenFor): PhaseData =>
  phase.openUntil === null || phase.openUntil - phase.since <= maxOpenMs(openFor, phase.reason)
    ? phase
    : phaseWith(phase, { reason: 'swapped' })

/** The hand-off of a circuit in state `s`. */
export const handoff = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>): CircuitHandoff => ({
  kind: 'circuit',
  snapshot: inspect(p, s),
  circuit: {
    state: s as CircuitData<unknown, unknown>,
    detector: detectorHandoff(p.detector as Detector<unknown>, s.detector),
    recoveryKey: p.recovery.key,
  },
})

/** The hand-off a circuit adopts: a circuit's own, else (through wrappers) the innermost circuit's, else the outermost. */
export const adoptable = (from: Handoff): Handoff => {
  let h: Handoff | undefined = from
  for (let depth = 0; h !== undefined && depth < 16; depth++, h = h.inner) if (isCircuitHandoff(h)) return h
  return from
}

export const adopt = <D, R>(p: CircuitParts<D, R>, given: Handoff, time: number): CircuitData<D, R> => {
  const from = adoptable(given)
  if (isCircuitHandoff(from)) {
    const s = from.circuit.state
    const other = { recovery: { key: from.circuit.recoveryKey } }
    const at = isTime(time) && time > s.clock ? time : s.clock
    const detector = carryDetectorState(from.circuit.detector, p.detector, at)
    const phase = keepOpen(s.phase, p.openFor)
    if (phase.state !== CircuitState.HalfOpen || s.recovery === null) {
      // An open circuit's memory of its failed recovery carries over to the same recovery policy only.
      const memory =
        phase.state === CircuitState.Open &&
        phase.reason === 'recovery-failed' &&
        other.recovery.key === p.recovery.key &&
        p.recovery.restart !== undefined
          ? (s.recovery as R | null)
          : null
      return circuitData(phase, s.clock, s.issued, s.inFlight, s.probes, detector, memory)
    }
    if (other.recovery.key === p.recovery.key) return circuitData(phase, s.clock, s.issued, s.inFlight, s.probes, detector, s.recovery as R)
    // Another recovery policy starts afresh, in the same generation: the probes in flight stay
    // (their tickets stay valid) and block new probes until they settle, counted nowhere.
    const restarted = phaseWith(phase, { since: at, reason: 'swapped', probesFrom: s.issued })
    return circuitData(restarted, at, s.issued, s.inFlight, s.probes, detector, p.recovery.start(at))
  }
  // A strategy of another kind: keep what its snapshot tells (phase, mode, open-until), count afresh.
  const snap = from.snapshot
  const at = isTime(time) ? time : 0
  const base = circuitData<D, R>(
    phaseData(snap.state, snap.mode, snap.generation, null, snap.trips, at, 'swapped', NONE, 0),
    at,
    0,
    0,
    NONE,
    p.detector.initial(at),
    null,
  )
  switch (snap.state) {
    case CircuitState.Closed:
      return enter(
        base,
        CircuitState.Closed,
        snap.mode === Mode.Disabled ? Mode.Disabled : Mode.Normal,
        null,
        snap.trips,
        at,
        'swapped',
        base.detector,
        null,
      )
    case CircuitState.HalfOpen:
      return halfOpen(p, base, at, 'swapped')
    default:
      if (snap.mode !== Mode.Normal || snap.openUntil === null) {
        return enter(base, CircuitState.Open, Mode.ForcedOpen, null, snap.trips, at, 'swapped', base.detector, null)
      }
      // The wait left, on the new clock reading, and never longer than a timer can hold.
      return enter(
        base,
        CircuitState.Open,
        Mode.Normal,
        Math.min(snap.openUntil, at + Limits.maxDurationMs),
        snap.trips,
        at,
        'swapped',
        base.detector,
        null,
      )
  }
}
