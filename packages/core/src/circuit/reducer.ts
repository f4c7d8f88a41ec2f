/**
 * The reducer: `step` reads the clock rules, then hands the event to `onRequest`, `onOutcome`,
 * `onCancel`, `onTick` or `onCommand`; `stepInPlace` is its transient twin (see `InPlaceStep`).
 */
import { type BreakerEvent, isValidLatency } from '../BreakerEvent.js'
import { CircuitState, Mode } from '../CircuitState.js'
import { PPM } from '../credit.js'
import {
  type Admitted,
  admitted,
  type Decision,
  ignored,
  recorded,
  rejected,
  rejectedForcedOpen,
  rejectedHalfOpenFull,
} from '../Decision.js'
import { isEvidence } from '../Evidence.js'
import { Limits } from '../Limits.js'
import {
  type CircuitData,
  type CircuitParts,
  CLOCK_TOLERANCE_MS,
  circuitData,
  type FollowData,
  isTime,
  MAX_TIME,
  type PhaseData,
  phaseWith,
  type Result,
  rejectedFollowing,
  withFollow,
  withIsolations,
  withPeak,
  withRecovery,
} from './model.js'
import { applyVerdict, close, enter, expireProbes, halfOpen, probeEnded, probeIndex, trip } from './transitions.js'

// ---- the reducer -------------------------------------------------------------------------

/** A closed circuit admits every request: the next id of the generation. */
export const admitClosed = <D, R>(s: CircuitData<D, R>, now: number): Result<D, R> => {
  const phase = s.phase
  const id = s.issued
  const inFlight = s.inFlight + 1
  const next = inFlight > phase.peakInFlight ? withPeak(phase, inFlight) : phase
  return [circuitData(next, now, id + 1, inFlight, s.probes, s.detector, s.recovery), admitted(phase.generation, id, false)]
}

/**
 * How many probes may be in flight at once: `maxProbesInFlight`; or, learned, twice what the
 * upstream carried while closed if more (headroom for the bursts it served).
 */
export const probeLimit = <D, R>(p: CircuitParts<D, R>, phase: PhaseData): number =>
  p.learnProbeLimit && 2 * phase.peakInFlight > p.maxProbesInFlight ? 2 * phase.peakInFlight : p.maxProbesInFlight

export const onRequest = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number, time: number): Result<D, R> => {
  const phase = s.phase
  if (phase.state === CircuitState.Closed) return admitClosed(s, now)
  let state = s
  if (phase.state === CircuitState.Open) {
    if (phase.openUntil === null) return [s, rejectedForcedOpen]
    // The wait is measured on the caller's clock (`time`), which may lag the latest time by the tolerance.
    if (now < phase.openUntil) return [s, rejected('open', phase.openUntil - time)]
    state = halfOpen(p, s, now, 'open-elapsed')
  }
  state = expireProbes(p, state, now)
  if (state.phase.state !== CircuitState.HalfOpen || state.recovery === null) return onRequest(p, state, now, time)
  if (state.phase.follow !== null) return onFollowerRequest(p, state, state.phase.follow, now)
  if (state.inFlight >= probeLimit(p, state.phase) || (state.probes[0] ?? Number.POSITIVE_INFINITY) < state.phase.probesFrom) {
    return [state, rejectedHalfOpenFull]
  }
  const admission = p.recovery.request(state.recovery, now)
  if (!admission.admitted) {
    return [admission.state === state.recovery ? state : withRecovery(state, admission.state, now), admission.rejection]
  }
  const id = state.issued
  const probes = state.probes.length === 0 ? [id, now] : [...state.probes, id, now]
  return [
    circuitData(state.phase, now, id + 1, state.inFlight + 1, probes, state.detector, admission.state),
    admitted(state.phase.generation, id, true),
  ]
}

/**
 * A request while following the fleet's recovery: admitted when the share's credit reaches a whole
 * request (exact: `ratePpm` per request, in ppm), within `maxProbesInFlight`; counted nowhere.
 */
export const onFollowerRequest = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, follow: FollowData, now: number): Result<D, R> => {
  const credit = follow.credit + follow.ratePpm
  const admit = credit >= PPM && s.inFlight < probeLimit(p, s.phase)
  const ph = s.phase
  const phase = withFollow(ph, { ratePpm: follow.ratePpm, credit: admit ? credit - PPM : Math.min(credit, PPM - 1) })
  if (!admit) return [circuitData(phase, now, s.issued, s.inFlight, s.probes, s.detector, s.recovery), rejectedFollowing]
  const id = s.issued
  const probes = s.probes.length === 0 ? [id, now] : [...s.probes, id, now]
  return [circuitData(phase, now, id + 1, s.inFlight + 1, probes, s.detector, s.recovery), admitted(ph.generation, id, true)]
}

/** Checks a ticket against the state: `undefined` if it names a call of this generation that may still be in flight. */
export const ticketProblem = <D, R>(s: CircuitData<D, R>, ticket: unknown): Decision | undefined => {
  if (typeof ticket !== 'object' || ticket === null) return ignored['invalid-event']
  const { generation, id } = ticket as { readonly generation?: unknown; readonly id?: unknown }
  if (typeof generation !== 'number' || typeof id !== 'number') return ignored['invalid-event']
  if (generation !== s.phase.generation)
    return generation < s.phase.generation && generation >= 0 ? ignored.stale : ignored['unknown-ticket']
  if (!(id >= 0 && id < s.issued && Number.isInteger(id))) return ignored['unknown-ticket']
  return s.inFlight === 0 ? ignored['already-settled'] : undefined
}

/** A closed circuit's detector counts the outcome of a call in flight, and may trip. */
export const countClosed = <D, R>(
  p: CircuitParts<D, R>,
  s: CircuitData<D, R>,
  failed: boolean,
  latencyMs: number,
  now: number,
  overdueMs?: number,
): Result<D, R> => {
  const detector = p.detector
  const counted = detector.record(s.detector, failed, latencyMs, now, overdueMs)
  if (s.phase.mode === Mode.Normal && detector.tripped(counted)) return [trip(p, s, counted, now, 'tripped'), recorded]
  return [circuitData(s.phase, now, s.issued, s.inFlight - 1, s.probes, counted, s.recovery), recorded]
}

/**
 * An outcome a closed circuit counts: a valid latency, and a ticket of a call that may still be in
 * flight. `ticketProblem`'s checks as a yes or no, written out: it runs on every call, where naming
 * the problem cost ~5 ns (anything it refuses goes to `step`, which names it).
 */
export const countable = <D, R>(s: CircuitData<D, R>, ticket: unknown, latencyMs: unknown): latencyMs is number => {
  if (!isValidLatency(latencyMs) || typeof ticket !== 'object' || ticket === null || s.inFlight === 0) return false
  const id = (ticket as { readonly id?: unknown }).id
  return (
    (ticket as { readonly generation?: unknown }).generation === s.phase.generation &&
    typeof id === 'number' &&
    id >= 0 &&
    id < s.issued &&
    Number.isInteger(id)
  )
}

/** A circuit's state with writable top-level fields: only `stepInPlace` writes them, on a state its caller owns. */
export type Transient<D, R> = { -readonly [K in keyof CircuitData<D, R>]: CircuitData<D, R>[K] }

/**
 * `step`'s hot path, in place (see `InPlaceStep`): a closed circuit's request, or an outcome it
 * counts without tripping, at or after its clock, by the rules of `admitClosed` and `countClosed`;
 * anything else is `undefined`. The properties hold it equal to `step`.
 */
export const stepInPlace = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: BreakerEvent, time: number): Decision | undefined => {
  if (s.phase.state !== CircuitState.Closed || !(isTime(time) && time >= s.clock) || typeof event !== 'object' || event === null)
    return undefined
  const w = s as Transient<D, R>
  const tag = event._tag
  if (tag === 'CallRequested') {
    const id = s.issued
    const inFlight = s.inFlight + 1
    w.issued = id + 1
    w.inFlight = inFlight
    w.clock = time
    if (inFlight > s.phase.peakInFlight) w.phase = withPeak(s.phase, inFlight)
    return admitted(s.phase.generation, id, false)
  }
  if (tag !== 'CallSucceeded' && tag !== 'CallFailed') return undefined
  const { ticket, latencyMs, retryAfterMs, overdueMs } = event as {
    readonly ticket?: unknown
    readonly latencyMs?: unknown
    readonly retryAfterMs?: unknown
    readonly overdueMs?: unknown
  }
  // A failure with a retry hint writes the phase: `step` keeps it.
  if (retryAfterMs !== undefined) return undefined
  if (!countable(s, ticket, latencyMs)) return undefined
  const counted = p.detector.record(s.detector, tag === 'CallFailed', latencyMs, time, overdueOf(overdueMs))
  // A trip is a transition: `step` makes it.
  if (s.phase.mode === Mode.Normal && p.detector.tripped(counted)) return undefined
  w.detector = counted
  w.inFlight = s.inFlight - 1
  w.clock = time
  return recorded
}

/**
 * The state having heard a failure's retry hint (`retryAfterMs`, see `CallFailed`): the phase
 * remembers the latest time an upstream asked to be left alone until. Anything but a finite number
 * of ms, zero or more, is no hint.
 */
export const hinted = <D, R>(s: CircuitData<D, R>, retryAfterMs: unknown, now: number): CircuitData<D, R> => {
  if (retryAfterMs === undefined || !isValidLatency(retryAfterMs)) return s
  const until = Math.min(now + retryAfterMs, MAX_TIME)
  const phase = s.phase
  if (phase.retryUntil !== null && phase.retryUntil >= until) return s
  return circuitData(phaseWith(phase, { retryUntil: until }), s.clock, s.issued, s.inFlight, s.probes, s.detector, s.recovery)
}

/** An outcome's `overdueMs` (see `CallSucceeded`): anything but a finite number of ms, zero or more, is none. */
export const overdueOf = (overdueMs: unknown): number | undefined =>
  overdueMs !== undefined && isValidLatency(overdueMs) ? overdueMs : undefined

/**
 * A call still running (see `CallOverdue`): a closed circuit's detectors that count slow calls
 * count it now, and may trip; it stays in flight. Anywhere else nothing changes (probes time out
 * by `probeTimeoutMs`).
 */
export const onOverdue = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: unknown, now: number): Result<D, R> => {
  const { ticket, elapsedMs } = event as { readonly ticket?: unknown; readonly elapsedMs?: unknown }
  if (!isValidLatency(elapsedMs)) return [s, ignored['invalid-event']]
  const problem = ticketProblem(s, ticket)
  if (problem !== undefined) return [s, problem]
  const detector = p.detector
  if (s.phase.state !== CircuitState.Closed || detector.overdue === undefined) return [s, recorded]
  const counted = detector.overdue(s.detector, elapsedMs, now)
  if (counted === s.detector) return [s, recorded]
  if (s.phase.mode === Mode.Normal && detector.tripped(counted)) return [trip(p, s, counted, now, 'tripped'), recorded]
  return [circuitData(s.phase, now, s.issued, s.inFlight, s.probes, counted, s.recovery), recorded]
}

export const onOutcome = <D, R>(
  p: CircuitParts<D, R>,
  state: CircuitData<D, R>,
  event: unknown,
  failed: boolean,
  now: number,
): Result<D, R> => {
  const { ticket, latencyMs } = event as { readonly ticket?: unknown; readonly latencyMs?: unknown }
  if (!isValidLatency(latencyMs)) return [state, ignored['invalid-event']]
  const problem = ticketProblem(state, ticket)
  if (problem !== undefined) return [state, problem]
  const id = (ticket as Admitted).id
  // A failure's retry hint is kept only with an outcome that counts (an ignored event changes nothing).
  const hint = failed ? (event as { readonly retryAfterMs?: unknown }).retryAfterMs : undefined
  if (state.phase.state === CircuitState.Closed) {
    const overdueMs = overdueOf((event as { readonly overdueMs?: unknown }).overdueMs)
    return countClosed(p, hinted(state, hint, now), failed, latencyMs, now, overdueMs)
  }
  // A probe still in the list counts, even past its timeout: expiry happens on requests and ticks.
  const index = probeIndex(state.probes, id)
  if (index < 0 || state.recovery === null) return [state, ignored['already-settled']]
  const s = hinted(state, hint, now) as CircuitData<D, R> & { readonly recovery: R }
  // A probe of a recovery swapped out frees its slot and counts nowhere: the new recovery never admitted it.
  const verdict = id < s.phase.probesFrom || s.phase.follow !== null ? s.recovery : p.recovery.outcome(s.recovery, failed, latencyMs, now)
  // A learned limit doubles when a probe succeeds with the limit reached, once a round trip (the
  // probe was admitted after the last doubling): slow start, so that a recovery which has never
  // seen the upstream healthy (down from its first call) is not held at `maxProbesInFlight`, and
  // one whose traffic only now and then touches the limit (a tail of slow calls) clears it in a
  // doubling or two rather than one probe at a time. A hung upstream, with no successes, grows nothing.
  const limit = probeLimit(p, s.phase)
  const grown =
    failed || !p.learnProbeLimit || s.inFlight < limit || id < s.phase.growsFrom
      ? s
      : circuitData(
          phaseWith(s.phase, { peakInFlight: limit, growsFrom: s.issued }),
          s.clock,
          s.issued,
          s.inFlight,
          s.probes,
          s.detector,
          s.recovery,
        )
  return [probeEnded(p, grown, index, verdict, now), recorded]
}

export const onCancel = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, ticket: unknown, now: number): Result<D, R> => {
  const problem = ticketProblem(s, ticket)
  if (problem !== undefined) return [s, problem]
  if (s.phase.state === CircuitState.Closed)
    return [circuitData(s.phase, now, s.issued, s.inFlight - 1, s.probes, s.detector, s.recovery), recorded]
  const id = (ticket as Admitted).id
  const index = probeIndex(s.probes, id)
  if (index < 0 || s.recovery === null) return [s, ignored['already-settled']]
  const counted = id >= s.phase.probesFrom && s.phase.follow === null
  return [probeEnded(p, s, index, counted ? p.recovery.cancel(s.recovery, now) : s.recovery, now), recorded]
}

export const onTick = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number): Result<D, R> => {
  const phase = s.phase
  if (phase.state === CircuitState.Closed) {
    const advanced = p.detector.advance(s.detector, now)
    if (advanced === s.detector) return [s, recorded]
    if (phase.mode === Mode.Normal && p.detector.tripped(advanced)) return [trip(p, s, advanced, now, 'tripped'), recorded]
    return [circuitData(phase, now, s.issued, s.inFlight, s.probes, advanced, s.recovery), recorded]
  }
  if (phase.state === CircuitState.Open) {
    return [phase.openUntil !== null && now >= phase.openUntil ? halfOpen(p, s, now, 'open-elapsed') : s, recorded]
  }
  const state = expireProbes(p, s, now)
  if (state.phase.state !== CircuitState.HalfOpen || state.recovery === null) return [state, recorded]
  // A follower's own recovery does not run: only the leader's verdict moves it.
  if (state.phase.follow !== null) return [state, recorded]
  return [applyVerdict(p, state, p.recovery.tick(state.recovery, now), now), recorded]
}

/** A closed circuit's detectors absorb the fleet's evidence (malformed entries dropped) and may trip on the sum. */
export const onEvidence = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, evidence: unknown, now: number): Result<D, R> => {
  if (!Array.isArray(evidence)) return [s, ignored['invalid-event']]
  if (s.phase.state !== CircuitState.Closed || p.detector.absorb === undefined) return [s, recorded]
  const absorbed = p.detector.absorb(s.detector, evidence.filter(isEvidence), now)
  if (absorbed === s.detector) return [s, recorded]
  if (s.phase.mode === Mode.Normal && p.detector.tripped(absorbed)) return [trip(p, s, absorbed, now, 'tripped'), recorded]
  return [circuitData(s.phase, now, s.issued, s.inFlight, s.probes, absorbed, s.recovery), recorded]
}

/** Another replica tripped: a closed circuit opens as if it had tripped, a half-open one reopens; the open stay open. */
export const onPeerTripped = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number): Result<D, R> => {
  if (s.phase.mode !== Mode.Normal) return [s, ignored['illegal-transition']]
  if (s.phase.state === CircuitState.Open) return [s, recorded]
  return [trip(p, s, s.detector, now, 'peer-tripped'), recorded]
}

/**
 * Follow the fleet's recovery at `rate` (a share in [0, 1]), or stop following (`null`): the own
 * recovery then starts afresh. Calls admitted under the other regime stay in flight, counted nowhere.
 */
export const onFollow = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, rate: unknown, now: number): Result<D, R> => {
  if (!(rate === null || (typeof rate === 'number' && rate >= 0 && rate <= 1))) return [s, ignored['invalid-event']]
  const ph = s.phase
  if (rate === null && ph.follow === null) return [s, recorded]
  const follow = rate === null ? null : { ratePpm: Math.round(rate * PPM), credit: ph.follow?.credit ?? 0 }
  if (follow !== null && ph.follow !== null && follow.ratePpm === ph.follow.ratePpm) return [s, recorded]
  // Half-open, a change of regime: what flies now was admitted under the other one.
  const regimeChanged = ph.state === CircuitState.HalfOpen && (follow === null) !== (ph.follow === null)
  const phase = withFollow(ph, follow, regimeChanged ? s.issued : ph.probesFrom)
  const recovery = regimeChanged && follow === null ? p.recovery.start(now) : s.recovery
  return [circuitData(phase, now, s.issued, s.inFlight, s.probes, s.detector, recovery), recorded]
}

export const onOpenCommanded = <D, R>(s: CircuitData<D, R>, event: unknown, now: number): Result<D, R> => {
  const { forMs, until } = event as { readonly forMs?: unknown; readonly until?: unknown }
  const openUntil =
    forMs !== undefined && until === undefined && typeof forMs === 'number' && forMs >= 1 && forMs <= Limits.maxDurationMs
      ? now + forMs
      : until !== undefined && forMs === undefined && isTime(until)
        ? Math.min(until, now + Limits.maxDurationMs)
        : undefined
  if (openUntil === undefined) return [s, ignored['invalid-event']]
  if (s.phase.mode !== Mode.Normal) return [s, ignored['illegal-transition']]
  return [enter(s, CircuitState.Open, Mode.Normal, openUntil, s.phase.trips, now, 'opened-manually', s.detector, null), recorded]
}

export const onIsolation = <D, R>(s: CircuitData<D, R>, now: number): Result<D, R> => {
  const phase = s.phase
  const id = phase.nextIsolation
  const held = withIsolations(phase, [...phase.isolations, id], id + 1)
  const next =
    phase.mode === Mode.ForcedOpen || phase.mode === Mode.Isolated
      ? circuitData(held, now, s.issued, s.inFlight, s.probes, s.detector, s.recovery)
      : enter({ ...s, phase: held }, CircuitState.Open, Mode.Isolated, null, phase.trips, now, 'isolated', s.detector, null)
  return [next, { _tag: 'Isolated', id }]
}

export const onRelease = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: unknown, now: number): Result<D, R> => {
  const id = (event as { readonly id?: unknown }).id
  const phase = s.phase
  const index = typeof id === 'number' ? phase.isolations.indexOf(id) : -1
  if (index < 0) return [s, ignored['unknown-isolation']]
  const isolations = phase.isolations.filter((held) => held !== id)
  if (isolations.length === 0 && phase.mode === Mode.Isolated) return [close(p, s, now, 'released', Mode.Normal), recorded]
  return [
    circuitData(withIsolations(phase, isolations, phase.nextIsolation), now, s.issued, s.inFlight, s.probes, s.detector, s.recovery),
    recorded,
  ]
}

export const onCommand = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: BreakerEvent, now: number): Result<D, R> => {
  const phase = s.phase
  switch (event._tag) {
    case 'ForcedOpen':
      if (phase.mode === Mode.ForcedOpen) return [s, recorded]
      return [enter(s, CircuitState.Open, Mode.ForcedOpen, null, phase.trips, now, 'forced-open', s.detector, null), recorded]
    case 'Disabled':
      if (phase.mode === Mode.Disabled) return [s, recorded]
      return [close(p, s, now, 'disabled', Mode.Disabled), recorded]
    case 'Reset':
      return [close(p, s, now, 'reset', Mode.Normal), recorded]
    case 'OpenCommanded':
      return onOpenCommanded(s, event, now)
    case 'HalfOpenCommanded':
      if (phase.mode !== Mode.Normal || phase.state !== CircuitState.Open) return [s, ignored['illegal-transition']]
      return [halfOpen(p, s, now, 'half-opened-manually'), recorded]
    case 'CloseCommanded':
      if (phase.mode !== Mode.Normal || phase.state === CircuitState.Closed) return [s, ignored['illegal-transition']]
      return [close(p, s, now, 'closed-manually', Mode.Normal), recorded]
    case 'IsolationRequested':
      return onIsolation(s, now)
    case 'IsolationReleased':
      return onRelease(p, s, event, now)
    default:
      return [s, ignored['invalid-event']]
  }
}

/**
 * The caller's clock went back by more than the tolerance: move every stored time onto the new
 * clock (clamped to it, since `x + (time - clock)` may round past `time`), keeping an open
 * phase's duration exactly.
 */
export const rebase = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, time: number): CircuitData<D, R> => {
  const delta = time - s.clock
  const ph = s.phase
  const since = Math.min(ph.since + delta, time)
  const probes = s.probes.map((x, i) => (i % 2 === 1 ? Math.min(x + delta, time) : x))
  const detector = p.detector.rebase === undefined ? p.detector.initial(time) : p.detector.rebase(s.detector, delta, time)
  const recovery = s.recovery === null || p.recovery.rebase === undefined ? s.recovery : p.recovery.rebase(s.recovery, delta, time)
  const openUntil = ph.openUntil === null ? null : since + (ph.openUntil - ph.since)
  const retryUntil = ph.retryUntil === null ? null : ph.retryUntil + delta
  return circuitData(phaseWith(ph, { openUntil, since, retryUntil }), time, s.issued, s.inFlight, probes, detector, recovery)
}

export const step = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: BreakerEvent, time: number): Result<D, R> => {
  // A time that is not a finite number (within +-2^53 ms) is no time at all: nothing is stored from it.
  if (!isTime(time)) return [s, ignored['invalid-time']]
  if (typeof event !== 'object' || event === null) return [s, ignored['invalid-event']]
  if (time >= s.clock - CLOCK_TOLERANCE_MS) return dispatch(p, s, event, Math.max(time, s.clock), time)
  // A jump back: every stored time moves onto the new clock. An event ignored even so changes
  // nothing, not even the clock: the rebase waits for an event that counts.
  const result = dispatch(p, rebase(p, s, time), event, time, time)
  return result[1]._tag === 'Ignored' ? [s, result[1]] : result
}

/** Hands the event to its reducer; `now` is the time to store (small steps back count as the latest time). */
export const dispatch = <D, R>(
  p: CircuitParts<D, R>,
  s: CircuitData<D, R>,
  event: BreakerEvent,
  now: number,
  time: number,
): Result<D, R> => {
  switch (event._tag) {
    case 'CallRequested':
      return onRequest(p, s, now, time)
    case 'CallSucceeded':
      return onOutcome(p, s, event, false, now)
    case 'CallFailed':
      return onOutcome(p, s, event, true, now)
    case 'CallCancelled':
      return onCancel(p, s, event.ticket, now)
    case 'CallOverdue':
      return onOverdue(p, s, event, now)
    case 'Ticked':
      return onTick(p, s, now)
    case 'EvidenceReceived':
      return onEvidence(p, s, event.evidence, now)
    case 'PeerTripped':
      return onPeerTripped(p, s, now)
    case 'RecoveryFollowed':
      return onFollow(p, s, event.rate, now)
    case 'PeerRecovered':
      if (s.phase.mode !== Mode.Normal) return [s, ignored['illegal-transition']]
      return [s.phase.state === CircuitState.Closed ? s : close(p, s, now, 'peer-recovered', Mode.Normal), recorded]
    default:
      return onCommand(p, s, event, now)
  }
}
