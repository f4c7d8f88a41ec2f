import * as t from 'io-ts'
import { ConfigError, decodeOrThrow } from './ConfigError.js'
import { Finite, literal, Millis, NonNegativeInt, OpenRatio, PositiveInt, PositiveMillis, Ratio, struct } from './codecs.js'
import { type Rejected, rejected } from './Decision.js'
import { canonical } from './Detector.js'
import { type GradualRecoveryConfig, type GradualRecoveryState, probeFailed, type Recovery, type RecoveryVerdict } from './Recovery.js'

// ---- model -------------------------------------------------------------------------------

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

const copyOf = (s: GradualRecoveryState): GradualRecoveryState =>
  gradualState(
    s.ratePpm,
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

// ---- codecs ------------------------------------------------------------------------------

/** The defaults of gradual recovery's knobs (the thresholds are completed apart: they depend on the trip). */
const GRADUAL_DEFAULTS: Pick<GradualRecoveryConfig, 'initialRate' | 'increment' | 'maxSpeed' | 'stageCalls' | 'stageMs'> = {
  initialRate: 0.1,
  increment: 0.1,
  maxSpeed: 4,
  stageCalls: 20,
  stageMs: 0,
}

/**
 * Config codec of gradual recovery. Defaults: `initialRate` 0.1, `increment` 0.1, `maxSpeed` 4,
 * `stageCalls` 20, `stageMs` 0; `failureRateThreshold` and `marginalRate` are filled by the circuit
 * config when absent (0.2, or the closed failure-rate threshold if stricter; and half of it).
 */
export const GradualRecoveryConfigInput = struct(
  'a gradual recovery',
  { kind: literal('gradual') },
  {
    initialRate: Ratio,
    increment: Ratio,
    maxSpeed: PositiveInt,
    stageCalls: PositiveInt,
    stageMs: Millis,
    failureRateThreshold: Ratio,
    marginalRate: OpenRatio,
    slowCallMs: PositiveMillis,
  },
  GRADUAL_DEFAULTS,
)

/** A marginal rate above the reopen threshold: the one cross-field problem of a gradual config. */
export interface MarginalRateProblem {
  readonly value: number
  readonly expected: string
}

/**
 * Completes a decoded gradual config: `failureRateThreshold` defaults to `defaultThreshold`,
 * `marginalRate` to half of it, and the marginal rate must not exceed the threshold (`prefix`
 * names where the threshold lives in error messages). The codec's defaults fill the rest.
 */
export const completeGradualConfig = (
  input: t.TypeOf<typeof GradualRecoveryConfigInput>,
  defaultThreshold: number,
  prefix: string,
): GradualRecoveryConfig | MarginalRateProblem => {
  const failureRateThreshold = input.failureRateThreshold ?? defaultThreshold
  const marginalRate = input.marginalRate ?? failureRateThreshold / 2
  if (marginalRate > failureRateThreshold) {
    return { value: marginalRate, expected: `at most ${prefix}failureRateThreshold (${failureRateThreshold})` }
  }
  const defaults = GRADUAL_DEFAULTS
  return {
    kind: 'gradual',
    initialRate: input.initialRate ?? defaults.initialRate,
    increment: input.increment ?? defaults.increment,
    maxSpeed: input.maxSpeed ?? defaults.maxSpeed,
    stageCalls: input.stageCalls ?? defaults.stageCalls,
    stageMs: input.stageMs ?? defaults.stageMs,
    failureRateThreshold,
    marginalRate,
    ...(input.slowCallMs === undefined ? {} : { slowCallMs: input.slowCallMs }),
  }
}

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

/** Gradual recovery's settings as written in code: every field optional, defaults as listed. */
export interface GradualRecoveryInput {
  /** Share of requests admitted in the first stage. Default 0.1. */
  readonly initialRate?: number
  /** Rate added per step up (times the speed). Default 0.1. */
  readonly increment?: number
  /** Cap of the speed multiplier (1 turns adaptation off). Default 4. */
  readonly maxSpeed?: number
  /** Outcomes a stage needs before it is judged. Default 20. */
  readonly stageCalls?: number
  /** Minimum duration of a stage. Default 0. */
  readonly stageMs?: number
  /** A stage's error rate at or over this reopens the circuit. Default 0.2 (a circuit config lowers it to a stricter closed threshold). */
  readonly failureRateThreshold?: number
  /** A stage's error rate at or over this (with a failure) holds the rate. Default half of `failureRateThreshold`. */
  readonly marginalRate?: number
  /** If set, a probe taking this long or longer counts as a failure. */
  readonly slowCallMs?: number
}

/** The default reopen threshold of gradual recovery. */
export const GRADUAL_FAILURE_RATE_THRESHOLD = 0.2

// ---- constructors ------------------------------------------------------------------------

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
 *
 * @example
 * import { gradualRecovery } from '@datapunk/breaker'
 * const recovery = gradualRecovery({
 *   initialRate: 0.1, increment: 0.1, maxSpeed: 1, stageCalls: 5, stageMs: 0,
 *   failureRateThreshold: 0.2, marginalRate: 0.1,
 * })
 * recovery.admitRate(recovery.start(0)) // 0.1
 */
export const gradualRecovery = (config: GradualRecoveryInput = {}): Recovery<GradualRecoveryState> => {
  const input = decodeOrThrow(GradualRecoveryConfigInput, { ...config, kind: 'gradual' })
  const full = completeGradualConfig(input, GRADUAL_FAILURE_RATE_THRESHOLD, '')
  if (!('kind' in full)) {
    throw new ConfigError([{ path: 'marginalRate', message: `marginalRate: expected ${full.expected}, got ${full.value}` }])
  }
  const { stageCalls, stageMs, maxSpeed, slowCallMs, failureRateThreshold, marginalRate } = full
  const initialPpm = toPpm(full.initialRate)
  const incrementPpm = toPpm(full.increment)

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

  return {
    config: full,
    key: canonical(full),
    start: (now) => {
      const at = Number.isFinite(now) ? now : 0
      return gradualState(initialPpm, 1, PPM - initialPpm, 0, at, 0, 0, 0, 0, 0, at)
    },
    request: (s) => {
      const credit = s.credit + s.ratePpm
      const admit = credit >= PPM
      return gradualState(
        s.ratePpm,
        s.speed,
        admit ? credit - PPM : credit,
        admit ? s.inFlight + 1 : s.inFlight,
        s.startedAt,
        s.requests + 1,
        s.stageRequests + 1,
        admit ? s.stageAdmitted + 1 : s.stageAdmitted,
        s.stageCalls,
        s.stageFailures,
        s.stageStartedAt,
      )
    },
    rejection: throttled,
    outcome: (s, failed, latencyMs, now) => settle(callEnded(s, true, probeFailed(failed, latencyMs, slowCallMs)), now),
    cancel: (s) => (s.inFlight === 0 ? s : callEnded(s, false, false)),
    tick: (s, now) => settle(s, now),
    inFlight: (s) => s.inFlight,
    admitRate: (s) => s.ratePpm / PPM,
    measure: (s) => ({
      kind: 'gradual',
      admitRate: s.ratePpm / PPM,
      speed: s.speed,
      inFlight: s.inFlight,
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
