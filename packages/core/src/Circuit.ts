/**
 * `circuitOf({ detector, recovery, openFor })`: the three-state machine assembled from part
 * values (the library's or yours). It owns the phases, generations, call ids, probe timeouts,
 * manual transitions and isolations, and the clock rules; the parts own their counting.
 *
 * The reducer is a set of named functions over a {@link CircuitParts} context: `step` reads the
 * clock rules, then hands the event to `onRequest`, `onOutcome`, `onCancel`, `onTick` or
 * `onCommand`; every phase change goes through `enter`.
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type BreakerEvent, isValidLatency } from './BreakerEvent.js'
import { CircuitState, Mode, type TransitionReason, transitionReasons } from './CircuitState.js'
import { ConfigError, problem } from './ConfigError.js'
import { Finite, intIn, NonNegativeInt, nullable, oneOf, report } from './codecs.js'
import {
  type Admitted,
  admitted,
  type Decision,
  ignored,
  recorded,
  rejected,
  rejectedForcedOpen,
  rejectedHalfOpenFull,
} from './Decision.js'
import { carryDetectorState, type Detector, type DetectorHandoff, type DetectorSnapshot, detectorHandoff } from './Detector.js'
import { type Evidence, isEvidence } from './Evidence.js'
import { Limits } from './Limits.js'
import type { OpenFor } from './OpenDuration.js'
import type { Recovery, RecoveryVerdict } from './Recovery.js'
import { type Handoff, type Snapshot, type Strategy, withInPlace } from './Strategy.js'
import { primeShape } from './shapes.js'

// ---- model -------------------------------------------------------------------------------

/** The phase of a circuit: what changes only on a transition (or an isolation). */
export interface PhaseData {
  readonly state: CircuitState
  readonly mode: Mode
  /** Bumped on every transition; tickets of older generations are stale. */
  readonly generation: number
  /** When an open circuit turns half-open; `null` unless open by a trip or a manual open. */
  readonly openUntil: number | null
  /** Consecutive trips since the last close (the backoff's exponent). */
  readonly trips: number
  /** When the phase began (on the current clock). */
  readonly since: number
  readonly reason: TransitionReason
  /** Isolation ids held, ascending. */
  readonly isolations: ReadonlyArray<number>
  /** The id the next isolation gets. */
  readonly nextIsolation: number
  /**
   * While half-open: the first call id the current recovery admitted. Probes with lower ids were
   * admitted under a recovery that a swap replaced: they stay in flight (and block new probes)
   * until they settle or time out, so a swap never multiplies the probes in flight.
   */
  readonly probesFrom: number
  /**
   * A fleet's standing instruction (see `BreakerEvent.follow`): while set, this circuit's own
   * recovery does not run; half-open, it admits the share `ratePpm` (parts per million) of
   * requests, counted nowhere, until the leading replica's verdict arrives (`PeerRecovered`
   * closes, `PeerTripped` reopens). The instruction survives transitions, but the share resets to
   * 0 on entering open or closed, so each new episode waits for the fleet's word. `null`: the
   * circuit recovers by itself (alone, or leading the fleet).
   */
  readonly follow: FollowData | null
  /**
   * The most calls this circuit has had in flight at once while closed: what the upstream carried
   * when healthy. Half-open admits up to the larger of this and `maxProbesInFlight`, so a recovery
   * that ramps to full traffic is not held below the concurrency the upstream served before.
   */
  readonly peakInFlight: number
}

/** Following a fleet's recovery: the share admitted, and the admission credit (both in ppm). */
export interface FollowData {
  readonly ratePpm: number
  readonly credit: number
}

/**
 * The state of a circuit: plain JSON data, snapshotted and restored by the strategy's codec.
 * `D` and `R` are the detector's and the recovery's states.
 */
export interface CircuitData<D = unknown, R = unknown> {
  readonly phase: PhaseData
  /** The latest time the circuit has stored (the reference for clock jumps). */
  readonly clock: number
  /** Ids issued in this generation: the next admission gets id `issued`. */
  readonly issued: number
  /** Calls admitted in this generation and not yet settled. */
  readonly inFlight: number
  /** While half-open: `[id, admittedAt]` of each probe in flight, oldest first; else empty. */
  readonly probes: ReadonlyArray<number>
  /** The detector's state: live while closed, frozen while open or half-open, fresh on close. */
  readonly detector: D
  /**
   * The recovery's state while half-open; while open after a failed recovery, that recovery's last
   * state (its memory, for `Recovery.restart`) if the recovery policy has `restart`; else `null`.
   */
  readonly recovery: R | null
}

/** What {@link circuitOf} takes: part values, and the half-open limits. */
export interface CircuitPartsInput<D, R> {
  /** Default `'circuit'`. */
  readonly name?: string
  readonly detector: Detector<D>
  readonly recovery: Recovery<R>
  readonly openFor: OpenFor
  /** A probe unsettled this long (ms) counts as failed. Default 60,000 (1 ms to `Limits.maxDurationMs`). */
  readonly probeTimeoutMs?: number
  /**
   * At most this many probes in flight while half-open; more are rejected `half-open-full`: a
   * number (1 to 1,000), or `'learned'` (the default): twice the most calls the circuit has had in
   * flight at once while closed, at least 100, raised by one for each probe that succeeds with the
   * limit reached (so a recovery ramping to full traffic is never held below what the upstream
   * carried, nor one that never saw it healthy at 100).
   */
  readonly maxProbesInFlight?: number | 'learned'
}

/** The canonical JSON config of a circuit: its name, its parts' configs and its half-open limits. */
export interface CircuitConfig {
  readonly name: string
  readonly trip: unknown
  readonly recovery: unknown
  readonly openFor: unknown
  readonly probeTimeoutMs: number
  readonly maxProbesInFlight: number | 'learned'
}

/** A strategy built by {@link circuitOf} (or `circuit` / `fromConfig`): also exposes its parts and config. */
export interface CircuitStrategy<D = unknown, R = unknown> extends Strategy<CircuitData<D, R>> {
  readonly config: CircuitConfig
  readonly detector: Detector<D>
  readonly recovery: Recovery<R>
  readonly openFor: OpenFor
  readonly probeTimeoutMs: number
  readonly maxProbesInFlight: number | 'learned'
  handoff(state: CircuitData<D, R>, now: number): CircuitHandoff
  adopt(from: Handoff, now: number): CircuitData<D, R>
  transitioned(before: CircuitData<D, R>, after: CircuitData<D, R>): boolean
}

/**
 * A circuit's hand-off to its successor in a swap (plain data): its whole state, what its detector
 * counted (by key, members included) and its recovery policy's key, which tell another circuit what
 * it can keep.
 */
export interface CircuitHandoff extends Handoff {
  readonly kind: 'circuit'
  readonly circuit: {
    readonly state: CircuitData<unknown, unknown>
    readonly detector: DetectorHandoff
    readonly recoveryKey: string
  }
}

const isCircuitHandoff = (h: Handoff): h is CircuitHandoff =>
  h.kind === 'circuit' && typeof (h as { circuit?: unknown }).circuit === 'object' && (h as { circuit?: unknown }).circuit !== null

/** The context every reducer function takes. */
interface CircuitParts<D, R> {
  readonly detector: Detector<D>
  readonly recovery: Recovery<R>
  readonly openFor: OpenFor
  readonly probeTimeoutMs: number
  /** The fixed probe limit, or (learned) its floor. */
  readonly maxProbesInFlight: number
  readonly learnProbeLimit: boolean
}

type Result<D, R> = readonly [CircuitData<D, R>, Decision]

const NONE: ReadonlyArray<number> = []
const PPM = 1_000_000
const FOLLOW_NOTHING: FollowData = { ratePpm: 0, credit: 0 }
/** A follower's request outside the fleet's share (no retry time is known: the share comes from the leader). */
const rejectedFollowing = rejected('throttled', null)
const NO_EVIDENCE: ReadonlyArray<Evidence> = []

// Read once: these are checked on every step.
const MAX_TIME = Limits.maxTime
const CLOCK_TOLERANCE_MS = Limits.clockToleranceMs

/** A time the circuit takes: a finite number within +-`Limits.maxTime`. */
const isTime = (x: unknown): x is number => typeof x === 'number' && x >= -MAX_TIME && x <= MAX_TIME

// ---- constructors of states (one shape each, so property reads stay monomorphic) ----------

const phaseData = (
  state: CircuitState,
  mode: Mode,
  generation: number,
  openUntil: number | null,
  trips: number,
  since: number,
  reason: TransitionReason,
  isolations: ReadonlyArray<number>,
  nextIsolation: number,
  probesFrom = 0,
  follow: FollowData | null = null,
  peakInFlight = 0,
): PhaseData => ({ state, mode, generation, openUntil, trips, since, reason, isolations, nextIsolation, probesFrom, follow, peakInFlight })

const circuitData = <D, R>(
  phase: PhaseData,
  clock: number,
  issued: number,
  inFlight: number,
  probes: ReadonlyArray<number>,
  detector: D,
  recovery: R | null,
): CircuitData<D, R> => ({ phase, clock, issued, inFlight, probes, detector, recovery })

// Times are integers in tests and fractions from a live clock: both, in one process, without a
// change of hidden class (see shapes.ts).
primeShape((v) => phaseData(v, v, v, v, v, v, v, v, v, v, v, v))
primeShape((v) => circuitData(v, v, v, v, v, v, v))

const withRecovery = <D, R>(s: CircuitData<D, R>, recovery: R, now: number): CircuitData<D, R> =>
  circuitData(s.phase, now, s.issued, s.inFlight, s.probes, s.detector, recovery)

/** A copy of phase `p` with some fields changed (through `phaseData`, so every phase keeps one shape). */
const phaseWith = (p: PhaseData, o: Partial<PhaseData>): PhaseData =>
  phaseData(
    p.state,
    o.mode ?? p.mode,
    p.generation,
    o.openUntil === undefined ? p.openUntil : o.openUntil,
    p.trips,
    o.since ?? p.since,
    o.reason ?? p.reason,
    o.isolations ?? p.isolations,
    o.nextIsolation ?? p.nextIsolation,
    o.probesFrom ?? p.probesFrom,
    o.follow === undefined ? p.follow : o.follow,
    o.peakInFlight ?? p.peakInFlight,
  )

/** The same phase, following the fleet by `follow` (see `BreakerEvent.follow`), its own probes from `probesFrom`. */
const withFollow = (p: PhaseData, follow: FollowData | null, probesFrom = p.probesFrom): PhaseData => phaseWith(p, { follow, probesFrom })

/** The same phase, having carried `peakInFlight` calls at once. */
const withPeak = (p: PhaseData, peakInFlight: number): PhaseData => phaseWith(p, { peakInFlight })

const withIsolations = (p: PhaseData, isolations: ReadonlyArray<number>, nextIsolation: number, mode = p.mode): PhaseData =>
  phaseWith(p, { isolations, nextIsolation, mode })

// ---- transitions: every phase change goes through `enter` and bumps the generation ----------

const enter = <D, R>(
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

const trip = <D, R>(
  p: CircuitParts<D, R>,
  s: CircuitData<D, R>,
  detector: D,
  at: number,
  reason: TransitionReason,
  memory: R | null = null,
): CircuitData<D, R> => {
  const trips = s.phase.trips + 1
  return enter(s, CircuitState.Open, Mode.Normal, at + p.openFor.durationMs(trips), trips, at, reason, detector, memory)
}

/** Half-open with a fresh recovery, or one that remembers the failed recovery the open phase keeps. */
const halfOpen = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, at: number, reason: TransitionReason): CircuitData<D, R> => {
  const memory = s.phase.state === CircuitState.Open ? s.recovery : null
  const recovery = memory !== null && p.recovery.restart !== undefined ? p.recovery.restart(memory, at) : p.recovery.start(at)
  return enter(s, CircuitState.HalfOpen, Mode.Normal, null, s.phase.trips, at, reason, s.detector, recovery)
}

const close = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, at: number, reason: TransitionReason, mode: Mode): CircuitData<D, R> =>
  enter(s, CircuitState.Closed, mode, null, mode === Mode.Disabled ? s.phase.trips : 0, at, reason, p.detector.initial(at), null, NONE)

const applyVerdict = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, verdict: RecoveryVerdict<R>, at: number): CircuitData<D, R> =>
  verdict === 'close'
    ? close(p, s, at, 'recovered', Mode.Normal)
    : verdict === 'reopen'
      ? trip(p, s, s.detector, at, 'recovery-failed', p.recovery.restart === undefined ? null : s.recovery)
      : verdict === s.recovery
        ? s
        : withRecovery(s, verdict, at)

/** The flight list without the probe at pair index `index`. */
const probesWithout = (probes: ReadonlyArray<number>, index: number): ReadonlyArray<number> => {
  if (probes.length === 2) return NONE
  const rest = probes.slice()
  rest.splice(index, 2)
  return rest
}

/** A probe left flight (settled or cancelled) and the recovery moved on to `recovery`. */
const probeEnded = <D, R>(
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
const expireProbes = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number): CircuitData<D, R> => {
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
const probeIndex = (probes: ReadonlyArray<number>, id: number): number => {
  for (let i = 0; i < probes.length; i += 2) if (probes[i] === id) return i
  return -1
}

// ---- the reducer -------------------------------------------------------------------------

/** A closed circuit admits every request: the next id of the generation. */
const admitClosed = <D, R>(s: CircuitData<D, R>, now: number): Result<D, R> => {
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
const probeLimit = <D, R>(p: CircuitParts<D, R>, phase: PhaseData): number =>
  p.learnProbeLimit && 2 * phase.peakInFlight > p.maxProbesInFlight ? 2 * phase.peakInFlight : p.maxProbesInFlight

const onRequest = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number, time: number): Result<D, R> => {
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
const onFollowerRequest = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, follow: FollowData, now: number): Result<D, R> => {
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
const ticketProblem = <D, R>(s: CircuitData<D, R>, ticket: unknown): Decision | undefined => {
  if (typeof ticket !== 'object' || ticket === null) return ignored['invalid-event']
  const { generation, id } = ticket as { readonly generation?: unknown; readonly id?: unknown }
  if (typeof generation !== 'number' || typeof id !== 'number') return ignored['invalid-event']
  if (generation !== s.phase.generation)
    return generation < s.phase.generation && generation >= 0 ? ignored.stale : ignored['unknown-ticket']
  if (!(id >= 0 && id < s.issued && Number.isInteger(id))) return ignored['unknown-ticket']
  return s.inFlight === 0 ? ignored['already-settled'] : undefined
}

/** A closed circuit's detector counts the outcome of a call in flight, and may trip. */
const countClosed = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, failed: boolean, latencyMs: number, now: number): Result<D, R> => {
  const detector = p.detector
  const counted = detector.record(s.detector, failed, latencyMs, now)
  if (s.phase.mode === Mode.Normal && detector.tripped(counted)) return [trip(p, s, counted, now, 'tripped'), recorded]
  return [circuitData(s.phase, now, s.issued, s.inFlight - 1, s.probes, counted, s.recovery), recorded]
}

/**
 * An outcome a closed circuit counts: a valid latency, and a ticket of a call that may still be in
 * flight. `ticketProblem`'s checks as a yes or no, written out: it runs on every call, where naming
 * the problem cost ~5 ns (anything it refuses goes to `step`, which names it).
 */
const countable = <D, R>(s: CircuitData<D, R>, ticket: unknown, latencyMs: unknown): latencyMs is number => {
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
type Transient<D, R> = { -readonly [K in keyof CircuitData<D, R>]: CircuitData<D, R>[K] }

/**
 * `step`'s hot path, in place (see `InPlaceStep`): a closed circuit's request, or an outcome it
 * counts without tripping, at or after its clock, by the rules of `admitClosed` and `countClosed`;
 * anything else is `undefined`. The properties hold it equal to `step`.
 */
const stepInPlace = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: BreakerEvent, time: number): Decision | undefined => {
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
  const { ticket, latencyMs } = event as { readonly ticket?: unknown; readonly latencyMs?: unknown }
  if (!countable(s, ticket, latencyMs)) return undefined
  const counted = p.detector.record(s.detector, tag === 'CallFailed', latencyMs, time)
  // A trip is a transition: `step` makes it.
  if (s.phase.mode === Mode.Normal && p.detector.tripped(counted)) return undefined
  w.detector = counted
  w.inFlight = s.inFlight - 1
  w.clock = time
  return recorded
}

const onOutcome = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: unknown, failed: boolean, now: number): Result<D, R> => {
  const { ticket, latencyMs } = event as { readonly ticket?: unknown; readonly latencyMs?: unknown }
  if (!isValidLatency(latencyMs)) return [s, ignored['invalid-event']]
  const problem = ticketProblem(s, ticket)
  if (problem !== undefined) return [s, problem]
  const id = (ticket as Admitted).id
  if (s.phase.state === CircuitState.Closed) return countClosed(p, s, failed, latencyMs, now)
  // A probe still in the list counts, even past its timeout: expiry happens on requests and ticks.
  const index = probeIndex(s.probes, id)
  if (index < 0 || s.recovery === null) return [s, ignored['already-settled']]
  // A probe of a recovery swapped out frees its slot and counts nowhere: the new recovery never admitted it.
  const verdict = id < s.phase.probesFrom || s.phase.follow !== null ? s.recovery : p.recovery.outcome(s.recovery, failed, latencyMs, now)
  // A probe that succeeds with the probe limit reached raises the limit by one (slow start: the
  // limit doubles each round trip while every probe succeeds), so that a recovery which has never
  // seen the upstream healthy (down from its first call) is not held at `maxProbesInFlight`.
  const limit = probeLimit(p, s.phase)
  const grown =
    failed || !p.learnProbeLimit || s.inFlight < limit
      ? s
      : circuitData(withPeak(s.phase, Math.ceil((limit + 1) / 2)), s.clock, s.issued, s.inFlight, s.probes, s.detector, s.recovery)
  return [probeEnded(p, grown, index, verdict, now), recorded]
}

const onCancel = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, ticket: unknown, now: number): Result<D, R> => {
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

const onTick = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number): Result<D, R> => {
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
const onEvidence = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, evidence: unknown, now: number): Result<D, R> => {
  if (!Array.isArray(evidence)) return [s, ignored['invalid-event']]
  if (s.phase.state !== CircuitState.Closed || p.detector.absorb === undefined) return [s, recorded]
  const absorbed = p.detector.absorb(s.detector, evidence.filter(isEvidence), now)
  if (absorbed === s.detector) return [s, recorded]
  if (s.phase.mode === Mode.Normal && p.detector.tripped(absorbed)) return [trip(p, s, absorbed, now, 'tripped'), recorded]
  return [circuitData(s.phase, now, s.issued, s.inFlight, s.probes, absorbed, s.recovery), recorded]
}

/** Another replica tripped: a closed circuit opens as if it had tripped, a half-open one reopens; the open stay open. */
const onPeerTripped = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, now: number): Result<D, R> => {
  if (s.phase.mode !== Mode.Normal) return [s, ignored['illegal-transition']]
  if (s.phase.state === CircuitState.Open) return [s, recorded]
  return [trip(p, s, s.detector, now, 'peer-tripped'), recorded]
}

/**
 * Follow the fleet's recovery at `rate` (a share in [0, 1]), or stop following (`null`): the own
 * recovery then starts afresh. Calls admitted under the other regime stay in flight, counted nowhere.
 */
const onFollow = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, rate: unknown, now: number): Result<D, R> => {
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

const onOpenCommanded = <D, R>(s: CircuitData<D, R>, event: unknown, now: number): Result<D, R> => {
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

const onIsolation = <D, R>(s: CircuitData<D, R>, now: number): Result<D, R> => {
  const phase = s.phase
  const id = phase.nextIsolation
  const held = withIsolations(phase, [...phase.isolations, id], id + 1)
  const next =
    phase.mode === Mode.ForcedOpen || phase.mode === Mode.Isolated
      ? circuitData(held, now, s.issued, s.inFlight, s.probes, s.detector, s.recovery)
      : enter({ ...s, phase: held }, CircuitState.Open, Mode.Isolated, null, phase.trips, now, 'isolated', s.detector, null)
  return [next, { _tag: 'Isolated', id }]
}

const onRelease = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: unknown, now: number): Result<D, R> => {
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

const onCommand = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: BreakerEvent, now: number): Result<D, R> => {
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
const rebase = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, time: number): CircuitData<D, R> => {
  const delta = time - s.clock
  const ph = s.phase
  const since = Math.min(ph.since + delta, time)
  const probes = s.probes.map((x, i) => (i % 2 === 1 ? Math.min(x + delta, time) : x))
  const detector = p.detector.rebase === undefined ? p.detector.initial(time) : p.detector.rebase(s.detector, delta, time)
  const recovery = s.recovery === null || p.recovery.rebase === undefined ? s.recovery : p.recovery.rebase(s.recovery, delta, time)
  const openUntil = ph.openUntil === null ? null : since + (ph.openUntil - ph.since)
  return circuitData(phaseWith(ph, { openUntil, since }), time, s.issued, s.inFlight, probes, detector, recovery)
}

const step = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: BreakerEvent, time: number): Result<D, R> => {
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
const dispatch = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>, event: BreakerEvent, now: number, time: number): Result<D, R> => {
  switch (event._tag) {
    case 'CallRequested':
      return onRequest(p, s, now, time)
    case 'CallSucceeded':
      return onOutcome(p, s, event, false, now)
    case 'CallFailed':
      return onOutcome(p, s, event, true, now)
    case 'CallCancelled':
      return onCancel(p, s, event.ticket, now)
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

// ---- inspection --------------------------------------------------------------------------

const firstFigure = (detectors: ReadonlyArray<DetectorSnapshot>, key: keyof Omit<DetectorSnapshot, 'kind' | 'figures'>): number | null => {
  for (const d of detectors) {
    const value = d[key]
    if (value !== null) return value
  }
  return null
}

/** Probes admitted before a swap to another recovery policy and still in flight: they block new probes. */
const carriedProbes = <D, R>(s: CircuitData<D, R>): number => {
  let carried = 0
  for (let i = 0; i < s.probes.length; i += 2) if ((s.probes[i] ?? 0) < s.phase.probesFrom) carried++
  return carried
}

const inspect = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>): Snapshot => {
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

// ---- swaps -------------------------------------------------------------------------------

/** The longest an open phase entered for `reason` may last under `openFor`. */
const maxOpenMs = (openFor: OpenFor, reason: TransitionReason): number =>
  reason === 'tripped' || reason === 'recovery-failed' || reason === 'peer-tripped' ? openFor.maxMs : Limits.maxDurationMs

/**
 * Keeps an open phase's `openUntil` across a swap. If it is longer than the new policy could
 * ever have set, the phase is marked as held by the swap (reason `swapped`), which is what it now is.
 */
const keepOpen = (phase: PhaseData, openFor: OpenFor): PhaseData =>
  phase.openUntil === null || phase.openUntil - phase.since <= maxOpenMs(openFor, phase.reason)
    ? phase
    : phaseWith(phase, { reason: 'swapped' })

/** The hand-off of a circuit in state `s`. */
const handoff = <D, R>(p: CircuitParts<D, R>, s: CircuitData<D, R>): CircuitHandoff => ({
  kind: 'circuit',
  snapshot: inspect(p, s),
  circuit: {
    state: s as CircuitData<unknown, unknown>,
    detector: detectorHandoff(p.detector as Detector<unknown>, s.detector),
    recoveryKey: p.recovery.key,
  },
})

/** The hand-off a circuit adopts: a circuit's own, else (through wrappers) the innermost circuit's, else the outermost. */
const adoptable = (from: Handoff): Handoff => {
  let h: Handoff | undefined = from
  for (let depth = 0; h !== undefined && depth < 16; depth++, h = h.inner) if (isCircuitHandoff(h)) return h
  return from
}

const adopt = <D, R>(p: CircuitParts<D, R>, given: Handoff, time: number): CircuitData<D, R> => {
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

// ---- constructors ------------------------------------------------------------------------

const ProbeTimeout = intIn(Limits.minDurationMs, Limits.maxDurationMs)
const MaxProbesInFlight = intIn(1, Limits.maxProbesInFlight)

/**
 * Builds a circuit from part values: a detector, a recovery and an open-duration policy, each
 * the library's or your own. Throws a `ConfigError` for half-open limits out of range.
 *
 * @example
 * import { BreakerEvent, circuitOf, classicHalfOpen, constantOpenFor, consecutiveFailures } from '@datapunk/breaker'
 * const strategy = circuitOf({
 *   name: 'payments',
 *   detector: consecutiveFailures({ threshold: 2 }),
 *   recovery: classicHalfOpen({ probes: 1 }),
 *   openFor: constantOpenFor(1000),
 * })
 * let state = strategy.initial(0)
 * for (const at of [0, 10]) {
 *   const [afterRequest, ticket] = strategy.step(state, BreakerEvent.requested(), at)
 *   if (ticket._tag !== 'Admitted') break
 *   ;[state] = strategy.step(afterRequest, BreakerEvent.failed(ticket, 5), at + 5)
 * }
 * strategy.inspect(state).state // 'open'
 * strategy.step(state, BreakerEvent.requested(), 20)[1] // { _tag: 'Rejected', reason: 'open', retryAfterMs: 995 }
 */
export const circuitOf = <D, R>(input: CircuitPartsInput<D, R>): CircuitStrategy<D, R> => {
  const problems = [
    ...(input.probeTimeoutMs === undefined || ProbeTimeout.is(input.probeTimeoutMs)
      ? []
      : [problem('probeTimeoutMs', `expected ${ProbeTimeout.name}, got ${String(input.probeTimeoutMs)}`)]),
    ...(input.maxProbesInFlight === undefined || input.maxProbesInFlight === 'learned' || MaxProbesInFlight.is(input.maxProbesInFlight)
      ? []
      : [problem('maxProbesInFlight', `expected ${MaxProbesInFlight.name} or 'learned', got ${String(input.maxProbesInFlight)}`)]),
  ]
  if (problems.length > 0) throw new ConfigError(problems)
  const p: CircuitParts<D, R> = {
    detector: input.detector,
    recovery: input.recovery,
    openFor: input.openFor,
    probeTimeoutMs: input.probeTimeoutMs ?? Limits.defaultProbeTimeoutMs,
    maxProbesInFlight: typeof input.maxProbesInFlight === 'number' ? input.maxProbesInFlight : Limits.defaultMaxProbesInFlight,
    learnProbeLimit: typeof input.maxProbesInFlight !== 'number',
  }
  const maxProbesInFlight = p.learnProbeLimit ? 'learned' : p.maxProbesInFlight
  const name = input.name ?? 'circuit'
  const strategy: CircuitStrategy<D, R> = {
    name,
    config: {
      name,
      trip: p.detector.config,
      recovery: p.recovery.config,
      openFor: p.openFor.config,
      probeTimeoutMs: p.probeTimeoutMs,
      maxProbesInFlight,
    },
    detector: p.detector,
    recovery: p.recovery,
    openFor: p.openFor,
    probeTimeoutMs: p.probeTimeoutMs,
    maxProbesInFlight,
    initial: (now) => {
      const at = isTime(now) ? now : 0
      return circuitData<D, R>(
        phaseData(CircuitState.Closed, Mode.Normal, 0, null, 0, at, 'initial', NONE, 1),
        at,
        0,
        0,
        NONE,
        p.detector.initial(at),
        null,
      )
    },
    step: withInPlace(
      (s, event, now) => step(p, s, event, now),
      (s, event, now) => stepInPlace(p, s, event, now),
    ),
    inspect: (s) => inspect(p, s),
    share: (s) => (s.phase.state === CircuitState.Closed && p.detector.share !== undefined ? p.detector.share(s.detector) : NO_EVIDENCE),
    codec: circuitDataCodec(name, p),
    handoff: (s) => handoff(p, s),
    adopt: (from, now) => adopt(p, from, now),
    transitioned: (before, after) =>
      before.phase !== after.phase ||
      (after.recovery !== before.recovery &&
        after.recovery !== null &&
        (before.recovery === null || p.recovery.admitRate(after.recovery) !== p.recovery.admitRate(before.recovery))) ||
      // The last probe carried over a swap settling unblocks admission without any other change.
      (after.phase.probesFrom > 0 && carriedProbes(before) > 0 !== carriedProbes(after) > 0),
  }
  return strategy
}

// ---- codecs ------------------------------------------------------------------------------

const FollowCodec = t.type({ ratePpm: intIn(0, PPM), credit: intIn(0, PPM - 1) })

/** `follow` may be absent: snapshots taken before fleet mode existed have none. */
const PhaseCodec = t.type({
  state: oneOf<CircuitState>([CircuitState.Closed, CircuitState.Open, CircuitState.HalfOpen]),
  mode: oneOf<Mode>([Mode.Normal, Mode.ForcedOpen, Mode.Isolated, Mode.Disabled]),
  generation: NonNegativeInt,
  openUntil: nullable(Finite),
  trips: NonNegativeInt,
  since: Finite,
  reason: oneOf<TransitionReason>(transitionReasons),
  isolations: t.array(NonNegativeInt),
  nextIsolation: NonNegativeInt,
  probesFrom: NonNegativeInt,
  follow: t.union([t.undefined, nullable(FollowCodec)]),
  peakInFlight: t.union([t.undefined, NonNegativeInt]),
})

const Shell = t.type({
  phase: PhaseCodec,
  clock: Finite,
  issued: NonNegativeInt,
  inFlight: NonNegativeInt,
  probes: t.array(Finite),
  detector: t.unknown,
  recovery: t.unknown,
})

const ascending = (xs: ReadonlyArray<number>): boolean => xs.every((x, i) => i === 0 || x > (xs[i - 1] ?? x))

/** Why a decoded shell is a state the reducer could never reach, or `undefined`. */
const unreachable = <D, R>(p: CircuitParts<D, R>, s: t.TypeOf<typeof Shell>): string | undefined => {
  const ph = s.phase
  if (ph.since > s.clock) return 'expected since at or before clock'
  if (s.inFlight > s.issued) return 'expected at most issued calls in flight'
  if (ph.probesFrom > s.issued || (ph.probesFrom > 0 && ph.state !== CircuitState.HalfOpen))
    return 'expected probesFrom at most issued, and 0 unless half-open'
  if (!ascending(ph.isolations) || ph.isolations.some((id) => id >= ph.nextIsolation))
    return 'expected ascending isolation ids below nextIsolation'
  if (ph.isolations.length > 0 && ph.mode !== Mode.Isolated && ph.mode !== Mode.ForcedOpen)
    return 'only an isolated or forced-open circuit holds isolations'
  if (ph.mode === Mode.Isolated && ph.isolations.length === 0) return 'an isolated circuit holds at least one isolation'
  // Times are floats: `since + duration - since` may exceed `duration` by a rounding step at large times.
  const rounding = Math.abs(ph.since) * Number.EPSILON * 4
  if (ph.openUntil !== null && ph.openUntil - ph.since > maxOpenMs(p.openFor, ph.reason) + rounding) {
    return `expected openUntil at most ${maxOpenMs(p.openFor, ph.reason)} ms after since (the longest open duration)`
  }
  switch (ph.state) {
    case CircuitState.HalfOpen: {
      if (s.recovery === null || ph.mode !== Mode.Normal) return 'a half-open circuit needs a recovery state and mode normal'
      if (ph.openUntil !== null) return 'a half-open circuit has no openUntil'
      if (s.probes.length !== s.inFlight * 2) return 'expected one [id, admittedAt] pair per probe in flight'
      const ids = s.probes.filter((_, i) => i % 2 === 0)
      // Probes carried over a swap (ids below probesFrom) may exceed this circuit's own limit.
      const limit = p.learnProbeLimit ? Math.max(p.maxProbesInFlight, 2 * (ph.peakInFlight ?? 0)) : p.maxProbesInFlight
      if (ids.filter((id) => id >= ph.probesFrom).length > limit || s.inFlight > Math.max(Limits.maxProbesInFlight, limit)) {
        return `expected at most ${limit} probes in flight (besides any carried over a swap)`
      }
      const times = s.probes.filter((_, i) => i % 2 === 1)
      if (!ids.every((id) => Number.isSafeInteger(id) && id >= 0 && id < s.issued) || !ascending(ids))
        return 'expected ascending probe ids below issued'
      if (times.some((at) => at > s.clock) || !times.every((at, i) => i === 0 || at >= (times[i - 1] ?? at))) {
        return 'expected probe admission times in order and not after clock'
      }
      return undefined
    }
    case CircuitState.Open:
      if (s.probes.length > 0 || s.issued > 0) return 'an open circuit has no probes or calls'
      if (s.recovery !== null && (p.recovery.restart === undefined || ph.mode !== Mode.Normal || ph.reason !== 'recovery-failed')) {
        return 'an open circuit holds a recovery state only after a failed recovery, for a recovery policy that restarts from it'
      }
      if (ph.mode === Mode.Disabled) return 'an open circuit cannot be disabled'
      return (ph.mode === Mode.Normal) === (ph.openUntil === null) ? 'an open circuit has openUntil exactly when in mode normal' : undefined
    default:
      if (s.recovery !== null || s.probes.length > 0) return 'only a half-open circuit has a recovery state or probes'
      if (ph.openUntil !== null) return 'a closed circuit has no openUntil'
      return ph.mode === Mode.Normal || ph.mode === Mode.Disabled ? undefined : 'a closed circuit is in mode normal or disabled'
  }
}

/**
 * The state codec of one circuit: decoding checks every field, the parts' states with their own
 * codecs, and that the combination is one the reducer can reach.
 */
function circuitDataCodec<D, R>(name: string, p: CircuitParts<D, R>): t.Type<CircuitData<D, R>, unknown, unknown> {
  const decodeData = (u: unknown, c: t.Context): t.Validation<CircuitData<D, R>> => {
    const shell = Shell.validate(u, c)
    if (E.isLeft(shell)) return shell
    const s = shell.right
    const why = unreachable(p, s)
    if (why !== undefined) return t.failure(u, c, why)
    const d = p.detector.codec.validate(s.detector, t.appendContext(c, 'detector', t.unknown, s.detector))
    if (E.isLeft(d)) return d
    let r: R | null = null
    if (s.recovery !== null) {
      const decoded = p.recovery.codec.validate(s.recovery, t.appendContext(c, 'recovery', t.unknown, s.recovery))
      if (E.isLeft(decoded)) return decoded
      r = decoded.right
    }
    const ph = s.phase
    return t.success(
      circuitData(
        phaseData(
          ph.state,
          ph.mode,
          ph.generation,
          ph.openUntil,
          ph.trips,
          ph.since,
          ph.reason,
          ph.isolations,
          ph.nextIsolation,
          ph.probesFrom,
          ph.follow ?? null,
          ph.peakInFlight ?? 0,
        ),
        s.clock,
        s.issued,
        s.inFlight,
        s.probes,
        d.right,
        r,
      ),
    )
  }
  return new t.Type<CircuitData<D, R>, unknown, unknown>(
    `a snapshot of circuit '${name}'`,
    (u): u is CircuitData<D, R> => E.isRight(decodeData(u, t.getDefaultContext(t.unknown))),
    decodeData,
    (s) => ({
      phase: { ...s.phase, isolations: s.phase.isolations.slice() },
      clock: s.clock,
      issued: s.issued,
      inFlight: s.inFlight,
      probes: s.probes.slice(),
      detector: p.detector.codec.encode(s.detector),
      recovery: s.recovery === null ? null : p.recovery.codec.encode(s.recovery),
    }),
  )
}

/**
 * Decodes a snapshot (from `strategy.codec.encode`, e.g. read back from storage) into a state of
 * `strategy`, or a readable error: a corrupt snapshot never yields a half-restored breaker.
 *
 * @example
 * import { circuit, restore } from '@datapunk/breaker'
 * const strategy = circuit({ trip: { kind: 'consecutive-failures', threshold: 3 } })
 * const saved = JSON.stringify(strategy.codec.encode(strategy.initial(0)))
 * restore(strategy, JSON.parse(saved))._tag // 'Right'
 * restore(strategy, { phase: 'ajar' })._tag // 'Left'
 */
export const restore = <S>(strategy: Strategy<S>, snapshot: unknown): E.Either<SnapshotError, S> =>
  E.mapLeft((errors: t.Errors) => new SnapshotError(report(errors).map((p) => p.message)))(strategy.codec.decode(snapshot))

/** A snapshot that does not decode; `message` lists each problem with its path. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError'
  constructor(readonly problems: ReadonlyArray<string>) {
    super(problems.join('\n'))
  }
}
