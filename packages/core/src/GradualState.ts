import { absentOr, Finite, literal, NonNegativeInt, nullable, PositiveInt, struct } from './codecs.js'
import { PPM } from './credit.js'
import type { RecoverySnapshot } from './Recovery.js'
import { primeShape } from './shapes.js'

// ---- model -------------------------------------------------------------------------------

/** State of gradual recovery: the ramp's rate and speed, the admission credit, the current stage. */
export interface GradualRecoveryState {
  /** Always `gradual`. */
  readonly kind: 'gradual'
  /** Share of requests admitted, in millionths (integers keep the admission credit exact). */
  readonly ratePpm: number
  /** Multiplier of the next step up; doubles after clean stages, back to 1 after marginal ones. */
  readonly speed: number
  /** Admission credit in millionths: each request adds `ratePpm`, an admission spends 1,000,000. */
  readonly credit: number
  /** Admitted calls not yet settled. */
  readonly inFlight: number
  /** When recovery began, and requests seen since (for the throttled retry-after estimate). */
  readonly startedAt: number
  /** Requests seen since recovery began. */
  readonly requests: number
  /** Requests seen in the current stage. */
  readonly stageRequests: number
  /** Requests admitted in the current stage. */
  readonly stageAdmitted: number
  /** Calls settled in the current stage. */
  readonly stageCalls: number
  /** Of those, the failures. */
  readonly stageFailures: number
  /** When the current stage began. */
  readonly stageStartedAt: number
  /** What the ramp has learnt; changes only when a stage ends (requests and outcomes share it). */
  readonly ramp: RampState
  /**
   * The pacing's schedule (GCRA's theoretical arrival time): admissions run no further ahead of
   * it than `burstMs`; each moves it on by the interval of the share of the request rate.
   */
  readonly paceAt: number
}

/** What gradual recovery has learnt about the upstream during this recovery (and the last failed one). */
export interface RampState {
  /** The share of the last healthy stage (millionths): where a strained stage steps back to. */
  readonly goodPpm: number
  /** The share the ramp climbs no higher than (millionths; 1,000,000 when none): where the upstream strained or broke. */
  readonly ceilingPpm: number
  /** While at the full share: when probation ends (the circuit closes at the first healthy stage after it). */
  readonly probationEnds: number
  /**
   * When the ceiling comes from a recovery that failed above its first share: when that failure was
   * seen (the memory lasts `holdMs`); `null` for a ceiling found in this recovery or none.
   */
  readonly brokeAt: number | null
  /** Under a remembered ceiling: when the hold at the ceiling ends (`null` until the ramp reaches it). */
  readonly holdUntil: number | null
  /**
   * Outcomes and failures of this recovery's healthy stages (but for those whose errors rose half
   * the strain margin, confidently): the upstream's baseline error rate, against which a stage's
   * strain is judged (errors that do not rise with the share are the upstream's own, not load's).
   */
  readonly baseCalls: number
  /** The failures among `baseCalls`. */
  readonly baseFailures: number
  /**
   * The most calls a second a healthy stage carried, less its counting noise (`null` before one
   * has counted): a rate the upstream has been seen to take, whatever share of the traffic it was.
   */
  readonly provenRps: number | null
}

export const rampState = (
  goodPpm: number,
  ceilingPpm: number,
  probationEnds: number,
  brokeAt: number | null,
  holdUntil: number | null,
  baseCalls: number,
  baseFailures: number,
  provenRps: number | null,
): RampState => ({ goodPpm, ceilingPpm, probationEnds, brokeAt, holdUntil, baseCalls, baseFailures, provenRps })
primeShape((v) => rampState(v, v, v, v, v, v, v, v))

/** What gradual recovery reports. */
export interface GradualRecoverySnapshot extends RecoverySnapshot {
  readonly kind: 'gradual'
  /** Multiplier of the next step up (doubles after clean stages). */
  readonly speed: number
  /** The share of the last healthy stage. */
  readonly lastGoodRate: number
  /** The share the ramp climbs no higher than (where the upstream strained, or broke last time), or `null`. */
  readonly ceiling: number | null
  /** Under a ceiling remembered from a failed recovery: when the hold at it ends (`null` if none or not reached yet). */
  readonly holdUntil: number | null
  /** At the full share: when probation ends; otherwise `null`. */
  readonly probationEnds: number | null
  /** The current stage: requests seen and admitted, calls settled and failed, and when it began. */
  readonly stage: {
    readonly requests: number
    readonly admitted: number
    readonly calls: number
    readonly failures: number
    readonly startedAt: number
  }
}

export const toPpm = (ratio: number): number => Math.max(1, Math.min(PPM, Math.round(ratio * PPM)))

/** Every state is built here, so all share one shape (monomorphic property access on the hot path). */
export const gradualState = (
  ratePpm: number,
  speed: number,
  credit: number,
  inFlight: number,
  startedAt: number,
  requests: number,
  stageRequests: number,
  stageAdmitted: number,
  stageCalls: number,
  stageFailures: number,
  stageStartedAt: number,
  ramp: RampState,
  paceAt: number,
): GradualRecoveryState => ({
  kind: 'gradual',
  ratePpm,
  speed,
  credit,
  inFlight,
  startedAt,
  requests,
  stageRequests,
  stageAdmitted,
  stageCalls,
  stageFailures,
  stageStartedAt,
  ramp,
  paceAt,
})
primeShape((v) => gradualState(v, v, v, v, v, v, v, v, v, v, v, v, v))

/** A probe left flight: counted in the stage (a settled outcome) or not (a cancellation). */
export const callEnded = (s: GradualRecoveryState, counted: boolean, failed: boolean): GradualRecoveryState =>
  gradualState(
    s.ratePpm,
    s.speed,
    s.credit,
    s.inFlight - 1,
    s.startedAt,
    s.requests,
    s.stageRequests,
    s.stageAdmitted,
    counted ? s.stageCalls + 1 : s.stageCalls,
    failed ? s.stageFailures + 1 : s.stageFailures,
    s.stageStartedAt,
    s.ramp,
    s.paceAt,
  )

/** A copy of `s` at another rate and ramp (a fresh object in the constructor's shape). */
export const copy = (s: GradualRecoveryState, ratePpm: number, ramp: RampState): GradualRecoveryState =>
  gradualState(
    ratePpm,
    s.speed,
    s.credit,
    s.inFlight,
    s.startedAt,
    s.requests,
    s.stageRequests,
    s.stageAdmitted,
    s.stageCalls,
    s.stageFailures,
    s.stageStartedAt,
    ramp,
    s.paceAt,
  )

/** A copy of `s` at another rate. */
export const atRate = (s: GradualRecoveryState, ratePpm: number): GradualRecoveryState => copy(s, ratePpm, s.ramp)

/** A copy of `s` with a copy of its ramp (decoded or encoded states share nothing with their source). */
export const copyOf = (s: GradualRecoveryState): GradualRecoveryState =>
  copy(
    s,
    s.ratePpm,
    rampState(
      s.ramp.goodPpm,
      s.ramp.ceilingPpm,
      s.ramp.probationEnds,
      s.ramp.brokeAt,
      s.ramp.holdUntil,
      s.ramp.baseCalls,
      s.ramp.baseFailures,
      s.ramp.provenRps ?? null,
    ),
  )

export const GradualRecoveryStateCodec = struct('a gradual recovery state', {
  kind: literal('gradual'),
  ratePpm: PositiveInt,
  speed: PositiveInt,
  credit: NonNegativeInt,
  inFlight: NonNegativeInt,
  startedAt: Finite,
  requests: NonNegativeInt,
  stageRequests: NonNegativeInt,
  stageAdmitted: NonNegativeInt,
  stageCalls: NonNegativeInt,
  stageFailures: NonNegativeInt,
  stageStartedAt: Finite,
  ramp: struct('a ramp state', {
    goodPpm: PositiveInt,
    ceilingPpm: PositiveInt,
    probationEnds: Finite,
    brokeAt: nullable(Finite),
    holdUntil: nullable(Finite),
    baseCalls: NonNegativeInt,
    baseFailures: NonNegativeInt,
    // Absent from states written before it: nothing proven yet.
    provenRps: absentOr(nullable(Finite)),
  }),
  // Absent from states written before pacing: then the schedule starts now.
  paceAt: absentOr(Finite),
})
