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
import { PPM } from './credit.js'
import { type Rejected, rejected } from './Decision.js'
import { canonical } from './Detector.js'
import { Limits } from './Limits.js'
import { probeFailed, type Recovery, type RecoveryAdmission, type RecoverySnapshot, type RecoveryVerdict } from './Recovery.js'
import { primeShape } from './shapes.js'
import { normalQuantile, wilsonBound } from './statistics.js'

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
  /**
   * Outcomes and failures of this recovery's healthy stages: the upstream's baseline error rate,
   * against which a stage's strain is judged (errors that do not rise with the share are the
   * upstream's own, not load's).
   */
  readonly baseCalls: number
  readonly baseFailures: number
}

const rampState = (
  goodPpm: number,
  ceilingPpm: number,
  probationEnds: number,
  brokeAt: number | null,
  holdUntil: number | null,
  baseCalls: number,
  baseFailures: number,
): RampState => ({ goodPpm, ceilingPpm, probationEnds, brokeAt, holdUntil, baseCalls, baseFailures })
primeShape((v) => rampState(v, v, v, v, v, v, v))

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
    ),
  )

// ---- codecs ------------------------------------------------------------------------------

/** How steeply a time-driven ramp rises: a number in (0, 100]; 1 is linear, more admits sooner. */
const Aggression = constrained('a number in (0, 100]', (n) => n > 0 && n <= 100)

/** The one-sided confidence of a stage's verdicts: a number in [0.5, 0.9999]. */
const Confidence = constrained('a confidence in [0.5, 0.9999]', (n) => n >= 0.5 && n <= 0.9999)

/**
 * Config codec of gradual recovery. Defaults: `initialRate` 0.25, `increment` 0.1, `maxSpeed` 4,
 * `stageCalls` 10, `stageMs` 500, `stageMaxMs` 1,500, `confidence` 0.95, `probationMs` 30,000,
 * `probationCalls` 100, `holdMs` 30,000, `aggression` 1; `failureRateThreshold` defaults to 0.5
 * (or the strictest closed failure-rate threshold if stricter) and `marginalRate` to 0.1 (or half
 * the threshold if less); `stageMaxMs` defaults to 1,500 or `stageMs` if longer, and must be at least `stageMs`. With `rampMs` the ramp follows time
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
    stageMaxMs: OptionalDurationMs,
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
    stageMs: 500,
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
    baseCalls: NonNegativeInt,
    baseFailures: NonNegativeInt,
  }),
})

/**
 * The default reopen threshold of gradual recovery: the closed detector's usual one, so that a
 * recovering upstream is not held to a stricter standard than a healthy one (an upstream whose
 * errors do not rise with load is admitted as fully as the closed circuit would admit it).
 */
export const GRADUAL_FAILURE_RATE_THRESHOLD = 0.5

/** The default time limit of a gradual recovery stage (when `stageMs` is not longer). */
const GRADUAL_STAGE_MAX_MS = 1_500

/** The default strain margin of gradual recovery: how far a stage's error rate may rise over the baseline. */
export const GRADUAL_MARGINAL_RATE = 0.1

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
 * - A stage is judged once it has lasted `stageMs` and has either `stageCalls` outcomes (enough
 *   evidence, which high traffic brings in milliseconds) or lasted `stageMaxMs` (enough time,
 *   where traffic is too slow for evidence: a time-based slow start at a few requests a second).
 *   Its error rate is compared with this recovery's baseline (the pooled outcomes of its healthy
 *   stages), so that errors the upstream makes at every share are not taken for load's:
 *   - at or over `failureRateThreshold` (the closed detector's, 0.5 by default), weighed with
 *     `stageCalls` outcomes at the baseline rate, with two failures at least: the circuit reopens;
 *   - risen `marginalRate` or more over the baseline, confidently (the Wilson interval of the
 *     stage's rate at `confidence` wholly above the baseline's), with two failures at least: the
 *     upstream strains at this share. The ramp steps back to the share of the last healthy
 *     stage, the speed drops to 1, and this share becomes the ceiling: the ramp closes in on it
 *     by halves (the share the upstream sustains), and a healthy stage at the ceiling lifts it;
 *   - otherwise, once the interval's upper bound is below `failureRateThreshold` (a confident
 *     "healthy"), or at `stageMaxMs` with a rate below it, the rate rises by `increment * speed`,
 *     and a stage whose errors did not rise over half the margin doubles the speed (up to
 *     `maxSpeed`): slow start while clean, additive steps while not. Until then the stage goes on
 *     collecting outcomes.
 *   The first stage sets the baseline: it cannot strain.
 * - A stage reopens early, without waiting for its end, once confident the rate is at the
 *   threshold or over (the Wilson interval's lower bound, its outcomes weighed with `stageCalls`
 *   at the baseline rate as above): three failures of three in the first stage at the defaults
 *   (an upstream still down costs three probes), about twenty in a later one (so that the
 *   upstream's usual errors, which some stage among thousands always bunches, do not pass for a
 *   relapse).
 * - Probation: once the share reaches 1, the circuit stays half-open, admitting every request, for
 *   `probationMs`, judged in stages of `probationCalls` outcomes (or `probationMs`, whichever
 *   comes first): a relapse reopens the circuit within a stage or two, instead of waiting for
 *   the closed detector to see it anew. The first healthy stage after `probationMs` closes the
 *   circuit. `probationMs: 0` closes at the first healthy stage at 1. During probation every call
 *   in flight is a probe: the circuit's `maxProbesInFlight` (learned by default from what the
 *   upstream carried while closed) caps concurrency.
 * - Memory of a failure: when a recovery fails above its first share (and below the full one)
 *   after healthy stages (a baseline under `marginalRate`: errors that were there all along are
 *   not the share's doing), the next recovery, if it starts within `holdMs`, climbs no higher than
 *   the share that was last healthy before the failure, lowered by half the step that broke it
 *   (a short stage can pass before its load has shown), and holds there for `holdMs` once it reaches it, before trying
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
  const marginalRate = decoded.marginalRate ?? Math.min(GRADUAL_MARGINAL_RATE, failureRateThreshold / 2)
  if (marginalRate > failureRateThreshold) {
    throw new ConfigError([problem('marginalRate', `expected at most failureRateThreshold (${failureRateThreshold}), got ${marginalRate}`)])
  }
  if (decoded.stageMaxMs !== undefined && decoded.stageMaxMs < decoded.stageMs) {
    throw new ConfigError([problem('stageMaxMs', `expected at least stageMs (${decoded.stageMs}), got ${decoded.stageMaxMs}`)])
  }
  // Unset, the time limit is 1.5 s, or the stage's own minimum if that is longer.
  const stageMaxMs = decoded.stageMaxMs ?? Math.max(GRADUAL_STAGE_MAX_MS, decoded.stageMs)
  const config: GradualRecoveryConfig = { ...decoded, failureRateThreshold, marginalRate, stageMaxMs }
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

  /** The next stage after a healthy one at `s.ratePpm`; `clean`: its errors did not rise over the baseline. */
  const stepUp = (s: GradualRecoveryState, clean: boolean, now: number): RecoveryVerdict<GradualRecoveryState> => {
    const r = s.ramp
    const baseCalls = r.baseCalls + s.stageCalls
    const baseFailures = r.baseFailures + s.stageFailures
    if (s.ratePpm >= PPM) {
      return now >= r.probationEnds
        ? 'close'
        : newStage(s, PPM, s.speed, now, rampState(PPM, PPM, r.probationEnds, null, null, baseCalls, baseFailures))
    }
    // A healthy stage at the ceiling lifts it, unless a remembered failure still holds the ramp there.
    const lifted = s.ratePpm >= r.ceilingPpm && !holding(r, now)
    const ceilingPpm = lifted ? PPM : r.ceilingPpm
    const step = s.ratePpm + incrementPpm * s.speed
    // Under a ceiling, close in on it by halves (the share the upstream sustains), trying the
    // ceiling itself once within a quarter step of it.
    const gap = ceilingPpm - s.ratePpm
    const next =
      ceilingPpm >= PPM || step < ceilingPpm ? Math.min(PPM, step) : gap > incrementPpm / 4 ? s.ratePpm + Math.ceil(gap / 2) : ceilingPpm
    const speed = clean ? Math.min(maxSpeed, s.speed * 2) : s.speed
    // Reaching a remembered ceiling starts the hold there.
    const holdUntil = lifted ? null : r.brokeAt !== null && r.holdUntil === null && next >= ceilingPpm ? now + holdMs : r.holdUntil
    return newStage(
      s,
      next,
      speed,
      now,
      rampState(s.ratePpm, ceilingPpm, next >= PPM ? now + probationMs : 0, lifted ? null : r.brokeAt, holdUntil, baseCalls, baseFailures),
    )
  }

  /**
   * Whether a stage's errors rose with the share: `marginalRate` or more over the baseline of
   * this recovery's healthy stages, two failures at least, and the rise confident (the interval of
   * the stage's rate wholly above the baseline's). The first stage sets the baseline: it cannot strain.
   */
  const strained = (s: GradualRecoveryState): boolean => {
    const r = s.ramp
    const failures = s.stageFailures
    if (r.baseCalls === 0 || failures < 2) return false
    return (
      failures / s.stageCalls >= r.baseFailures / r.baseCalls + marginalRate &&
      wilsonBound(failures, s.stageCalls, z, -1) > wilsonBound(r.baseFailures, r.baseCalls, z, 1)
    )
  }

  /**
   * Whether a stage's outcomes so far make it confident that the error rate is at the threshold or
   * over: three failures of three in the first stage at the defaults (an upstream still down costs
   * three probes). Later stages weigh their few outcomes against `stageCalls` outcomes at the
   * baseline rate, so a short run of the upstream's usual errors (which, at thousands of requests
   * a second, some stage always shows) does not pass for a relapse; a real one still reopens within
   * about two stages' worth of calls.
   */
  const relapsed = (r: RampState, failures: number, calls: number): boolean =>
    wilsonBound(failures + priorFailures(r), calls + priorCalls(r), z, -1) >= failureRateThreshold

  /** The outcomes a stage is weighed with: `stageCalls` at the baseline rate once there is a baseline. */
  const priorCalls = (r: RampState): number => (r.baseCalls === 0 ? 0 : stageCalls)
  const priorFailures = (r: RampState): number => (r.baseCalls === 0 ? 0 : (stageCalls * r.baseFailures) / r.baseCalls)

  /** A stage's error rate weighed as in {@link relapsed}. */
  const weighedRate = (r: RampState, failures: number, calls: number): number => (failures + priorFailures(r)) / (calls + priorCalls(r))

  /** Whether a state is at full share under probation (its stages are judged on `probationCalls`). */
  const inProbation = (s: GradualRecoveryState): boolean => s.ratePpm >= PPM && rampMs === undefined && probationMs > 0

  /** When a stage ends on time: `stageMaxMs`, or a whole probation. */
  const stageLimitMs = (s: GradualRecoveryState): number => (inProbation(s) ? Math.max(stageMaxMs, probationMs) : stageMaxMs)

  /** Ends the stage if its verdict is in; otherwise returns it unchanged. */
  const settle = (s: GradualRecoveryState, now: number): RecoveryVerdict<GradualRecoveryState> => {
    const calls = s.stageCalls
    const failures = s.stageFailures
    if (failures >= 2 && relapsed(s.ramp, failures, calls)) return 'reopen'
    const elapsed = now - s.stageStartedAt
    if (!(elapsed >= stageMs)) return s
    const minimum = inProbation(s) ? Math.max(stageCalls, probationCalls) : stageCalls
    // Enough evidence, or (where traffic is too slow for it) enough time.
    const timeUp = elapsed >= stageLimitMs(s)
    if (calls < minimum && !timeUp) return s
    const errorRate = calls === 0 ? 0 : failures / calls
    // A judged stage at the threshold or over reopens (as a classic probe would), its rate weighed
    // against the baseline as in `relapsed`; it is never merely a strain, and a stage that never
    // ended would judge a healed upstream on its sick past.
    if (calls >= minimum && failures >= 2 && weighedRate(s.ramp, failures, calls) >= failureRateThreshold) return 'reopen'
    if (rampMs !== undefined) {
      if (errorRate >= failureRateThreshold) return s
      const next = rampPpm(s, now)
      return next >= PPM
        ? 'close'
        : newStage(s, next, 1, now, rampState(s.ratePpm, PPM, 0, null, null, s.ramp.baseCalls + calls, s.ramp.baseFailures + failures))
    }
    const r = s.ramp
    if (strained(s)) {
      // Strain: back to the last healthy share, and no higher than this one until it is healthy.
      const back = Math.min(r.goodPpm, s.ratePpm)
      const ramp = rampState(
        back,
        Math.min(r.ceilingPpm, s.ratePpm),
        back >= PPM ? r.probationEnds : 0,
        r.brokeAt,
        r.holdUntil,
        r.baseCalls,
        r.baseFailures,
      )
      return newStage(s, back, 1, now, ramp)
    }
    // A confident "healthy" (the interval's upper bound under the threshold), or at the time
    // limit no worse than the threshold; otherwise the stage goes on collecting outcomes.
    const confident = calls >= minimum && wilsonBound(failures, calls, z, 1) < failureRateThreshold
    if (!confident && !(timeUp && errorRate < failureRateThreshold)) return s
    const base = r.baseCalls === 0 ? 0 : r.baseFailures / r.baseCalls
    return stepUp(s, failures === 0 || errorRate <= base + marginalRate / 2, now)
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
      rampState(initialPpm, PPM, initialPpm >= PPM ? now + probationMs : 0, null, null, 0, 0),
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
    // A break above the first share is the upstream's fragility only if it was healthy below it
    // (its baseline under `marginalRate`): errors that were there all along are not load's doing.
    const healthyBelow = m.ramp.baseCalls > 0 && m.ramp.baseFailures / m.ramp.baseCalls < marginalRate
    const brokeAbove = m.ratePpm > initialPpm && m.ratePpm < PPM && healthyBelow
    const remembered = m.ramp.brokeAt !== null && now - m.ramp.brokeAt < holdMs
    if (!brokeAbove && !remembered) return fresh
    // The last healthy share, lowered by half the step that broke the upstream: a short stage can
    // pass before the load it sends has shown (the upstream strains on its recent load, not on
    // this instant's), so the share just under the break is not trusted whole.
    const good = m.ramp.goodPpm
    const below = good < m.ratePpm ? good - Math.floor((m.ratePpm - good) / 2) : Math.floor(m.ratePpm / 2)
    const ceilingPpm = Math.max(initialPpm, brokeAbove ? Math.min(below, m.ramp.ceilingPpm) : m.ramp.ceilingPpm)
    const brokeAt = brokeAbove ? now : (m.ramp.brokeAt ?? now)
    return newStage(
      fresh,
      initialPpm,
      1,
      now,
      rampState(initialPpm, ceilingPpm, 0, brokeAt, ceilingPpm <= initialPpm ? now + holdMs : null, 0, 0),
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

  const request = (current: GradualRecoveryState, now: number): RecoveryAdmission<GradualRecoveryState> => {
    // A stage whose time is up moves on here too, where outcomes come too slowly to move it (a
    // verdict to close or reopen waits for the next outcome or tick).
    const judged = rampMs === undefined && now - current.stageStartedAt >= stageLimitMs(current) ? settle(current, now) : current
    const before = typeof judged === 'string' ? current : judged
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
          s.ramp.baseCalls,
          s.ramp.baseFailures,
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
