import type { CircuitState, Mode, TransitionReason } from '../CircuitState.js'
import { type Decision, rejected } from '../Decision.js'
import type { Detector, DetectorHandoff } from '../Detector.js'
import type { Evidence } from '../Evidence.js'
import { Limits } from '../Limits.js'
import type { OpenFor } from '../OpenDuration.js'
import type { Recovery } from '../Recovery.js'
import type { Handoff, Strategy } from '../Strategy.js'
import { primeShape } from '../shapes.js'

// ---- model -------------------------------------------------------------------------------

/** The phase of a circuit: what changes only on a transition (or an isolation). */
export interface PhaseData {
  /** `closed`, `open` or `half-open`. */
  readonly state: CircuitState
  /** `normal`, `forced-open` or `disabled`. */
  readonly mode: Mode
  /** Bumped on every transition; tickets of older generations are stale. */
  readonly generation: number
  /** When an open circuit turns half-open; `null` unless open by a trip or a manual open. */
  readonly openUntil: number | null
  /** Consecutive trips since the last close (the backoff's exponent). */
  readonly trips: number
  /** When the phase began (on the current clock). */
  readonly since: number
  /** Why the phase began. */
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
   * that ramps to full traffic is not held below the concurrency the upstream served before. A
   * learned limit's doubling while half-open raises it too (see `growsFrom`).
   */
  readonly peakInFlight: number
  /**
   * The latest time an upstream asked to be left alone until, by a failure's `retryAfterMs` (an
   * HTTP `Retry-After`) since the phase began; `null` if none did. A trip gives it to the open
   * duration (`OpenFor.durationMs`), which may honour it (the `retry-after` kind does).
   */
  readonly retryUntil: number | null
  /**
   * While half-open with a learned probe limit: the first call id whose success at the limit may
   * double it again (the id issued at the last doubling), so the limit doubles at most once a
   * round trip; 0 otherwise.
   */
  readonly growsFrom: number
}

/** Following a fleet's recovery: the share admitted, and the admission credit (both in ppm). */
export interface FollowData {
  /** The share of requests admitted, in millionths. */
  readonly ratePpm: number
  /** The admission credit, in millionths: each request adds `ratePpm`, an admission spends 1,000,000. */
  readonly credit: number
}

/**
 * The state of a circuit: plain JSON data, snapshotted and restored by the strategy's codec.
 * `D` and `R` are the detector's and the recovery's states.
 */
export interface CircuitData<D = unknown, R = unknown> {
  /** Where the circuit is: phase, mode, generation, open-until, trips, isolations. */
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
  /** The failure detector (closed). */
  readonly detector: Detector<D>
  /** The recovery policy (half-open). */
  readonly recovery: Recovery<R>
  /** How long to stay open after a trip. */
  readonly openFor: OpenFor
  /** A probe unsettled this long (ms) counts as failed. Default 60,000 (1 ms to `Limits.maxDurationMs`). */
  readonly probeTimeoutMs?: number
  /**
   * At most this many probes in flight while half-open; more are rejected `half-open-full`: a
   * number (1 to 1,000), or `'learned'` (the default): twice the most calls the circuit has had in
   * flight at once while closed, at least 100, doubled when a probe succeeds with the limit
   * reached, at most once a round trip (so a recovery ramping to full traffic is never held below
   * what the upstream carried, nor one that never saw it healthy at 100).
   */
  readonly maxProbesInFlight?: number | 'learned'
}

/** The canonical JSON config of a circuit: its name, its parts' configs and its half-open limits. */
export interface CircuitConfig {
  /** The circuit's name (default `circuit`). */
  readonly name: string
  /** The detector's config, every default filled. */
  readonly trip: unknown
  /** The recovery's config, every default filled. */
  readonly recovery: unknown
  /** The open duration's config, every default filled. */
  readonly openFor: unknown
  /** A probe unsettled this long (ms) counts as failed. */
  readonly probeTimeoutMs: number
  /** The most probes in flight while half-open: a number, or `learned`. */
  readonly maxProbesInFlight: number | 'learned'
}

/** A strategy built by {@link circuitOf} (or `circuit` / `fromConfig`): also exposes its parts and config. */
export interface CircuitStrategy<D = unknown, R = unknown> extends Strategy<CircuitData<D, R>> {
  /** The complete config: what `circuit` decoded, every default filled (JSON, so it can be logged, diffed and read back). */
  readonly config: CircuitConfig
  /** Its failure detector (closed). */
  readonly detector: Detector<D>
  /** Its recovery policy (half-open). */
  readonly recovery: Recovery<R>
  /** Its open duration. */
  readonly openFor: OpenFor
  /** A probe unsettled this long (ms) counts as failed. */
  readonly probeTimeoutMs: number
  /** The most probes in flight while half-open: a number, or `learned`. */
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
  /** Its whole state, what its detector counted (by key) and its recovery policy's key. */
  readonly circuit: {
    readonly state: CircuitData<unknown, unknown>
    readonly detector: DetectorHandoff
    readonly recoveryKey: string
  }
}

export const isCircuitHandoff = (h: Handoff): h is CircuitHandoff =>
  h.kind === 'circuit' && typeof (h as { circuit?: unknown }).circuit === 'object' && (h as { circuit?: unknown }).circuit !== null

/** The context every reducer function takes. */
export interface CircuitParts<D, R> {
  readonly detector: Detector<D>
  readonly recovery: Recovery<R>
  readonly openFor: OpenFor
  readonly probeTimeoutMs: number
  /** The fixed probe limit, or (learned) its floor. */
  readonly maxProbesInFlight: number
  readonly learnProbeLimit: boolean
}

export type Result<D, R> = readonly [CircuitData<D, R>, Decision]

export const NONE: ReadonlyArray<number> = []
export const FOLLOW_NOTHING: FollowData = { ratePpm: 0, credit: 0 }
/** A follower's request outside the fleet's share (no retry time is known: the share comes from the leader). */
export const rejectedFollowing = rejected('throttled', null)
export const NO_EVIDENCE: ReadonlyArray<Evidence> = []

// Read once: these are checked on every step.
export const MAX_TIME = Limits.maxTime
export const CLOCK_TOLERANCE_MS = Limits.clockToleranceMs

/** A time the circuit takes: a finite number within +-`Limits.maxTime`. */
export const isTime = (x: unknown): x is number => typeof x === 'number' && x >= -MAX_TIME && x <= MAX_TIME

// ---- constructors of states (one shape each, so property reads stay monomorphic) ----------

export const phaseData = (
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
  retryUntil: number | null = null,
  growsFrom = 0,
): PhaseData => ({
  state,
  mode,
  generation,
  openUntil,
  trips,
  since,
  reason,
  isolations,
  nextIsolation,
  probesFrom,
  follow,
  peakInFlight,
  retryUntil,
  growsFrom,
})

export const circuitData = <D, R>(
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
primeShape((v) => phaseData(v, v, v, v, v, v, v, v, v, v, v, v, v, v))
primeShape((v) => circuitData(v, v, v, v, v, v, v))

export const withRecovery = <D, R>(s: CircuitData<D, R>, recovery: R, now: number): CircuitData<D, R> =>
  circuitData(s.phase, now, s.issued, s.inFlight, s.probes, s.detector, recovery)

/** A copy of phase `p` with some fields changed (through `phaseData`, so every phase keeps one shape). */
export const phaseWith = (p: PhaseData, o: Partial<PhaseData>): PhaseData =>
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
    o.retryUntil === undefined ? p.retryUntil : o.retryUntil,
    o.growsFrom ?? p.growsFrom,
  )

/** The same phase, following the fleet by `follow` (see `BreakerEvent.follow`), its own probes from `probesFrom`. */
export const withFollow = (p: PhaseData, follow: FollowData | null, probesFrom = p.probesFrom): PhaseData =>
  phaseWith(p, { follow, probesFrom })

/** The same phase, having carried `peakInFlight` calls at once. */
export const withPeak = (p: PhaseData, peakInFlight: number): PhaseData => phaseWith(p, { peakInFlight })

export const withIsolations = (p: PhaseData, isolations: ReadonlyArray<number>, nextIsolation: number, mode = p.mode): PhaseData =>
  phaseWith(p, { isolations, nextIsolation, mode })
