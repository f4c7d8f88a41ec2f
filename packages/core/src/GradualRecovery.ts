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
}

/** What gradual recovery reports. */
export interface GradualRecoverySnapshot extends RecoverySnapshot {
  readonly kind: 'gradual'
  readonly speed: number
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
})

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
  )

/** A copy of `s` at another rate (a fresh object in the constructor's shape). */
const atRate = (s: GradualRecoveryState, ratePpm: number): GradualRecoveryState =>
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
  )

const copyOf = (s: GradualRecoveryState): GradualRecoveryState => atRate(s, s.ratePpm)

// ---- codecs ------------------------------------------------------------------------------

/** How steeply a time-driven ramp rises: a number in (0, 100]; 1 is linear, more admits sooner. */
const Aggression = constrained('a number in (0, 100]', (n) => n > 0 && n <= 100)

/**
 * Config codec of gradual recovery. Defaults: `initialRate` 0.1, `increment` 0.1, `maxSpeed` 4,
 * `stageCalls` 20, `stageMs` 0, `aggression` 1; `failureRateThreshold` defaults to 0.2 (or the
 * strictest closed failure-rate threshold if stricter) and `marginalRate` to half of it. With
 * `rampMs` the ramp follows time instead of stages (Envoy's slow start).
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
    slowCallMs: DurationMs,
    rampMs: DurationMs,
    aggression: Aggression,
  },
  { initialRate: 0.1, increment: 0.1, maxSpeed: 4, stageCalls: 20, stageMs: 0 },
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
})

/** The default reopen threshold of gradual recovery. */
export const GRADUAL_FAILURE_RATE_THRESHOLD = 0.2

// ---- constructors ------------------------------------------------------------------------

/** Gradual recovery's settings as written in code: every field optional, defaults as in {@link GradualRecoveryConfig}. */
export type GradualRecoveryInput = Partial<Omit<GradualRecoveryConfig, 'kind'>>

/**
 * Gradual recovery (the seed's GradualRecoveryStrategy): admit `initialRate` of requests, then
 * step the rate up stage by stage while the upstream stays healthy.
 *
 * - Admission is deterministic: each request adds the rate to a credit; a request is admitted
 *   when the credit reaches 1 (the first request of recovery is admitted at once). Over any run
 *   of requests the admitted count is within one of `rate * requests`. Rejections carry reason
 *   `throttled` and a retry-after: the requests still needed before the next admission times the
 *   mean request interval since recovery began (`null` until two requests have been seen).
 * - A stage ends once it has `stageCalls` outcomes and lasted `stageMs`. Its error rate decides:
 *   at or over `failureRateThreshold` (stricter than the closed one) the circuit reopens; at or
 *   over `marginalRate` (with at least one failure) the rate holds and the speed drops to 1;
 *   otherwise the rate rises by `increment * speed`, and a stage without failures doubles the
 *   speed (up to `maxSpeed`). A healthy stage at rate 1 closes the circuit.
 * - A stage reopens early, without waiting for its end, once its failures reach
 *   `failureRateThreshold` of its calls so far, counted as at least `stageCalls`: it is already a
 *   bad stage, and every further probe would load a sick upstream. (A long stage, held open by
 *   `stageMs`, is judged on all its calls: a few failures among many do not reopen it.)
 * - With `rampMs` the rate follows time instead (Envoy's slow start): `max(initialRate,
 *   (elapsed / rampMs) ^ (1 / aggression))`, still judged stage by stage: a bad stage reopens,
 *   and the circuit closes at the end of the first healthy stage once `rampMs` has passed.
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
  const { stageCalls, stageMs, maxSpeed, slowCallMs, rampMs } = config
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

  const newStage = (s: GradualRecoveryState, ratePpm: number, speed: number, now: number): GradualRecoveryState =>
    gradualState(ratePpm, speed, s.credit, s.inFlight, s.startedAt, s.requests, 0, 0, 0, 0, Math.max(now, s.stageStartedAt))

  /** Ends the stage if it is complete; otherwise returns it unchanged. */
  const settle = (s: GradualRecoveryState, now: number): RecoveryVerdict<GradualRecoveryState> => {
    // Reopen early once the failures so far, over the calls so far (at least `stageCalls`), are
    // already a bad stage: no later outcome of a minimal stage could save it.
    if (s.stageFailures / Math.max(stageCalls, s.stageCalls) >= failureRateThreshold) return 'reopen'
    if (s.stageCalls < stageCalls || !(now - s.stageStartedAt >= stageMs)) return s
    const errorRate = s.stageFailures / s.stageCalls
    if (errorRate >= failureRateThreshold) return 'reopen'
    if (rampMs !== undefined) return rampPpm(s, now) >= PPM ? 'close' : newStage(s, rampPpm(s, now), 1, now)
    if (s.stageFailures > 0 && errorRate >= marginalRate) return newStage(s, s.ratePpm, 1, now)
    if (s.ratePpm >= PPM) return 'close'
    const clean = s.stageFailures === 0
    return newStage(s, Math.min(PPM, s.ratePpm + incrementPpm * s.speed), clean ? Math.min(maxSpeed, s.speed * 2) : s.speed, now)
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
    )
    return admit ? { state: s, admitted: true } : { state: s, admitted: false, rejection: throttled(s, now) }
  }

  return {
    kind: 'gradual',
    config,
    key: canonical(config),
    start: (now) => gradualState(initialPpm, 1, PPM - initialPpm, 0, now, 0, 0, 0, 0, 0, now),
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
      ),
    admitRate: (s) => s.ratePpm / PPM,
    measure: (s, inFlight): GradualRecoverySnapshot => ({
      kind: 'gradual',
      admitRate: s.ratePpm / PPM,
      speed: s.speed,
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
        if (s.ratePpm > PPM) return t.failure(u, c, `expected ratePpm at most ${PPM}`)
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
        return t.success(copyOf(s))
      },
      encode: copyOf,
    },
  }
}
