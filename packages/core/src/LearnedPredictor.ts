import * as t from 'io-ts'
import { decodeOrThrow } from './ConfigError.js'
import { constrained, DurationMs, Finite, intIn, literal, NonNegativeInt, struct } from './codecs.js'
import { canonical, type Detector, emptyDetectorSnapshot } from './Detector.js'

// ---- model -------------------------------------------------------------------------------

/**
 * The features a learned predictor sees, once per bucket: the bucket's failure rate, its change
 * against the previous bucket's, the log of the bucket's mean latency over the learnt baseline,
 * and that log's change.
 */
export const PREDICTOR_FEATURES = ['failureRate', 'failureRateChange', 'logLatencyRatio', 'logLatencyRatioChange'] as const
/** One feature of the learned predictor's model (see {@link PREDICTOR_FEATURES}). */
export type PredictorFeature = (typeof PREDICTOR_FEATURES)[number]

/** State of a learned predictor: the bucket being filled, the last bucket's features, the latency baseline, the last probability. */
export interface LearnedPredictorState {
  /** Always `learned`. */
  readonly kind: 'learned'
  /** When the bucket being filled began. */
  readonly bucketStart: number
  /** Calls in the bucket being filled. */
  readonly calls: number
  /** Failures in it. */
  readonly failures: number
  /** The sum of its calls' latencies, in ms. */
  readonly latencySum: number
  /** The previous bucket's failure rate and log latency ratio (for the changes). */
  readonly lastRate: number
  /** The previous bucket's log latency ratio. */
  readonly lastLogRatio: number
  /** The mean latency of the warm-up's buckets (ms), then fixed; 0 until the first bucket. */
  readonly baselineMs: number
  /** Buckets seen, and the consecutive buckets at or over the probability threshold. */
  readonly buckets: number
  /** Consecutive buckets at or over the probability threshold. */
  readonly over: number
  /** The predicted probability of the last closed bucket. */
  readonly probability: number
}

// ---- codecs ------------------------------------------------------------------------------

const Weight = constrained('a finite number in [-1000, 1000]', (n) => n >= -1000 && n <= 1000)
const Probability = constrained('a probability in (0, 1)', (n) => n > 0 && n < 1)

/** A logistic model over {@link PREDICTOR_FEATURES}: what `breaker-sim train` writes. */
export const PredictorModel = struct('a predictor model', {
  bias: Weight,
  weights: struct('the weights by feature', {
    failureRate: Weight,
    failureRateChange: Weight,
    logLatencyRatio: Weight,
    logLatencyRatioChange: Weight,
  }),
})
export type PredictorModel = t.TypeOf<typeof PredictorModel>

/**
 * Config codec: `{ kind: 'learned', model, probability, bucketMs, minimumCalls, confirmBuckets,
 * warmupBuckets }`. Defaults: `probability` 0.5, `bucketMs` 1,000, `minimumCalls` 10 (per
 * bucket), `confirmBuckets` 2, `warmupBuckets` 10.
 */
export const LearnedPredictorConfig = struct(
  'a learned predictor',
  { kind: literal('learned'), model: PredictorModel },
  {
    probability: Probability,
    bucketMs: DurationMs,
    minimumCalls: intIn(1, 1_000_000),
    confirmBuckets: intIn(1, 1000),
    warmupBuckets: intIn(1, 10_000),
  },
  { probability: 0.5, bucketMs: 1_000, minimumCalls: 10, confirmBuckets: 2, warmupBuckets: 10 },
)
/** A decoded learned-predictor config (defaults filled). */
export type LearnedPredictorConfig = t.TypeOf<typeof LearnedPredictorConfig>
/** What `learnedPredictor` takes: the model, with every other field optional (defaults filled). */
export type LearnedPredictorInput = Omit<
  LearnedPredictorConfig,
  'kind' | 'probability' | 'bucketMs' | 'minimumCalls' | 'confirmBuckets' | 'warmupBuckets'
> &
  Partial<Pick<LearnedPredictorConfig, 'probability' | 'bucketMs' | 'minimumCalls' | 'confirmBuckets' | 'warmupBuckets'>>

const NonNegativeFinite = constrained('a finite number >= 0', (n) => n >= 0 && Number.isFinite(n))
const StateCodec = struct('a learned-predictor state', {
  kind: literal('learned'),
  bucketStart: Finite,
  calls: NonNegativeInt,
  failures: NonNegativeInt,
  latencySum: NonNegativeFinite,
  lastRate: constrained('a number in [0, 1]', (n) => n >= 0 && n <= 1),
  lastLogRatio: Finite,
  baselineMs: NonNegativeFinite,
  buckets: NonNegativeInt,
  over: NonNegativeInt,
  probability: constrained('a number in [0, 1]', (n) => n >= 0 && n <= 1),
})

const predictorState = (
  bucketStart: number,
  calls: number,
  failures: number,
  latencySum: number,
  lastRate: number,
  lastLogRatio: number,
  baselineMs: number,
  buckets: number,
  over: number,
  probability: number,
): LearnedPredictorState => ({
  kind: 'learned',
  bucketStart,
  calls,
  failures,
  latencySum,
  lastRate,
  lastLogRatio,
  baselineMs,
  buckets,
  over,
  probability,
})

/** A log latency ratio is kept in [-5, 5] (a factor of ~150 either way): one odd bucket cannot dominate. */
const clampLog = (x: number) => Math.max(-5, Math.min(5, x))

/**
 * The features of a closed bucket (`calls` outcomes, `failures` of them, `latencySum` ms in all)
 * given the previous bucket's rate and log ratio and the latency baseline: what the predictor and
 * the trainer both compute (so a trained model sees in production what it saw in training).
 */
export const predictorFeatures = (
  calls: number,
  failures: number,
  latencySum: number,
  lastRate: number,
  lastLogRatio: number,
  baselineMs: number,
): Readonly<Record<PredictorFeature, number>> => {
  const rate = failures / calls
  const mean = latencySum / calls
  const logRatio = baselineMs > 0 ? clampLog(Math.log(Math.max(mean, 0.001) / baselineMs)) : 0
  return {
    failureRate: rate,
    failureRateChange: rate - lastRate,
    logLatencyRatio: logRatio,
    logLatencyRatioChange: logRatio - lastLogRatio,
  }
}

/** The latency baseline after a bucket of mean `meanMs`: the running mean over the first `warmupBuckets` buckets, then fixed. */
export const nextBaseline = (baselineMs: number, buckets: number, meanMs: number, warmupBuckets: number): number =>
  buckets < warmupBuckets ? baselineMs + (meanMs - baselineMs) / (buckets + 1) : baselineMs

/** The model's probability for `features`. */
export const predict = (model: PredictorModel, features: Readonly<Record<PredictorFeature, number>>): number => {
  let z = model.bias
  for (const name of PREDICTOR_FEATURES) z += model.weights[name] * features[name]
  return 1 / (1 + Math.exp(-Math.max(-50, Math.min(50, z))))
}

// ---- constructors ------------------------------------------------------------------------

/**
 * A learned predictor: a logistic model (its weights are config, written by `breaker-sim train`)
 * over per-bucket features of the traffic ({@link PREDICTOR_FEATURES}), predicting that the
 * upstream will be failing within the horizon it was trained for. It trips once the predicted
 * probability has been at least `probability` for `confirmBuckets` buckets in a row, after
 * `warmupBuckets`. Buckets with fewer than `minimumCalls` outcomes give no prediction (and do not
 * break a run of confirmations). The latency baseline is the mean latency of the warm-up's
 * buckets, then fixed (the circuit restarts the detector on every close), so it cannot learn a
 * degradation away, and the trainer computes exactly the same features. Pure and deterministic:
 * the model is data.
 *
 * @example
 * import { learnedPredictor } from '@datapunk/breaker'
 * const detector = learnedPredictor({
 *   model: { bias: -4, weights: { failureRate: 12, failureRateChange: 5, logLatencyRatio: 1, logLatencyRatioChange: 1 } },
 *   warmupBuckets: 1, confirmBuckets: 1,
 * })
 * let s = detector.initial(0)
 * for (let ms = 0; ms < 3000; ms += 10) s = detector.record(s, false, 30, ms) // healthy
 * detector.tripped(s) // false
 * for (let ms = 3000; ms < 5000; ms += 10) s = detector.record(s, (ms / 10) % 2 === 0, 30, ms) // half fail
 * detector.tripped(s) // true
 */
export const learnedPredictor = (input: LearnedPredictorInput): Detector<LearnedPredictorState> => {
  const config = decodeOrThrow(LearnedPredictorConfig, { ...input, kind: 'learned' })
  const { model, probability, bucketMs, minimumCalls, confirmBuckets, warmupBuckets } = config

  const rotate = (s: LearnedPredictorState, now: number): LearnedPredictorState => {
    if (!(now >= s.bucketStart + bucketMs)) return s
    const start = s.bucketStart + Math.floor((now - s.bucketStart) / bucketMs) * bucketMs
    if (s.calls < minimumCalls)
      return predictorState(start, 0, 0, 0, s.lastRate, s.lastLogRatio, s.baselineMs, s.buckets, s.over, s.probability)
    const features = predictorFeatures(s.calls, s.failures, s.latencySum, s.lastRate, s.lastLogRatio, s.baselineMs)
    const p = predict(model, features)
    const baselineMs = nextBaseline(s.baselineMs, s.buckets, s.latencySum / s.calls, warmupBuckets)
    const logRatio = s.baselineMs === 0 ? 0 : features.logLatencyRatio
    return predictorState(start, 0, 0, 0, features.failureRate, logRatio, baselineMs, s.buckets + 1, p >= probability ? s.over + 1 : 0, p)
  }

  return {
    kind: 'learned',
    config,
    key: canonical(config),
    initial: (now) => predictorState(now, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    record: (s, failed, latencyMs, now) => {
      const r = rotate(s, now)
      return predictorState(
        r.bucketStart,
        r.calls + 1,
        failed ? r.failures + 1 : r.failures,
        r.latencySum + latencyMs,
        r.lastRate,
        r.lastLogRatio,
        r.baselineMs,
        r.buckets,
        r.over,
        r.probability,
      )
    },
    advance: (s, now) => rotate(s, now),
    rebase: (s, deltaMs) =>
      predictorState(
        s.bucketStart + deltaMs,
        s.calls,
        s.failures,
        s.latencySum,
        s.lastRate,
        s.lastLogRatio,
        s.baselineMs,
        s.buckets,
        s.over,
        s.probability,
      ),
    tripped: (s) => s.buckets >= warmupBuckets && s.over >= confirmBuckets,
    measure: (s) => [{ ...emptyDetectorSnapshot('learned'), figures: { probability: s.probability, buckets: s.buckets } }],
    codec: {
      validate: (u, c) => {
        const r = StateCodec.validate(u, c)
        if (r._tag === 'Left') return r
        const v = r.right
        if (v.failures > v.calls || v.over > v.buckets) return t.failure(u, c, 'expected failures <= calls and over <= buckets')
        return t.success(
          predictorState(
            v.bucketStart,
            v.calls,
            v.failures,
            v.latencySum,
            v.lastRate,
            v.lastLogRatio,
            v.baselineMs,
            v.buckets,
            v.over,
            v.probability,
          ),
        )
      },
      encode: (s) => ({ ...s }),
    },
  }
}
