/** Phase changes: every one goes through `enter` and bumps the generation; probes end through `probeEnded`. */
import { CircuitState, Mode, type TransitionReason } from '../CircuitState.js'
import { Limits } from '../Limits.js'
import { boundedOpenDuration } from '../OpenDuration.js'
import type { RecoveryVerdict } from '../Recovery.js'
import {
  type CircuitData,
  type CircuitParts,
  circuitData,
  FOLLOW_NOTHING,
  type FollowData,
  NONE,
  phaseData,
  withRecovery,
} from './model.js'

// ---- transitions: every phase change goes through `enter` and bumps the generation ----------

export const enter = <D, R>(
  s: CircuitData<D, R>,
  state: CircuitState,
  mode: Mode,
  openUntil: number | null,
  trips: number,
  at: number,
  reason: TransitionReason,
  detector: D,
  recovery: R | null,
  isolations: ReadonlyArray<number> = s.phase.isolations,
  // A standing instruction to follow the fleet survives transitions; the share it admits is reset
  // on entering any phase but half-open, so each new episode waits for the fleet's word again.
  follow: FollowData | null = s.phase.follow === null || state === CircuitState.HalfOpen ? s.phase.follow : FOLLOW_NOTHING,
): CircuitData<D, R> =>
  circuitData(
    phaseData(
      state,
      mode,
      s.phase.generation + 1,
      openUntil,
      trips,
      at,
      reason,
      isolations,
      s.phase.nextIsolation,
      0,
      follow,
      s.phase.peakInFlight,
    ),
    at,
    0,
    0,
    NONE,
    detector,
    recovery,
  )

export const trip = <D, R>(
  p: CircuitParts<D, R>,
  s: CircuitData<D, R>,
  detector: D,
  at: number,
  reason: TransitionReason,
  memory: R | null = null,
): CircuitData<D, R> => {
  const trips = s.phase.trips + 1
  // Held to the limits whatever a custom policy returns, and to the end of the accepted clock (a
  // circuit opened near it must still be able to leave open; Polly clamps the same way).
  // A retry hint still in the future (see `PhaseData.retryUntil`) goes to the policy, which may honour it.
  const retryUntil = s.phase.retryUntil
  const hint = retryUntil !== null && retryUntil >= at ? retryUntil - at : undefined
  const until = Math.min(at + boundedOpenDuration(p.openFor, trips, hint), Limits.maxTime)
  return enter(s, CircuitState.Open, Mode.Normal, until, trips, at, reason, detector, memory)
}

/** Half-open with a fresh recovery, or one that remembers the failed recovery the open phase keeps. */
export const halfOpen = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, at: number, reason: TransitionReason): CircuitData<D, R> => {
  const memory = s.phase.state === CircuitState.Open ? s.recovery : null
  const recovery =
    memory !== null && p.recovery.restart !== undefined ? p.recovery.restart(memory, at, s.phase.since) : p.recovery.start(at)
  return enter(s, CircuitState.HalfOpen, Mode.Normal, null, s.phase.trips, at, reason, s.detector, recovery)
}

export const close = <D, R>(
  p: CircuitParts<D, R>,
  s: CircuitData<D, R>,
  at: number,
  reason: TransitionReason,
  mode: Mode,
): CircuitData<D, R> =>
  enter(s, CircuitState.Closed, mode, null, mode === Mode.Disabled ? s.phase.trips : 0, at, reason, p.detector.initial(at), null, NONE)

export const applyVerdict = <D, R>(
  p: CircuitParts<D, R>,
  s: CircuitData<D, R>,
  verdict: RecoveryVerdict<R>,
  at: number,
): CircuitData<D, R> =>
  verdict === 'close'
    ? close(p, s, at, 'recovered', Mode.Normal)
    : verdict === 'reopen'
      ? trip(p, s, s.detector, at, 'recovery-failed', p.recovery.restart === undefined ? null : s.recovery)
      : verdict === s.recovery
        ? s
        : withRecovery(s, verdict, at)

/** The flight list without the probe at pair index `index`. */
export const probesWithout = (probes: ReadonlyArray<number>, index: number): ReadonlyArray<number> => {
  if (probes.length === 2) return NONE
  const rest = probes.slice()
  rest.splice(index, 2)
  return rest
}

/** A probe left flight (settled or cancelled) and the recovery moved on to `recovery`. */
export const probeEnded = <D, R>(
  p: CircuitParts<D, R>,
  s: CircuitData<D, R>,
  index: number,
  verdict: RecoveryVerdict<R>,
  now: number,
): CircuitData<D, R> =>
  verdict === 'close' || verdict === 'reopen'
    ? applyVerdict(p, s, verdict, now)
    : circuitData(s.phase, now, s.issued, s.inFlight - 1, probesWithout(s.probes, index), s.detector, verdict)

/**
 * Settles, as failed, every probe unsettled for `probeTimeoutMs` or more (oldest first), until
 * none is or the phase ends. A probe carried over a swap just leaves flight: its recovery is gone.
 */
export const expireProbes = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number): CircuitData<D, R> => {
  let state = s
  while (state.phase.state === CircuitState.HalfOpen && state.recovery !== null && state.probes.length > 0) {
    const admittedAt = state.probes[1] ?? now
    if (now - admittedAt < p.probeTimeoutMs) break
    const recovery = state.recovery
    const carried = (state.probes[0] ?? 0) < state.phase.probesFrom || state.phase.follow !== null
    state = probeEnded(p, state, 0, carried ? recovery : p.recovery.outcome(recovery, true, p.probeTimeoutMs, now), now)
  }
  return state
}

/** Finds probe `id` in the flight list; returns its pair index or -1. */
export const probeIndex = (probes: ReadonlyArray<number>, id: number): number => {
  for (let i = 0; i < probes.length; i += 2) if (probes[i] === id) return i
  return -1
}
