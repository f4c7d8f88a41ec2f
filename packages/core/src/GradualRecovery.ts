import type * as t from 'io-ts'
import { recoveryThreshold } from './ClassicHalfOpen.js'
import { ConfigError, decodeOrThrow, problem } from './ConfigError.js'
import { constrained, DurationMs, intIn, literal, OpenRatio, OptionalDurationMs, Ratio, struct } from './codecs.js'
import { PPM } from './credit.js'
import { canonical } from './Detector.js'
import { measure, type Ramp, rampPpm, rebase, request, restart, settle, start, validate, withRate } from './GradualRamp.js'
import { callEnded, copyOf, type GradualRecoveryState, toPpm } from './GradualState.js'
import { Limits } from './Limits.js'
import { probeFailed, type Recovery } from './Recovery.js'
import { normalQuantile } from './statistics.js'

export type { GradualRecoverySnapshot, GradualRecoveryState, RampState } from './GradualState.js'

// ---- codecs ------------------------------------------------------------------------------

/** How steeply a time-driven ramp rises: a number in (0, 100]; 1 is linear, more admits sooner. */
const Aggression = constrained('a number in (0, 100]', (n) => n > 0 && n <= 100)

/** The one-sided confidence of a stage's verdicts: a number in [0.5, 0.9999]. */
const Confidence = constrained('a confidence in [0.5, 0.9999]', (n) => n >= 0.5 && n <= 0.9999)

/**
 * Config codec of gradual recovery. Defaults: `initialRate` 0.25, `increment` 0.1, `maxSpeed` 4,
 * `stageCalls` 10, `stageMs` 500, `stageMaxMs` 1,500, `confidence` 0.95, `probationMs` 30,000,
 * `probationCalls` 100, `holdMs` 30,000, `burstMs` 500, `aggression` 1; `failureRateThreshold` defaults to 0.5
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
    burstMs: OptionalDurationMs,
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
    burstMs: 500,
  },
)
/** A gradual recovery config as written (thresholds optional; the other defaults filled). */
export type GradualRecoveryConfig = t.TypeOf<typeof GradualRecoveryConfig>

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
 *   of requests the admitted count is never more than one over `rate * requests`. Rejections carry reason
 *   `throttled` and a retry-after: the requests still needed before the next admission times the
 *   mean request interval since recovery began (`null` until two requests have been seen), or
 *   the pacing's wait if longer.
 * - Pacing: below the full share, admissions also keep to a schedule in time (GCRA) at the share
 *   of the mean request rate since recovery began, ahead of it by `burstMs` at most (less an
 *   admission interval, plus a request interval: evenly spaced requests are never held back), so
 *   that a burst of requests is not a burst of load on an upstream still recovering. Where the
 *   share brings less than a call per `burstMs`, admissions are spaced `burstMs` apart (less that
 *   slack). A request the schedule holds back is throttled, and the next one takes its admission;
 *   where requests come in bunches further apart than `burstMs`, that admits less than the share.
 *   `burstMs: 0` turns pacing off.
 * - A stage is judged once it has lasted `stageMs` and has either `stageCalls` outcomes (enough
 *   evidence, which high traffic brings in milliseconds) or lasted `stageMaxMs` (enough time,
 *   where traffic is too slow for evidence: a time-based slow start at a few requests a second).
 *   The first stage of a recovery is judged sooner once its outcomes are confidently clean
 *   (`stageCalls` at least, the upper bound of their error rate's interval under half of
 *   `marginalRate`): the wait is for the load a stage sends to show, and the first sends the least.
 *   Its error rate is compared with this recovery's baseline (the pooled outcomes of its healthy
 *   stages, but for those whose errors rose half of `marginalRate`, confidently: a straining
 *   upstream does not raise its own bar stage by stage), so that errors the upstream makes at
 *   every share are not taken for load's:
 *   - at or over `failureRateThreshold` (the closed detector's, 0.5 by default), weighed with
 *     `stageCalls` outcomes at the baseline rate, with two failures at least: the circuit reopens;
 *     so does a stage judged on time with fewer than `stageCalls` outcomes whose own outcomes are
 *     confidently at the threshold or over (the lower bound of their interval), where a few
 *     requests a second bring too few for the weighing (it would be taken for a strain, and
 *     stepped back from stage after stage while the upstream failed every call);
 *   - risen `marginalRate` or more over the baseline, confidently (the Wilson interval of the
 *     stage's rate at `confidence` wholly above the baseline's), with two failures at least: the
 *     upstream strains at this share. The ramp steps back to the share of the last healthy
 *     stage, the speed drops to 1, and this share becomes the ceiling: the ramp closes in on it
 *     by halves (the share the upstream sustains), and a healthy stage at the ceiling lifts it
 *     (the ramp goes on from speed 1: the share that strained or broke the upstream is near);
 *   - otherwise, once the interval's upper bound is below `failureRateThreshold` (a confident
 *     "healthy"), or at `stageMaxMs` with a rate below it or with `stageCalls` outcomes (which,
 *     weighed as above, did not reopen it: errors hovering at the threshold do not hold the share
 *     for good), the rate rises by `increment * speed`,
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
 * - Memory of a failure: when a recovery fails above its first share (below the full one, or in
 *   probation within 5 s of reaching it: an upstream that breaks at the full share breaks within
 *   a second or two, while a relapse later is taken for a new fault) after healthy stages (a
 *   baseline under `marginalRate`: errors that were there all along are not the share's doing),
 *   the next recovery, if it starts within `holdMs`, climbs no higher than
 *   the share that was last healthy before the failure, lowered by half the step that broke it
 *   (a short stage can pass before its load has shown), and holds there for `holdMs` once it reaches it, before trying
 *   higher: an upstream that broke under a share without warning is not broken the same way
 *   twice in a row. Recoveries that fail at their first share (the upstream still down) pass the
 *   memory on; a close forgets it. `holdMs: 0` turns it off. A ceiling is a share of the traffic,
 *   and a capacity is a rate: while all the traffic offered over a stage (counted high by three
 *   standard deviations) is within the most calls a second a healthy stage has carried (counted
 *   low by three, at least 50 calls), the ramp climbs past its ceiling to the full share, so the
 *   share a surge forced is not held against the traffic left once it is over. The ceiling stays:
 *   once the traffic is surely past that rate again, the ramp steps back to it, and the circuit
 *   does not close while a remembered failure holds it.
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
  const g: Ramp = {
    stageCalls: config.stageCalls,
    stageMs: config.stageMs,
    stageMaxMs,
    maxSpeed: config.maxSpeed,
    slowCallMs: config.slowCallMs,
    rampMs: config.rampMs,
    probationMs: config.probationMs,
    probationCalls: config.probationCalls,
    holdMs: config.holdMs,
    failureRateThreshold,
    marginalRate,
    z: normalQuantile(config.confidence),
    inverseAggression: 1 / (config.aggression ?? 1),
    initialPpm: toPpm(config.initialRate),
    incrementPpm: toPpm(config.increment),
    burstMs: config.burstMs,
  }
  return {
    kind: 'gradual',
    config,
    key: canonical(config),
    start: (now) => start(g, now),
    restart: (m, now, failedAt) => restart(g, m, now, failedAt),
    request: (s, now) => request(g, s, now),
    outcome: (s, failed, latencyMs, now) => settle(g, callEnded(s, true, probeFailed(failed, latencyMs, g.slowCallMs)), now),
    cancel: (s) => (s.inFlight === 0 ? s : callEnded(s, false, false)),
    tick: (s, now) => settle(g, withRate(s, rampPpm(g, s, now)), now),
    rebase,
    admitRate: (s) => s.ratePpm / PPM,
    measure: (s, inFlight) => measure(g, s, inFlight),
    codec: { validate: (u, c) => validate(g, u, c), encode: copyOf },
  }
}
