import * as t from 'io-ts'
import { recoveryThreshold } from './ClassicHalfOpen.js'
import { ConfigError, decodeOrThrow, problem } from './ConfigError.js'
import {
  constrained,
  DurationMs,
  Finite,
  intIn,
  literal,
  NonNegativeInt,
  nullable,
  OpenRatio,
  OptionalDurationMs,
  PositiveInt,
  Ratio,
  struct,
} from './codecs.js'
import { type Rejected, rejected } from './Decision.js'
import { canonical } from './Detector.js'
import { Limits } from './Limits.js'
import { probeFailed, type Recovery, type RecoveryAdmission, type RecoverySnapshot, type RecoveryVerdict } from './Recovery.js'
import { primeShape } from './shapes.js'

// ---- model -------------------------------------------------------------------------------

/** State of gradual recovery: the ramp's rate and speed, the admission credit, the current stage. */
export interface GradualRecoveryState {
  readonly kind: 'gradual'
  /** Share of requests admitted, in millionths (integers keep the admission credit exact). */
  readonly ratePpm: number
  /** Multiplier of the next step up; doubles after clean stages, back to 1 after marginal ones. */
  readonly speed: number
  /** Admission credit in millionths: each request adds `ratePpm`, an admission spends 1,000,000. */
  readonly credit: number
  readonly inFlight: number
  /** When recovery began, and requests seen since (for the throttled retry-after estimate). */
  readonly startedAt: number
  readonly requests: number
  readonly stageRequests: number
  readonly stageAdmitted: number
  readonly stageCalls: number
  readonly stageFailures: number
  readonly stageStartedAt: number
  /** What the ramp has learnt; changes only when a stage ends (requests and outcomes share it). */
  readonly ramp: RampState
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
}

const rampState = (
  goodPpm: number,
  ceilingPpm: number,
  probationEnds: number,
  brokeAt: number | null,
  holdUntil: number | null,
): RampState => ({ goodPpm, ceilingPpm, probationEnds, brokeAt, holdUntil })
primeShape((v) => rampState(v, v, v, v, v))

/** What gradual recovery reports. */
export interface GradualRecoverySnapshot extends RecoverySnapshot {
  readonly kind: 'gradual'
  readonly speed: number
  /** The share of the last healthy stage. */
  readonly lastGoodRate: number
  /** The share the ramp climbs no higher than (where the upstream strained, or broke last time), or `null`. */
  readonly ceiling: number | null
  /** Under a ceiling remembered from a failed recovery: when the hold at it ends (`null` if none or not reached yet). */
  readonly holdUntil: number | null
  /** At the full share: when probation ends; otherwise `null`. */
  readonly probationEnds: number | null
  readonly stage: {
    readonly requests: number
    readonly admitted: number
    readonly calls: number
    readonly failures: number
    readonly startedAt: number
  }
}

/** Rates and credit are kept in millionths so that admission is exact integer arithmetic. */
export const PPM = 1_000_000

const toPpm = (ratio: number): number => Math.max(1, Math.min(PPM, Math.round(ratio * PPM)))

/** Every state is built here, so all share one shape (monomorphic property access on the hot path). */
const gradualState = (
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
})
primeShape((v) => gradualState(v, v, v, v, v, v, v, v, v, v, v, v))

/** A probe left flight: counted in the stage (a settled outcome) or not (a cancellation). */
const callEnded = (s: GradualRecoveryState, counted: boolean, failed: boolean): GradualRecoveryState =>
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
  )

/** A copy of `s` at another rate and ramp (a fresh object in the constructor's shape). */
const copy = (s: GradualRecoveryState, ratePpm: number, ramp: RampState): GradualRecoveryState =>
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
  )

/** A copy of `s` at another rate. */
const atRate = (s: GradualRecoveryState, ratePpm: number): GradualRecoveryState => copy(s, ratePpm, s.ramp)

/** A copy of `s` with a copy of its ramp (decoded or encoded states share nothing with their source). */
const copyOf = (s: GradualRecoveryState): GradualRecoveryState =>
  copy(s, s.ratePpm, rampState(s.ramp.goodPpm, s.ramp.ceilingPpm, s.ramp.probationEnds, s.ramp.brokeAt, s.ramp.holdUntil))

// ---- statistics --------------------------------------------------------------------------

/**
 * The standard normal quantile: `z` with `P(Z <= z) = p` (Acklam's rational approximation,
 * relative error below 1.2e-9), for `p` in (0, 1).
 */
export const normalQuantile = (p: number): number => {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239]
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572]
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783]
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416]
  const [a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0] = a
  const [b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0] = b
  const [c0 = 0, c1 = 0, c2 = 0, c3 = 0, c4 = 0, c5 = 0] = c
  const [d0 = 0, d1 = 0, d2 = 0, d3 = 0] = d
  const tail = (q: number): number =>
    (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)))
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)))
  const q = p - 0.5
  const r = q * q
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
}

/**
 * The Wilson score interval's bound for `failures` of `calls` at normal quantile `z`: the lower
 * bound with `sign` -1, the upper with +1 (0 and 1 with no calls). It stays inside [0, 1] and is
 * sound for small counts, where the normal approximation is not.
 */
export const wilsonBound = (failures: number, calls: number, z: number, sign: 1 | -1): number => {
  if (calls === 0) return sign < 0 ? 0 : 1
  const p = failures / calls
  const z2 = z * z
  const centre = p + z2 / (2 * calls)
  const spread = z * Math.sqrt((p * (1 - p)) / calls + z2 / (4 * calls * calls))
  return Math.min(1, Math.max(0, (centre + sign * spread) / (1 + z2 / calls)))
}

// ---- codecs ------------------------------------------------------------------------------

/** How steeply a time-driven ramp rises: a number in (0, 100]; 1 is linear, more admits sooner. */
const Aggression = constrained('a number in (0, 100]', (n) => n > 0 && n <= 100)

/** The one-sided confidence of a stage's verdicts: a number in [0.5, 0.9999]. */
const Confidence = constrained('a confidence in [0.5, 0.9999]', (n) => n >= 0.5 && n <= 0.9999)

/**
 * Config codec of gradual recovery. Defaults: `initialRate` 0.25, `increment` 0.1, `maxSpeed` 4,
 * `stageCalls` 10, `stageMs` 1,000, `confidence` 0.95, `probationMs` 30,000, `probationCalls` 100,
 * `holdMs` 30,000, `aggression` 1; `failureRateThreshold` defaults to 0.2 (or the strictest closed failure-rate
 * threshold if stricter) and `marginalRate` to half of it. With `rampMs` the ramp follows time
 * instead of stages (Envoy's slow start).
 */
export const GradualRecoveryConfig = struct(
  'a gradual recovery',
  { kind: literal('gradual') },
  {
    initialRate: Ratio,
    increment: Ratio,
    maxSpeed: intIn(1, 64),
    stageCalls: intIn(1, Limits.maxStageCalls),
    stageMs: OptionalDurationMs,
    failureRateThreshold: Ratio,
    marginalRate: OpenRatio,
    confidence: Confidence,
    probationMs: OptionalDurationMs,
    probationCalls: intIn(1, Limits.maxStageCalls),
    holdMs: OptionalDurationMs,
    slowCallMs: DurationMs,
    rampMs: DurationMs,
    aggression: Aggression,
  },
  {
    initialRate: 0.25,
    increment: 0.1,
    maxSpeed: 4,
    stageCalls: 10,
    stageMs: 1_000,
    confidence: 0.95,
    probationMs: 30_000,
    probationCalls: 100,
    holdMs: 30_000,
  },
)
/** A gradual recovery config as written (thresholds optional; the other defaults filled). */
export type GradualRecoveryConfig = t.TypeOf<typeof GradualRecoveryConfig>

const GradualRecoveryStateCodec = struct('a gradual recovery state', {
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
  }),
})

/** The default reopen threshold of gradual recovery. */
export const GRADUAL_FAILURE_RATE_THRESHOLD = 0.2

// ---- constructors ------------------------------------------------------------------------

/** Gradual recovery's settings as written in code: every field optional, defaults as in {@link GradualRecoveryConfig}. */
export type GradualRecoveryInput = Partial<Omit<GradualRecoveryConfig, 'kind'>>

/**
 * Gradual recovery: admit `initialRate` of requests, ramp the share up stage by stage while the
 * upstream stays healthy, step back when it strains, and watch it at full traffic for a while
 * before closing.
 *
 * - Admission is deterministic: each request adds the rate to a credit; a request is admitted
 *   when the credit reaches 1 (the first request of recovery is admitted at once). Over any run
 *   of requests the admitted count is within one of `rate * requests`. Rejections carry reason
 *   `throttled` and a retry-after: the requests still needed before the next admission times the
 *   mean request interval since recovery began (`null` until two requests have been seen).
 * - A stage is judged once it has `stageCalls` outcomes and lasted `stageMs`, on its error rate
 *   and the Wilson interval of that rate at `confidence`:
 *   - at or over `failureRateThreshold` (stricter than the closed one): the circuit reopens;
 *   - at or over `marginalRate` (with at least one failure): the upstream strains at this share.
 *     The ramp steps back to the share of the last healthy stage, the speed drops to 1, and this
 *     share becomes the ceiling: the ramp climbs no higher until a stage at the ceiling is healthy;
 *   - otherwise, once the interval's upper bound is below `failureRateThreshold` (a confident
 *     "healthy"; until then the stage goes on collecting outcomes), the rate rises by
 *     `increment * speed` (never past the ceiling), and a stage without failures doubles the speed
 *     (up to `maxSpeed`): slow start while clean, additive steps while not.
 * - A stage reopens early, without waiting for its end, once it is already a bad stage: its
 *   failures reach `failureRateThreshold` of its calls counted as at least `stageCalls`, or, with
 *   two failures or more, the interval's lower bound reaches `failureRateThreshold` (two failures
 *   among the first three outcomes at the defaults: an upstream still down costs two probes).
 * - Probation: once the share reaches 1, the circuit stays half-open, admitting every request, for
 *   `probationMs`, judged in stages of `probationCalls` outcomes (large, so that a few stray
 *   errors at full traffic do not reopen it): a relapse reopens the circuit within one such stage,
 *   instead of waiting for the closed detector to see it anew. The first healthy stage after
 *   `probationMs` closes the circuit. `probationMs: 0` closes at the first healthy stage at 1.
 *   During probation every call in flight is a probe, so `maxProbesInFlight` (default 100) caps
 *   concurrency: raise it (up to 1,000) for a service with more calls in flight at once.
 * - Memory of a failure: when a recovery fails above its first share (and below the full one), the
 *   next recovery, if it starts within `holdMs`, climbs no higher than the share that was last
 *   healthy before the failure and holds there for `holdMs` once it reaches it, before trying
 *   higher: an upstream that broke under a share without warning is not broken the same way
 *   twice in a row. Recoveries that fail at their first share (the upstream still down) pass the
 *   memory on; a close forgets it. `holdMs: 0` turns it off.
 * - With `rampMs` the rate follows time instead (Envoy's slow start): `max(initialRate,
 *   (elapsed / rampMs) ^ (1 / aggression))`, still judged stage by stage: a bad stage reopens,
 *   and the circuit closes at the end of the first healthy stage once `rampMs` has passed (the
 *   ramp is its own probation).
 *
 * `closedFailureRate` (from a circuit config) lowers the default threshold.
 *
 * @example
 * import { gradualRecovery } from '@datapunk/breaker'
 * const recovery = gradualRecovery({
 *   initialRate: 0.1, increment: 0.1, maxSpeed: 1, stageCalls: 5, stageMs: 0,
 *   failureRateThreshold: 0.2, marginalRate: 0.1,
 * })
 * recovery.admitRate(recovery.start(0)) // 0.1
 * const envoy = gradualRecovery({ initialRate: 0.1, rampMs: 10_000 })
 * envoy.admitRate(envoy.request(envoy.start(0), 5_000).state) // 0.5: half way through a linear ramp
 */
export const gradualRecovery = (input: GradualRecoveryInput = {}, closedFailureRate?: number): Recovery<GradualRecoveryState> => {
  const decoded = decodeOrThrow(GradualRecoveryConfig, { ...input, kind: 'gradual' })
  const failureRateThreshold = recoveryThreshold(decoded.failureRateThreshold, GRADUAL_FAILURE_RATE_THRESHOLD, closedFailureRate)
  const marginalRate = decoded.marginalRate ?? failureRateThreshold / 2
  if (marginalRate > failureRateThreshold) {
    throw new ConfigError([problem('marginalRate', `expected at most failureRateThreshold (${failureRateThreshold}), got ${marginalRate}`)])
  }
  const config: GradualRecoveryConfig = { ...decoded, failureRateThreshold, marginalRate }
  const { stageCalls, stageMs, maxSpeed, slowCallMs, rampMs, probationMs, probationCalls, holdMs } = config
  const z = normalQuantile(config.confidence)
  const inverseAggression = 1 / (config.aggression ?? 1)
  const initialPpm = toPpm(config.initialRate)
  const incrementPpm = toPpm(config.increment)

  /** The time-driven ramp's rate at `now` (Envoy's slow-start curve, floored at `initialRate`). */
  const rampPpm = (s: GradualRecoveryState, now: number): number => {
    if (rampMs === undefined) return s.ratePpm
    const progress = Math.min(1, Math.max(0, (now - s.startedAt) / rampMs))
    return Math.max(s.ratePpm, initialPpm, toPpm(progress ** inverseAggression))
  }

  const withRate = (s: GradualRecoveryState, ratePpm: number): GradualRecoveryState => (ratePpm === s.ratePpm ? s : atRate(s, ratePpm))

  const newStage = (s: GradualRecoveryState, ratePpm: number, speed: number, now: number, ramp: RampState): GradualRecoveryState =>
    gradualState(ratePpm, speed, s.credit, s.inFlight, s.startedAt, s.requests, 0, 0, 0, 0, Math.max(now, s.stageStartedAt), ramp)

  /** Whether a ceiling remembered from a failed recovery still holds the ramp at `now`. */
  const holding = (r: RampState, now: number): boolean => r.brokeAt !== null && (r.holdUntil === null || now < r.holdUntil)

  /** The next stage after a healthy one at `s.ratePpm`. */
  const stepUp = (s: GradualRecoveryState, failures: number, now: number): RecoveryVerdict<GradualRecoveryState> => {
    const r = s.ramp
    if (s.ratePpm >= PPM) {
      return now >= r.probationEnds ? 'close' : newStage(s, PPM, s.speed, now, rampState(PPM, PPM, r.probationEnds, null, null))
    }
    // A healthy stage at the ceiling lifts it, unless a remembered failure still holds the ramp there.
    const lifted = s.ratePpm >= r.ceilingPpm && !holding(r, now)
    const ceilingPpm = lifted ? PPM : r.ceilingPpm
    const next = Math.min(PPM, ceilingPpm, s.ratePpm + incrementPpm * s.speed)
    const speed = failures === 0 ? Math.min(maxSpeed, s.speed * 2) : s.speed
    // Reaching a remembered ceiling starts the hold there.
    const holdUntil = lifted ? null : r.brokeAt !== null && r.holdUntil === null && next >= ceilingPpm ? now + holdMs : r.holdUntil
    return newStage(
      s,
      next,
      speed,
      now,
      rampState(s.ratePpm, ceilingPpm, next >= PPM ? now + probationMs : 0, lifted ? null : r.brokeAt, holdUntil),
    )
  }

  /** Ends the stage if its verdict is in; otherwise returns it unchanged. */
  const settle = (s: GradualRecoveryState, now: number): RecoveryVerdict<GradualRecoveryState> => {
    const calls = s.stageCalls
    const failures = s.stageFailures
    const minimum = s.ratePpm >= PPM && rampMs === undefined && probationMs > 0 ? Math.max(stageCalls, probationCalls) : stageCalls
    // Reopen early once the failures so far are already a bad stage: no later outcome of a
    // minimal stage could save it, or the interval says the rate is over the threshold.
    if (failures > 0 && failures / Math.max(minimum, calls) >= failureRateThreshold) return 'reopen'
    if (failures >= 2 && minimum === stageCalls && wilsonBound(failures, calls, z, -1) >= failureRateThreshold) return 'reopen'
    if (calls < minimum || !(now - s.stageStartedAt >= stageMs)) return s
    const errorRate = failures / calls
    if (errorRate >= failureRateThreshold) return 'reopen'
    if (rampMs !== undefined) {
      const next = rampPpm(s, now)
      return next >= PPM ? 'close' : newStage(s, next, 1, now, rampState(s.ratePpm, PPM, 0, null, null))
    }
    const r = s.ramp
    if (failures > 0 && errorRate >= marginalRate) {
      // Strain: back to the last healthy share, and no higher than this one until it is healthy.
      const back = Math.min(r.goodPpm, s.ratePpm)
      const ramp = rampState(back, Math.min(r.ceilingPpm, s.ratePpm), back >= PPM ? r.probationEnds : 0, r.brokeAt, r.holdUntil)
      return newStage(s, back, 1, now, ramp)
    }
    // Not yet a confident verdict: the stage goes on collecting outcomes.
    if (wilsonBound(failures, calls, z, 1) >= failureRateThreshold) return s
    return stepUp(s, failures, now)
  }

  const start = (now: number): GradualRecoveryState =>
    gradualState(
      initialPpm,
      1,
      PPM - initialPpm,
      0,
      now,
      0,
      0,
      0,
      0,
      0,
      now,
      rampState(initialPpm, PPM, initialPpm >= PPM ? now + probationMs : 0, null, null),
    )

  /**
   * The next recovery after `m` failed. A failure above the first share (and below the full one,
   * where probation caught a relapse) is remembered for `holdMs`: the new ramp climbs no higher
   * than the share that was last healthy before it, and holds there for `holdMs` before trying
   * higher. Recoveries that fail at their first share (the upstream still down) pass the memory on.
   */
  const restart = (m: GradualRecoveryState, now: number): GradualRecoveryState => {
    const fresh = start(now)
    if (rampMs !== undefined || holdMs === 0) return fresh
    const brokeAbove = m.ratePpm > initialPpm && m.ratePpm < PPM
    const remembered = m.ramp.brokeAt !== null && now - m.ramp.brokeAt < holdMs
    if (!brokeAbove && !remembered) return fresh
    const below = m.ramp.goodPpm < m.ratePpm ? m.ramp.goodPpm : Math.max(initialPpm, Math.floor(m.ratePpm / 2))
    const ceilingPpm = Math.max(initialPpm, brokeAbove ? Math.min(below, m.ramp.ceilingPpm) : m.ramp.ceilingPpm)
    const brokeAt = brokeAbove ? now : (m.ramp.brokeAt ?? now)
    return newStage(
      fresh,
      initialPpm,
      1,
      now,
      rampState(initialPpm, ceilingPpm, 0, brokeAt, ceilingPpm <= initialPpm ? now + holdMs : null),
    )
  }

  /** Rejection after a throttled request `s` (credit and request count already updated). */
  const throttled = (s: GradualRecoveryState, now: number): Rejected => {
    const requestsUntilAdmit = Math.ceil((PPM - s.credit) / s.ratePpm)
    const elapsed = now - s.startedAt
    // The mean request interval since recovery began (its first request came at `startedAt`).
    const interval = elapsed > 0 && s.requests > 1 ? elapsed / (s.requests - 1) : null
    return rejected('throttled', interval === null ? null : Math.ceil(requestsUntilAdmit * interval))
  }

  const request = (before: GradualRecoveryState, now: number): RecoveryAdmission<GradualRecoveryState> => {
    const ratePpm = rampPpm(before, now)
    const credit = before.credit + ratePpm
    const admit = credit >= PPM
    const s = gradualState(
      ratePpm,
      before.speed,
      admit ? credit - PPM : credit,
      admit ? before.inFlight + 1 : before.inFlight,
      before.startedAt,
      before.requests + 1,
      before.stageRequests + 1,
      admit ? before.stageAdmitted + 1 : before.stageAdmitted,
      before.stageCalls,
      before.stageFailures,
      before.stageStartedAt,
      before.ramp,
    )
    return admit ? { state: s, admitted: true } : { state: s, admitted: false, rejection: throttled(s, now) }
  }

  return {
    kind: 'gradual',
    config,
    key: canonical(config),
    start,
    restart,
    request,
    outcome: (s, failed, latencyMs, now) => settle(callEnded(s, true, probeFailed(failed, latencyMs, slowCallMs)), now),
    cancel: (s) => (s.inFlight === 0 ? s : callEnded(s, false, false)),
    tick: (s, now) => settle(withRate(s, rampPpm(s, now)), now),
    rebase: (s, deltaMs) =>
      gradualState(
        s.ratePpm,
        s.speed,
        s.credit,
        s.inFlight,
        s.startedAt + deltaMs,
        s.requests,
        s.stageRequests,
        s.stageAdmitted,
        s.stageCalls,
        s.stageFailures,
        s.stageStartedAt + deltaMs,
        rampState(
          s.ramp.goodPpm,
          s.ramp.ceilingPpm,
          s.ratePpm >= PPM ? s.ramp.probationEnds + deltaMs : s.ramp.probationEnds,
          s.ramp.brokeAt === null ? null : s.ramp.brokeAt + deltaMs,
          s.ramp.holdUntil === null ? null : s.ramp.holdUntil + deltaMs,
        ),
      ),
    admitRate: (s) => s.ratePpm / PPM,
    measure: (s, inFlight): GradualRecoverySnapshot => ({
      kind: 'gradual',
      admitRate: s.ratePpm / PPM,
      fleetRate: s.ratePpm / PPM,
      speed: s.speed,
      lastGoodRate: s.ramp.goodPpm / PPM,
      ceiling: s.ramp.ceilingPpm >= PPM ? null : s.ramp.ceilingPpm / PPM,
      holdUntil: s.ramp.brokeAt === null ? null : s.ramp.holdUntil,
      probationEnds: s.ratePpm >= PPM && rampMs === undefined ? s.ramp.probationEnds : null,
      inFlight,
      stage: {
        requests: s.stageRequests,
        admitted: s.stageAdmitted,
        calls: s.stageCalls,
        failures: s.stageFailures,
        startedAt: s.stageStartedAt,
      },
    }),
    codec: {
      validate: (u, c) => {
        const r = GradualRecoveryStateCodec.validate(u, c)
        if (r._tag === 'Left') return r
        const s = r.right
        if (s.ratePpm > PPM || s.ramp.goodPpm > PPM || s.ramp.ceilingPpm > PPM) {
          return t.failure(u, c, `expected ratePpm, goodPpm and ceilingPpm at most ${PPM}`)
        }
        if (s.credit >= PPM) return t.failure(u, c, `expected credit below ${PPM}`)
        if (s.speed > maxSpeed) return t.failure(u, c, `expected speed at most ${maxSpeed}`)
        if (
          s.stageAdmitted > s.stageRequests ||
          s.stageFailures > s.stageCalls ||
          s.stageRequests > s.requests ||
          s.startedAt > s.stageStartedAt
        ) {
          return t.failure(
            u,
            c,
            'expected consistent counts (stage admitted <= stage requests <= requests, failures <= calls, started before the stage)',
          )
        }
        if (s.ratePpm >= PPM && rampMs === undefined && s.ramp.probationEnds > s.stageStartedAt + probationMs) {
          return t.failure(u, c, `expected probationEnds at most probationMs (${probationMs}) after the stage began`)
        }
        if (s.ramp.holdUntil !== null && (s.ramp.brokeAt === null || s.ramp.holdUntil > s.stageStartedAt + holdMs)) {
          return t.failure(u, c, `expected holdUntil only under a remembered ceiling, at most holdMs (${holdMs}) after the stage began`)
        }
        return t.success(copyOf(s))
      },
      encode: copyOf,
    },
  }
}
