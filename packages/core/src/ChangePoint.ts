import type * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { constrained, intIn, literal, NonNegativeInt, oneOf, Ratio, struct } from './codecs.js'
import { canonical, type Detector, emptyDetectorSnapshot } from './Detector.js'
import { Limits } from './Limits.js'

// ---- model -------------------------------------------------------------------------------

/** State of the change-point detector: the baseline it learnt and the evidence of a rise above it. */
export interface ChangePointState {
  /** Always `change-point`. */
  readonly kind: 'change-point'
  /** Outcomes seen since the detector started. */
  readonly calls: number
  /** The baseline: an exponentially weighted mean of the signal (failure share, or latency in ms), learnt while in control. */
  readonly baseline: number
  /** The Page-Hinkley statistic: accumulated rise above baseline plus tolerance, never below 0. */
  readonly score: number
}

/** Which signal the detector watches. */
export type ChangeSignal = 'failure' | 'latency'

// ---- codecs ------------------------------------------------------------------------------

const NonNegativeFinite = constrained('a finite number >= 0', (n) => n >= 0 && n < Number.POSITIVE_INFINITY)
const PositiveFinite = constrained('a finite number > 0', (n) => n > 0 && n < Number.POSITIVE_INFINITY)

/**
 * Config codec: `{ kind: 'change-point', signal, tolerance, threshold, baselineWeight,
 * minimumCalls, cap }`. Defaults: for `signal: 'failure'`, `tolerance` 0.1 (a rise of the failure
 * share up to 10 points is noise) and `threshold` 150 (excess failures); for `'latency'`,
 * `tolerance` 1 (up to twice the baseline is noise), `threshold` 6000 and `cap` 4 (one call counts
 * at most as 5 times the baseline: 3 units over the tolerance, so 2,000 very slow calls trip it);
 * for both, `baselineWeight` 0.0005 (the baseline follows ~2,000 calls) and `minimumCalls` 200.
 * The defaults come from the simulator (`bench/prediction/README.md`): no false trip on bursty
 * errors or self-healing latency spikes, trips tens of seconds ahead of a failure-rate threshold on
 * a brown-out, at 200 calls/s. The threshold is evidence in calls: at a tenth of the traffic a
 * shift takes ten times as long to trip it.
 */
export const ChangePointConfig = struct(
  'a change-point detector',
  { kind: literal('change-point'), signal: oneOf<ChangeSignal>(['failure', 'latency']) },
  {
    tolerance: NonNegativeFinite,
    threshold: PositiveFinite,
    baselineWeight: Ratio,
    minimumCalls: intIn(1, Limits.maxStageCalls),
    cap: PositiveFinite,
  },
)
/** A change-point config as written (defaults depend on the signal, so they are filled by the constructor). */
export type ChangePointConfig = t.TypeOf<typeof ChangePointConfig>

const ChangePointStateCodec = struct('a change-point state', {
  kind: literal('change-point'),
  calls: NonNegativeInt,
  baseline: constrained('a finite number >= 0', (n) => n >= 0 && Number.isFinite(n)),
  score: constrained('a finite number >= 0', (n) => n >= 0 && Number.isFinite(n)),
})

const changePointState = (calls: number, baseline: number, score: number): ChangePointState => ({
  kind: 'change-point',
  calls,
  baseline,
  score,
})

const START = changePointState(0, 0, 0)

// ---- constructors ------------------------------------------------------------------------

/** A change-point detector's settings as written in code: `signal` required, the rest optional. */
export type ChangePointInput = Omit<ChangePointConfig, 'kind'>

/**
 * Trips on a sustained shift of a signal rather than on its level: Page-Hinkley (in its one-sided
 * CUSUM form) over the failure share or the latency, against a baseline learnt from the traffic.
 *
 * - Each outcome gives a value: `1` or `0` for `signal: 'failure'`; for `'latency'`, how much
 *   slower than the baseline it was, `latency / baseline - 1`, capped at `cap` (so one outlier
 *   counts as at most `cap`).
 * - The score adds the value's excess over the baseline and the `tolerance` (`value - baseline -
 *   tolerance` for failures, `value - tolerance` for latency), and never goes below 0: steady
 *   traffic keeps it at 0, a run of bad luck raises it a little and it drains again, a shift
 *   raises it steadily. The circuit trips when the score reaches `threshold`, once `minimumCalls`
 *   outcomes have been seen.
 * - The baseline (an exponentially weighted mean with weight `baselineWeight`, a plain mean over
 *   the first `minimumCalls`) learns only while the score is under a twentieth of `threshold`: a
 *   stray failure or slow call still teaches it (so it is not biased towards successes), a shift
 *   in progress is not learnt away as the new normal.
 *
 * It holds no times. The circuit gives it a fresh state on every close.
 *
 * @example
 * import { changePoint } from '@datapunk/breaker'
 * const detector = changePoint({ signal: 'failure', minimumCalls: 20, threshold: 5 })
 * let s = detector.initial(0)
 * for (let i = 0; i < 100; i++) s = detector.record(s, i % 50 === 0, 40, i) // 2% failures: in control
 * detector.tripped(s) // false
 * for (let i = 0; i < 20; i++) s = detector.record(s, i % 2 === 0, 40, 100 + i) // now 50%
 * detector.tripped(s) // true
 */
export const changePoint = (input: ChangePointInput): Detector<ChangePointState> => {
  const decoded = decodeOrThrow(ChangePointConfig, { ...input, kind: 'change-point' })
  const failure = decoded.signal === 'failure'
  const config = {
    kind: 'change-point' as const,
    signal: decoded.signal,
    tolerance: decoded.tolerance ?? (failure ? 0.1 : 1),
    threshold: decoded.threshold ?? (failure ? 150 : 6000),
    baselineWeight: decoded.baselineWeight ?? 0.0005,
    minimumCalls: decoded.minimumCalls ?? 200,
    cap: decoded.cap ?? 4,
  }
  const { tolerance, threshold, baselineWeight, minimumCalls, cap } = config
  const learnBelow = threshold / 20
  return {
    kind: 'change-point',
    config,
    key: canonical(config),
    initial: () => START,
    record: (s, failed, latencyMs) => {
      const raw = failure ? (failed ? 1 : 0) : latencyMs
      const calls = s.calls + 1
      if (calls <= minimumCalls) {
        // Warming up: a plain mean of what was seen, no evidence yet.
        return changePointState(calls, s.baseline + (raw - s.baseline) / calls, 0)
      }
      const excess = failure ? raw - s.baseline - tolerance : Math.min(cap, raw / Math.max(s.baseline, 0.001) - 1) - tolerance
      const score = Math.max(0, s.score + excess)
      // In control (under a twentieth of the threshold): the baseline keeps learning, from failures
      // and successes alike. Past it a shift may be under way, and it is not learnt as normal.
      // A latency is learnt capped as it is scored, so one outlier cannot drag the baseline.
      const learnt = failure ? raw : Math.min(raw, Math.max(s.baseline, 0.001) * (1 + cap))
      const baseline = score < learnBelow ? s.baseline + baselineWeight * (learnt - s.baseline) : s.baseline
      return changePointState(calls, baseline, score)
    },
    advance: (s) => s,
    rebase: (s) => s,
    tripped: (s) => s.calls >= minimumCalls && s.score >= threshold,
    measure: (s) => [
      { ...emptyDetectorSnapshot('change-point'), figures: { score: s.score, baseline: s.calls === 0 ? null : s.baseline } },
    ],
    codec: {
      validate: (u, c) => {
        const r = ChangePointStateCodec.validate(u, c)
        return r._tag === 'Left' ? r : { _tag: 'Right', right: changePointState(r.right.calls, r.right.baseline, r.right.score) }
      },
      encode: (s) => ({ kind: s.kind, calls: s.calls, baseline: s.baseline, score: s.score }),
    },
  }
}
